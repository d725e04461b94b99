import { Router, type Request } from 'express';
import { z } from 'zod';
import type { AuditLog } from '../../audit/audit-log.js';
import type { UserRepository } from '../../auth/users.js';
import { AppError } from '../../lib/app-error.js';
import { isUuid } from '../../transcripts/cursor.js';
import type { TranscriptionRef, TranscriptReadRepository } from '../../transcripts/repo.js';
import type { TranscriptReviewRepository } from '../../transcripts/review.js';
import { auditActor, requireRole, requireUser } from '../middleware/auth.js';
import { parseBody } from '../validate.js';
import { transcriptionAuthorizer } from './transcriptions.js';

export interface ReviewRouteDeps {
  users: UserRepository;
  audit: AuditLog;
  transcripts: TranscriptReadRepository;
  review: TranscriptReviewRepository;
}

const version = z.number().int().min(1).max(2_147_483_647);
// A segment is a few seconds of speech; 10 000 characters is far past any real one.
const text = z.string().max(10_000).transform((s) => s.trim());
// A speaker label is a short name ("Clinician", "Patient"): one line.
const speaker = z
  .string()
  .trim()
  .min(1)
  .max(40)
  .refine((s) => !/[\r\n]/.test(s));

const patchBody = z
  .object({ text: text.optional(), speaker: speaker.nullable().optional(), version })
  .strict()
  .refine((b) => b.text !== undefined || b.speaker !== undefined, { path: ['text'] });
const renameBody = z.object({ from: speaker, to: speaker, version }).strict();
const signBody = z
  .object({
    version,
    // What the page counted when the reviewer confirmed: flagged words never looked at (audited).
    unreviewedFlags: z.number().int().min(0).max(1_000_000).optional(),
  })
  .strict();
const reopenBody = z.object({ reason: z.string().trim().min(3).max(500) }).strict();
const revealBody = reopenBody;
const redactPrefBody = z.object({ redactPhi: z.boolean() }).strict();

/**
 * `PUT /api/admin/users/:id/redact-phi` `{redactPhi}`: whether that user sees transcripts with PHI
 * redacted by default (admins only; audited as `user.update`).
 */
export function phiPreferenceRoutes(deps: ReviewRouteDeps): Router {
  const router = Router();
  router.put('/users/:id/redact-phi', requireUser(deps.users), requireRole('admin'), async (req, res) => {
    const id = String(req.params.id);
    const body = parseBody(redactPrefBody, req.body);
    if (!isUuid(id) || !(await deps.transcripts.setRedactsPhi(id, body.redactPhi))) throw new AppError('not_found');
    await deps.audit.record({ ...auditActor(req), action: 'user.update', targetType: 'user', targetId: id, details: { redactPhi: body.redactPhi } });
    res.json({ id, redactPhi: body.redactPhi });
  });
  return router;
}

/**
 * The review side of a transcription (API.md, "Review"): `PATCH …/segments/:segmentId`,
 * `POST …/speakers`, `POST …/sign`, `POST …/reopen` (admins), `GET …/history`. Visibility is the
 * transcript's (a clinician edits only their own; anything else is 404). Every change, signature,
 * reopening and refused change is in the audit log, with identifiers and counts, never the text.
 */
