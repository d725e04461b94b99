import { randomUUID } from 'node:crypto';
import fs from 'node:fs';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { createAdapter } from '@socket.io/postgres-adapter';
import { warmOpusWorker } from './audio/index.js';
import type { Router } from 'express';
import { AuditLog } from './audit/audit-log.js';
import { LoginLimiter } from './auth/login-limiter.js';
import { closeSessionStore, createSessionMiddleware } from './auth/session.js';
import { UserRepository } from './auth/users.js';
import { createApp, type App } from './app.js';
import type { Config } from './config.js';
import { MAX_BACKLOG_BYTES, MAX_CHUNK_BYTES } from './config/limits.js';
import type { EmbeddedPostgresHandle } from './db/embedded-postgres.js';
import { migrate, migrationFiles, migrationStatus } from './db/migrations.js';
import { openDatabase } from './db/open.js';
import type { Pool } from './db/pool.js';
import { AbandonedSessions } from './dictation/abandoned-sessions.js';
import { DictationRepository } from './dictation/dictation-repo.js';
import { RepairRepository } from './dictation/repair-repo.js';
import { RepairWorker } from './dictation/repair-worker.js';
import { SessionManager } from './dictation/session-manager.js';
import { HealthMonitor, type HealthCheck } from './health/health-monitor.js';
import { diskCheck, eventLoopCheck } from './health/task-checks.js';
import { playbackRouter } from './http/routes/playback.js';
import { reviewerRouters } from './http/routes/reviewer.js';
import { vocabularyRoutes } from './http/routes/vocabularies.js';
import { createTranscribeVocabularies } from './transcription/providers/aws-transcribe-medical/vocabularies.js';
import { VocabularyRepository } from './vocabulary/repo.js';
import { VocabularyService, withVocabulary } from './vocabulary/service.js';
import type { Logger } from './lib/logger.js';
import { Counters } from './lib/metrics-hooks.js';
import { ShutdownStack } from './lib/shutdown.js';
import { ServiceMetrics } from './metrics/metrics.js';
import { startMetricsReporter } from './metrics/reporter.js';
import { registerDictationHandlers, roomSink, sessionHandoff } from './realtime/dictation-handlers.js';
import { watchEcsStop } from './lib/ecs-stop-watcher.js';
import type { AppServer } from './realtime/server.js';
import { createRecordingService, type RecordingService } from './recordings/service.js';
import { startEmbeddedS3, type EmbeddedS3 } from './storage/embedded-s3.js';
import { createObjectStore, type S3ObjectStore } from './storage/s3.js';
import { createEngine } from './transcription/factory.js';
import { shareByUser } from './transcription/fair-share.js';
import { createResilientEngine, type ResilienceOptions } from './transcription/resilient-stream.js';
import type { TranscriptionEngine } from './transcription/port.js';

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
export interface ServiceOverrides {
  /** A ready engine (tests use the scripted fake); otherwise built from TRANSCRIBE_ENGINE. */
  engine?: TranscriptionEngine;
  /** The engine sessions fail over to (tests); otherwise built from TRANSCRIBE_FALLBACK. */
  fallbackEngine?: TranscriptionEngine;
  /** Engine retry/failover settings beyond the config (tests). */
  resilience?: Partial<ResilienceOptions>;
  healthChecks?: Record<string, HealthCheck>;
  apiRouters?: (io: AppServer) => Array<[string, Router]>;
  /** How often the repair pass looks for due stretches (tests shorten it). */
  repair?: { pollMs?: number };
  /** Custom vocabularies: how often Transcribe's state is polled and stream starts re-read them (tests shorten both). */
  vocabulary?: { pollMs?: number; cacheMs?: number };
  /** Options for the recording service (tests shorten retries). */
  recordings?: { retry?: { baseMs?: number; maxMs?: number; maxAttempts?: number }; recoveryGraceMs?: number };
}

