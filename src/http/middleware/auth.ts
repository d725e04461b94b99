import type { IncomingMessage } from 'node:http';
import type { NextFunction, Request, RequestHandler, Response } from 'express';
import { sessionMatchesUser } from '../../auth/session.js';
import type { Role, User, UserRepository } from '../../auth/users.js';
import { AppError } from '../../lib/app-error.js';

declare module 'express-serve-static-core' {
  interface Request {
    user?: User;
  }
}

/**
 * Loads the session's user on every API request, so a disabled user, a changed role or a reset
 * password takes effect at once on every task. Sets `req.user`, or answers 401 `unauthenticated`.
 */
export function requireUser(users: UserRepository): RequestHandler {
  return async (req: Request, _res: Response, next: NextFunction) => {
    const userId = req.session?.userId;
    if (!userId) return next(new AppError('unauthenticated'));
    const user = await users.findById(userId);
    // A session from before the user's last password, role or enabled-state change is over, even
    // if its row survived the revocation (src/auth/revoke.ts).
    if (!user || user.disabled || !sessionMatchesUser(req.session, user)) {
      await new Promise<void>((resolve) => req.session.destroy(() => resolve()));
      return next(new AppError('unauthenticated'));
    }
    req.user = user;
    next();
  };
}

/** 403 unless the user has one of `roles`. Use after {@link requireUser}. */
export function requireRole(...roles: Role[]): RequestHandler {
  return (req, _res, next) => {
    if (!req.user || !roles.includes(req.user.role)) return next(new AppError('forbidden'));
    next();
  };
}

/**
 * The client's address from a raw request (a Socket.IO handshake), walking X-Forwarded-For from the
 * nearest hop while `trust(address, hop)` says that hop is a trusted proxy: what Express's `req.ip`
 * does (proxy-addr), for requests that never pass through Express.
 */
export function forwardedClientIp(req: IncomingMessage, trust: (addr: string, hop: number) => boolean): string {
  const forwarded = String(req.headers['x-forwarded-for'] ?? '')
    .split(',')
    .map((a) => a.trim())
    .filter(Boolean)
    .reverse();
  const chain = [req.socket.remoteAddress ?? 'unknown', ...forwarded];
  let i = 0;
  while (i < chain.length - 1 && trust(chain[i]!, i)) i++;
  return chain[i]!;
}

/** The client's address as the trusted proxy chain reports it. */
export function clientIp(req: Request): string {
  return req.ip ?? req.socket.remoteAddress ?? 'unknown';
}

/** The audit fields every row recorded for a request carries: who (if known) and from where. */
export function auditActor(req: Request): { actorId: string | null; actorUsername: string | null; ip: string; userAgent: string | undefined } {
  return {
    actorId: req.user?.id ?? null,
    actorUsername: req.user?.username ?? null,
    ip: clientIp(req),
    userAgent: req.get('user-agent'),
  };
}
