import type { IncomingMessage } from 'node:http';

/**
 * Decides whether a browser request's Origin may act on this service: one of ALLOWED_ORIGINS, or,
 * when none is configured, the origin the request itself was addressed to. Requests with no Origin
 * come from non-browser clients (CLI, load tools) and are allowed unless the browser says cross-site.
 * Shared by the HTTP API (`http/middleware/origin.ts`) and the Socket.IO handshake (`realtime/server.ts`).
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
