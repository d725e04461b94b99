/**
 * The live sessions of this task: admission, launch, resume, handoff and drain.
 *
 * Why this file is over 300 lines: `launch()` builds the decoder, the engine stream, the recording
 * and the live session in one function (about 110 lines) that the chunk-path work (#14, #17 point 4)
 * shaped (the decoder's results, the session's recording, notices without holders). What stands
 * alone lives beside it: admission (session-admission.ts), sockets and grace (session-attachments.ts) and the
 * continuation of another task's session (session-continuation.ts).
 */
import { randomUUID } from 'node:crypto';
import { createLiveDecoder } from '../audio/index.js';
import { AppError } from '../lib/app-error.js';
import { withoutBidiControls } from '../lib/text.js';
import type { Logger } from '../lib/logger.js';
import { errFields } from '../lib/logger.js';
import type { RecordingService } from '../recordings/service.js';
import type { EngineStatus, TranscriptionEngine, TranscriptionStream } from '../transcription/port.js';
import type { DictationRepository } from './dictation-repo.js';
import { LiveSession, type LiveSessionLimits } from './live-session.js';
import { noopObserver, type DictationObserver } from './observer.js';
import { ProgressBatcher } from './progress-batcher.js';
import { SessionAdmission } from './session-admission.js';
import { SessionAttachments } from './session-attachments.js';
import { continueFromShutdown, type ContinuationHost, type LaunchRequest, MAX_REPLAY_MS, resumePoint } from './session-continuation.js';
import type { EndReason, LiveSessionInfo, SessionProblem, SessionSink, StartRequest } from './types.js';
import { RepeatedWarnings } from '../lib/repeated-warnings.js';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
/** How many ended sessions a task remembers for `session_ended` answers. */
const ENDED_REMEMBERED = 10_000;

export interface SessionManagerDeps {
  engine: TranscriptionEngine;
  recordings: RecordingService;
  repo: DictationRepository;
  /**
   * `maxSessions`: live sessions of this process; `maxSessionsPerUser`: of one user here, so one
   * account cannot take everyone's capacity.
   */
  /**
   * `taskDeadAfterMs`: a session whose owner task has written no heartbeat for this long is taken
   * over by the task its client resumes on (default 10000).
   */
  limits: LiveSessionLimits & { maxSessions: number; maxSessionsPerUser: number; resumeGraceMs: number; taskDeadAfterMs?: number };
  taskId: string;
  logger: Logger;
  /** What the sessions report for metrics: counters (resumes, grace expiries, gaps) and each session's meters (default: nothing). */
  observer?: DictationObserver;
  /** Where a session's events go (the Socket.IO room of that session). */
  sinkFor: (sessionId: string, transcriptionId: string) => SessionSink;
  /** How often live progress is written to the database (default 2000 ms). */
  progressIntervalMs?: number;
  /** Where stretches the primary engine did not transcribe live go, for the repair pass. */
  repairs?: { add(transcriptionId: string, fromMs: number, toMs: number): Promise<void> };
  /**
   * Asks the other tasks to hand over live session `sessionId` of `userId` (end it with
   * `server_shutdown`, stored); resolves true when one did. Used when a resume lands here while
   * another task still holds the session (its socket was cut before that task was told to stop).
   */
  requestHandoff?: (userId: string, sessionId: string) => Promise<boolean>;
  /** Window over which repeats of one warning are collapsed into a count (LOG_REPEAT_WINDOW_MS). */
  repeatWindowMs?: number;
}

/**
 * The live sessions of this process: admission (capacity, and the per-user limit), lookup by owner,
 * and the ordered stop of every session at shutdown.
 */
export class SessionManager {
  private readonly sessions = new Map<string, LiveSession>();
  private readonly admission: SessionAdmission;
  private draining = false;
  /** Sockets attached to each live session, grace timers, notices held for the first socket. */
  private readonly attachments: SessionAttachments;
  private readonly continuing = new Map<string, Promise<void>>();
  private readonly progress: ProgressBatcher;
  /**
   * Owners of sessions that ended here lately (bounded, oldest dropped first), so a late chunk or
   * stop for one is told `session_ended` (docs/errors.md), not `session_not_found`.
   */
  private readonly endedRecently = new Map<string, string>();
  /** Refusals a burst of starts repeats (1000 starts, 996 refusals): one line and a count. */
  private readonly warnings: RepeatedWarnings;

  constructor(private readonly d: SessionManagerDeps) {
    this.warnings = new RepeatedWarnings(d.logger, d.repeatWindowMs);
    this.admission = new SessionAdmission(this.sessions, d.limits, this.warnings);
    this.attachments = new SessionAttachments(d.limits.resumeGraceMs, (sessionId) => this.graceExpired(sessionId));
    this.progress = new ProgressBatcher((rows) => d.repo.progress(d.taskId, rows), d.progressIntervalMs ?? 2000, d.logger);
  }

