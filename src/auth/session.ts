import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import connectPgSimple from 'connect-pg-simple';
import session, { type SessionOptions } from 'express-session';
import type { RequestHandler } from 'express';
import type { Config } from '../config.js';
import type { Pool } from '../db/pool.js';
import type { Logger } from '../lib/logger.js';
import type { Role } from './users.js';

declare module 'express-session' {
  interface SessionData {
    userId: string;
    username: string;
    role: Role;
    loginAt: number;
    /** `users.credentials_changed_at` (ISO) when this session was created; null when never changed. */
    credentialsAt: string | null;
  }
}

/** The stamp a session stores at login, from the user's `credentialsChangedAt`. */
export const credentialsStamp = (changedAt: Date | null | undefined): string | null => changedAt?.toISOString() ?? null;

/**
 * False when the user's password, role or enabled state changed after this session was created
 * (src/auth/revoke.ts): compared as stamps, not clocks, so app and database clocks need not agree.
 */
export function sessionMatchesUser(session: { credentialsAt?: string | null } | undefined, user: { credentialsChangedAt: Date | null }): boolean {
  return (session?.credentialsAt ?? null) === credentialsStamp(user.credentialsChangedAt);
}

export const SESSION_COOKIE = 'arogya.sid';

/**
 * express-session stored in PostgreSQL (connect-pg-simple), so any task serves any user. The cookie
 * is HttpOnly and SameSite=Lax; Secure whenever the request arrived over TLS (directly or, with
 * `trust proxy`, through the ALB). Sessions expire after SESSION_IDLE_MS without a request.
 */
export function createSessionMiddleware(config: Config, db: Pool, logger: Logger): RequestHandler {
  const PgStore = connectPgSimple(session);
  const store = new PgStore({
    pool: db,
    tableName: 'http_sessions',
    createTableIfMissing: false,
    // Expired rows are pruned every 15 min by whichever task runs; failures only get logged.
    pruneSessionInterval: 15 * 60,
    errorLog: (...args: unknown[]) => logger.warn({ detail: String(args[0]) }, 'session_store_error'),
  });
  const options: SessionOptions = {
    name: SESSION_COOKIE,
    secret: sessionSecret(config),
    store,
    resave: false,
    saveUninitialized: false,
    rolling: true,
    proxy: undefined, // follows express's trust proxy setting
    cookie: {
      httpOnly: true,
      sameSite: 'lax',
      secure: config.COOKIE_SECURE === 'auto' ? 'auto' : config.COOKIE_SECURE === 'true',
      maxAge: config.SESSION_IDLE_MS,
      path: '/',
    },
  };
  const inner = session(options);
  // `rolling` keeps an active session alive for ever; SESSION_MAX_AGE_MS after login it ends
  // however active it is (a stolen cookie in use is not renewed indefinitely). This runs for HTTP
  // requests and Socket.IO handshakes alike (io.engine.use).
  const middleware: RequestHandler = (req, res, next) =>
    inner(req, res, (err?: unknown) => {
      if (err) return next(err);
      const loginAt = req.session?.loginAt;
      if (req.session?.userId && (typeof loginAt !== 'number' || Date.now() - loginAt > config.SESSION_MAX_AGE_MS)) {
        return req.session.destroy(() => next());
      }
      next();
    });
  // The store's prune timer must not keep a stopping process alive.
  (middleware as RequestHandler & { store?: typeof store }).store = store;
  return middleware;
}

/** Stops the store's prune timer. */
export function closeSessionStore(middleware: RequestHandler): void {
  const store = (middleware as RequestHandler & { store?: { close(): void } }).store;
  store?.close();
}

function sessionSecret(config: Config): string {
  if (config.SESSION_SECRET) return config.SESSION_SECRET;
  // Embedded mode: a random secret kept beside the embedded database, created once.
  const file = path.join(config.dataDir, 'session-secret');
  fs.mkdirSync(config.dataDir, { recursive: true });
  if (!fs.existsSync(file)) fs.writeFileSync(file, randomBytes(48).toString('base64url'), { mode: 0o600, flag: 'wx' });
  return fs.readFileSync(file, 'utf8').trim();
}
