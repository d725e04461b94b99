import { pipeline } from 'node:stream/promises';
import type { Request, RequestHandler, Response } from 'express';
import { AppError, toAppError } from '../../lib/app-error.js';
import type { Logger } from '../../lib/logger.js';
import type { RecordingService } from '../../recordings/service.js';

export interface AudioRouteDeps {
  recordings: Pick<RecordingService, 'openAudio'>;
  /**
   * The same access check as the transcript: resolves the transcription when the requester may
   * see it (a clinician their own, reviewers and admins all), otherwise null (answered with 404).
   */
  authorize(req: Request, transcriptionId: string): Promise<unknown | null>;
  /** Writes an audit-log row; a failure refuses the request (no unaudited access to audio). */
  audit(req: Request, action: string, target: { type: 'transcription'; id: string; details?: Record<string, unknown> }): Promise<void>;
  logger: Logger;
}

const STATUS = { full: 200, partial: 206, unsatisfiable: 416 } as const;

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

function sendError(res: Response, err: AppError): void {
  if (!res.headersSent) res.status(err.status).json(err.toJSON());
  else res.destroy(err);
}

/**
 * `GET /api/transcriptions/:id/audio`: the recording with HTTP Range support (one range; 206 with
 * Content-Range; 416 with `Content-Range: bytes *\/len` past the end).
 */
export function audioRoute(deps: AudioRouteDeps): RequestHandler<{ id: string }> {
  return async (req, res) => {
    const id = req.params.id;
    try {
      if (!UUID.test(id) || (await deps.authorize(req, id)) === null) throw new AppError('not_found');
      const audio = await deps.recordings.openAudio(id, req.headers.range);
      const status = STATUS[audio.kind];
      try {
        await deps.audit(req, 'recording.read', { type: 'transcription', id, details: { status, range: req.headers.range ?? null } });
      } catch (err) {
        if (audio.kind !== 'unsatisfiable') audio.body.destroy();
        throw err;
      }
      res.setHeader('Accept-Ranges', 'bytes');
      res.setHeader('Cache-Control', 'private, no-store');
      if (audio.kind === 'unsatisfiable') {
        res.setHeader('Content-Range', `bytes */${audio.totalBytes}`);
        sendError(res, new AppError('range_not_satisfiable'));
        return;
      }
      res.status(status);
      res.setHeader('Content-Type', audio.contentType);
      res.setHeader('Content-Length', String(audio.end - audio.start + 1));
      if (audio.kind === 'partial') res.setHeader('Content-Range', `bytes ${audio.start}-${audio.end}/${audio.totalBytes}`);
      // pipeline listens for errors on both ends and destroys both on failure or client abort.
      await pipeline(audio.body, res).catch((err: unknown) => {
        if ((err as NodeJS.ErrnoException).code !== 'ERR_STREAM_PREMATURE_CLOSE') deps.logger.warn({ err, transcriptionId: id }, 'audio_stream_failed');
      });
    } catch (err) {
      const appErr = toAppError(err);
      if (appErr.code === 'internal_error' || appErr.code === 'storage_unavailable') deps.logger.error({ err, transcriptionId: id }, 'audio_request_failed');
      sendError(res, appErr);
    }
  };
}