  get liveCount(): number {
    return this.sessions.size;
  }

  /**
   * Starts a session for `userId`; `req` is validated at the edge (src/realtime/payloads.ts).
   * @throws AppError `too_many_sessions`, `capacity_exceeded`, `server_shutdown`, `transcriber_unavailable`
   */
  async start(userId: string, req: StartRequest): Promise<{ sessionId: string; transcriptionId: string }> {
    if (this.draining) throw new AppError('server_shutdown');
    const { encoding } = req.audio;
    // `launch` checks admission before its first await.
    return this.launch(userId, {
      sessionId: randomUUID(),
      specialty: req.specialty,
      type: req.type,
      encoding,
      sampleRate: req.audio.sampleRate,
      channels: req.audio.channels,
      create: (sessionId) =>
        this.d.repo.create({
          clinicianId: userId,
          title: withoutBidiControls(req.title ?? '').trim(),
          specialty: req.specialty,
          type: req.type,
          engine: this.d.engine.name,
          encoding,
          sampleRate: encoding === 'pcm_s16le' ? (req.audio.sampleRate ?? 16000) : null,
          ownerTask: this.d.taskId,
          sessionId,
        }),
    });
  }

  /**
   * Builds decoder, engine stream, transcription row (via `create`) and the live session.
   * @throws AppError `too_many_sessions`, `capacity_exceeded`, `transcriber_unavailable`
   */
  private async launch(
    userId: string,
    p: LaunchRequest,
  ): Promise<{ sessionId: string; transcriptionId: string }> {
    // Check and reservation happen in one synchronous step: concurrent starts cannot both pass.
    const release = this.admission.reserve(userId);
    let stream: TranscriptionStream | undefined;
    const { sessionId, encoding } = p;
    let decoder: Awaited<ReturnType<typeof createLiveDecoder>> | undefined;
    let admitted = false;
    try {
      const meter = (this.d.observer ?? noopObserver).sessionStarted();
      // Stretches may be reported before the transcription row exists: each waits for it.
      let rowCreated!: (transcriptionId: string) => void;
      const row = new Promise<string>((resolve) => (rowCreated = resolve));
      // Opus to an engine that takes it (TRANSCRIBE_AUDIO=opus) is not decoded here; a continuation
      // decodes (its prefill is the dead task's audio as PCM).
      const passthrough = encoding !== 'pcm_s16le' && !p.resume && this.d.engine.acceptsOpus === true;
      decoder = await createLiveDecoder({ encoding, sampleRate: p.sampleRate, channels: p.channels, ...(passthrough ? { decode: false } : {}) });
      // A continuation after a crash: the dead task's durable audio replayed and trimmed (session-continuation.ts).
      const { resume, offsetMs, enginePrefill, previous } = await resumePoint(decoder, p.resume, async (audioMs) =>
        this.d.repo.trimForContinuation((await p.create(sessionId)).id, audioMs, MAX_REPLAY_MS),
      );
      try {
        stream = meter.stream(
          await this.d.engine.start({
            sampleRate: 16000,
            specialty: p.specialty,
            type: p.type,
            languageCode: 'en-US',
            sessionId,
            userId,
            ...(passthrough ? { input: 'ogg-opus' as const } : {}),
            // A continuation keeps the session's timeline and never reuses an earlier part's segment keys.
            ...(resume ? { offsetMs, segmentPrefix: `p${resume.part}-` } : {}),
            onStatus: (st) => this.notice(sessionId, engineNotice(st)),
            onDegraded: (st) => void row.then((transcriptionId) => this.recordDegraded(transcriptionId, st)),
          }),
        );
      } catch (err) {
        meter.engineStartFailed((err as { code?: string }).code);
        this.warnings.warn({ err: errFields(err) }, 'engine_start_failed');
        throw new AppError('transcriber_unavailable', undefined, { cause: err, retryable: true });
      }
      const { id: transcriptionId } = await p.create(sessionId);
      rowCreated(transcriptionId);
      const sink = meter.sink(this.d.sinkFor(sessionId, transcriptionId));
      const part = resume?.part ?? 0;
      const session = new LiveSession({
        id: sessionId,
        transcriptionId,
        userId,
        engineName: this.d.engine.name,
        decoder,
        stream,
        ...(passthrough ? { opusPassthrough: true } : {}),
        openRecording: () =>
          this.d.recordings
            .open(encoding === 'pcm_s16le' ? { transcriptionId, encoding, sampleRate: 16000, partIndex: part } : { transcriptionId, encoding, partIndex: part })
            .then(meter.recording),
        checkpoints: this.d.recordings.checkpoints(transcriptionId, encoding === 'pcm_s16le' ? 'pcm' : 'wire', resume?.ackSeq ?? -1, this.d.taskId),
        onStoredForGood: () => void this.d.recordings.dropCheckpoints(transcriptionId, this.d.taskId),
        ownerTask: this.d.taskId,
        repo: this.d.repo,
        progress: this.progress,
        sink,
        limits: this.d.limits,
        logger: this.d.logger,
        onClosed: () => this.forget(sessionId),
        ...(this.d.observer ? { observer: this.d.observer } : {}),
        ...(resume
          ? {
              resumeFrom: {
                ackSeq: resume.ackSeq,
                audioMs: resume.audioMs,
                previous,
                ...(enginePrefill?.length ? { enginePrefill } : {}),
              },
            }
          : {}),
      });
      this.sessions.set(sessionId, session);
      admitted = true;
      release(); // counted in `sessions` from here, not twice while the recording opens
      await session.recordingOpened;
      this.d.logger.info({ sessionId, transcriptionId, encoding, engine: this.d.engine.name, live: this.sessions.size, part, ...(resume ? { ackSeq: resume.ackSeq } : {}) }, p.resume ? 'session_continued' : 'session_started');
      return { sessionId, transcriptionId };
    } catch (err) {
      stream?.abort();
      // A decoder holds native (WASM) memory: a session that never started must free it.
      if (!admitted) {
        try {
          decoder?.end();
        } catch {
          /* nothing to keep */
        }
      }
      throw err;
    } finally {
      // An admitted session is already in `sessions`: its count moves there without a gap.
      release();
    }
  }

