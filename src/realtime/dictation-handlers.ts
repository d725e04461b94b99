import { z } from 'zod';
import type { AuditLog } from '../audit/audit-log.js';
import type { SessionManager } from '../dictation/session-manager.js';
import type { SessionSink } from '../dictation/types.js';
import { AppError, errorAck, toAppError } from '../lib/app-error.js';
import type { Logger } from '../lib/logger.js';
import type { ServiceMetrics } from '../metrics/metrics.js';
import type { Ack } from './events.js';
import type { AppServer, AppSocket } from './server.js';

/** The room a live session's events go to; its sockets (first and resumed) join it. */
export const liveRoom = (sessionId: string) => `live:${sessionId}`;

const chunkSchema = z.object({
  sessionId: z.string().max(64),
  seq: z.number().int().min(0).max(Number.MAX_SAFE_INTEGER),
  data: z.custom<Buffer | ArrayBuffer | Uint8Array>((v) => Buffer.isBuffer(v) || v instanceof ArrayBuffer || ArrayBuffer.isView(v)),
});
const stopSchema = z.object({ sessionId: z.string().max(64) });
const gapSchema = z.object({
  sessionId: z.string().max(64),
  fromSeq: z.number().int().min(0).max(Number.MAX_SAFE_INTEGER),
  toSeq: z.number().int().min(0).max(Number.MAX_SAFE_INTEGER),
  durationMs: z.number().min(0).max(24 * 60 * 60 * 1000),
}).refine((g) => g.toSeq >= g.fromSeq);
const resumeSchema = z.object({ sessionId: z.string().max(64), lastSeq: z.number().int().min(-1).optional() });

/** An ack's ledger position: `durableSeq` only where the session has checkpoints (API.md). */
const withDurable = (ackSeq: number, durableSeq: number | undefined) => (durableSeq === undefined ? { ackSeq } : { ackSeq, durableSeq });

/** Emits a live session's events to its room on this task. */
export function roomSink(io: AppServer, sessionId: string, transcriptionId: string): SessionSink {
  // A live session's sockets are always on the task that runs it (a resume elsewhere moves the
  // session), so its events stay local: no NOTIFY round trip per partial, and `session:ended` at
  // shutdown is delivered before this task disconnects its sockets.
  const room = io.local.to(liveRoom(sessionId));
  return {
    partial: (p) => room.emit('transcript:partial', { sessionId, ...p }),
    final: (p) => room.emit('transcript:final', { sessionId, ...p }),
    error: (p) => {
      // A notice goes out twice: as `session:notice`, and as the `session:error` with `fatal: false`
      // that API.md's clients know (its payload carries `fatal`; docs/resilience.md has them resume
      // on the non-fatal `server_shutdown`). Notices are rare (a failover, a shutdown): no cost.
      if (!p.fatal) room.emit('session:notice', { sessionId, code: p.code, message: p.message });
      room.emit('session:error', { sessionId, ...p });
    },
    level: (p) => room.volatile.emit('session:level', { sessionId, ...p }),
    ended: (p) => {
      room.emit('session:ended', { sessionId, transcriptionId, ...p });
      // An ended session's room would otherwise live as long as its sockets: one per session ever
      // started on a long-lived connection. Local too: the session may live on elsewhere (a hand-over,
      // or a zombie task ending its copy), and the sockets that follow it there must stay in its room.
      io.local.in(liveRoom(sessionId)).socketsLeave(liveRoom(sessionId));
    },
  };
}

/**
 * Socket.IO events of a live session (API.md): `session:start`, `audio:chunk`, `session:stop`,
 * `session:resume`. Every ack is `{ ok: true, … }` or `{ ok: false, error: { code, message } }`;
 * a malformed event or one without an ack callback never throws.
 */
