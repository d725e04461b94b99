import type { AddressInfo } from 'node:net';
import type { Router } from 'express';
import { createApp, type App } from './app.js';
import { AuditLog } from './audit/audit-log.js';
import { LoginLimiter } from './auth/login-limiter.js';
import { closeSessionStore, createSessionMiddleware } from './auth/session.js';
import { UserRepository } from './auth/users.js';
import { buildDomain, type DomainOverrides } from './composition/domain.js';
import { buildEngines, type EngineOverrides } from './composition/engines.js';
import { openInfra, type Infra } from './composition/infra.js';
import { closeHttp, closeRealtime, SocketOutlet, wireRealtime } from './composition/realtime.js';
import { warmUp, type WarmUpReport } from './composition/warm-up.js';
import type { Config } from './config.js';
import type { Pool } from './db/pool.js';
import { migrationStatus } from './db/migrations.js';
import type { SessionManager } from './dictation/session-manager.js';
import { HealthMonitor, type HealthCheck } from './health/health-monitor.js';
import { diskCheck, eventLoopCheck } from './health/task-checks.js';
import { playbackRouter } from './http/routes/playback.js';
import { reviewerRouters } from './http/routes/reviewer.js';
import { vocabularyRoutes } from './http/routes/vocabularies.js';
import { watchEcsStop } from './lib/ecs-stop-watcher.js';
import type { Logger } from './lib/logger.js';
import { errFields } from './lib/logger.js';
import { Counters } from './lib/metrics-hooks.js';
import { ShutdownStack } from './lib/shutdown.js';
import { ServiceMetrics } from './metrics/metrics.js';
import { MetricsObserver } from './metrics/observer.js';
import { startMetricsReporter } from './metrics/reporter.js';
import type { AppServer } from './realtime/server.js';
import type { RecordingService } from './recordings/service.js';
import type { S3ObjectStore } from './storage/s3.js';
import type { TranscriptionEngine } from './transcription/port.js';

export { EMBEDDED_HEALTH_KEY, openStore } from './composition/infra.js';

export interface Service {
  url: string;
  port: number;
  app: App;
  db: Pool;
  health: HealthMonitor;
  store: S3ObjectStore;
  recordings: RecordingService;
  engine: TranscriptionEngine;
  sessions: SessionManager;
  metrics: ServiceMetrics;
  taskId: string;
  /** Resilience counters (engine retries, failovers, resumes, gaps) for /metrics. */
  counters: Counters;
  /** What the start-up warm-up ran before the service listened (undefined with WARM_UP_CHUNKS=0). */
  warmUp?: WarmUpReport;
  /**
   * Starts the stop: `/health` 503, every live session told `server_shutdown`, ended and stored,
   * then this task's sockets closed so browsers reconnect to another task. The process keeps
   * serving until `close()`. Runs once; `close()` calls it too.
   */
  drain(): Promise<void>;
  /** Stops in order; resolves when everything is closed. Safe to call twice. */
  close(): Promise<void>;
}

/** Parts a caller (or a test) may supply instead of the ones built from config. */
export interface ServiceOverrides extends EngineOverrides, DomainOverrides {
  healthChecks?: Record<string, HealthCheck>;
  /** Replaces the start-up warm-up (tests: to hold the start while it runs). */
  warmUp?: () => Promise<WarmUpReport>;
  apiRouters?: (io: AppServer) => Array<[string, Router]>;
}

/**
 * The composition root `main.ts` calls (tests too, with PORT=0), in steps: `openInfra` (database,
 * migrations, object store) → `buildEngines` → `buildDomain` (crash recovery, repairs, live
 * sessions) → `createApp(deps)` → `wireRealtime` → background work → warm-up → `listen`. Each step pushes the
 * closers of what it opened on one stack, so a failed start closes exactly what was opened and the
 * stop runs newest first (docs/resilience.md): stop admitting and finish every live session →
 * close io/http → background work, domain, engines → the object store and the pool.
 */
