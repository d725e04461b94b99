import { Router } from 'express';
import { z } from 'zod';
import type { LoginLimiter } from '../../auth/login-limiter.js';
import { dummyPasswordHash, hashingSaturated, MAX_PASSWORD_LENGTH, verifyPassword } from '../../auth/passwords.js';
import { credentialsStamp } from '../../auth/session.js';
import type { UserRepository } from '../../auth/users.js';
import type { AuditLog } from '../../audit/audit-log.js';
import { AppError } from '../../lib/app-error.js';
import { clientIp, requireUser } from '../middleware/auth.js';
import { parseBody } from '../validate.js';

const loginSchema = z.object({
  username: z.string().min(1).max(64),
  password: z.string().min(1).max(MAX_PASSWORD_LENGTH),
});

export interface AuthRouteDeps {
  users: UserRepository;
  audit: AuditLog;
  limiter: LoginLimiter;
  /** Disconnects every Socket.IO connection opened with this HTTP session. */
  disconnectSession: (sessionId: string) => void;
}

/** `POST /api/auth/login`, `POST /api/auth/logout`, `GET /api/auth/me` (API.md). */
export function authRoutes(deps: AuthRouteDeps): Router {
  const router = Router();

  router.post('/login', async (req, res) => {
    const { username, password } = parseBody(loginSchema, req.body);
    const ip = clientIp(req);
    const userAgent = req.get('user-agent');
    // A flood is refused before it costs a database write or a place in the hashing queue.
    if (hashingSaturated()) throw new AppError('rate_limited', undefined, { retryable: true, details: { retryAfterSeconds: 1 } });
    // Counted as a failure BEFORE the password is checked, so concurrent guesses cannot all be
    // evaluated before the first failure is written (issue 19); a success refunds it.
    const admission = await deps.limiter.admit(ip, username);
    if (!admission.ok) {
      await deps.audit.record({ action: 'login', outcome: 'denied', ip, userAgent, details: { reason: 'rate_limited' } });
      throw new AppError('rate_limited', undefined, { details: { retryAfterSeconds: Math.ceil(admission.retryAfterMs / 1000) } });
    }
    const user = await deps.users.findForLogin(username);
    const stored = user?.passwordHash ?? (await dummyPasswordHash());
    // Checked again here, with no await before the hash joins the queue: concurrent requests all
    // passed the first check while their admissions were in flight.
    if (hashingSaturated()) {
      await deps.limiter.refund(admission.ticket);
      throw new AppError('rate_limited', undefined, { retryable: true, details: { retryAfterSeconds: 1 } });
    }
    // Same work whether or not the user exists: the response time reveals nothing.
    const ok = await verifyPassword(password, stored);
    if (!user || !ok || user.disabled) {
      await deps.limiter.failed(admission.ticket);
      await deps.audit.record({
        action: 'login',
        outcome: 'failure',
        actorId: user?.id ?? null,
        ip,
        userAgent,
        details: { reason: !user ? 'unknown_user' : user.disabled && ok ? 'disabled' : 'wrong_password' },
      });
      throw new AppError('invalid_credentials');
    }
    await deps.limiter.succeeded(admission.ticket);
    // A new session id at login defeats session fixation.
    await new Promise<void>((resolve, reject) => req.session.regenerate((err) => (err ? reject(err) : resolve())));
    req.session.userId = user.id;
    req.session.username = user.username;
    req.session.role = user.role;
    req.session.loginAt = Date.now();
    req.session.credentialsAt = credentialsStamp(user.credentialsChangedAt);
    await new Promise<void>((resolve, reject) => req.session.save((err) => (err ? reject(err) : resolve())));
    await deps.audit.record({ action: 'login', actorId: user.id, actorUsername: user.username, ip, userAgent });
    res.json({ user: { id: user.id, username: user.username, role: user.role } });
  });

  router.post('/logout', async (req, res) => {
    const sessionId = req.sessionID;
    const userId = req.session?.userId;
    if (userId) {
      await deps.audit.record({
        action: 'logout',
        actorId: userId,
        actorUsername: req.session.username,
        ip: clientIp(req),
        userAgent: req.get('user-agent'),
      });
    }
    if (req.session) await new Promise<void>((resolve, reject) => req.session.destroy((err) => (err ? reject(err) : resolve())));
    if (sessionId) deps.disconnectSession(sessionId);
    res.clearCookie('arogya.sid', { path: '/' });
    res.status(204).end();
  });

  router.get('/me', requireUser(deps.users), (req, res) => {
    const u = req.user!;
    res.json({ user: { id: u.id, username: u.username, role: u.role } });
  });

  return router;
}
