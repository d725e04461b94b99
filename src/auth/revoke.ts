import type { Pool } from '../db/pool.js';

/**
 * The Socket.IO postgres adapter's channel for the default namespace and its cluster message type
 * `DISCONNECT_SOCKETS` (socket.io-adapter `MessageType.DISCONNECT_SOCKETS = 6`): the message every
 * task's adapter already listens for when any task calls `io.in(room).disconnectSockets()`.
 * test/security/revoke.test.ts proves it against the real adapter, so an upgrade that changes the
 * wire format fails there rather than in an incident.
 */
const ADAPTER_CHANNEL = 'socket.io#/';
const DISCONNECT_SOCKETS = 6;

/** The room names of src/realtime/server.ts (kept here too: the domain must not import realtime/). */
const userRoom = (userId: string) => `user:${userId}`;
const httpSessionRoom = (sessionId: string) => `http-session:${sessionId}`;

/**
 * The one way to end a user's access after their password, role or enabled state changed, used by
 * the admin API and by the CLI (`users set-password | disable | set-role`):
 * 1. stamps `users.credentials_changed_at`, so a session created before it is refused everywhere
 *    even if its row survives (sessions carry the stamp they were created under);
 * 2. deletes the user's HTTP sessions (connect-pg-simple rows) except `exceptSessionId`;
 * 3. disconnects the user's sockets on EVERY task (sockets of `exceptSessionId` excepted) through the
 *    Socket.IO postgres adapter's own NOTIFY channel, which a CLI process can reach with nothing but
 *    the database: no extra listener per task, and the same path `io.in(room).disconnectSockets()`
 *    takes. Each task's periodic socket re-check (src/realtime/server.ts) backs it up if a
 *    notification is lost while a listener reconnects.
 * All three in one transaction: the NOTIFY is delivered only if the rest committed.
 *
 * @returns the new stamp, for a caller that keeps `exceptSessionId` alive (it must store it in
 *   that session, or the session would be refused at its next request).
 */
export async function revokeUserAccess(db: Pool, userId: string, options: { exceptSessionId?: string } = {}): Promise<Date> {
  const client = await db.connect();
  try {
    await client.query('BEGIN');
    const { rows } = await client.query<{ at: Date }>('UPDATE users SET credentials_changed_at = clock_timestamp() WHERE id = $1 RETURNING credentials_changed_at AS at', [userId]);
    await client.query(`DELETE FROM http_sessions WHERE sess->>'userId' = $1 AND sid <> $2`, [userId, options.exceptSessionId ?? '']);
    const message = {
      uid: `revoke-${process.pid}`,
      nsp: '/',
      type: DISCONNECT_SOCKETS,
      data: { opts: { rooms: [userRoom(userId)], except: options.exceptSessionId ? [httpSessionRoom(options.exceptSessionId)] : [] }, close: true },
    };
    await client.query('SELECT pg_notify($1, $2)', [ADAPTER_CHANNEL, JSON.stringify(message)]);
    await client.query('COMMIT');
    return rows[0]?.at ?? new Date();
  } catch (err) {
    await client.query('ROLLBACK').catch(() => {});
    throw err;
  } finally {
    client.release();
  }
}
