import type { Server as HttpServer, IncomingMessage } from 'node:http';
import type { RequestHandler } from 'express';
import { Server, type Socket } from 'socket.io';
import type { UserRepository, User } from '../auth/users.js';
import type { Logger } from '../lib/logger.js';
import { originAllowed } from '../http/middleware/origin.js';
import type { ClientToServerEvents, ServerToClientEvents, SocketData } from './events.js';

export type AppServer = Server<ClientToServerEvents, ServerToClientEvents, Record<string, never>, SocketData>;
export type AppSocket = Socket<ClientToServerEvents, ServerToClientEvents, Record<string, never>, SocketData>;

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
  logger: Logger;
  /** Largest Socket.IO message: one audio chunk (1 MiB) plus framing. */
  maxHttpBufferSize?: number;
}

/**
 * Socket.IO on the same HTTP session as the pages. The handshake must carry the session cookie of
 * a logged-in, enabled user, from an allowed Origin; otherwise the client gets `connect_error`
 * with message `unauthorized`.
 */
export function createRealtimeServer(opts: RealtimeOptions): AppServer {
  const io: AppServer = new Server(opts.httpServer, {
    serveClient: false,
    maxHttpBufferSize: opts.maxHttpBufferSize ?? 1024 * 1024 + 64 * 1024,
    pingInterval: 20_000,
    pingTimeout: 20_000,
    cors: { origin: false },
    allowRequest: (req, callback) => {
      const trust = opts.trustProxy(req.socket.remoteAddress ?? '');
      callback(null, originAllowed(req, opts.allowedOrigins, trust));
    },
  });
  io.engine.use(opts.sessionMiddleware);

  io.use(async (socket, next) => {
    const req = socket.request as IncomingMessage & { session?: { userId?: string }; sessionID?: string };
    const userId = req.session?.userId;
    if (!userId || !req.sessionID) return next(new Error('unauthorized'));
    let user: User | undefined;
    try {
      user = await opts.users.findById(userId);
    } catch (err) {
      opts.logger.warn({ err: { message: (err as Error).message } }, 'socket_auth_lookup_failed');
      return next(new Error('unavailable'));
    }
    if (!user || user.disabled) return next(new Error('unauthorized'));
    socket.data.user = { id: user.id, username: user.username, role: user.role };
    socket.data.httpSessionId = req.sessionID;
    next();
  });

  io.on('connection', (socket) => {
    void socket.join([httpSessionRoom(socket.data.httpSessionId), userRoom(socket.data.user.id)]);
  });
  return io;
}