/**
 * Builds every adapter from config, applies migrations, recovers what a crash left, then listens.
 * This is the composition root `main.ts` calls; tests call it too, with PORT=0. Shutdown runs in
 * order: stop admitting and finish every live session → close io/http → recordings, engine → pool
 * and the embedded servers.
 */
export async function startService(config: Config, logger: Logger, overrides: ServiceOverrides = {}): Promise<Service> {
  // Each step pushes its closer once it has opened something: a failed start-up closes what was
  // opened, and the stop runs newest first (drain, io/http, ..., the pool).
  const shutdown = new ShutdownStack(logger);
  try {
    fs.mkdirSync(config.dataDir, { recursive: true });
    const taskId = loadTaskId(config.dataDir);
    const { db, embedded } = await openDatabase(config, logger);
    if (embedded) shutdown.push('stop_embedded_postgres', () => embedded.stop());
    shutdown.push('close_pool', () => db.end());

    const client = await db.connect();
    try {
      await migrate(client, logger, 'up');
    } finally {
      client.release();
    }
    const files = migrationFiles();

    const { store, embeddedS3 } = await openStore(config, logger);
    if (embeddedS3) shutdown.push('stop_embedded_s3', () => embeddedS3.close());
    shutdown.push('close_store', () => store.close());

    const recordings = createRecordingService({
      db,
      store,
      spoolDir: path.join(config.dataDir, 'spool'),
      logger,
      uploadConcurrency: config.RECORDING_UPLOAD_CONCURRENCY,
      checkpointIntervalMs: config.CHECKPOINT_INTERVAL_MS,
      ...(overrides.recordings?.retry ? { retry: overrides.recordings.retry } : {}),
    });
    shutdown.push('close_recordings', () => recordings.close());

    const metrics = new ServiceMetrics();
    shutdown.push('close_metrics', () => metrics.close());
    const counters = new Counters(metrics.hooks());
    const primary = overrides.engine ?? (await createEngine({ ...config, LOCAL_ENGINE_WORKERS: config.LOCAL_ENGINE_WORKERS || undefined }, logger));
    shutdown.push('close_engine', () => primary.close());
    let fallback = overrides.fallbackEngine;
    if (!fallback && !overrides.engine && config.fallbackEngine === 'local') {
      // No worker threads or model in memory until a session fails over (most tasks never do).
      fallback = await createEngine({ ...config, TRANSCRIBE_ENGINE: 'local', LOCAL_ENGINE_WORKERS: config.LOCAL_ENGINE_WORKERS || undefined }, logger, 'fallback');
    }
    if (fallback) {
      const f = fallback;
      shutdown.push('close_fallback_engine', () => f.close());
    }
    // Each specialty's custom vocabulary (issue 16): Transcribe gets its VocabularyName once READY,
    // the offline engine the terms in its decoder's dictionary.
    const vocabularyRepo = new VocabularyRepository(db);
    const vocabularies = new VocabularyService({
      repo: vocabularyRepo,
      logger,
      ...overrides.vocabulary,
      ...(config.TRANSCRIBE_ENGINE === 'aws'
        ? {
            transcribe: {
              publisher: createTranscribeVocabularies({ region: config.AWS_TRANSCRIBE_REGION }, logger),
              store,
              namePrefix: config.TRANSCRIBE_VOCABULARY_PREFIX,
              // Transcribe reads the table file itself, from a bucket in its own region.
              ...(embeddedS3
                ? { unusable: 'The embedded store cannot be read by Transcribe; set S3_BUCKET.' }
                : config.AWS_TRANSCRIBE_REGION !== config.AWS_REGION
                  ? { unusable: `Transcribe (${config.AWS_TRANSCRIBE_REGION}) reads vocabulary files only from a bucket in its own region; the recordings bucket is in ${config.AWS_REGION}.` }
                  : {}),
            },
          }
        : {}),
    });
    shutdown.push('close_vocabularies', () => vocabularies.close());
    // Retry, reconnect, offsets and failover live in this one wrapper around any engine. Each engine's
    // streams are shared out per user; the wrapper gives a silent session's stream back (idle release).
    const engine = withVocabulary(createResilientEngine(
      shareByUser(primary, config.MAX_ENGINE_STREAMS_PER_USER),
      fallback && shareByUser(fallback, config.MAX_ENGINE_STREAMS_PER_USER),
      {
        maxRetries: config.ENGINE_MAX_RETRIES,
        backoffBaseMs: config.ENGINE_BACKOFF_BASE_MS,
        backoffMaxMs: config.ENGINE_BACKOFF_MAX_MS,
        failoverAfter: config.ENGINE_FAILOVER_AFTER,
        probeIntervalMs: config.ENGINE_PROBE_INTERVAL_MS,
        replayMaxMs: config.ENGINE_REPLAY_MAX_MS,
        watchdogMs: config.ENGINE_WATCHDOG_MS,
        idleReleaseMs: config.ENGINE_IDLE_RELEASE_MS,
        ...overrides.resilience,
      },
      logger,
      counters,
    ), vocabularies, logger);

    const dictation = new DictationRepository(db);
    // Other tasks take over this task's live sessions when these stop (a crash; docs/resilience.md).
    await dictation.heartbeat(taskId, true);
    const heartbeat = setInterval(() => void dictation.heartbeat(taskId).catch((err: unknown) => logger.warn({ err: { message: (err as Error).message } }, 'heartbeat_failed')), Math.max(200, Math.floor(config.TASK_DEAD_AFTER_MS / 5)));
    heartbeat.unref();
    shutdown.push('stop_heartbeat', () => clearInterval(heartbeat));
    await recoverCrashed(recordings, dictation, taskId, overrides.recordings?.recoveryGraceMs ?? 120_000, logger);
    // The repair pass uses the primary engine itself: a repair never falls back.
    const repairs = new RepairRepository(db);
    const repairWorker = new RepairWorker({
      repo: repairs,
      recordings,
      engine: withVocabulary(primary, vocabularies, logger),
      taskId,
      logger,
      concurrency: config.REPAIR_CONCURRENCY,
      speed: config.REPAIR_SPEED,
      ...(overrides.repair?.pollMs ? { pollMs: overrides.repair.pollMs } : {}),
    });
    shutdown.push('close_repairs', () => repairWorker.close());
    // Sessions of dead tasks whose clients never came back: finalised from their durable checkpoints.
    const abandoned = new AbandonedSessions({
      repo: dictation,
      recordings,
      repairs: {
        add: async (transcriptionId, fromMs, toMs) => {
          await repairs.add(transcriptionId, fromMs, toMs);
          repairWorker.kick();
        },
      },
      taskId,
      logger,
      deadAfterMs: config.TASK_DEAD_AFTER_MS,
      graceMs: config.RESUME_GRACE_MS,
    });
    shutdown.push('close_abandoned_sessions', () => abandoned.close());

    const users = new UserRepository(db);
    const audit = new AuditLog(db);
    const loginLimiter = new LoginLimiter(db, {
      perIp: config.LOGIN_MAX_PER_IP,
      perUser: config.LOGIN_MAX_PER_USER,
      windowMs: config.LOGIN_WINDOW_MS,
      delayBaseMs: config.LOGIN_DELAY_BASE_MS,
      delayMaxMs: config.LOGIN_DELAY_MAX_MS,
    });
    const sessionMiddleware = createSessionMiddleware(config, db, logger);
    shutdown.push('close_session_store', () => closeSessionStore(sessionMiddleware));

    const eventLoop = eventLoopCheck();
    shutdown.push('stop_event_loop_check', () => eventLoop.close());
    const health = new HealthMonitor(
      {
        // This task's own resources (a failure is 503: a new task cures it) ...
        eventLoop,
        disk: diskCheck(config.dataDir),
        // ... and what every task shares (a failure is 200 `degraded`: alarms, not replacement).
        database: async () => {
          await db.query('SELECT 1');
        },
        migrations: async () => ({ ...(await migrationStatus(db, files)) }),
        storage: () => store.check(),
        transcriber: async () => {
          await engine.check();
          return { engine: engine.name };
        },
        ...overrides.healthChecks,
      },
      logger,
      { intervalMs: config.HEALTH_CACHE_MS, timeoutMs: 1500 },
    );
    shutdown.push('stop_health', () => health.stop());
    metrics.setDependenciesDown(() => health.sharedDown());

    let sessions!: SessionManager;
    let realtime: AppServer | undefined;
    let draining: Promise<void> | undefined;
    const drain = () =>
      (draining ??= (async () => {
        health.setDraining();
        await sessions.drain('server_shutdown');
        // Every session is stored and its client told: closing this task's sockets now sends the
        // browsers to another task at once, instead of when the load balancer cuts them.
        realtime?.local.disconnectSockets(true);
        logger.info('drain_complete');
      })());
    const app = createApp({
      config,
      logger,
      users,
      audit,
      loginLimiter,
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
        ...reviewerRouters({
          db,
          users,
          audit,
        }),
        ['/admin', vocabularyRoutes({ users, audit, repo: vocabularyRepo, service: vocabularies, engine: primary.name })],
        ['/transcriptions', playbackRouter({ db, users, audit, recordings, logger })],
      ],
      realtimeHandlers: (io) => {
        realtime = io;
        const handoff = sessionHandoff(io, logger);
        // Events reach a user's sockets on every task (logout, live-session rooms); the adapter's
        // listener connection is released by io.close() at shutdown, before the pool ends.
        io.adapter(
          createAdapter(adapterPool(db, logger), {
            tableName: 'socket_io_attachments',
            errorHandler: (err: Error) => logger.warn({ err: { message: err.message } }, 'socket_adapter_error'),
          }),
        );
// The Opus decoding worker loads its WASM now, not in the first Opus session's first chunk.
warmOpusWorker();
        sessions = new SessionManager({
          engine,
          recordings,
          repo: dictation,
          taskId,
          logger,
          metrics,
          limits: {
            maxSessions: config.MAX_SESSIONS,
            maxSessionsPerUser: config.MAX_SESSIONS_PER_USER,
            idleTimeoutMs: config.IDLE_TIMEOUT_MS,
            maxSessionMs: config.MAX_SESSION_MS,
            maxChunkBytes: MAX_CHUNK_BYTES,
            maxBacklogBytes: MAX_BACKLOG_BYTES,
            resumeGraceMs: config.RESUME_GRACE_MS,
            taskDeadAfterMs: config.TASK_DEAD_AFTER_MS,
          },
          counters,
          repairs: {
            add: async (transcriptionId, fromMs, toMs) => {
              await repairs.add(transcriptionId, fromMs, toMs);
              repairWorker.kick();
            },
          },
          sinkFor: (sessionId, transcriptionId) => roomSink(io, sessionId, transcriptionId),
          requestHandoff: (userId, sessionId) => handoff.request(userId, sessionId),
          repeatWindowMs: config.LOG_REPEAT_WINDOW_MS,
        });
        handoff.serve(sessions);
        // A draining task takes no sockets: a browser sent here by a stale route reconnects (the
        // load balancer picks another task) instead of resuming on a task that is leaving.
        io.on('connection', (socket) => {
          if (draining) socket.disconnect(true);
        });
        registerDictationHandlers(io, sessions, logger, { metrics, audit });
        metrics.setLiveSessions(() => sessions.liveCount);
      },
    });
    const stopReporter = startMetricsReporter(metrics, logger, config.METRICS_LOG_INTERVAL_MS);
    shutdown.push('stop_metrics_reporter', stopReporter);

    await health.start();
    await repairWorker.start();
    abandoned.start();
    // Checkpoints a crash left behind: at start-up, then hourly (one List request per 1,000 objects).
    let sweeping: Promise<unknown> | undefined;
    const sweep = () =>
      (sweeping ??= recordings
        .sweepCheckpoints({ resumeGraceMs: config.RESUME_GRACE_MS })
        .catch((err: unknown) => logger.warn({ errName: (err as Error).name }, 'checkpoint_sweep_failed'))
        .finally(() => (sweeping = undefined)));
    void sweep();
    const sweepTimer = setInterval(() => void sweep(), 3_600_000);
    sweepTimer.unref();
    shutdown.push('stop_checkpoint_sweep', async () => {
      clearInterval(sweepTimer);
      await sweeping;
    });
    await new Promise<void>((resolve, reject) => {
      app.server.once('error', reject);
      app.server.listen(config.PORT, config.HOST, () => {
        app.server.off('error', reject);
        resolve();
      });
    });
    const port = (app.server.address() as AddressInfo).port;
    logger.info({ port, taskId, database: embedded ? 'embedded' : 'external', storage: embeddedS3 ? 'embedded' : 's3', engine: engine.name }, 'service_listening');

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
      store,
      recordings,
      engine,
      sessions,
      metrics,
      taskId,
      counters,
      drain,
      close: () => shutdown.run(config.SHUTDOWN_TIMEOUT_MS),
    };
  } catch (err) {
    await shutdown.run(10_000);
    throw err;
  }
}

