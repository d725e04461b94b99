import type { Request, Router } from 'express';
import type { AuditLog } from '../../audit/audit-log.js';
import type { UserRepository } from '../../auth/users.js';
import type { Pool } from '../../db/pool.js';
import { TranscriptReadRepository, type TranscriptionRef } from '../../transcripts/repo.js';
import { TranscriptReviewRepository } from '../../transcripts/review.js';
import { auditActor } from '../middleware/auth.js';
import { adminRoutes } from './admin.js';
import { phiPreferenceRoutes, reviewRoutes } from './review.js';
import { transcriptionAuthorizer, transcriptionRoutes } from './transcriptions.js';

export interface ReviewerDeps {
  db: Pool;
  users: UserRepository;
  audit: AuditLog;
}

/** The reviewer workspace's routers, for `AppDeps.apiRouters`: transcriptions and admin. */
export function reviewerRouters(deps: ReviewerDeps): Array<[string, Router]> {
  const transcripts = new TranscriptReadRepository(deps.db);
  const review = new TranscriptReviewRepository(deps.db);
  return [
    ['/transcriptions', transcriptionRoutes({ users: deps.users, audit: deps.audit, transcripts })],
    ['/transcriptions', reviewRoutes({ users: deps.users, audit: deps.audit, transcripts, review })],
    ['/admin', phiPreferenceRoutes({ users: deps.users, audit: deps.audit, transcripts, review })],
    ['/admin', adminRoutes(deps)],
  ];
}

/**
 * What `GET /api/transcriptions/:id/audio` needs from the reviewer module:
 * - `authorize(req, id)`: the transcription if this session's user may see it, else null (answer
 *   404). A refusal is already audited (`transcription.playback`, outcome `denied`). Throws AppError
 *   `unauthenticated` without a valid session (answer 401). Works with or without `requireUser`.
 * - `audit(req, id, details?)`: records one successful `transcription.playback` row. Call it once per
 *   playback: the caller (playback.ts) covers every response that serves bytes, whatever its Range, and lets the seeks of one playback share a row.
 */
export function playbackAccess(deps: ReviewerDeps): {
  authorize: (req: Request, id: string) => Promise<TranscriptionRef | null>;
  audit: (req: Request, id: string, details?: Record<string, unknown>) => Promise<void>;
} {
  const authorizer = transcriptionAuthorizer({ users: deps.users, audit: deps.audit, transcripts: new TranscriptReadRepository(deps.db) });
  return {
    authorize: (req, id) => authorizer(req, id, 'transcription.playback'),
    audit: (req, id, details) =>
      deps.audit.record({
        action: 'transcription.playback',
        ...auditActor(req),
        targetType: 'transcription',
        targetId: id,
        details,
      }),
  };
}
