import type { TranscriptResult } from '../transcription/port.js';

/**
 * Partial-result hygiene (Transcribe Medical has no result stabilisation): never re-send an
 * unchanged partial, at most `maxPerSecond` partials per session (the latest text wins, sent on the
 * trailing edge), and once a segment is final its partials stop.
 */
export class PartialFilter {
  private lastSent = new Map<string, string>();
  private finals = new Set<string>();
  private pending?: TranscriptResult;
  private timer?: NodeJS.Timeout;
  private lastEmitAt = -Infinity;
  private readonly intervalMs: number;

  constructor(
    private readonly emit: (partial: TranscriptResult) => void,
    maxPerSecond = 5,
    private readonly now: () => number = () => performance.now(),
  ) {
    this.intervalMs = 1000 / maxPerSecond;
  }

  /** Offers a partial; it is sent now, later (throttled), or never (unchanged or superseded). */
  partial(result: TranscriptResult): void {
    if (this.finals.has(result.segmentId)) return;
    if (this.lastSent.get(result.segmentId) === result.text) {
      if (this.pending?.segmentId === result.segmentId) this.cancelPending();
      return;
    }
    if (this.pending && this.pending.segmentId !== result.segmentId) {
      // A new segment began: the previous one's latest text goes out first.
      this.flush();
    }
    const wait = this.lastEmitAt + this.intervalMs - this.now();
    if (wait <= 0 && !this.timer) {
      this.send(result);
      return;
    }
    this.pending = result;
    this.timer ??= setTimeout(() => {
      this.timer = undefined;
      this.flush();
    }, Math.max(wait, 0));
  }

  /**
   * A final replaces its partials. Returns false for a final already seen (a duplicate to drop).
   */
  final(result: TranscriptResult): boolean {
    if (this.finals.has(result.segmentId)) return false;
    this.finals.add(result.segmentId);
    this.lastSent.delete(result.segmentId);
    if (this.pending?.segmentId === result.segmentId) this.cancelPending();
    return true;
  }

  /** Sends the pending partial now, if any. */
  flush(): void {
    const p = this.pending;
    this.cancelPending();
    if (p && !this.finals.has(p.segmentId) && this.lastSent.get(p.segmentId) !== p.text) this.send(p);
  }

  close(): void {
    this.cancelPending();
  }

  private send(result: TranscriptResult): void {
    this.lastSent.set(result.segmentId, result.text);
    this.lastEmitAt = this.now();
    this.emit(result);
  }

  private cancelPending(): void {
    this.pending = undefined;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
  }
}
