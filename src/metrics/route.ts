import { timingSafeEqual } from 'node:crypto';
import type { RequestHandler } from 'express';
import { AppError } from '../lib/app-error.js';
import type { ServiceMetrics } from './metrics.js';

/**
 * `GET /metrics` (Prometheus text). Never public: with `token` set (METRICS_TOKEN) it needs
 * `Authorization: Bearer <token>` from anywhere; without one it answers only requests made
 * directly from loopback (no proxy in between), e.g. a sidecar or `curl` inside the task.
 * Anything else is a 404 `not_found`, so the endpoint is not advertised.
 */
export function metricsHandler(metrics: ServiceMetrics, token: string | undefined): RequestHandler {
  const expected = token ? Buffer.from(`Bearer ${token}`) : undefined;
  return async (req, res, next) => {
    if (!allowed(req.headers.authorization, req.socket.remoteAddress, req.headers['x-forwarded-for'] !== undefined, expected)) {
      next(new AppError('not_found'));
      return;
    }
    try {
      const body = await metrics.render();
      res.setHeader('Cache-Control', 'no-store');
      res.type(metrics.contentType).send(body);
    } catch (err) {
      next(err);
    }
  };
}

function allowed(authorization: string | undefined, remote: string | undefined, proxied: boolean, expected: Buffer | undefined): boolean {
  if (expected) {
    const got = Buffer.from(authorization ?? '');
    return got.length === expected.length && timingSafeEqual(got, expected);
  }
  return !proxied && isLoopback(remote);
}

export function isLoopback(addr: string | undefined): boolean {
  if (!addr) return false;
  return addr === '::1' || addr.startsWith('127.') || addr.startsWith('::ffff:127.');
}
