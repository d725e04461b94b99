import type { Server as HttpServer, IncomingMessage } from 'node:http';
import type { RequestHandler } from 'express';
import { Server, type Socket } from 'socket.io';
import { sessionMatchesUser } from '../auth/session.js';
import { MAX_SOCKET_MESSAGE_BYTES } from '../config/limits.js';
import type { UserRepository, User } from '../auth/users.js';
import { AppError, errorAck, toAppError } from '../lib/app-error.js';
import type { Logger } from '../lib/logger.js';
import { errFields } from '../lib/logger.js';
import { originAllowed } from '../lib/origin.js';
import { RepeatedWarnings } from '../lib/repeated-warnings.js';
import { SOCKET_IO_PING_INTERVAL_MS, SOCKET_IO_PING_TIMEOUT_MS } from '../lib/timeouts.js';
import type { ClientToServerEvents, InterServerEvents, ServerToClientEvents, SocketData } from './events.js';

export type AppServer = Server<ClientToServerEvents, ServerToClientEvents, InterServerEvents, SocketData>;
export type AppSocket = Socket<ClientToServerEvents, ServerToClientEvents, InterServerEvents, SocketData>;

/** The room every socket of one HTTP session joins, so logout can disconnect them all. */
export const httpSessionRoom = (sessionId: string) => `http-session:${sessionId}`;
/** The room every socket of one user joins. */
export const userRoom = (userId: string) => `user:${userId}`;

export interface RealtimeOptions {
  httpServer: HttpServer;
  sessionMiddleware: RequestHandler;
  users: UserRepository;
  allowedOrigins: string[];
  trustProxy: (addr: string) => boolean;
  /** The client's address behind the trusted proxies (audit rows); default the socket's peer. */
  clientIp?: (req: IncomingMessage) => string;
  logger: Logger;
  /** Largest Socket.IO message (default MAX_SOCKET_MESSAGE_BYTES: one audio chunk plus framing). */
  maxHttpBufferSize?: number;
  /**
   * Of these web session ids, those still valid (row present and not expired). Used to re-check
   * open sockets every `sessionCheckMs` and before `session:start` / `session:resume`; without it
   * sockets are checked at their handshake only.
   */
  liveHttpSessions?: (sessionIds: string[]) => Promise<Set<string>>;
  sessionCheckMs?: number;
  /**
   * Open sockets one user may hold on this task; past it the handshake fails with `connect_error`
   * `too_many_connections`. The attack of issue 19 held 500 on one cookie (2 queries per handshake).
   */
  maxSocketsPerUser?: number;
  /** A socket ends with its web session's absolute lifetime (SESSION_MAX_AGE_MS). */
  maxSessionAgeMs?: number;
  /** Window over which repeats of one warning are collapsed into a count (LOG_REPEAT_WINDOW_MS). */
  repeatWindowMs?: number;
}

/** Events that begin or take over a live session: refused on a socket whose web session is over. */
const SESSION_EVENTS = new Set(['session:start', 'session:resume']);

/**
 * Socket.IO on the same HTTP session as the pages. The handshake must carry the session cookie of
 * a logged-in, enabled user, from an allowed Origin; otherwise the client gets `connect_error`
 * with message `unauthorized`.
 */