  /**
   * Tells the session's clients `n` now, or once its first socket attaches: a session that starts on
   * the fallback hears of it before it exists here and before any socket is in its room.
   */
  private notice(sessionId: string, n: SessionProblem): void {
    const session = this.sessions.get(sessionId);
    if (session && this.attachments.hasRoom(sessionId)) session.notify(n);
    else this.attachments.hold(sessionId, n);
  }

  /** Stores a degraded stretch for the repair pass (a few attempts; a loss only costs the repair). */
  private recordDegraded(transcriptionId: string, st: { fromMs: number; toMs: number }): void {
    const repairs = this.d.repairs;
    if (!repairs) return;
    void (async () => {
      for (let attempt = 0; ; attempt++) {
        try {
          await repairs.add(transcriptionId, st.fromMs, st.toMs);
          return;
        } catch (err) {
          if (attempt >= 5) {
            this.d.logger.warn({ transcriptionId, err: errFields(err) }, 'repair_stretch_not_stored');
            return;
          }
          await new Promise((r) => setTimeout(r, 500 * 2 ** attempt));
        }
      }
    })();
  }

  /**
   * The live session `sessionId` of `userId`; another user's session is `session_not_found`, one of
   * the user's that has ended `session_ended`.
   */
  get(userId: string, sessionId: unknown): LiveSession {
    const s = typeof sessionId === 'string' ? this.sessions.get(sessionId) : undefined;
    if (!s && typeof sessionId === 'string' && this.endedRecently.get(sessionId) === userId) throw new AppError('session_ended');
    if (!s || s.userId !== userId) throw new AppError('session_not_found');
    return s;
  }

  /** The live sessions of `userId` on this task, oldest first (for `session:list`). */
  listOwn(userId: string): LiveSessionInfo[] {
    return [...this.sessions.values()]
      .filter((s) => s.userId === userId && !s.ended)
      .sort((a, b) => a.startedAt - b.startedAt)
      .map((s) => ({
        sessionId: s.id,
        transcriptionId: s.transcriptionId,
        startedAt: new Date(s.startedAt).toISOString(),
        durationMs: Math.round(s.audioMs),
        connected: this.attachments.connected(s.id),
      }));
  }

  /**
   * The live session `sessionId` when it belongs to someone other than `userId` (for auditing a
   * refused access); undefined for the user's own sessions and for unknown ids.
   */
  foreign(userId: string, sessionId: unknown): { id: string; transcriptionId: string; ownerId: string } | undefined {
    const s = typeof sessionId === 'string' ? this.sessions.get(sessionId) : undefined;
    return s && s.userId !== userId ? { id: s.id, transcriptionId: s.transcriptionId, ownerId: s.userId } : undefined;
  }

  /**
   * Socket `socketId` now follows session `sessionId` (it started or resumed it): a pending grace
   * timer is cancelled.
   */
  attach(sessionId: string, socketId: string): void {
    const session = this.sessions.get(sessionId);
    if (!session) return;
    for (const n of this.attachments.attach(sessionId, socketId)) session.notify(n);
  }

  /**
   * Socket `socketId` is gone. A session left with no socket stays alive for `resumeGraceMs` so a
   * `session:resume` (from any socket of the same user) picks it up; after that it ends with reason
   * `error` (failure `client_gone`), storing everything received.
   */
  detach(socketId: string): void {
    this.attachments.detach(socketId, (sessionId) => {
      const session = this.sessions.get(sessionId);
      return session !== undefined && !session.ended;
    });
  }

