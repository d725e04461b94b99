import type { Logger } from '../lib/logger.js';

export interface CheckResult {
  status: 'ok' | 'error' | 'up_to_date' | 'pending';
  [key: string]: unknown;
}

/** A named probe. Resolve with extra fields (e.g. latency); reject when the dependency is down. */
export type HealthCheck = () => Promise<Record<string, unknown> | void>;

export interface HealthSnapshot {
  status: 'healthy' | 'unhealthy';
  checks: Record<string, CheckResult>;
  checkedAt: string;
}

/**
 * Runs every check in the background every `intervalMs` and serves the latest snapshot, so
 * `GET /health` answers in well under 50 ms however slow a dependency is; the ALB polls it.
 * A check that does not answer within `timeoutMs` counts as down.
 */
export class HealthMonitor {
  private snapshot?: HealthSnapshot;
  private timer?: NodeJS.Timeout;
  private refreshing?: Promise<HealthSnapshot>;

  constructor(
    private readonly checks: Record<string, HealthCheck>,
    private readonly logger: Logger,
    private readonly options: { intervalMs: number; timeoutMs: number } = { intervalMs: 2000, timeoutMs: 1500 },
  ) {}

  /**
   * Runs the checks once, then keeps refreshing in the background. The first run allows each
   * check `startupTimeoutMs` (a model loading, a cold S3 connection): it gates readiness.
   */
  async start(startupTimeoutMs = 30_000): Promise<HealthSnapshot> {
    const first = await this.runChecks(startupTimeoutMs);
    if (this.options.intervalMs > 0) {
      this.timer = setInterval(() => void this.refresh(), this.options.intervalMs);
      this.timer.unref();
    }
    return first;
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
  }

  /** The latest snapshot; runs the checks first when none exists or caching is off. */
  async current(): Promise<HealthSnapshot> {
    if (!this.snapshot || this.options.intervalMs === 0) return this.refresh();
    return this.snapshot;
  }

  /** Re-runs every check now (deduplicated when one is already running). */
  refresh(): Promise<HealthSnapshot> {
    this.refreshing ??= this.runChecks().finally(() => {
      this.refreshing = undefined;
    });
    return this.refreshing;
  }

  private async runChecks(timeoutMs = this.options.timeoutMs): Promise<HealthSnapshot> {
    const entries = await Promise.all(
      Object.entries(this.checks).map(async ([name, check]): Promise<[string, CheckResult]> => {
        const started = performance.now();
        try {
          const extra = (await withTimeout(check(), timeoutMs)) ?? {};
          const status = (extra.status as CheckResult['status'] | undefined) ?? 'ok';
          return [name, { ...extra, status, latencyMs: Math.round(performance.now() - started) }];
        } catch (err) {
          const code = (err as { code?: unknown }).code;
          return [name, { status: 'error', error: typeof code === 'string' ? code : (err as Error).message?.slice(0, 200) }];
        }
      }),
    );
    const checks = Object.fromEntries(entries);
    const healthy = entries.every(([, r]) => r.status === 'ok' || r.status === 'up_to_date');
    const previous = this.snapshot?.status;
    this.snapshot = { status: healthy ? 'healthy' : 'unhealthy', checks, checkedAt: new Date().toISOString() };
    if (previous && previous !== this.snapshot.status) {
      const failing = entries.filter(([, r]) => r.status === 'error' || r.status === 'pending').map(([n]) => n);
      this.logger[healthy ? 'info' : 'warn']({ status: this.snapshot.status, failing }, 'health_changed');
    }
    return this.snapshot;
  }
}

function withTimeout<T>(p: Promise<T>, ms: number): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const t = setTimeout(() => reject(Object.assign(new Error('check timed out'), { code: 'timeout' })), ms);
    p.then(
      (v) => {
        clearTimeout(t);
        resolve(v);
      },
      (e: unknown) => {
        clearTimeout(t);
        reject(e);
      },
    );
  });
}
