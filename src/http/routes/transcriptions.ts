import { Router, type Request } from 'express';
import { z } from 'zod';
import type { AuditLog } from '../../audit/audit-log.js';
import { sessionMatchesUser } from '../../auth/session.js';
import type { UserRepository } from '../../auth/users.js';
import { AppError } from '../../lib/app-error.js';
import { canSee } from '../../transcripts/access.js';
import { decodeCursor, isUuid } from '../../transcripts/cursor.js';
import { EXPORT_FORMATS, exportFilename } from '../../transcripts/export/index.js';
import type { TranscriptionRef, TranscriptReadRepository } from '../../transcripts/repo.js';
import { findPhi, namesFromTitle, redact } from '../../transcripts/phi/phi.js';
import { redactDetail } from '../../transcripts/phi/redact-detail.js';
import { SPECIALTIES, STATUSES, type TranscriptionDetail } from '../../transcripts/types.js';
import { auditActor, requireUser } from '../middleware/auth.js';
import { instant, limitParam } from '../query.js';
import { parseBody } from '../validate.js';

export interface TranscriptionRouteDeps {
  users: UserRepository;
  audit: AuditLog;
  transcripts: TranscriptReadRepository;
}

const listQuery = z
  .object({
    q: z.string().trim().min(1).max(200).optional(),
    clinician: z.string().refine(isUuid).optional(),
    from: instant(false).optional(),
    to: instant(true).optional(),
    specialty: z.enum(SPECIALTIES).optional(),
    status: z.enum(STATUSES as [string, ...string[]]).optional(),
    cursor: z.string().max(200).optional(),
    limit: limitParam.optional(),
  })
  .strict();

const exportQuery = z.object({ format: z.enum(['txt', 'srt', 'vtt', 'json']), redact: z.enum(['true', 'false']).optional() }).strict();

/**
 * The detail as this viewer may see it: with PHI redacted when asked (`?redact=true`) or when an admin
 * set the viewer to redacted by default (then only `POST …/reveal` with a reason shows it).
 */
async function viewOf(deps: TranscriptionRouteDeps, req: Request, detail: TranscriptionDetail, asked: boolean): Promise<TranscriptionDetail> {
  if (!asked && !(await deps.transcripts.redactsPhi(req.user!.id))) return detail;
  return redactDetail(detail, await deps.transcripts.findEvidence(detail.id));
}

/**
 * The access check for one transcription, shared by the transcript, its export and its audio.
 * Refusals (unknown id or not visible) are audited as `denied` under `action` and answered with
 * null, which callers turn into 404.
 * @throws AppError `unauthenticated` when the request has no valid session user
 */
export function transcriptionAuthorizer(deps: TranscriptionRouteDeps) {
  return async (req: Request, id: string, action: string): Promise<TranscriptionRef | null> => {
    let user = req.user;
    if (!user && req.session?.userId) {
      const found = await deps.users.findById(req.session.userId);
      if (found && !found.disabled && sessionMatchesUser(req.session, found)) user = req.user = found;
    }
    if (!user) throw new AppError('unauthenticated');
    const ref = isUuid(id) ? await deps.transcripts.findRef(id) : undefined;
    if (ref && canSee(user, ref)) return ref;
    await deps.audit.record({
      ...auditActor(req),
      action,
      targetType: 'transcription',
      targetId: id.slice(0, 64),
      outcome: 'denied',
      details: { reason: ref ? 'not_visible' : 'not_found' },
    });
    return null;
  };
}

/**
 * `GET /api/transcriptions`, `GET /api/transcriptions/:id`, `GET /api/transcriptions/:id/export`
 * (API.md), and `GET /api/transcriptions/clinicians` for the page's clinician filter. Other paths under /transcriptions (the audio route) fall through to later routers.
 */
export function transcriptionRoutes(deps: TranscriptionRouteDeps): Router {
  const router = Router();
  const authorize = transcriptionAuthorizer(deps);
  router.use(requireUser(deps.users));

  router.get('/', async (req, res) => {
    const query = parseBody(listQuery, req.query);
    const user = req.user!;
    const result = await deps.transcripts.list(user, {
      q: query.q,
      clinicianId: query.clinician,
      from: query.from,
      to: query.to,
      specialty: query.specialty,
      status: query.status as (typeof STATUSES)[number] | undefined,
      cursor: query.cursor !== undefined ? decodeCursor(query.cursor) : undefined,
      limit: query.limit ?? 25,
    });
    // The search words are patient data: the audit row says that a search happened, not what for.
    await deps.audit.record({
      ...auditActor(req),
      action: query.q ? 'transcription.search' : 'transcription.list',
      targetType: 'transcription',
      details: {
        filters: Object.keys(query).filter((k) => k !== 'q' && k !== 'cursor' && k !== 'limit'),
        page: query.cursor ? 'next' : 'first',
        results: result.items.length,
        ids: result.items.map((i) => i.id),
      },
    });
    // A viewer set to redacted-by-default sees the list's titles and snippets redacted too.
    if (await deps.transcripts.redactsPhi(user.id)) {
      for (const item of result.items) {
        const names = namesFromTitle(item.title);
        const scrub = (s: string) => redact(s, findPhi(s, { names }));
        item.title = scrub(item.title);
        if (item.snippet) item.snippet = item.snippet.map((p) => ({ ...p, text: scrub(p.text) }));
      }
    }
    res.json(result);
  });

  // Before '/:id': the names for the clinician filter (no patient data; not audited).
  router.get('/clinicians', async (req, res) => {
    res.json({ items: await deps.transcripts.clinicians(req.user!) });
  });

  router.get('/:id', async (req, res) => {
    const id = String(req.params.id);
    const ref = await authorize(req, id, 'transcription.view');
    const found = ref && (await deps.transcripts.findDetail(ref.id));
    if (!found) throw new AppError('not_found');
    const detail = await viewOf(deps, req, found, req.query.redact === 'true');
    await deps.audit.record({
      ...auditActor(req),
      action: 'transcription.view',
      targetType: 'transcription',
      targetId: detail.id,
      details: { segments: detail.segments.length, ...('redacted' in detail ? { redacted: true } : {}) },
    });
    res.json(detail);
  });

  router.get('/:id/export', async (req, res) => {
    const id = String(req.params.id);
    const { format, redact } = parseBody(exportQuery, req.query);
    const ref = await authorize(req, id, 'transcription.export');
    const found = ref && (await deps.transcripts.findDetail(ref.id));
    if (!found) throw new AppError('not_found');
    const detail = await viewOf(deps, req, found, redact === 'true');
    const body = EXPORT_FORMATS[format].render(detail);
    await deps.audit.record({
      ...auditActor(req),
      action: 'transcription.export',
      targetType: 'transcription',
      targetId: detail.id,
      details: { format, bytes: Buffer.byteLength(body), ...('redacted' in detail ? { redacted: true } : {}) },
    });
    res.setHeader('Content-Type', EXPORT_FORMATS[format].contentType);
    res.setHeader('Content-Disposition', `attachment; filename="${exportFilename(detail, format)}"`);
    res.setHeader('X-Content-Type-Options', 'nosniff');
    // SRT has no place for metadata that players ignore; every format says it here as well.
    res.setHeader('X-Transcript-Version', String(detail.version));
    res.setHeader('X-Transcript-Signed', detail.signature ? 'true' : 'false');
    res.send(body);
  });

  return router;
}
