import { HTTP_HEADERS_TIMEOUT_MS, HTTP_KEEP_ALIVE_TIMEOUT_MS } from './lib/timeouts.js';
import http from 'node:http';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import express, { type RequestHandler, type Router } from 'express';
import helmet from 'helmet';
import type { LoginLimiter } from './auth/login-limiter.js';
import type { UserRepository } from './auth/users.js';
import type { AuditLog } from './audit/audit-log.js';
import type { Config } from './config.js';
import { MAX_JSON_BODY } from './config/limits.js';
import type { HealthMonitor } from './health/health-monitor.js';
import { errorHandler, notFound } from './http/middleware/errors.js';
import { forwardedClientIp } from './http/middleware/auth.js';
import { requireSameOrigin } from './http/middleware/origin.js';
import { authRoutes } from './http/routes/auth.js';
import { settingsRoutes } from './http/routes/settings.js';
import type { Logger } from './lib/logger.js';
import type { ServiceMetrics } from './metrics/metrics.js';
import { metricsHandler } from './metrics/route.js';
import { createRealtimeServer, httpSessionRoom, type AppServer, type RealtimeOptions } from './realtime/server.js';

const require = createRequire(import.meta.url);
const SOCKET_IO_CLIENT_DIST = path.join(path.dirname(require.resolve('socket.io-client/package.json')), 'dist');

export const PUBLIC_DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', 'public');

export interface AppDeps {
  config: Config;
  logger: Logger;
  users: UserRepository;
  audit: AuditLog;
  loginLimiter: LoginLimiter;
  sessionMiddleware: RequestHandler;
  health: HealthMonitor;
  /** Served at GET /metrics (loopback or METRICS_TOKEN only). */
  metrics?: ServiceMetrics;
  /** Extra API routers mounted under /api by feature modules (transcriptions, admin…). */
  apiRouters?: (io: AppServer) => Array<[string, Router]>;
  /** See {@link RealtimeOptions.liveHttpSessions}. */
  liveHttpSessions?: RealtimeOptions['liveHttpSessions'];
}

export interface App {
  app: express.Express;
  server: http.Server;
  io: AppServer;
}

/**
 * Wires Express and Socket.IO over the given dependencies. Does no I/O of its own and does not
 * listen: the composition root (`service.ts`) registers the Socket.IO handlers on the returned
 * `io` and listens (tests on port 0).
 */
export function createApp(deps: AppDeps): App {
  const { config, logger } = deps;
  const app = express();
  app.disable('x-powered-by');
  app.set('trust proxy', parseTrustProxy(config.TRUST_PROXY));
  const server = http.createServer(app);
  // Keep-alive longer than the ALB's idle timeout, so the ALB closes first (no 502 races).
  server.keepAliveTimeout = HTTP_KEEP_ALIVE_TIMEOUT_MS;
  server.headersTimeout = HTTP_HEADERS_TIMEOUT_MS;

  const trustFn = app.get('trust proxy fn') as (addr: string, i: number) => boolean;
  const io = createRealtimeServer({
    httpServer: server,
    sessionMiddleware: deps.sessionMiddleware,
    users: deps.users,
    allowedOrigins: config.allowedOrigins,
    trustProxy: (addr) => trustFn(addr, 0),
    clientIp: (req) => forwardedClientIp(req, trustFn),
    logger,
    liveHttpSessions: deps.liveHttpSessions,
    sessionCheckMs: config.SOCKET_SESSION_CHECK_MS,
    maxSocketsPerUser: config.MAX_SOCKETS_PER_USER,
    maxSessionAgeMs: config.SESSION_MAX_AGE_MS,
    repeatWindowMs: config.LOG_REPEAT_WINDOW_MS,
  });

  app.use(
    helmet({
      contentSecurityPolicy: {
        useDefaults: false,
        directives: {
          defaultSrc: ["'self'"],
          scriptSrc: ["'self'"],
          styleSrc: ["'self'"],
          imgSrc: ["'self'", 'data:'],
          mediaSrc: ["'self'", 'blob:'],
          connectSrc: ["'self'"],
          workerSrc: ["'self'", 'blob:'],
          fontSrc: ["'self'"],
          objectSrc: ["'none'"],
          baseUri: ["'self'"],
          formAction: ["'self'"],
          frameAncestors: ["'none'"],
        },
      },
      // HSTS only means something over TLS; helmet sends it always, browsers ignore it over HTTP.
      strictTransportSecurity: { maxAge: 31_536_000, includeSubDomains: true },
      crossOriginEmbedderPolicy: false,
    }),
  );

  app.get('/health', async (_req, res) => {
    const snapshot = await deps.health.current();
    res.setHeader('Cache-Control', 'no-store');
    // `degraded` (a shared dependency down) stays 200: the ALB and ECS must not replace every task
    // for an outage replacing them cannot cure (API.md, docs/errors.md).
    res.status(snapshot.status === 'unhealthy' ? 503 : 200).json({ status: snapshot.status, checks: snapshot.checks });
  });

  if (deps.metrics) app.get('/metrics', metricsHandler(deps.metrics, config.METRICS_TOKEN));

  const api = express.Router();
  api.use(express.json({ limit: MAX_JSON_BODY, strict: true }));
  api.use(requireSameOrigin(config.allowedOrigins));
  api.use(deps.sessionMiddleware);
  api.use((_req, res, next) => {
    res.setHeader('Cache-Control', 'no-store');
    next();
  });
  api.use(
    '/auth',
    authRoutes({
      users: deps.users,
      audit: deps.audit,
      limiter: deps.loginLimiter,
      disconnectSession: (sid) => io.in(httpSessionRoom(sid)).disconnectSockets(true),
    }),
  );
  api.use('/settings', settingsRoutes({ users: deps.users, settings: { idleTimeoutMs: config.IDLE_TIMEOUT_MS } }));
  for (const [mount, router] of deps.apiRouters?.(io) ?? []) api.use(mount, router);
  api.use(notFound);
  app.use('/api', api);

  app.use(express.static(PUBLIC_DIR, { index: 'index.html', extensions: ['html'], maxAge: '1h' }));
  // The browser build of the Socket.IO client, from the same package version as the server's peer.
  app.use('/vendor', express.static(SOCKET_IO_CLIENT_DIST, { maxAge: '1h', index: false }));
  app.use(notFound);
  app.use(errorHandler(logger));

  return { app, server, io };
}

function parseTrustProxy(value: string): boolean | number | string {
  if (value === 'true') return true;
  if (value === 'false') return false;
  if (/^\d+$/.test(value)) return Number(value);
  return value;
}
