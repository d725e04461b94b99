import type { Logger } from './logger.js';
import { errFields } from './logger.js';

/**
 * Tells the service that ECS wants this task stopped, before SIGTERM.
 *
 * ECS stops a task behind a load balancer in this order: the task's desired status becomes
 * STOPPED, its target is deregistered (no new connections; open ones are kept for the target
 * group's deregistration delay, then the ALB closes them), and only after that delay does the
 * container get SIGTERM (then SIGKILL after `stopTimeout`). A drain that waits for SIGTERM runs
 * after every browser's connection is gone: nobody hears `server_shutdown`. So the service polls
 * the task metadata endpoint v4 (`$ECS_CONTAINER_METADATA_URI_V4/task`, which the ECS agent serves
 * inside every task without credentials) and starts draining at `DesiredStatus: STOPPED`, while
 * the sockets still work; the deregistration delay covers the drain (infra/src/params.ts).
 *
 * Returns a stop function. `onStop` runs at most once. An unreachable endpoint is logged once and
 * polled again: SIGTERM remains the fallback.
 */
export function watchEcsStop(o: {
  metadataUri: string;
  intervalMs: number;
  logger: Logger;
  onStop: () => void;
  fetchImpl?: typeof fetch;
}): () => void {
  const doFetch = o.fetchImpl ?? fetch;
  let stopped = false;
  let warned = false;
  let timer: NodeJS.Timeout | undefined;
  const poll = async () => {
    try {
      const res = await doFetch(`${o.metadataUri}/task`, { signal: AbortSignal.timeout(Math.max(500, o.intervalMs)) });
      if (!res.ok) throw new Error(`HTTP ${res.status}`);
      const task = (await res.json()) as { DesiredStatus?: string; KnownStatus?: string };
      if (task.DesiredStatus === 'STOPPED' && !stopped) {
        stopped = true;
        o.logger.info({ knownStatus: task.KnownStatus }, 'ecs_task_stopping');
        o.onStop();
        return;
      }
    } catch (err) {
      if (!warned) o.logger.warn({ err: errFields(err) }, 'ecs_metadata_unreachable');
      warned = true;
    }
    if (!stopped) {
      timer = setTimeout(() => void poll(), o.intervalMs);
      timer.unref();
    }
  };
  void poll();
  return () => {
    stopped = true;
    if (timer) clearTimeout(timer);
  };
}
