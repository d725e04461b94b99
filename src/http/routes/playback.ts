import { Router, type Request, type Response } from 'express';
import type { AuditLog } from '../../audit/audit-log.js';
import type { UserRepository } from '../../auth/users.js';
import type { Pool } from '../../db/pool.js';
import type { Logger } from '../../lib/logger.js';
import { audioRoute } from './audio.js';
import type { RecordingService } from '../../recordings/service.js';
import { decodeOggWindow } from '../../dictation/repair-worker.js';
import { AppError } from '../../lib/app-error.js';
import { wavHeader } from '../../recordings/wav.js';
import { bleep, phiTimeSpans } from '../../transcripts/phi/redact-detail.js';
import { TranscriptReadRepository } from '../../transcripts/repo.js';
import { playbackAccess } from './reviewer.js';

/**
 * Seeks of one playback share an audit row: one per user and recording per 5 minutes (per task).
 * A browser playing a 30-minute consultation with seeks sends dozens of Range requests; one row each
 * would bury the log, and a row per playback keyed on "starts at byte 0" was skippable by any other
 * Range form (issue 19: `bytes=1-`, `bytes=-999999`, `BYTES=0-`, `bytes=00-`, `Range: garbage`).
 */
export const PLAYBACK_AUDIT_WINDOW_MS = 5 * 60 * 1000;
const MAX_REMEMBERED = 10_000;

/**
 * `GET /api/transcriptions/:id/audio`: the recording streamed from the store with Range support,
 * behind the transcript's own access check. Every response that serves recording bytes (200 or
 * 206, whatever its Range header) is covered by an audit row written before the first byte; a
 * refused one by its `denied` row; a 416 serves none.
 */
export function playbackRouter(deps: { db: Pool; users: UserRepository; audit: AuditLog; recordings: RecordingService; logger: Logger }): Router {
  const access = playbackAccess({ db: deps.db, users: deps.users, audit: deps.audit });
  const lastAudited = new Map<string, number>();
  const covered = (req: Request, id: string, now: number): boolean => {
    const at = lastAudited.get(`${req.user?.id ?? req.session?.userId ?? ''}:${id}`);
    return at !== undefined && now - at < PLAYBACK_AUDIT_WINDOW_MS;
  };
  const remember = (req: Request, id: string, now: number) => {
    if (lastAudited.size >= MAX_REMEMBERED) {
      for (const [k, at] of lastAudited) if (now - at >= PLAYBACK_AUDIT_WINDOW_MS) lastAudited.delete(k);
      // Still full of live entries: forget the oldest (Map keeps insertion order); worst case an extra row.
      if (lastAudited.size >= MAX_REMEMBERED) lastAudited.delete(lastAudited.keys().next().value!);
    }
    const key = `${req.user?.id ?? req.session?.userId ?? ''}:${id}`;
    lastAudited.delete(key);
    lastAudited.set(key, now);
  };
  const router = Router();
  router.get(
    '/:id/audio',
    audioRoute({
      recordings: deps.recordings,
      logger: deps.logger,
      authorize: access.authorize,
      audit: async (req, _action, target) => {
        if (target.details?.status === 416) return; // no bytes served
        const now = Date.now();
        if (covered(req, target.id, now)) return;
        await access.audit(req, target.id, target.details);
        remember(req, target.id, now);
      },
    }),
  );
  router.get('/:id/audio/redacted', redactedAudio(deps, access));
  return router;
}

/**
 * `GET /api/transcriptions/:id/audio/redacted`: the recording as 16-bit WAV with every PHI stretch
 * (found in the transcript, placed with the engine's word timings) replaced by a 1 kHz tone. A WAV
 * recording is read as stored; an Ogg Opus one is decoded from its start by the live sessions' Opus
 * decoder (in its worker thread; 16 kHz mono, the session's timeline, so word times land where they
 * were heard) and served as WAV: re-encoding would need an Opus encoder, and a 30-minute session
 * (MAX_SESSION_MS) is 57.6 MB of 16 kHz PCM, decoded in a few CPU-seconds off the event loop.
 */
function redactedAudio(deps: { db: Pool; recordings: RecordingService }, access: ReturnType<typeof playbackAccess>) {
  const transcripts = new TranscriptReadRepository(deps.db);
  return async (req: Request, res: Response) => {
    const id = String(req.params.id);
    const ref = await access.authorize(req, id);
    const detail = ref && (await transcripts.findDetail(ref.id));
    if (!detail) throw new AppError('not_found');
    if (!detail.recording.available) throw new AppError('not_found');
    let pcm: Buffer;
    let sampleRate: number;
    if (detail.recording.contentType === 'audio/wav') {
      pcm = await deps.recordings.readCompletedPcm(ref.id);
      const { rows } = await deps.db.query<{ sample_rate: number | null }>('SELECT sample_rate FROM transcriptions WHERE id = $1', [ref.id]);
      sampleRate = rows[0]?.sample_rate ?? 16000;
    } else if (/ogg/.test(detail.recording.contentType ?? '')) {
      const audio = await deps.recordings.openAudio(ref.id);
      try {
        pcm = await decodeOggWindow(audio.kind === 'unsatisfiable' ? undefined : audio.body, 0, Number.POSITIVE_INFINITY);
      } catch (err) {
        throw err instanceof AppError ? err : new AppError('storage_unavailable', undefined, { cause: err, retryable: true });
      }
      sampleRate = 16000;
    } else {
      throw new AppError('conflict', 'Redacted audio is available for WAV and Ogg Opus recordings only.');
    }
    const spans = phiTimeSpans(detail, await transcripts.findEvidence(ref.id));
    const out = bleep(pcm, sampleRate, spans);
    await access.audit(req, ref.id, { redacted: true, spans: spans.length });
    res.setHeader('Content-Type', 'audio/wav');
    res.setHeader('Cache-Control', 'private, no-store');
    res.setHeader('Content-Disposition', `attachment; filename="transcript-${ref.id}-redacted.wav"`);
    res.send(Buffer.concat([wavHeader(sampleRate, out.length), out]));
  };
}