/** The object the embedded store's health check reads (outside the recordings prefix). */
export const EMBEDDED_HEALTH_KEY = 'health/sentinel';

export async function openStore(config: Config, logger: Logger): Promise<{ store: S3ObjectStore; embeddedS3?: EmbeddedS3 }> {
  if (config.S3_BUCKET) {
    const store = createObjectStore(
      {
        bucket: config.S3_BUCKET,
        kmsKeyId: config.S3_KMS_KEY_ID,
        prefix: config.S3_PREFIX,
        region: config.AWS_REGION,
        ...(config.AWS_ENDPOINT_URL_S3 ? { endpoint: config.AWS_ENDPOINT_URL_S3 } : {}),
      },
      logger,
    );
    return { store };
  }
  const embeddedS3 = await startEmbeddedS3({ dir: path.join(config.dataDir, 's3'), port: config.EMBEDDED_S3_PORT });
  const store = createObjectStore(
    {
      bucket: embeddedS3.bucket,
      prefix: config.S3_PREFIX,
      region: config.AWS_REGION,
      endpoint: embeddedS3.endpoint,
      credentials: embeddedS3.credentials,
      healthKey: EMBEDDED_HEALTH_KEY,
    },
    logger,
  );
  return { store, embeddedS3 };
}

/**
 * What a killed process left: recordings are completed from the spool and S3, and transcriptions
 * still marked `recording` with no live owner are closed with the reason.
 */