export async function startService(config: Config, logger: Logger, overrides: ServiceOverrides = {}): Promise<Service> {
  const shutdown = new ShutdownStack(logger);
  try {
    const infra = await openInfra(config, logger, shutdown);
    const { db } = infra;
    const metrics = new ServiceMetrics();
    shutdown.push('close_metrics', () => metrics.close());
    const counters = new Counters(metrics.hooks());
    // The one object the domain reports through (engine and session counters, session meters).
    const observer = new MetricsObserver(counters, metrics);
    const engines = await buildEngines(config, logger, shutdown, infra, observer, overrides);
    const outlet = new SocketOutlet();
    const domain = await buildDomain(config, logger, shutdown, { infra, engines, observer, outlet }, overrides);
    metrics.setLiveSessions(() => domain.sessions.liveCount);

    const users = new UserRepository(db);
    const audit = new AuditLog(db);
    const sessionMiddleware = createSessionMiddleware(config, db, logger);
    shutdown.push('close_session_store', () => closeSessionStore(sessionMiddleware));
    const health = buildHealth(config, logger, shutdown, infra, engines.engine, overrides.healthChecks);
    metrics.setDependenciesDown(() => health.sharedDown());

    const app = createApp({
      config,
      logger,
      users,
      audit,
      loginLimiter: new LoginLimiter(db, {
        perIp: config.LOGIN_MAX_PER_IP,
        perUser: config.LOGIN_MAX_PER_USER,
        windowMs: config.LOGIN_WINDOW_MS,
        delayBaseMs: config.LOGIN_DELAY_BASE_MS,
        delayMaxMs: config.LOGIN_DELAY_MAX_MS,
      }),
      sessionMiddleware,
      health,
      metrics,
      liveHttpSessions: async (sids) => {
        const { rows } = await db.query<{ sid: string }>('SELECT sid FROM http_sessions WHERE sid = ANY($1::text[]) AND expire > now()', [sids]);
        return new Set(rows.map((r) => r.sid));
      },
      apiRouters: (io) => [
        // A caller's routers come first, so a stand-in (tests) takes precedence over the built-in one.
        ...(overrides.apiRouters?.(io) ?? []),
        ...reviewerRouters({ db, users, audit }),
        ['/admin', vocabularyRoutes({ users, audit, repo: engines.vocabularyRepo, service: engines.vocabularies, engine: engines.primary.name })],
        ['/transcriptions', playbackRouter({ db, users, audit, recordings: domain.recordings, logger })],
      ],
    });
    const { drain } = wireRealtime(app, { db, logger, sessions: domain.sessions, outlet, health, metrics, audit });

    await startBackground(config, logger, shutdown, { metrics, health, ...domain });
    // Step 7: the chunk path compiled before anyone can reach it: nothing listens, so /health does not
    // answer and the load balancer sends nobody here until it is done (composition/warm-up.ts).
    const warmed = await runWarmUp(config, logger, overrides.warmUp);
    const port = await listen(app, config);
    logger.info(
      { port, taskId: infra.taskId, database: infra.embeddedPostgres ? 'embedded' : 'external', storage: infra.embeddedS3 ? 'embedded' : 's3', engine: engines.engine.name },
      'service_listening',
    );
    // Pushed last, so run first on a stop.
    shutdown.push('close_http', () => closeHttp(app));
    shutdown.push('close_realtime', () => closeRealtime(app.io));
    shutdown.push('drain_sessions', drain);
    if (config.ecsMetadataUri) {
      const stopWatching = watchEcsStop({ metadataUri: config.ecsMetadataUri, intervalMs: config.ECS_STOP_POLL_MS, logger, onStop: () => void drain() });
      shutdown.push('stop_ecs_watch', stopWatching);
    }

    return {
      url: `http://127.0.0.1:${port}`,
      port,
      app,
      db,
      health,
      store: infra.store,
      recordings: domain.recordings,
      engine: engines.engine,
      sessions: domain.sessions,
      metrics,
      taskId: infra.taskId,
      counters,
      ...(warmed ? { warmUp: warmed } : {}),
      drain,
      close: () => shutdown.run(config.SHUTDOWN_TIMEOUT_MS),
    };
  } catch (err) {
    await shutdown.run(10_000);
    throw err;
  }
}