export function registerDictationHandlers(
  io: AppServer,
  manager: SessionManager,
  logger: Logger,
  options: { metrics?: ServiceMetrics; audit?: AuditLog } = {},
): void {
  const { metrics, audit } = options;
  io.on('connection', (socket: AppSocket) => {
    const userId = socket.data.user.id;
    /**
     * An event naming another user's live session is answered like an unknown one
     * (`session_not_found`) and audited as denied. Unknown ids are not audited: after a restart
     * every resume names one.
     */
    const auditForeign = async (event: string, payload: unknown) => {
      const sessionId = payload !== null && typeof payload === 'object' ? (payload as { sessionId?: unknown }).sessionId : undefined;
      const foreign = audit && manager.foreign(userId, sessionId);
      if (!foreign) return;
      await audit.record({
        action: `live_session.${event.split(':')[1]}`,
        actorId: userId,
        actorUsername: socket.data.user.username,
        targetType: 'live_session',
        targetId: foreign.id,
        outcome: 'denied',
        ip: socket.data.clientIp,
        userAgent: socket.handshake.headers['user-agent'],
        details: { reason: 'not_owner', transcriptionId: foreign.transcriptionId },
      }).catch((err: unknown) => logger.error({ err: { message: (err as Error).message }, event }, 'audit_write_failed'));
    };
    /**
     * Recording start, stop and resume go into the audit log (who recorded what, when). A failed
     * audit write is logged and never fails the session: the audio matters more.
     */
    const auditRecording = (action: 'recording.start' | 'recording.stop' | 'recording.resume', transcriptionId: string, details: Record<string, unknown>) => {
      void audit
        ?.record({
          action,
          actorId: userId,
          actorUsername: socket.data.user.username,
          targetType: 'transcription',
          targetId: transcriptionId,
          outcome: 'success',
          ip: socket.data.clientIp,
          userAgent: socket.handshake.headers['user-agent'],
          details,
        })
        .catch((err: unknown) => logger.error({ err: { message: (err as Error).message }, action }, 'audit_write_failed'));
    };
    const guard = <T>(event: string, handler: (payload: unknown) => Promise<T>) => {
      return async (payload: unknown, ack?: unknown) => {
        const reply = typeof ack === 'function' ? (ack as Ack<T & object>) : () => {};
        try {
          const result = await handler(payload);
          reply({ ok: true, ...(result as T & object) });
        } catch (err) {
          const e = toAppError(err);
          metrics?.socketError(event, e.code);
          if (e.code === 'session_not_found') await auditForeign(event, payload);
          if (e.code === 'internal_error') logger.error({ err, event }, 'socket_event_failed');
          const body = errorAck(e);
          if (e.code === 'sequence_gap' && typeof e.options.details?.ackSeq === 'number') {
            reply({ ...body, ackSeq: e.options.details.ackSeq } as never);
          } else reply(body);
        }
      };
    };

    socket.on(
      'session:start',
      guard('session:start', async (payload) => {
        const started = await manager.start(userId, payload);
        await socket.join(liveRoom(started.sessionId));
        manager.attach(started.sessionId, socket.id);
        auditRecording('recording.start', started.transcriptionId, { sessionId: started.sessionId });
        return started;
      }),
    );

    socket.on(
      'audio:chunk',
      guard('audio:chunk', async (payload) => {
        const p = chunkSchema.safeParse(payload);
        if (!p.success) throw new AppError('invalid_payload', 'audio:chunk needs {sessionId, seq, data} with binary data.');
        const data = Buffer.isBuffer(p.data.data)
          ? p.data.data
          : p.data.data instanceof ArrayBuffer
            ? Buffer.from(p.data.data)
            : Buffer.from(p.data.data.buffer, p.data.data.byteOffset, p.data.data.byteLength);
        const session = manager.get(userId, p.data.sessionId);
        const received = performance.now();
        const ackSeq = await session.chunk(p.data.seq, data);
        metrics?.observeChunkAck(performance.now() - received);
        return withDurable(ackSeq, session.durableSeq);
      }),
    );

    socket.on(
      'session:stop',
      guard('session:stop', async (payload) => {
        const p = stopSchema.safeParse(payload);
        if (!p.success) throw new AppError('invalid_payload', 'session:stop needs {sessionId}.');
        const session = manager.get(userId, p.data.sessionId);
        const { durationMs } = await session.end('stopped');
        auditRecording('recording.stop', session.transcriptionId, { sessionId: session.id, durationMs });
        return { transcriptionId: session.transcriptionId, durationMs };
      }),
    );

    socket.on(
      'session:resume',
      guard('session:resume', async (payload) => {
        const p = resumeSchema.safeParse(payload);
        if (!p.success) throw new AppError('invalid_payload', 'session:resume needs {sessionId, lastSeq}.');
        const session = await manager.resume(userId, p.data.sessionId, socket.id);
        await socket.join(liveRoom(session.id));
        auditRecording('recording.resume', session.transcriptionId, { sessionId: session.id, ackSeq: session.ackSeq });
        return withDurable(session.ackSeq, session.durableSeq);
      }),
    );

    // Extension (docs/resilience.md): chunks the client could not keep are declared lost, so the
    // transcript and the recording mark them instead of a silent hole.
    socket.on(
      'audio:gap',
      guard('audio:gap', async (payload) => {
        const p = gapSchema.safeParse(payload);
        if (!p.success) throw new AppError('invalid_payload', 'audio:gap needs {sessionId, fromSeq, toSeq, durationMs}.');
        const session = manager.get(userId, p.data.sessionId);
        return withDurable(await session.gap(p.data.fromSeq, p.data.toSeq, p.data.durationMs), session.durableSeq);
      }),
    );

    // Extension (API.md): a page shows its user's other live sessions (another tab, a device left
    // behind, the per-user limit reached) so they can be stopped with `session:stop`.
    socket.on(
      'session:list',
      guard('session:list', async () => ({ sessions: manager.listOwn(userId) })),
    );

    socket.on('disconnect', () => manager.detach(socket.id));
  });
}

/**
 * Session hand-over between tasks (ECS stop sequence, DEPLOYMENT.md "Stopping a task"): this task
 * answers the others' requests for sessions it holds, and `request` asks the others for one.
 */
export function sessionHandoff(io: AppServer, logger: Logger): {
  serve(manager: SessionManager): void;
  request(userId: string, sessionId: string): Promise<boolean>;
} {
  return {
    serve(manager) {
      io.on('session:handoff', (req, ack) => {
        if (typeof req?.sessionId !== 'string' || typeof req.userId !== 'string' || typeof ack !== 'function') return;
        manager.handOff(req.userId, req.sessionId).then(ack, (err: unknown) => {
          logger.warn({ err: { message: (err as Error).message }, sessionId: req.sessionId }, 'session_handoff_failed');
          ack(false);
        });
      });
    },
    request(userId, sessionId) {
      return new Promise((resolve) => {
        // Answers come from every other task; one that does not answer within the adapter's 5 s
        // counts as "no" (a stored end takes well under that; the client retries the resume).
        io.serverSideEmit('session:handoff', { sessionId, userId }, (_err: Error | null, answers: boolean[]) => {
          resolve((answers ?? []).some(Boolean));
        });
      });
    },
  };
}
