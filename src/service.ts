import type { AddressInfo } from 'node:net';
import type { Router } from 'express';
import { AuditLog } from './audit/audit-log.js';
import { LoginLimiter } from './auth/login-limiter.js';
import { closeSessionStore, createSessionMiddleware } from './auth/session.js';
import { UserRepository } from './auth/users.js';
import { createApp, type App } from './app.js';
import type { Config } from './config.js';
import type { EmbeddedPostgresHandle } from './db/embedded-postgres.js';
import { migrate, migrationFiles, migrationStatus } from './db/migrations.js';
import { openDatabase } from './db/open.js';
import type { Pool } from './db/pool.js';
import { HealthMonitor, type HealthCheck } from './health/health-monitor.js';
import { reviewerRouters } from './http/routes/reviewer.js';
import type { Logger } from './lib/logger.js';
import { Shutdown } from './lib/shutdown.js';
import type { AppServer } from './realtime/server.js';

export interface Service {
  url: string;
  port: number;
  app: App;
  db: Pool;
  health: HealthMonitor;
  /** Stops in order; resolves when everything is closed. Safe to call twice. */
  close(): Promise<void>;
}

/** Parts a caller (or a test) may supply instead of the ones built from config. */
export interface ServiceOverrides {
  healthChecks?: Record<string, HealthCheck>;
  apiRouters?: (io: AppServer) => Array<[string, Router]>;
  realtimeHandlers?: (io: AppServer) => void;
}

/**
 * Builds every adapter from config, applies migrations, then listens. This is the composition root
 * `main.ts` calls; tests call it too, with PORT=0.
 */
export async function startService(config: Config, logger: Logger, overrides: ServiceOverrides = {}): Promise<Service> {
  const shutdown = new Shutdown(logger);
  let embeddedPg: EmbeddedPostgresHandle | undefined;
  try {
    const { db, embedded } = await openDatabase(config, logger);
    embeddedPg = embedded;

    const client = await db.connect();
    try {
      await migrate(client, logger, 'up');
    } finally {
      client.release();
    }
    const files = migrationFiles();

    const users = new UserRepository(db);
    const audit = new AuditLog(db);
    const loginLimiter = new LoginLimiter(db, {
      perIp: config.LOGIN_MAX_PER_IP,
      perUser: config.LOGIN_MAX_PER_USER,
      windowMs: config.LOGIN_WINDOW_MS,
    });
    const sessionMiddleware = createSessionMiddleware(config, db, logger);

    const health = new HealthMonitor(
      {
        database: async () => {
          await db.query('SELECT 1');
        },
        migrations: async () => ({ ...(await migrationStatus(db, files)) }),
        ...overrides.healthChecks,
      },
      logger,
      { intervalMs: config.HEALTH_CACHE_MS, timeoutMs: 1500 },
    );

    const app = createApp({
      config,
      logger,
      users,
      audit,
      loginLimiter,
      sessionMiddleware,
      health,
      apiRouters: (io) => [...reviewerRouters({ db, users, audit }), ...(overrides.apiRouters?.(io) ?? [])],
      realtimeHandlers: overrides.realtimeHandlers,
    });

    await health.start();
    await new Promise<void>((resolve, reject) => {
      app.server.once('error', reject);
      app.server.listen(config.PORT, config.HOST, () => {
        app.server.off('error', reject);
        resolve();
      });
    });
    const port = (app.server.address() as AddressInfo).port;
    const url = `http://127.0.0.1:${port}`;
    logger.info({ port, database: embedded ? 'embedded' : 'external' }, 'service_listening');

    shutdown.add('stop_health', () => health.stop());
    shutdown.add('close_realtime', () => closeRealtime(app.io));
    shutdown.add('close_http', () => closeHttp(app));
    shutdown.add('close_session_store', () => closeSessionStore(sessionMiddleware));
    shutdown.add('close_pool', () => db.end());
    if (embedded) shutdown.add('stop_embedded_postgres', () => embedded.stop());

    return {
      url,
      port,
      app,
      db,
      health,
      close: () => shutdown.run(config.SHUTDOWN_TIMEOUT_MS),
    };
  } catch (err) {
    await shutdown.run(5000);
    if (embeddedPg) await embeddedPg.stop().catch(() => {});
    throw err;
  }
}

async function closeRealtime(io: AppServer): Promise<void> {
  io.disconnectSockets(true);
  await new Promise<void>((resolve) => io.close(() => resolve()));
}

async function closeHttp(app: App): Promise<void> {
  if (!app.server.listening) return;
  await new Promise<void>((resolve) => {
    app.server.close(() => resolve());
    app.server.closeIdleConnections();
  });
}
