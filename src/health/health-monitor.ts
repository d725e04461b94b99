import type { Logger } from '../lib/logger.js';

export interface CheckResult {
  status: 'ok' | 'error' | 'up_to_date' | 'pending';
  [key: string]: unknown;
}

/** A named probe. Resolve with extra fields (e.g. latency); reject when the dependency is down. */
export type HealthCheck = () => Promise<Record<string, unknown> | void>;

/**
 * `healthy`: everything answers. `degraded`: a dependency every task shares is down (the database,
 * S3, Transcribe): still 200, because replacing this task would not cure it and would end every
 * live session with it; alarms handle it. `unhealthy` (503): something a new task would cure:
 * this task is draining, its migrations are not applied, its event loop is stuck, its disk is full.
 */
export type HealthStatus = 'healthy' | 'degraded' | 'unhealthy';

export interface HealthSnapshot {
  status: HealthStatus;
  checks: Record<string, CheckResult>;
  checkedAt: string;
}

/**
 * Which checks probe something every task shares. A failure of any other check (this task's own
 * resources) is `unhealthy`, and a `pending` status (migrations this task needs are not applied)
 * always is.
 */
export const SHARED_CHECKS = new Set(['database', 'storage', 'transcriber', 'migrations']);

/**
 * Runs every check in the background every `intervalMs` and serves the latest snapshot, so
 * `GET /health` answers in well under 50 ms however slow a dependency is; the ALB polls it.
 * A check that does not answer within `timeoutMs` counts as down.
 */
export class HealthMonitor {
  private snapshot?: HealthSnapshot;
  private timer?: NodeJS.Timeout;
  private refreshing?: Promise<HealthSnapshot>;
  private drainingSince?: Date;

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

  /**
   * This task is stopping: from now on `/health` answers 503 at once (not at the next refresh), so
   * the load balancer routes nothing new here while the live sessions drain.
   */
  setDraining(): void {
    if (this.drainingSince) return;
    this.drainingSince = new Date();
    this.logger.info('health_draining');
  }

  /** The latest snapshot; runs the checks first when none exists or caching is off. */
  async current(): Promise<HealthSnapshot> {
    const snapshot = !this.snapshot || this.options.intervalMs === 0 ? await this.refresh() : this.snapshot;
    return this.withDraining(snapshot);
  }

  /** Re-runs every check now (deduplicated when one is already running). */
  refresh(): Promise<HealthSnapshot> {
    this.refreshing ??= this.runChecks().finally(() => {
      this.refreshing = undefined;
    });
    return this.refreshing;
  }

  /** How many shared dependencies the latest snapshot found down (for the degraded alarm). */
  sharedDown(): number {
    return Object.entries(this.snapshot?.checks ?? {}).filter(([name, r]) => SHARED_CHECKS.has(name) && r.status === 'error').length;
  }

  private withDraining(s: HealthSnapshot): HealthSnapshot {
    if (!this.drainingSince) return s;
    return { ...s, status: 'unhealthy', checks: { ...s.checks, draining: { status: 'error', since: this.drainingSince.toISOString() } } };
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
          return [name, { status: 'error', error: typeof code === 'string' ? code : (err as Error).message?.slice(0, 200), latencyMs: Math.round(performance.now() - started) }];
        }
      }),
    );
    const checks = Object.fromEntries(entries);
    const cured = entries.filter(([name, r]) => r.status === 'pending' || (r.status === 'error' && !SHARED_CHECKS.has(name)));
    const shared = entries.filter(([name, r]) => r.status === 'error' && SHARED_CHECKS.has(name));
    const status: HealthStatus = cured.length > 0 ? 'unhealthy' : shared.length > 0 ? 'degraded' : 'healthy';
    const previous = this.snapshot?.status;
    this.snapshot = { status, checks, checkedAt: new Date().toISOString() };
    if (previous && previous !== status) {
      const failing = [...cured, ...shared].map(([n]) => n);
      this.logger[status === 'healthy' ? 'info' : 'warn']({ status, failing }, 'health_changed');
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
