import { Router } from 'express';
import type { AuditLog } from '../../audit/audit-log.js';
import type { UserRepository } from '../../auth/users.js';
import type { Pool } from '../../db/pool.js';
import type { Logger } from '../../lib/logger.js';
import { audioRoute } from '../../recordings/audio-route.js';
import type { RecordingService } from '../../recordings/service.js';
import { playbackAccess } from './reviewer.js';

/**
 * `GET /api/transcriptions/:id/audio`: the recording streamed from the store with Range support,
 * behind the transcript's own access check. One audit row per playback: a request without Range,
 * or the first range of a playback (from byte 0); seeking does not add rows.
 */
export function playbackRouter(deps: { db: Pool; users: UserRepository; audit: AuditLog; recordings: RecordingService; logger: Logger }): Router {
  const access = playbackAccess({ db: deps.db, users: deps.users, audit: deps.audit });
  const router = Router();
  router.get(
    '/:id/audio',
    audioRoute({
      recordings: deps.recordings,
      logger: deps.logger,
      authorize: access.authorize,
      audit: async (req, _action, target) => {
        const range = req.headers.range;
        if (!range || /^bytes=0-/.test(range)) await access.audit(req, target.id, target.details);
      },
    }),
  );
  return router;
}