/** This task's own checks (a failure is 503: a new task cures it) and those of what every task shares (200 `degraded`). */
function buildHealth(config: Config, logger: Logger, shutdown: ShutdownStack, infra: Infra, engine: TranscriptionEngine, extra: Record<string, HealthCheck> = {}): HealthMonitor {
  const eventLoop = eventLoopCheck();
  shutdown.push('stop_event_loop_check', () => eventLoop.close());
  const health = new HealthMonitor(
    {
      // This task's own resources (a failure is 503: a new task cures it) ...
      eventLoop,
      disk: diskCheck(config.dataDir),
      // ... and what every task shares (a failure is 200 `degraded`: alarms, not replacement).
      database: async () => {
        await infra.db.query('SELECT 1');
      },
      migrations: async () => ({ ...(await migrationStatus(infra.db, infra.migrationFiles)) }),
      storage: () => infra.store.check(),
      transcriber: async () => {
        await engine.check();
        return { engine: engine.name };
      },
      ...extra,
    },
    logger,
    { intervalMs: config.HEALTH_CACHE_MS, timeoutMs: 1500 },
  );
  shutdown.push('stop_health', () => health.stop());
  return health;
}

/** Step 6: the periodic work: metrics log line, health checks, repair pass, abandoned sessions, checkpoint sweep. */
async function startBackground(
  config: Config,
  logger: Logger,
  shutdown: ShutdownStack,
  d: { metrics: ServiceMetrics; health: HealthMonitor; recordings: RecordingService; repairWorker: { start(): Promise<void> }; abandoned: { start(): void } },
): Promise<void> {
  shutdown.push('stop_metrics_reporter', startMetricsReporter(d.metrics, logger, config.METRICS_LOG_INTERVAL_MS));
  await d.health.start();
  await d.repairWorker.start();
  d.abandoned.start();
  // Checkpoints a crash left behind: at start-up, then hourly (one List request per 1,000 objects).
  let sweeping: Promise<unknown> | undefined;
  const sweep = () =>
    (sweeping ??= d.recordings
      .sweepCheckpoints({ resumeGraceMs: config.RESUME_GRACE_MS })
      .catch((err: unknown) => logger.warn({ err: errFields(err) }, 'checkpoint_sweep_failed'))
      .finally(() => (sweeping = undefined)));
  void sweep();
  const sweepTimer = setInterval(() => void sweep(), 3_600_000);
  sweepTimer.unref();
  shutdown.push('stop_checkpoint_sweep', async () => {
    clearInterval(sweepTimer);
    await sweeping;
  });
}

/** The start-up warm-up (WARM_UP_CHUNKS; 0 skips it), logged with what it ran. */
async function runWarmUp(config: Config, logger: Logger, override?: () => Promise<WarmUpReport>): Promise<WarmUpReport | undefined> {
  if (!override && config.WARM_UP_CHUNKS === 0) return undefined;
  const report = await (override ?? (() => warmUp({ engine: config.TRANSCRIBE_ENGINE, region: config.AWS_TRANSCRIBE_REGION, chunks: config.WARM_UP_CHUNKS }, logger)))();
  logger.info({ ms: report.ms, frames: report.frames, decoded: report.decoded, socketIo: report.socketIo, transcribe: report.transcribe }, 'warm_up_done');
  return report;
}

/** Step 8: listens on PORT (0 in tests); resolves the port. */
async function listen(app: App, config: Config): Promise<number> {
  await new Promise<void>((resolve, reject) => {
    app.server.once('error', reject);
    app.server.listen(config.PORT, config.HOST, () => {
      app.server.off('error', reject);
      resolve();
    });
  });
  return (app.server.address() as AddressInfo).port;
}
