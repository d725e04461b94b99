import fs from 'node:fs';
import { Router } from 'express';
import type { AuditLog } from '../../src/audit/audit-log.js';
import type { UserRepository } from '../../src/auth/users.js';
import type { Pool } from '../../src/db/pool.js';
import { playbackAccess } from '../../src/http/routes/reviewer.js';
import { AppError } from '../../src/lib/app-error.js';

/**
 * A test stand-in for the recordings module's `GET /api/transcriptions/:id/audio`: serves one WAV
 * file for every visible transcription, with HTTP Range (Chromium needs it to seek), through the
 * reviewer module's real `playbackAccess` (the same wiring the real route gets).
 */
export function wavAudioRouter(file: string, deps: () => { db: Pool; users: UserRepository; audit: AuditLog }): Router {
  const wav = fs.readFileSync(file);
  const router = Router();
  let access: ReturnType<typeof playbackAccess> | undefined;
  router.get('/:id/audio', async (req, res) => {
    access ??= playbackAccess(deps());
    const id = String(req.params.id);
    const ref = await access.authorize(req, id);
    if (!ref) throw new AppError('not_found');
    const range = /^bytes=(\d*)-(\d*)$/.exec(req.get('range') ?? '');
    let start = 0;
    let end = wav.length - 1;
    if (range && (range[1] || range[2])) {
      if (range[1]) {
        start = Number(range[1]);
        if (range[2]) end = Math.min(Number(range[2]), end);
      } else start = Math.max(0, wav.length - Number(range[2]));
      if (start > end) {
        res.status(416).setHeader('Content-Range', `bytes */${wav.length}`).end();
        return;
      }
      res.status(206).setHeader('Content-Range', `bytes ${start}-${end}/${wav.length}`);
    }
    if (start === 0) await access.audit(req, id, { range: Boolean(range) });
    res.setHeader('Accept-Ranges', 'bytes');
    res.setHeader('Content-Type', 'audio/wav');
    res.setHeader('Content-Length', String(end - start + 1));
    res.end(wav.subarray(start, end + 1));
  });
  return router;
}
