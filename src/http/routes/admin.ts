import { Router, type NextFunction, type Request, type Response } from 'express';
import { z } from 'zod';
import type { AuditLog } from '../../audit/audit-log.js';
import { AuditReader, decodeAuditCursor } from '../../audit/audit-reader.js';
import { MAX_PASSWORD_LENGTH } from '../../auth/passwords.js';
import { revokeUserAccess } from '../../auth/revoke.js';
import { credentialsStamp } from '../../auth/session.js';
import { ROLES, type Role, type User, type UserRepository } from '../../auth/users.js';
import type { Pool } from '../../db/pool.js';
import { AppError, toAppError } from '../../lib/app-error.js';
import { isUuid } from '../../transcripts/cursor.js';
import { auditActor, requireUser } from '../middleware/auth.js';
import { instant, limitParam } from '../query.js';
import { parseBody } from '../validate.js';

export interface AdminRouteDeps {
  db: Pool;
  users: UserRepository;
  audit: AuditLog;
}

const role = z.enum(ROLES as [Role, ...Role[]]);
const createUser = z.object({ username: z.string().min(1).max(64), role, password: z.string().min(1).max(MAX_PASSWORD_LENGTH) }).strict();
const patchUser = z
  .object({ role: role.optional(), disabled: z.boolean().optional(), password: z.string().min(1).max(MAX_PASSWORD_LENGTH).optional() })
  .strict()
  .refine((b) => b.role !== undefined || b.disabled !== undefined || b.password !== undefined, { path: ['role'] });
const auditQuery = z
  .object({
    action: z.string().regex(/^[a-z._]{1,64}$/).optional(),
    actor: z.string().refine(isUuid).optional(),
    target: z.string().min(1).max(64).optional(),
    outcome: z.enum(['success', 'failure', 'denied']).optional(),
    from: instant(false).optional(),
    to: instant(true).optional(),
    cursor: z.string().max(40).optional(),
    limit: limitParam.optional(),
  })
  .strict();

const publicUser = (u: User) => ({ id: u.id, username: u.username, role: u.role, disabled: u.disabled, createdAt: u.createdAt.toISOString() });
/** A user as the admin API sends it (the admin page types its answers with it). */
export type PublicUser = ReturnType<typeof publicUser>;

/**
 * Admin-only: user management (`GET/POST /api/admin/users`, `PATCH /api/admin/users/:id`) and the
 * audit log (`GET /api/admin/audit`). Every change, and every refused attempt, is audited.
 */
export function adminRoutes(deps: AdminRouteDeps): Router {
  const router = Router();
  const reader = new AuditReader(deps.db);

  router.use(requireUser(deps.users));
  router.use(async (req: Request, _res: Response, next: NextFunction) => {
    if (req.user?.role === 'admin') return next();
    await deps.audit.record({ ...auditActor(req), action: 'admin.access', outcome: 'denied', details: { method: req.method, path: req.path.slice(0, 100) } });
    next(new AppError('forbidden'));
  });

  router.get('/users', async (_req, res) => {
    // Whether each user sees transcripts PHI-redacted by default (set by PUT …/users/:id/redact-phi).
    const redacted = new Set((await deps.db.query<{ id: string }>('SELECT id FROM users WHERE redact_phi')).rows.map((r) => r.id));
    res.json({ items: (await deps.users.list()).map((u) => ({ ...publicUser(u), redactPhi: redacted.has(u.id) })) });
  });

  router.post('/users', async (req, res) => {
    const body = parseBody(createUser, req.body);
    try {
      const user = await deps.users.create(body);
      await deps.audit.record({ ...auditActor(req), action: 'user.create', targetType: 'user', targetId: user.id, details: { username: user.username, role: user.role } });
      res.status(201).json({ user: publicUser(user) });
    } catch (err) {
      await deps.audit.record({ ...auditActor(req), action: 'user.create', targetType: 'user', outcome: 'failure', details: { code: toAppError(err).code } });
      throw err;
    }
  });

  router.patch('/users/:id', async (req, res) => {
    const id = String(req.params.id);
    const body = parseBody(patchUser, req.body);
    const target = isUuid(id) ? await deps.users.findById(id) : undefined;
    if (!target) throw new AppError('not_found', 'No such user.');
    const me = req.user!;
    // An admin cannot lock themselves out: someone else has to demote or disable them.
    if (target.id === me.id && ((body.role !== undefined && body.role !== 'admin') || body.disabled === true)) {
      await deps.audit.record({ ...auditActor(req), action: 'user.update', targetType: 'user', targetId: id, outcome: 'denied', details: { reason: 'self_lockout' } });
      throw new AppError('conflict', 'You cannot demote or disable your own account.');
    }
    const changes: Record<string, unknown> = {};
    try {
      let user = target;
      if (body.password !== undefined) {
        user = await deps.users.setPassword(target.username, body.password);
        changes.passwordReset = true;
      }
      if (body.role !== undefined && body.role !== user.role) {
        changes.role = { from: user.role, to: body.role };
        user = await deps.users.setRole(target.username, body.role);
      }
      if (body.disabled !== undefined && body.disabled !== user.disabled) {
        user = await deps.users.setDisabled(target.username, body.disabled);
        changes.disabled = body.disabled;
      }
      // A reset password, a disabled account or a new role ends the user's logins and sockets on
      // every task at once (the acting admin's own session excepted); the CLI takes the same path.
      if (changes.passwordReset || changes.disabled === true || changes.role) {
        const stamp = await revokeUserAccess(deps.db, user.id, { exceptSessionId: req.sessionID });
        if (user.id === me.id) req.session.credentialsAt = credentialsStamp(stamp);
      }
      await deps.audit.record({ ...auditActor(req), action: 'user.update', targetType: 'user', targetId: user.id, details: { username: user.username, ...changes } });
      res.json({ user: publicUser(user) });
    } catch (err) {
      await deps.audit.record({ ...auditActor(req), action: 'user.update', targetType: 'user', targetId: id, outcome: 'failure', details: { code: toAppError(err).code, ...changes } });
      throw err;
    }
  });

  router.get('/audit', async (req, res) => {
    const q = parseBody(auditQuery, req.query);
    const beforeId = q.cursor !== undefined ? decodeAuditCursor(q.cursor) : undefined;
    if (q.cursor !== undefined && !beforeId) throw new AppError('invalid_payload', 'Invalid or missing: cursor.', { details: { fields: ['cursor'] } });
    const page = await reader.list({
      action: q.action,
      actorId: q.actor,
      targetId: q.target,
      outcome: q.outcome,
      from: q.from,
      to: q.to,
      beforeId,
      limit: q.limit ?? 50,
    });
    await deps.audit.record({ ...auditActor(req), action: 'audit.read', details: { results: page.items.length } });
    res.json(page);
  });

  return router;
}
