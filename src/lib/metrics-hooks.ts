/**
 * A tiny counter interface the domain and adapters report through, so the `/metrics` endpoint
 * (prom-client, built separately) can be wired in one place without these modules importing it.
 * Labels must never carry patient data: engine names, error codes and reasons only.
 */
export type CounterName =
  /** An engine stream failed or ended before the end of audio. Labels: engine, code. */
  | 'engine_stream_failures_total'
  /** A new stream of the same engine was opened after a failure. Labels: engine. */
  | 'engine_retries_total'
  /** A session switched from the primary to the fallback engine. Labels: from, to. */
  | 'engine_failovers_total'
  /** A session switched back to the primary engine. Labels: engine. */
  | 'engine_recoveries_total'
  /** A final from a replacement stream that only repeated audio already covered. */
  | 'engine_duplicate_finals_dropped_total'
  /** The watchdog replaced a stream that heard speech but produced no result. Labels: engine. */
  | 'engine_watchdog_replaced_total'
  /** A stream written no speech for ENGINE_IDLE_RELEASE_MS gave its engine slot back. Labels: engine. */
  | 'engine_idle_releases_total'
  /** A session's engine gave up for good (retry budget spent, no fallback). Labels: engine. */
  | 'engine_gave_up_total'
  /** Buffered audio dropped from the replay ring because it exceeded its cap (ms, not count). */
  | 'engine_replay_dropped_ms_total'
  | 'engine_opus_decode_failures_total'
  /** A live session was picked up again by `session:resume`. Labels: where (local|cross_task). */
  | 'session_resumes_total'
  /** A live session ended because no socket came back within RESUME_GRACE_MS. */
  | 'session_grace_expired_total'
  /** Audio a client declared lost (`audio:gap`), in ms. */
  | 'audio_gap_ms_total';

export interface MetricsHooks {
  inc(name: CounterName, labels?: Record<string, string>, value?: number): void;
}

export const noopMetrics: MetricsHooks = { inc: () => {} };

/** In-process counters: what tests read and what a `/metrics` collector can poll. */
export class Counters implements MetricsHooks {
  private readonly values = new Map<string, number>();

  /** @param next also told of every increment (the Prometheus registry). */
  constructor(private readonly next: MetricsHooks = noopMetrics) {}

  inc(name: CounterName, labels: Record<string, string> = {}, value = 1): void {
    const key = Counters.key(name, labels);
    this.values.set(key, (this.values.get(key) ?? 0) + value);
    this.next.inc(name, labels, value);
  }

  /** Sum of `name` over every label set matching `labels`. */
  get(name: CounterName, labels: Record<string, string> = {}): number {
    let sum = 0;
    for (const [key, v] of this.values) {
      const [n, l] = Counters.parse(key);
      if (n !== name) continue;
      if (Object.entries(labels).every(([k, val]) => l[k] === val)) sum += v;
    }
    return sum;
  }

  /** Every counter as `{ name, labels, value }`. */
  snapshot(): Array<{ name: CounterName; labels: Record<string, string>; value: number }> {
    return [...this.values].map(([key, value]) => {
      const [name, labels] = Counters.parse(key);
      return { name, labels, value };
    });
  }

  private static key(name: string, labels: Record<string, string>): string {
    return JSON.stringify([name, Object.fromEntries(Object.entries(labels).sort(([a], [b]) => a.localeCompare(b)))]);
  }

  private static parse(key: string): [CounterName, Record<string, string>] {
    return JSON.parse(key) as [CounterName, Record<string, string>];
  }
}
