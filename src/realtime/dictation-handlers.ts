import type { AuditLog } from '../audit/audit-log.js';
import type { SessionManager } from '../dictation/session-manager.js';
import type { SessionSink } from '../dictation/types.js';
import { errorAck, toAppError } from '../lib/app-error.js';
import type { Logger } from '../lib/logger.js';
import { errFields } from '../lib/logger.js';
import type { ServiceMetrics } from '../metrics/metrics.js';
import type { AckResult, ClientToServerEvents, EventName } from './events.js';
import { parsePayload, type ParsedPayloads } from './payloads.js';
import type { AppServer, AppSocket } from './server.js';

/** The room a live session's events go to; its sockets (first and resumed) join it. */
export const liveRoom = (sessionId: string) => `live:${sessionId}`;

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
      }).catch((err: unknown) => logger.error({ err: errFields(err), event }, 'audit_write_failed'));
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
        .catch((err: unknown) => logger.error({ err: errFields(err), action }, 'audit_write_failed'));
    };
    /**
     * The listener of `event`: parses the payload (src/realtime/payloads.ts), runs `handler` on the
     * typed result and acks what it returns, or the failure. Typed by the event map, so a handler
     * whose result drifts from the ack type does not compile.
     */
    const on = <E extends EventName>(event: E, handler: (payload: ParsedPayloads[E]) => Promise<AckResult<E>>): ClientToServerEvents[E] => {
      // Whatever the map says, both come from the network: the payload may be anything and the ack
      // missing (`socket.emit(event, payload)` without a callback).
      return async (raw: unknown, ack?: unknown) => {
        const reply = typeof ack === 'function' ? (ack as (response: object) => void) : () => {};
        try {
          const result = await handler(parsePayload[event](raw));
          reply({ ok: true, ...result });
        } catch (err) {
          const e = toAppError(err);
          metrics?.socketError(event, e.code);
          if (e.code === 'session_not_found') await auditForeign(event, raw);
          if (e.code === 'internal_error') logger.error({ err, event }, 'socket_event_failed');
          const body = errorAck(e);
          const ackSeq = e.code === 'sequence_gap' ? e.options.details?.ackSeq : undefined;
          reply(typeof ackSeq === 'number' ? { ...body, ackSeq } : body);
        }
      };
    };

    socket.on(
      'session:start',
      on('session:start', async (req) => {
        const started = await manager.start(userId, req);
        await socket.join(liveRoom(started.sessionId));
        manager.attach(started.sessionId, socket.id);
        auditRecording('recording.start', started.transcriptionId, { sessionId: started.sessionId });
        return started;
      }),
    );

    socket.on(
      'audio:chunk',
      on('audio:chunk', async (p) => {
        const session = manager.get(userId, p.sessionId);
        const received = performance.now();
        const ackSeq = await session.chunk(p.seq, p.data);
        metrics?.observeChunkAck(performance.now() - received);
        return withDurable(ackSeq, session.durableSeq);
      }),
    );

    socket.on(
      'session:stop',
      on('session:stop', async (p) => {
        const session = manager.get(userId, p.sessionId);
        const { durationMs } = await session.end('stopped');
        auditRecording('recording.stop', session.transcriptionId, { sessionId: session.id, durationMs });
        return { transcriptionId: session.transcriptionId, durationMs };
      }),
    );

    socket.on(
      'session:resume',
      on('session:resume', async (p) => {
        const session = await manager.resume(userId, p.sessionId, socket.id);
        await socket.join(liveRoom(session.id));
        auditRecording('recording.resume', session.transcriptionId, { sessionId: session.id, ackSeq: session.ackSeq });
        return withDurable(session.ackSeq, session.durableSeq);
      }),
    );

    // Extension (docs/resilience.md): chunks the client could not keep are declared lost, so the
    // transcript and the recording mark them instead of a silent hole.
    socket.on(
      'audio:gap',
      on('audio:gap', async (p) => {
        const session = manager.get(userId, p.sessionId);
        return withDurable(await session.gap(p.fromSeq, p.toSeq, p.durationMs), session.durableSeq);
      }),
    );

    // Extension (API.md): a page shows its user's other live sessions (another tab, a device left
    // behind, the per-user limit reached) so they can be stopped with `session:stop`.
    socket.on(
      'session:list',
      on('session:list', async () => ({ sessions: manager.listOwn(userId) })),
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
          logger.warn({ err: errFields(err), sessionId: req.sessionId }, 'session_handoff_failed');
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
