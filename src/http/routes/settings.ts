import { Router } from 'express';
import type { UserRepository } from '../../auth/users.js';
import { requireUser } from '../middleware/auth.js';

/** What a page shows that the server decides (extension, docs/resilience.md "Extension: GET /api/settings"). */
export interface PageSettings {
  /** IDLE_TIMEOUT_MS: a live session without audio for this long is ended (`idle_timeout`). */
  idleTimeoutMs: number;
}

/** `GET /api/settings` for a logged-in user: the pages say "after 5 minutes" from this, not from a copy. */
export function settingsRoutes(deps: { users: UserRepository; settings: PageSettings }): Router {
  const router = Router();
  router.get('/', requireUser(deps.users), (_req, res) => {
    res.json(deps.settings);
  });
  return router;
}