async function recoverCrashed(recordings: RecordingService, dictation: DictationRepository, taskId: string, graceMs: number, logger: Logger) {
  const outcomes = await recordings.recoverUnfinished({ taskId, graceMs });
  const interrupted = await dictation.closeInterrupted(taskId, graceMs);
  if (outcomes.length > 0 || interrupted > 0) {
    logger.info(
      { recordings: outcomes.map((o) => ({ recordingId: o.recordingId, outcome: o.outcome })), transcriptions: interrupted },
      'crash_recovery_done',
    );
  }
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
      logger.warn({ err: { message: err.message } }, 'socket_adapter_connection_lost');
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

/** A stable id for this DATA_DIR, so a restarted process recognises the sessions it owned. */
function loadTaskId(dataDir: string): string {
  const file = path.join(dataDir, 'task-id');
  try {
    return fs.readFileSync(file, 'utf8').trim();
  } catch {
    const id = randomUUID();
    fs.writeFileSync(file, id, { mode: 0o600 });
    return id;
  }
}

async function closeRealtime(io: AppServer): Promise<void> {
  // Only this task's sockets: with the cluster adapter a plain disconnectSockets reaches every task.
  io.local.disconnectSockets(true);
  await new Promise<void>((resolve) => io.close(() => resolve()));
}

async function closeHttp(app: App): Promise<void> {
  if (!app.server.listening) return;
  await new Promise<void>((resolve) => {
    app.server.close(() => resolve());
    app.server.closeIdleConnections();
  });
}
