import { pcmMs } from '../audio/pcm.js';
import type { OpusStreamHead, OpusStreamPacket } from './port.js';

/** One write as kept, at its session time: a PCM frame, or one chunk's Opus packets (TRANSCRIBE_AUDIO=opus). */
export type RingFrame = {
  /** Session ms of the frame's first sample. */
  startMs: number;
  /** Its duration. */
  ms: number;
  /** Louder than the speech threshold (for the watchdog and the idle release). */
  speech: boolean;
} & ({ pcm: Buffer; opus?: undefined } | { pcm?: undefined; opus: { packets: readonly OpusStreamPacket[]; head: OpusStreamHead } });

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
    const frame: RingFrame = { startMs: this.written, ms: pcmMs(pcm.length), pcm, speech };
    this.frames.push(frame);
    this.written += frame.ms;
    return frame;
  }

  /** Appends one chunk's Opus packets (kept as they are), `ms` long, at the write position. */
  pushOpus(packets: readonly OpusStreamPacket[], head: OpusStreamHead, ms: number, speech: boolean): RingFrame {
    const frame: RingFrame = { startMs: this.written, ms, opus: { packets, head }, speech };
    this.frames.push(frame);
    this.written += ms;
    return frame;
  }

  /** Drops frames a final has covered: the replay starts at the frame holding `coveredMs`. */
  dropCovered(coveredMs: number): void {
    while (this.frames.length > 0) {
      const f = this.frames[0]!;
      if (f.startMs + f.ms > coveredMs + FRAME_EPSILON_MS) break;
      this.frames.shift();
    }
  }

  /**
   * Keeps only frames starting within the last `ms` of the write position (always the newest one);
   * returns the ms of audio dropped.
   */
  keepLast(ms: number): number {
    let dropped = 0;
    while (this.frames.length > 1 && this.written - this.frames[0]!.startMs > ms) dropped += this.frames.shift()!.ms;
    return dropped;
  }
}
