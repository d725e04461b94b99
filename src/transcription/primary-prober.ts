/**
 * Probing back to the primary engine while sessions are on the fallback (resilient-stream.ts).
 */

/** A session on the fallback, as the prober sees it. */
export interface ProbeTarget {
  /** Tries the primary; resolves true when a stream of it opened. */
  probe(): Promise<boolean>;
}

/**
 * The sessions of one wrapper that are on the fallback. One of them at a time probes the primary
 * (round robin, every `intervalMs`), so a task with 100 sessions on the fallback asks a refusing
 * service once per interval, not 100 times; the moment any stream of the primary opens, every
 * waiting session tries it at once.
 */
export class PrimaryProber {
  private readonly waiting = new Set<ProbeTarget>();
  private timer?: NodeJS.Timeout;
  private busy = false;
  private closed = false;

  constructor(private readonly intervalMs: number) {}

  add(t: ProbeTarget): void {
    this.waiting.add(t);
    this.arm();
  }

  remove(t: ProbeTarget): void {
    this.waiting.delete(t);
    if (this.waiting.size === 0 && this.timer) {
      clearTimeout(this.timer);
      this.timer = undefined;
    }
  }

  /** A stream of the primary opened: every session on the fallback tries it now. */
  primaryUp(except?: ProbeTarget): void {
    for (const t of [...this.waiting]) if (t !== except) void t.probe();
  }

  close(): void {
    this.closed = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    this.waiting.clear();
  }

  private arm(): void {
    if (this.closed || this.timer || this.busy || this.waiting.size === 0) return;
    this.timer = setTimeout(() => void this.tick(), this.intervalMs);
    this.timer.unref?.();
  }

  private async tick(): Promise<void> {
    this.timer = undefined;
    const [t] = this.waiting;
    if (!t) return;
    // Round robin: the probing session goes to the back of the line.
    this.waiting.delete(t);
    this.waiting.add(t);
    this.busy = true;
    try {
      if (await t.probe()) this.primaryUp(t);
    } finally {
      this.busy = false;
      this.arm();
    }
  }
}
