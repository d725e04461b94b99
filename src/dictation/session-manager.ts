import { randomUUID } from 'node:crypto';
import { z } from 'zod';
import { assertSupportedFormat, createDecoder, type OpusHeadInfo } from '../audio/index.js';
import { AppError } from '../lib/app-error.js';
import { containsNul } from '../lib/text.js';
import type { Logger } from '../lib/logger.js';
import type { EndReason } from '../realtime/events.js';
import type { RecordingService } from '../recordings/service.js';
import type { TranscriptionEngine, TranscriptionStream } from '../transcription/port.js';
import type { DictationRepository } from './dictation-repo.js';
import { LiveSession, type LiveSessionLimits, type SessionSink } from './live-session.js';

export const startSchema = z.object({
  title: z.string().max(200).optional(),
  specialty: z.enum(['PRIMARYCARE', 'CARDIOLOGY', 'NEUROLOGY', 'ONCOLOGY', 'RADIOLOGY', 'UROLOGY']).default('PRIMARYCARE'),
  type: z.enum(['CONVERSATION', 'DICTATION']).default('CONVERSATION'),
  audio: z.object({
    encoding: z.string().max(32),
    sampleRate: z.number().int().positive().max(192_000).optional(),
    channels: z.number().int().positive().max(8).optional(),
  }),
});
export type StartRequest = z.infer<typeof startSchema>;

export interface SessionManagerDeps {
  engine: TranscriptionEngine;
  recordings: RecordingService;
  repo: DictationRepository;
  limits: LiveSessionLimits & { maxSessions: number };
  taskId: string;
  logger: Logger;
  /** Where a session's events go (the Socket.IO room of that session). */
  sinkFor: (sessionId: string, transcriptionId: string) => SessionSink;
}

/**
 * The live sessions of this process: admission (capacity), lookup by owner, and the ordered stop
 * of every session at shutdown.
 */
export class SessionManager {
  private readonly sessions = new Map<string, LiveSession>();
  private reserved = 0;
  private draining = false;

  constructor(private readonly d: SessionManagerDeps) {}

  get liveCount(): number {
    return this.sessions.size;
  }

  /**
   * Starts a session for `userId`.
   * @throws AppError `capacity_exceeded`, `invalid_payload`, `unsupported_audio_format`,
   *   `server_shutdown`, `transcriber_unavailable`
   */
  async start(userId: string, payload: unknown): Promise<{ sessionId: string; transcriptionId: string }> {
    if (this.draining) throw new AppError('server_shutdown');
    const parsed = startSchema.safeParse(payload);
    // PostgreSQL cannot store U+0000: a NUL in the title would fail the insert as a 500.
    if (parsed.success && containsNul(parsed.data)) throw new AppError('invalid_payload', 'Invalid or missing: title.');
    if (!parsed.success) {
      const fields = [...new Set(parsed.error.issues.map((i) => i.path.join('.') || '(payload)'))];
      throw new AppError('invalid_payload', `Invalid or missing: ${fields.join(', ')}.`);
    }
    const req = parsed.data;
    const encoding = req.audio.encoding as 'pcm_s16le' | 'webm_opus' | 'ogg_opus';
    assertSupportedFormat({ encoding, sampleRate: req.audio.sampleRate, channels: req.audio.channels });
    if (this.sessions.size + this.reserved >= this.d.limits.maxSessions) throw new AppError('capacity_exceeded', undefined, { retryable: true });
    this.reserved += 1;
    let stream: TranscriptionStream | undefined;
    let decoder: Awaited<ReturnType<typeof createDecoder>> | undefined;
    let admitted = false;
    try {
      const sessionId = randomUUID();
      const hooks: { session?: LiveSession } = {};
      decoder = await createDecoder({ encoding, sampleRate: req.audio.sampleRate, channels: req.audio.channels, ...LiveSession.opusHooks(hooks) });
      try {
        stream = await this.d.engine.start({ sampleRate: 16000, specialty: req.specialty, type: req.type, languageCode: 'en-US', sessionId });
      } catch (err) {
        this.d.logger.warn({ err: { message: (err as Error).message } }, 'engine_start_failed');
        throw new AppError('transcriber_unavailable', undefined, { cause: err, retryable: true });
      }
      const { id: transcriptionId } = await this.d.repo.create({
        clinicianId: userId,
        title: req.title?.trim() ?? '',
        specialty: req.specialty,
        type: req.type,
        engine: this.d.engine.name,
        encoding,
        sampleRate: encoding === 'pcm_s16le' ? (req.audio.sampleRate ?? 16000) : null,
        ownerTask: this.d.taskId,
      });
      const session = new LiveSession({
        id: sessionId,
        transcriptionId,
        userId,
        engineName: this.d.engine.name,
        decoder,
        stream,
        // PCM is stored as the 16 kHz mono WAV the engine heard: speech-grade and a third of 48 kHz.
        recordingOpensImmediately: encoding === 'pcm_s16le',
        openRecording: (head?: OpusHeadInfo) =>
          encoding === 'pcm_s16le'
            ? this.d.recordings.open({ transcriptionId, encoding, sampleRate: 16000 })
            : this.d.recordings.open({
                transcriptionId,
                encoding,
                opusHead: { channels: head?.channels ?? 1, preSkip: head?.preSkip ?? 0, inputSampleRate: head?.inputSampleRate ?? 48000 },
              }),
        repo: this.d.repo,
        sink: this.d.sinkFor(sessionId, transcriptionId),
        limits: this.d.limits,
        logger: this.d.logger,
        onClosed: () => this.sessions.delete(sessionId),
      });
      hooks.session = session;
      this.sessions.set(sessionId, session);
      admitted = true;
      this.d.logger.info({ sessionId, transcriptionId, encoding, engine: this.d.engine.name, live: this.sessions.size }, 'session_started');
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
      this.reserved -= 1;
    }
  }

  /** The live session `sessionId` of `userId`; another user's session is `session_not_found`. */
  get(userId: string, sessionId: unknown): LiveSession {
    const s = typeof sessionId === 'string' ? this.sessions.get(sessionId) : undefined;
    if (!s || s.userId !== userId) throw new AppError('session_not_found');
    return s;
  }

  /**
   * The live session `sessionId` when it belongs to someone other than `userId` (for auditing a
   * refused access); undefined for the user's own sessions and for unknown ids.
   */
  foreign(userId: string, sessionId: unknown): { id: string; transcriptionId: string; ownerId: string } | undefined {
    const s = typeof sessionId === 'string' ? this.sessions.get(sessionId) : undefined;
    return s && s.userId !== userId ? { id: s.id, transcriptionId: s.transcriptionId, ownerId: s.userId } : undefined;
  }

  /** Stops admitting sessions and ends every live one with `reason`, in parallel. */
  async drain(reason: EndReason = 'server_shutdown'): Promise<void> {
    this.draining = true;
    await Promise.allSettled([...this.sessions.values()].map((s) => s.end(reason)));
  }
}
