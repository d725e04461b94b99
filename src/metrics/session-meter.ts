import { performance } from 'node:perf_hooks';
import { pcmMs } from '../audio/pcm.js';
import type { SessionSink } from '../dictation/types.js';
import type { SessionObserver } from '../dictation/observer.js';
import type { RecordingWriter } from '../recordings/writer.js';
import type { TranscriptionStream, TranscriptResult } from '../transcription/port.js';
import type { ServiceMetrics } from './metrics.js';

/** Bounds the write-time table: ~30 min of 100 ms frames with no final in between. */
const MAX_MARKS = 18_000;

/**
 * Meters one live session from the outside, so the session itself stays free of metrics code:
 * wraps its engine stream (audio seconds, when each frame reached the engine, engine failures)
 * and its sink (caption latency, end reasons, input level). Without metrics everything passes through.
 * The domain gets it through its observer port (`MetricsObserver.sessionStarted()`).
 */
export class SessionMeter implements SessionObserver {
  /** Cumulative ms of audio written to the engine after each write, and when (performance.now()). */
  private marksMs: number[] = [];
  private marksAt: number[] = [];
  private head = 0;
  private writtenMs = 0;

  constructor(private readonly metrics: ServiceMetrics | undefined) {
    metrics?.sessionsStarted.inc();
  }

  /** The engine stream, metered: the session writes to and iterates this one. */
  stream(inner: TranscriptionStream): TranscriptionStream {
    const m = this.metrics;
    if (!m) return inner;
    return {
      write: (pcm: Buffer) => {
        inner.write(pcm);
        const ms = pcmMs(pcm.length);
        this.writtenMs += ms;
        m.audioSeconds.inc(ms / 1000);
        this.mark(this.writtenMs, performance.now());
      },
      end: () => inner.end(),
      abort: (reason?: Error) => inner.abort(reason),
      ...(inner.backlogMs ? { backlogMs: () => inner.backlogMs!() } : {}),
      ...(inner.whenBacklogBelow ? { whenBacklogBelow: (ms: number) => inner.whenBacklogBelow!(ms) } : {}),
      ...(inner.writeOpus
        ? {
            writeOpus: (packets, head) => {
              inner.writeOpus!(packets, head);
              let samples = 0;
              for (const p of packets) samples += p.samples48k;
              const ms = samples / 48;
              this.writtenMs += ms;
              m.audioSeconds.inc(ms / 1000);
              this.mark(this.writtenMs, performance.now());
            },
          }
        : {}),
      [Symbol.asyncIterator]: (): AsyncIterator<TranscriptResult> => {
        const it = inner[Symbol.asyncIterator]();
        return {
          next: async () => {
            try {
              return await it.next();
            } catch (err) {
              m.engineError(String((err as { code?: unknown }).code ?? 'unknown'));
              throw err;
            }
          },
          ...(it.return ? { return: (v?: unknown) => it.return!(v) } : {}),
        };
      },
    };
  }

  /** The session's sink, metered. */
  sink(inner: SessionSink): SessionSink {
    const m = this.metrics;
    if (!m) return inner;
    return {
      partial: (p) => {
        inner.partial(p);
        const at = this.writtenAt(p.endMs);
        if (at !== undefined) m.partialLatency.observe(performance.now() - at);
      },
      final: (p) => {
        inner.final(p);
        const at = this.writtenAt(p.endMs);
        if (at !== undefined) m.observeCaption(performance.now() - at);
        this.forgetBefore(p.endMs);
      },
      error: (p) => inner.error(p),
      level: (p) => {
        inner.level(p);
        if (Number.isFinite(p.dbfs)) m.inputLevel.observe(p.dbfs);
      },
      ended: (p) => {
        inner.ended(p);
        m.sessionsEnded.inc({ reason: p.reason });
      },
    };
  }

  /** Counts the recording's upload outcome. */
  recording = (w: RecordingWriter): RecordingWriter => {
    const m = this.metrics;
    if (!m) return w;
    w.on('completed', () => m.recordingUploads.inc({ outcome: 'completed' }));
    w.on('failed', () => m.recordingUploads.inc({ outcome: 'failed' }));
    w.on('warning', () => m.recordingUploads.inc({ outcome: 'warning' }));
    return w;
  };

  engineStartFailed(code: string | undefined): void {
    this.metrics?.engineError(code ?? 'start_failed');
  }

  private mark(ms: number, at: number): void {
    this.marksMs.push(ms);
    this.marksAt.push(at);
    if (this.marksMs.length - this.head > MAX_MARKS) this.head += 1;
    if (this.head > 4096) this.compact();
  }

  /** When the audio up to `endMs` had reached the engine. */
  private writtenAt(endMs: number): number | undefined {
    const ms = this.marksMs;
    let lo = this.head;
    let hi = ms.length - 1;
    if (hi < lo) return undefined;
    if (ms[hi]! < endMs) return this.marksAt[hi];
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (ms[mid]! >= endMs) hi = mid;
      else lo = mid + 1;
    }
    return this.marksAt[lo];
  }

  /** Finals arrive in order: marks before a final's end are not needed again. */
  private forgetBefore(endMs: number): void {
    const ms = this.marksMs;
    while (this.head < ms.length - 1 && ms[this.head]! < endMs) this.head += 1;
    if (this.head > 4096) this.compact();
  }

  private compact(): void {
    this.marksMs = this.marksMs.slice(this.head);
    this.marksAt = this.marksAt.slice(this.head);
    this.head = 0;
  }
}
