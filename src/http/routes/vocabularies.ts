import { Router, type Request } from 'express';
import { z } from 'zod';
import type { AuditLog } from '../../audit/audit-log.js';
import type { UserRepository } from '../../auth/users.js';
import { AppError } from '../../lib/app-error.js';
import type { Specialty } from '../../transcription/port.js';
import { SPECIALTIES } from '../../transcripts/types.js';
import type { SpecialtyVocabulary, VocabularyRepository } from '../../vocabulary/repo.js';
import type { VocabularyService } from '../../vocabulary/service.js';
import { vocabularyTermsSchema } from '../../vocabulary/terms.js';
import { auditActor, requireRole, requireUser } from '../middleware/auth.js';
import { parseBody } from '../validate.js';

export interface VocabularyRouteDeps {
  users: UserRepository;
  audit: AuditLog;
  repo: VocabularyRepository;
  service: VocabularyService;
  /** The primary engine's name (`aws` or `local`): what the page says happens with the terms. */
  engine: string;
}

const putBody = z.object({ version: z.number().int().min(0).max(2_147_483_647), terms: vocabularyTermsSchema }).strict();

const view = (v: SpecialtyVocabulary, engine: string) => ({
  specialty: v.specialty,
  version: v.version,
  terms: v.terms,
  updatedAt: v.updatedAt?.toISOString() ?? null,
  engine,
  transcribe: v.engine ? { name: v.engine.name, version: v.engine.version, state: v.engine.state, failure: v.engine.failure, checkedAt: v.engine.checkedAt?.toISOString() ?? null } : null,
});
/** A vocabulary as the API sends it (the admin page types its answers with it). */
export type VocabularyView = ReturnType<typeof view>;

/**
 * Admin-only custom vocabularies per specialty (docs/review.md, "Custom vocabulary"):
 * `GET /api/admin/vocabularies`, `GET|PUT /api/admin/vocabularies/:specialty` (`{version, terms}`,
 * stale version → 409 `vocabulary_conflict`), `POST /api/admin/vocabularies/:specialty/publish`
 * (send it to Transcribe again, e.g. after a failure). Saves are audited (`vocabulary.update`, with
 * counts); with engine `aws` a save is published to Transcribe before the answer.
 */
export function vocabularyRoutes(deps: VocabularyRouteDeps): Router {
  const router = Router();
  router.use('/vocabularies', requireUser(deps.users), requireRole('admin'));
  const specialtyOf = (req: Request): Specialty => {
    const s = String(req.params.specialty).toUpperCase();
    if (!(SPECIALTIES as readonly string[]).includes(s)) throw new AppError('not_found', 'No such specialty.');
    return s as Specialty;
  };
  const audit = (req: Request, specialty: Specialty, details: Record<string, unknown>, outcome?: 'failure') =>
    deps.audit.record({
      action: 'vocabulary.update',
      ...auditActor(req),
      targetType: 'vocabulary',
      targetId: specialty,
      details,
      ...(outcome ? { outcome } : {}),
    });

  router.get('/vocabularies', async (_req, res) => {
    res.json({ items: (await deps.repo.list()).map((v) => view(v, deps.engine)) });
  });

  router.get('/vocabularies/:specialty', async (req, res) => {
    res.json({ vocabulary: view(await deps.repo.get(specialtyOf(req)), deps.engine) });
  });

  router.put('/vocabularies/:specialty', async (req, res) => {
    const specialty = specialtyOf(req);
    const body = parseBody(putBody, req.body);
    try {
      const saved = await deps.repo.save(specialty, body.terms, body.version, req.user!.id);
      await audit(req, specialty, { version: saved.version, terms: saved.terms.length });
    } catch (err) {
      if (err instanceof AppError && err.code === 'vocabulary_conflict') await audit(req, specialty, { code: err.code, version: body.version }, 'failure');
      throw err;
    }
    res.json({ vocabulary: view(await deps.service.publish(specialty), deps.engine) });
  });

  router.post('/vocabularies/:specialty/publish', async (req, res) => {
    const specialty = specialtyOf(req);
    res.json({ vocabulary: view(await deps.service.publish(specialty), deps.engine) });
  });

  return router;
}
