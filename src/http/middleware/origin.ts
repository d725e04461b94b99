import type { RequestHandler } from 'express';
import { AppError } from '../../lib/app-error.js';
import { originAllowed } from '../../lib/origin.js';

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