  private graceExpired(sessionId: string): void {
    const session = this.sessions.get(sessionId);
    if (!session) return;
    (this.d.observer ?? noopObserver).inc('session_grace_expired_total');
    this.d.logger.info({ sessionId }, 'session_grace_expired');
    void session.end('error', 'client_gone');
  }

  /**
   * Picks up live session `sessionId` of `userId` on socket `socketId`. A session live here is the
   * same session and is never refused by the per-user limit; one continued from another task is a
   * new session here and is.
   * @throws AppError `session_not_found`, `session_ended`, and for a continuation from another task
   *   `too_many_sessions`, `capacity_exceeded`, `storage_unavailable`
   */
  async resume(userId: string, sessionId: unknown, socketId: string): Promise<LiveSession> {
    const local = typeof sessionId === 'string' ? this.sessions.get(sessionId) : undefined;
    if (local || this.draining || typeof sessionId !== 'string' || !UUID.test(sessionId)) {
      if (!local && this.draining) throw new AppError('server_shutdown');
      const session = this.get(userId, sessionId);
      if (session.ended) throw new AppError('session_ended');
      this.attach(session.id, socketId);
      (this.d.observer ?? noopObserver).inc('session_resumes_total', { where: 'local' });
      return session;
    }
    await this.continueFromShutdown(userId, sessionId);
    const session = this.get(userId, sessionId);
    this.attach(session.id, socketId);
    (this.d.observer ?? noopObserver).inc('session_resumes_total', { where: 'cross_task' });
    return session;
  }

  /** One continuation per session at a time: a second resume waits for the first. */
  private continueFromShutdown(userId: string, sessionId: string): Promise<void> {
    const inFlight = this.continuing.get(sessionId);
    if (inFlight) return inFlight;
    const host: ContinuationHost = {
      repo: this.d.repo,
      recordings: this.d.recordings,
      limits: this.d.limits,
      taskId: this.d.taskId,
      logger: this.d.logger,
      ...(this.d.requestHandoff ? { requestHandoff: this.d.requestHandoff } : {}),
      checkAdmission: (userId) => this.admission.check(userId),
      launch: (userId, p) => this.launch(userId, p),
    };
    const work = continueFromShutdown(host, userId, sessionId).finally(() => this.continuing.delete(sessionId));
    this.continuing.set(sessionId, work);
    return work;
  }

  /**
   * Another task asks for live session `sessionId` of `userId` because the client resumed there:
   * it is told, ended with `server_shutdown` and stored, so the other task can continue it.
   * Resolves false when the session is not live here or belongs to someone else.
   */
  async handOff(userId: string, sessionId: string): Promise<boolean> {
    const s = this.sessions.get(sessionId);
    if (!s || s.userId !== userId || s.ended) return false;
    s.notify({ code: 'server_shutdown', message: 'The session continues on another server.', fatal: false });
    await s.end('server_shutdown');
    this.d.logger.info({ sessionId }, 'session_handed_off');
    return true;
  }

  private forget(sessionId: string): void {
    const owner = this.sessions.get(sessionId)?.userId;
    if (owner) {
      this.endedRecently.delete(sessionId);
      this.endedRecently.set(sessionId, owner);
      // ~150 bytes an entry: 10,000 ended sessions (days of a busy task) stay under 2 MB.
      if (this.endedRecently.size > ENDED_REMEMBERED) this.endedRecently.delete(this.endedRecently.keys().next().value!);
    }
    this.sessions.delete(sessionId);
    this.attachments.forget(sessionId);
  }

  /**
   * Stops admitting sessions and ends every live one with `reason`, in parallel. At shutdown the
   * clients first get a non-fatal `session:error` `server_shutdown`, so they stop sending and resume
   * on another task once `session:ended` arrives.
   */
  async drain(reason: EndReason = 'server_shutdown'): Promise<void> {
    this.draining = true;
    this.attachments.cancelGrace();
    const live = [...this.sessions.values()];
    if (reason === 'server_shutdown') for (const s of live) s.notify({ code: 'server_shutdown', message: 'The server is restarting; the session continues on another server.', fatal: false });
    await Promise.allSettled(live.map((s) => s.end(reason)));
    await this.progress.close();
    this.warnings.close();
  }
}

/** The notice of an engine change (failover to the offline engine, or back). */
function engineNotice(st: EngineStatus): SessionProblem {
  return st.kind === 'failover'
    ? { code: 'transcriber_failover', message: 'The cloud speech engine is unavailable; the offline engine continues the transcript.', fatal: false }
    : { code: 'transcriber_recovered', message: 'The cloud speech engine is back and continues the transcript.', fatal: false };
}