export function reviewRoutes(deps: ReviewRouteDeps): Router {
  const router = Router();
  const authorize = transcriptionAuthorizer(deps);
  router.use(requireUser(deps.users));

  /**
   * The transcription `:id` names, if this user may see it; a refusal is audited as `denied` under
   * `action` (transcriptionAuthorizer).
   * @throws AppError `not_found` when it is unknown or not visible
   */
  async function target(req: Request, action: string): Promise<TranscriptionRef> {
    const ref = await authorize(req, String(req.params.id), action);
    if (!ref) throw new AppError('not_found');
    return ref;
  }

  /** Runs a change and audits it either way: `success` with `details`, or `failure` with the code. */
  async function audited<T>(req: Request, action: string, id: string, run: () => Promise<T>, details: (r: T) => Record<string, unknown>): Promise<T> {
    try {
      const result = await run();
      await deps.audit.record({ ...auditActor(req), action, targetType: 'transcription', targetId: id, details: details(result) });
      return result;
    } catch (err) {
      if (err instanceof AppError && err.status < 500) {
        await deps.audit.record({ ...auditActor(req), action, targetType: 'transcription', targetId: id, outcome: 'failure', details: { code: err.code } });
      }
      throw err;
    }
  }

  router.patch('/:id/segments/:segmentId', async (req, res) => {
    const segmentId = String(req.params.segmentId);
    const body = parseBody(patchBody, req.body);
    const ref = await target(req, 'transcription.edit');
    if (!isUuid(segmentId)) throw new AppError('not_found');
    const user = req.user!;
    const r = await audited(
      req,
      'transcription.edit',
      ref.id,
      () => deps.review.editSegment(ref.id, segmentId, body, user),
      (r) => ({ segmentId, fields: r.fields, version: r.version, previousVersion: r.previousVersion, ...(r.statusChanged ? { status: r.status } : {}) }),
    );
    res.json({ version: r.version, segment: r.segment });
  });

  router.post('/:id/speakers', async (req, res) => {
    const body = parseBody(renameBody, req.body);
    const ref = await target(req, 'transcription.speaker_rename');
    const r = await audited(
      req,
      'transcription.speaker_rename',
      ref.id,
      () => deps.review.renameSpeaker(ref.id, body.from, body.to, body.version, req.user!),
      (r) => ({ segments: r.segments, version: r.version, previousVersion: r.previousVersion }),
    );
    res.json({ version: r.version, segments: r.segments });
  });

  router.post('/:id/sign', async (req, res) => {
    const body = parseBody(signBody, req.body);
    const ref = await target(req, 'transcription.sign');
    const user = req.user!;
    const r = await audited(
      req,
      'transcription.sign',
      ref.id,
      () => deps.review.sign(ref.id, body.version, user),
      (r) => ({ version: r.version, previousStatus: r.previousStatus, ...(body.unreviewedFlags !== undefined ? { unreviewedFlags: body.unreviewedFlags } : {}) }),
    );
    res.json({ status: 'signed', version: r.version, signedBy: { id: user.id, username: user.username }, signedAt: r.signedAt });
  });

  router.post('/:id/reopen', async (req, res) => {
    const body = parseBody(reopenBody, req.body);
    const ref = await target(req, 'transcription.reopen');
    const user = req.user!;
    if (user.role !== 'admin') {
      await deps.audit.record({ ...auditActor(req), action: 'transcription.reopen', targetType: 'transcription', targetId: ref.id, outcome: 'denied', details: { reason: 'not_admin' } });
      throw new AppError('forbidden', 'Only an admin can reopen a signed transcript.');
    }
    // The reason is the admin's own words about why, kept with the audit row (never in a log line).
    const r = await audited(
      req,
      'transcription.reopen',
      ref.id,
      () => deps.review.reopen(ref.id, body.reason, user),
      (r) => ({ version: r.version, signedVersion: r.signedVersion, reason: body.reason }),
    );
    res.json({ status: 'in_review', version: r.version });
  });

  // Shows what a redacted view hides; the reason is audited (the admin audit view shows it).
  router.post('/:id/reveal', async (req, res) => {
    const body = parseBody(revealBody, req.body);
    const detail = await deps.transcripts.findDetail((await target(req, 'transcription.reveal')).id);
    if (!detail) throw new AppError('not_found');
    await deps.audit.record({ ...auditActor(req), action: 'transcription.reveal', targetType: 'transcription', targetId: detail.id, details: { reason: body.reason } });
    res.json(detail);
  });

  router.get('/:id/history', async (req, res) => {
    const ref = await target(req, 'transcription.history');
    const items = await deps.review.history(ref.id);
    await deps.audit.record({ ...auditActor(req), action: 'transcription.history', targetType: 'transcription', targetId: ref.id, details: { items: items.length } });
    res.json({ items });
  });

  return router;
}
