import { pcmMs } from '../audio/pcm.js';

/** One PCM frame as written, at its session time. */
export interface RingFrame {
  /** Session ms of the frame's first sample. */
  startMs: number;
  pcm: Buffer;
  /** Louder than the speech threshold (for the watchdog and the idle release). */
  speech: boolean;
}

/**
 * Finals may end a fraction of a millisecond past a frame's end (engine rounding): a frame ending
 * within this of the covered point counts as covered.
 */
export const FRAME_EPSILON_MS = 1;

/**
 * The audio a resilient stream can still replay into a new engine stream (resilient-stream.ts):
 * every 16 kHz PCM frame written, at its session time, until a final covers it. Pure: no engine,
 * no clock.
 */
export class ReplayRing {
  private readonly frames: RingFrame[] = [];
  private written: number;

  /** `startMs`: session time of the first frame (a resumed session starts past 0). */
  constructor(startMs = 0) {
    this.written = startMs;
  }

  /** Session ms just past the last frame written. */
  get writtenMs(): number {
    return this.written;
  }

  /** Session ms where a replay starts: the first frame kept, or the write position when empty. */
  get startMs(): number {
    return this.frames[0]?.startMs ?? this.written;
  }

  get length(): number {
    return this.frames.length;
  }

  [Symbol.iterator](): Iterator<RingFrame> {
    return this.frames[Symbol.iterator]();
  }

  /** Appends `pcm` (kept as is: the caller hands over a copy) at the write position. */
  push(pcm: Buffer, speech: boolean): RingFrame {
    const frame = { startMs: this.written, pcm, speech };
    this.frames.push(frame);
    this.written += pcmMs(pcm.length);
    return frame;
  }

  /** Drops frames a final has covered: the replay starts at the frame holding `coveredMs`. */
  dropCovered(coveredMs: number): void {
    while (this.frames.length > 0) {
      const f = this.frames[0]!;
      if (f.startMs + pcmMs(f.pcm.length) > coveredMs + FRAME_EPSILON_MS) break;
      this.frames.shift();
    }
  }

  /**
   * Keeps only frames starting within the last `ms` of the write position (always the newest one);
   * returns the ms of audio dropped.
   */
  keepLast(ms: number): number {
    let dropped = 0;
    while (this.frames.length > 1 && this.written - this.frames[0]!.startMs > ms) dropped += pcmMs(this.frames.shift()!.pcm.length);
    return dropped;
  }
}
