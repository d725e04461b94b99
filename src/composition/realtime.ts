import { createAdapter } from '@socket.io/postgres-adapter';
import { warmOpusWorker } from '../audio/index.js';
import type { App } from '../app.js';
import type { AuditLog } from '../audit/audit-log.js';
import type { Pool } from '../db/pool.js';
import type { SessionManager } from '../dictation/session-manager.js';
import type { HealthMonitor } from '../health/health-monitor.js';
import type { Logger } from '../lib/logger.js';
import { errFields } from '../lib/logger.js';
import type { ServiceMetrics } from '../metrics/metrics.js';
import { registerDictationHandlers, roomSink, sessionHandoff } from '../realtime/dictation-handlers.js';
import type { AppServer } from '../realtime/server.js';
import type { RealtimeOutlet } from './domain.js';

/**
 * The domain's {@link RealtimeOutlet}, bound to the Socket.IO server by `wireRealtime`. Built before
 * the server exists (the domain comes first, `createApp` builds the server from it); a call before
 * the binding is a wiring bug and throws.
 */
export class SocketOutlet implements RealtimeOutlet {
  private bound?: { io: AppServer; handoff: ReturnType<typeof sessionHandoff> };

  bind(io: AppServer, handoff: ReturnType<typeof sessionHandoff>): void {
    this.bound = { io, handoff };
  }

  sinkFor(sessionId: string, transcriptionId: string) {
    return roomSink(this.get().io, sessionId, transcriptionId);
  }

  requestHandoff(userId: string, sessionId: string): Promise<boolean> {
    return this.get().handoff.request(userId, sessionId);
  }

  private get() {
    if (!this.bound) throw new Error('realtime outlet used before wireRealtime');
    return this.bound;
  }
}

/**
 * Step 5: the live sessions on the Socket.IO server `createApp` built: the cross-task adapter, the
 * session handoff, the dictation handlers. Returns `drain`, the first step of a stop: `/health`
 * 503, every live session told `server_shutdown`, ended and stored, then this task's sockets closed
 * so browsers reconnect to another task. Runs once.
 */
export function wireRealtime(
  app: App,
  deps: { db: Pool; logger: Logger; sessions: SessionManager; outlet: SocketOutlet; health: HealthMonitor; metrics: ServiceMetrics; audit: AuditLog },
): { drain: () => Promise<void> } {
  const { io } = app;
  const { logger, sessions } = deps;
  let draining: Promise<void> | undefined;
  const drain = () =>
    (draining ??= (async () => {
      deps.health.setDraining();
      await sessions.drain('server_shutdown');
      // Every session is stored and its client told: closing this task's sockets now sends the
      // browsers to another task at once, instead of when the load balancer cuts them.
      io.local.disconnectSockets(true);
      logger.info('drain_complete');
    })());

  const handoff = sessionHandoff(io, logger);
  // Events reach a user's sockets on every task (logout, live-session rooms); the adapter's
  // listener connection is released by io.close() at shutdown, before the pool ends.
  io.adapter(
    createAdapter(adapterPool(deps.db, logger), {
      tableName: 'socket_io_attachments',
      errorHandler: (err: Error) => logger.warn({ err: errFields(err) }, 'socket_adapter_error'),
    }),
  );
  // The Opus decoding worker loads its WASM now, not in the first Opus session's first chunk.
  warmOpusWorker();
  deps.outlet.bind(io, handoff);
  handoff.serve(sessions);
  // A draining task takes no sockets: a browser sent here by a stale route reconnects (the
  // load balancer picks another task) instead of resuming on a task that is leaving.
  io.on('connection', (socket) => {
    if (draining) socket.disconnect(true);
  });
  registerDictationHandlers(io, sessions, logger, { metrics: deps.metrics, audit: deps.audit });
  return { drain };
}

/** Only this task's sockets (with the cluster adapter a plain disconnectSockets reaches every task), then the server. */
export async function closeRealtime(io: AppServer): Promise<void> {
  io.local.disconnectSockets(true);
  await new Promise<void>((resolve) => io.close(() => resolve()));
}

export async function closeHttp(app: App): Promise<void> {
  if (!app.server.listening) return;
  await new Promise<void>((resolve) => {
    app.server.close(() => resolve());
    app.server.closeIdleConnections();
  });
}

/**
 * The pool as the Socket.IO adapter sees it. The adapter keeps one client checked out for LISTEN
 * and never listens for its errors: when the database drops that connection, the client's 'error'
 * would be an uncaught exception (the process dies). Here it is logged and the broken client is
 * released (destroyed, so the pool does not leak its slot); the adapter sees 'end' and reconnects.
 */
function adapterPool(db: Pool, logger: Logger): Pool {
  const connect = async () => {
    const client = await db.connect();
    let released = false;
    client.on('error', (err: Error) => {
      logger.warn({ err: errFields(err) }, 'socket_adapter_connection_lost');
      if (!released) {
        released = true;
        client.release(err);
      }
    });
    return client;
  };
  return new Proxy(db, {
    get(target, prop, receiver) {
      if (prop === 'connect') return connect;
      const value = Reflect.get(target, prop, receiver) as unknown;
      return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(target) : value;
    },
  });
}
