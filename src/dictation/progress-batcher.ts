import type { Logger } from '../lib/logger.js';
import { errFields } from '../lib/logger.js';

export interface ProgressRow {
  transcriptionId: string;
  ackSeq: number;
  audioMs: number;
}

/** Where a live session reports how far it has got. */
export interface ProgressSink {
  /** The session now holds chunks up to `ackSeq` and `audioMs` of audio (cheap: kept in memory). */
  note(transcriptionId: string, ackSeq: number, audioMs: number): void;
  /** The session is over; its last noted progress is not written (its final row supersedes it). */
  forget(transcriptionId: string): void;
}

/**
 * The live progress of every session of this process (what a resume or a crash recovery on another
 * task needs: the highest contiguous chunk, the audio received, when audio last arrived), written
 * as one statement every `intervalMs` instead of one UPDATE per session. At 100 sessions that is
 * one query every 2 s instead of 50 a second, and no burst of 100 queries when sessions that
 * started together all reach their next write in the same moment.
 *
 * A failed write is logged and its rows are kept for the next one (unless a newer note or the
 * session's end superseded them). Flushes never overlap.
 */
export class ProgressBatcher implements ProgressSink {
  private pending = new Map<string, ProgressRow>();
  private readonly live = new Set<string>();
  private flushing: Promise<void> | undefined;
  private readonly timer: NodeJS.Timeout;

  constructor(
    private readonly write: (rows: ProgressRow[]) => Promise<void>,
    intervalMs: number,
    private readonly logger: Logger,
  ) {
    this.timer = setInterval(() => void this.flush(), intervalMs);
    this.timer.unref();
  }

  note(transcriptionId: string, ackSeq: number, audioMs: number): void {
    this.live.add(transcriptionId);
    this.pending.set(transcriptionId, { transcriptionId, ackSeq, audioMs });
  }

  forget(transcriptionId: string): void {
    this.live.delete(transcriptionId);
    this.pending.delete(transcriptionId);
  }

  /** Writes what is pending; resolves when written (or when the failure is logged). */
  async flush(): Promise<void> {
    while (this.flushing) await this.flushing;
    if (this.pending.size === 0) return;
    const rows = [...this.pending.values()];
    this.pending = new Map();
    this.flushing = this.write(rows)
      .catch((err: unknown) => {
        for (const r of rows) if (this.live.has(r.transcriptionId) && !this.pending.has(r.transcriptionId)) this.pending.set(r.transcriptionId, r);
        this.logger.warn({ err: errFields(err), sessions: rows.length }, 'progress_write_failed');
      })
      .finally(() => {
        this.flushing = undefined;
      });
    await this.flushing;
  }

  /** Stops the timer and writes what is left. */
  async close(): Promise<void> {
    clearInterval(this.timer);
    await this.flush();
  }
}
