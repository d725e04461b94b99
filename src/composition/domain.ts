import path from 'node:path';
import type { Config } from '../config.js';
import { MAX_BACKLOG_BYTES, MAX_CHUNK_BYTES } from '../config/limits.js';
import { AbandonedSessions } from '../dictation/abandoned-sessions.js';
import type { DictationObserver } from '../dictation/observer.js';
import { DictationRepository } from '../dictation/dictation-repo.js';
import type { SessionSink } from '../dictation/types.js';
import { RepairRepository } from '../dictation/repair-repo.js';
import { RepairWorker } from '../dictation/repair-worker.js';
import { SessionManager } from '../dictation/session-manager.js';
import type { Logger } from '../lib/logger.js';
import { errFields } from '../lib/logger.js';
import type { ShutdownStack } from '../lib/shutdown.js';
import { createRecordingService, type RecordingService } from '../recordings/service.js';
import { withVocabulary } from '../vocabulary/service.js';
import type { Engines } from './engines.js';
import type { Infra } from './infra.js';

export interface Domain {
  recordings: RecordingService;
  sessions: SessionManager;
  repairWorker: RepairWorker;
  abandoned: AbandonedSessions;
}

export interface DomainOverrides {
  /** How often the repair pass looks for due stretches (tests shorten it). */
  repair?: { pollMs?: number };
  /** Options for the recording service (tests shorten retries). */
  recordings?: { retry?: { baseMs?: number; maxMs?: number; maxAttempts?: number }; recoveryGraceMs?: number };
}

/**
 * Where a live session's results go and how another task is asked to hand a session over: the
 * realtime side, which exists only once `createApp` has built the Socket.IO server (see
 * `wireRealtime`). No session starts before the service listens, so neither runs before then.
 */
export interface RealtimeOutlet {
  sinkFor(sessionId: string, transcriptionId: string): SessionSink;
  requestHandoff(userId: string, sessionId: string): Promise<boolean>;
}

/**
 * Step 3: the domain. Recovers what a crash of this task left (recordings from the spool, sessions
 * closed), then builds the repair pass, the finaliser of abandoned sessions and the live sessions.
 */
export async function buildDomain(
  config: Config,
  logger: Logger,
  shutdown: ShutdownStack,
  deps: { infra: Infra; engines: Engines; observer: DictationObserver; outlet: RealtimeOutlet },
  overrides: DomainOverrides,
): Promise<Domain> {
  const { db, store, taskId } = deps.infra;
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

  const dictation = new DictationRepository(db);
  // Other tasks take over this task's live sessions when these stop (a crash; docs/resilience.md).
  await dictation.heartbeat(taskId, true);
  const heartbeat = setInterval(
    () => void dictation.heartbeat(taskId).catch((err: unknown) => logger.warn({ err: errFields(err) }, 'heartbeat_failed')),
    Math.max(200, Math.floor(config.TASK_DEAD_AFTER_MS / 5)),
  );
  heartbeat.unref();
  shutdown.push('stop_heartbeat', () => clearInterval(heartbeat));
  await recoverCrashed(recordings, dictation, taskId, overrides.recordings?.recoveryGraceMs ?? 120_000, logger);

  // The repair pass uses the primary engine itself: a repair never falls back.
  const repairRepo = new RepairRepository(db);
  const repairWorker = new RepairWorker({
    repo: repairRepo,
    recordings,
    engine: withVocabulary(deps.engines.primary, deps.engines.vocabularies, logger),
    taskId,
    logger,
    concurrency: config.REPAIR_CONCURRENCY,
    speed: config.REPAIR_SPEED,
    ...(overrides.repair?.pollMs ? { pollMs: overrides.repair.pollMs } : {}),
  });
  shutdown.push('close_repairs', () => repairWorker.close());
  const repairs = {
    add: async (transcriptionId: string, fromMs: number, toMs: number) => {
      await repairRepo.add(transcriptionId, fromMs, toMs);
      repairWorker.kick();
    },
  };
  // Sessions of dead tasks whose clients never came back: finalised from their durable checkpoints.
  const abandoned = new AbandonedSessions({
    repo: dictation,
    recordings,
    repairs,
    taskId,
    logger,
    deadAfterMs: config.TASK_DEAD_AFTER_MS,
    graceMs: config.RESUME_GRACE_MS,
  });
  shutdown.push('close_abandoned_sessions', () => abandoned.close());

  const sessions = new SessionManager({
    engine: deps.engines.engine,
    recordings,
    repo: dictation,
    taskId,
    logger,
    observer: deps.observer,
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
    repairs,
    sinkFor: (sessionId, transcriptionId) => deps.outlet.sinkFor(sessionId, transcriptionId),
    requestHandoff: (userId, sessionId) => deps.outlet.requestHandoff(userId, sessionId),
    repeatWindowMs: config.LOG_REPEAT_WINDOW_MS,
  });
  return { recordings, sessions, repairWorker, abandoned };
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