export function createRealtimeServer(opts: RealtimeOptions): AppServer {
  const io: AppServer = new Server(opts.httpServer, {
    serveClient: false,
    maxHttpBufferSize: opts.maxHttpBufferSize ?? MAX_SOCKET_MESSAGE_BYTES,
    pingInterval: SOCKET_IO_PING_INTERVAL_MS,
    pingTimeout: SOCKET_IO_PING_TIMEOUT_MS,
    cors: { origin: false },
    allowRequest: (req, callback) => {
      const trust = opts.trustProxy(req.socket.remoteAddress ?? '');
      callback(null, originAllowed(req, opts.allowedOrigins, trust));
    },
  });
  io.engine.use(opts.sessionMiddleware);
  // With the database down every handshake and every sweep would warn: one line and a count instead.
  const warnings = new RepeatedWarnings(opts.logger, opts.repeatWindowMs);

  io.use(async (socket, next) => {
    const req = socket.request as IncomingMessage & { session?: { userId?: string; loginAt?: number; credentialsAt?: string | null }; sessionID?: string };
    const userId = req.session?.userId;
    if (!userId || !req.sessionID) return next(new Error('unauthorized'));
    let user: User | undefined;
    try {
      user = await opts.users.findById(userId);
    } catch (err) {
      warnings.warn({ err: errFields(err) }, 'socket_auth_lookup_failed');
      return next(new Error('unavailable'));
    }
    if (!user || user.disabled || !sessionMatchesUser(req.session, user)) return next(new Error('unauthorized'));
    if ((io.of('/').adapter.rooms.get(userRoom(user.id))?.size ?? 0) >= (opts.maxSocketsPerUser ?? Infinity)) {
      return next(new Error('too_many_connections'));
    }
    // The place is taken in the same tick as the count, so no handshake can pass the count while
    // another is between its count and its join (joining at 'connection' held only because nothing
    // async runs between: one process.nextTick; a second async middleware would open the gap). A
    // handshake that fails after this leaves the room (socket.io's cleanup): the place comes back.
    void socket.join(userRoom(user.id));
    socket.data.user = { id: user.id, username: user.username, role: user.role };
    socket.data.httpSessionId = req.sessionID;
    socket.data.clientIp = opts.clientIp?.(req) ?? socket.handshake.address;
    socket.data.loginAt = req.session?.loginAt ?? 0;
    next();
  });

  const maxAge = opts.maxSessionAgeMs ?? Infinity;
  const tooOld = (socket: AppSocket) => Date.now() - socket.data.loginAt > maxAge;
  /** Of `sockets`, those whose web session has ended (expired, logged out, revoked, too old). */
  const ended = async (sockets: AppSocket[]): Promise<AppSocket[]> => {
    if (!opts.liveHttpSessions || sockets.length === 0) return sockets.filter(tooOld);
    const live = await opts.liveHttpSessions([...new Set(sockets.map((s) => s.data.httpSessionId))]);
    return sockets.filter((s) => tooOld(s) || !live.has(s.data.httpSessionId));
  };

  io.on('connection', (socket) => {
    void socket.join(httpSessionRoom(socket.data.httpSessionId));
    // A socket is authenticated at its handshake; a session that expired or was revoked since must
    // not start or take over a live session on it.
    socket.use(([event, ...args], next) => {
      if (!SESSION_EVENTS.has(event)) return next();
      ended([socket]).then(
        (gone) => {
          if (gone.length === 0) return next();
          const ack = args.at(-1);
          if (typeof ack === 'function') ack(errorAck(new AppError('unauthorized')));
          socket.disconnect(true);
        },
        (err: unknown) => {
          warnings.warn({ err: errFields(err) }, 'socket_session_check_failed');
          const ack = args.at(-1);
          if (typeof ack === 'function') ack(errorAck(toAppError(err)));
        },
      );
    });
  });

  // Sockets outlive their web session unless re-checked: every task sweeps its own sockets.
  if (opts.sessionCheckMs) {
    const timer = setInterval(() => {
      const sockets = [...io.of('/').sockets.values()];
      ended(sockets).then(
        (gone) => {
          for (const s of gone) s.disconnect(true);
          if (gone.length > 0) opts.logger.info({ sockets: gone.length }, 'sockets_session_ended');
        },
        (err: unknown) => warnings.warn({ err: errFields(err) }, 'socket_session_check_failed'),
      );
    }, opts.sessionCheckMs);
    timer.unref();
    const close = io.close.bind(io);
    io.close = (fn) => {
      clearInterval(timer);
      return close(fn);
    };
  }
  return io;
}
