import type { IncomingMessage } from 'node:http';
import type { RequestHandler } from 'express';
import { AppError } from '../../lib/app-error.js';

/**
 * Decides whether a browser request's Origin may act on this service: one of ALLOWED_ORIGINS, or,
 * when none is configured, the origin the request itself was addressed to. Requests with no Origin
 * come from non-browser clients (CLI, load tools) and are allowed unless the browser says cross-site.
 */
export function originAllowed(req: IncomingMessage, allowed: string[], trustProxyProto: boolean): boolean {
  const origin = req.headers.origin;
  if (!origin) return req.headers['sec-fetch-site'] !== 'cross-site';
  if (origin === 'null') return false;
  if (allowed.length > 0) return allowed.includes(origin.replace(/\/$/, ''));
  const host = req.headers.host;
  if (!host) return false;
  const forwarded = trustProxyProto ? String(req.headers['x-forwarded-proto'] ?? '').split(',')[0]?.trim() : '';
  const proto = forwarded || ((req.socket as { encrypted?: boolean }).encrypted ? 'https' : 'http');
  return origin === `${proto}://${host}`;
}

const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

/** Refuses state-changing requests from foreign origins (CSRF defence beside SameSite cookies). */
export function requireSameOrigin(allowed: string[]): RequestHandler {
  return (req, _res, next) => {
    if (SAFE_METHODS.has(req.method)) return next();
    const trustProto = Boolean(req.app.get('trust proxy fn')?.(req.socket.remoteAddress, 0));
    if (!originAllowed(req, allowed, trustProto)) return next(new AppError('origin_mismatch'));
    next();
  };
}
