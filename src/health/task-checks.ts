import fs from 'node:fs';
import type { HealthCheck } from './health-monitor.js';

/**
 * Checks of this task's own resources: a failure here is cured by replacing the task, so it makes
 * `/health` 503 (the ALB and ECS replace it). Shared dependencies are checked elsewhere.
 */

/**
 * An event-loop stall longer than this within one health interval (2 s) means the loop is stuck
 * (a runaway computation, a synchronous loop): no session on this task gets acks meanwhile. Load
 * shows as tens of ms (`eventLoopDelayMaxMs` in BENCHMARKS.md); 2 s is far past it, and under the
 * ALB's 5 s health-check timeout.
 */
export const EVENT_LOOP_STUCK_MS = 2000;

/**
 * Free space the spool needs: a session's unsent backlog is capped at 60 MB and a stopping task
 * writes up to one 5 MiB part per session before upload; below 256 MiB new audio could not be
 * spooled. Fargate's ephemeral storage is 20 GiB, so this only fires on a leak.
 */
export const MIN_FREE_DISK_BYTES = 256 * 1024 * 1024;

/**
 * The longest event-loop stall since the previous call, from a 100 ms ticker's lateness (Node's
 * `monitorEventLoopDelay` on Node 20 missed a 1.5 s synchronous block entirely in a trial: it
 * reported 25 ms); fails above `stuckMs`. Call `close()` at shutdown.
 */
export function eventLoopCheck(stuckMs = EVENT_LOOP_STUCK_MS): HealthCheck & { close(): void } {
  const tickMs = 100;
  let expected = performance.now() + tickMs;
  let maxLagMs = 0;
  const ticker = setInterval(() => {
    const now = performance.now();
    maxLagMs = Math.max(maxLagMs, now - expected);
    expected = now + tickMs;
  }, tickMs);
  ticker.unref();
  const check = async () => {
    // A stall still under way (the ticker has not run since) counts too.
    const lag = Math.round(Math.max(maxLagMs, performance.now() - expected));
    maxLagMs = 0;
    if (lag > stuckMs) throw Object.assign(new Error(`event loop stalled ${lag} ms`), { code: 'event_loop_stuck' });
    return { maxLagMs: Math.max(0, lag) };
  };
  return Object.assign(check, { close: () => clearInterval(ticker) });
}

/** Free bytes on the file system of `dir` (the spool); fails below `minFreeBytes`. */
export function diskCheck(dir: string, minFreeBytes = MIN_FREE_DISK_BYTES): HealthCheck {
  return async () => {
    const s = await fs.promises.statfs(dir);
    const freeMiB = Math.floor((s.bavail * s.bsize) / (1024 * 1024));
    if (s.bavail * s.bsize < minFreeBytes) throw Object.assign(new Error(`${freeMiB} MiB free`), { code: 'disk_full' });
    return { freeMiB };
  };
}
