import type { Logger } from './logger.js';

/** How long repeats of one warning are counted before their count is written (default). */
export const REPEAT_WINDOW_MS = 10_000;

interface Kind {
  /** When the current window closes. */
  until: number;
  /** Repeats counted (not written) in the current window. */
  count: number;
  /** The fields of the latest repeat, written with the count. */
  fields: Record<string, unknown>;
  timer?: NodeJS.Timeout;
}

/**
 * Warnings a client can trigger in bulk (refused session starts, refused handshakes), written at most
 * twice per message and window: the first at once, then one line with the fields of the last and
 * `repeated` (how many more there were) when the window closes. A burst of 1000 session starts on
 * one account wrote 996 `user_session_limit_reached` lines (issue 19); now it writes 2, and the count
 * still shows the size of the burst.
 */
export class RepeatedWarnings {
  private readonly kinds = new Map<string, Kind>();

  constructor(
    private readonly logger: Logger,
    private readonly windowMs = REPEAT_WINDOW_MS,
  ) {}

  /** Like `logger.warn(fields, msg)`, collapsed by `msg` (a fixed message string). */
  warn(fields: Record<string, unknown>, msg: string): void {
    const now = Date.now();
    const kind = this.kinds.get(msg);
    if (!kind || now >= kind.until) {
      if (kind) this.flush(msg);
      this.logger.warn(fields, msg);
      this.kinds.set(msg, { until: now + this.windowMs, count: 0, fields });
      return;
    }
    kind.count += 1;
    kind.fields = fields;
    if (!kind.timer) {
      kind.timer = setTimeout(() => this.flush(msg), kind.until - now);
      kind.timer.unref();
    }
  }

  /** Writes every pending count now (shutdown). */
  close(): void {
    for (const msg of this.kinds.keys()) this.flush(msg);
  }

  private flush(msg: string): void {
    const kind = this.kinds.get(msg);
    if (!kind) return;
    if (kind.timer) clearTimeout(kind.timer);
    kind.timer = undefined;
    if (kind.count > 0) this.logger.warn({ ...kind.fields, repeated: kind.count, windowMs: this.windowMs }, msg);
    kind.count = 0;
  }
}
