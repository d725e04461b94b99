/**
 * Socket.IO across tasks through @socket.io/postgres-adapter: two real services on one database.
 * A logout on task A disconnects the user's sockets on task B, and task A shutting down leaves
 * task B's sockets alone.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase } from '../support/db.js';
import { DictationClient } from '../support/dictation-client.js';
import { queryDb, startTestService, type TestService } from '../support/service.js';

const env = { SESSION_SECRET: 'one-secret-shared-by-both-test-tasks-0123456789' };
let db: Awaited<ReturnType<typeof createTestDatabase>>;
let a: TestService;
let b: TestService;
const clients: DictationClient[] = [];

beforeAll(async () => {
  db = await createTestDatabase();
  a = await startTestService(env, {}, { url: db.url });
  b = await startTestService(env, {}, { url: db.url });
});
afterAll(async () => {
  for (const c of clients) c.close();
  await b?.close();
  await a?.close();
  await db?.drop();
});

function socketTo(url: string, cookie: string): DictationClient {
  const c = new DictationClient(url, cookie);
  clients.push(c);
  return c;
}

describe('Socket.IO across tasks (PostgreSQL adapter)', () => {
  it('has the adapter attachments table from its migration', async () => {
    const rows = await queryDb<{ column_name: string }>(db.url, `SELECT column_name FROM information_schema.columns WHERE table_name = 'socket_io_attachments' ORDER BY column_name`);
    expect(rows.map((r) => r.column_name)).toEqual(['created_at', 'id', 'payload']);
  });

  it("disconnects a user's sockets on every task at logout, and one task's shutdown leaves the other's sockets connected", async () => {
    const { http, user } = await a.loggedIn('clinician');
    const onA = socketTo(a.url, http.cookieHeader);
    const onB = socketTo(b.url, http.cookieHeader);
    await Promise.all([onA.connected(), onB.connected()]);
    // Another user's socket on B must stay.
    const other = await b.loggedIn('clinician');
    const bystander = socketTo(b.url, other.http.cookieHeader);
    await bystander.connected();
    expect(user.id).not.toBe(other.user.id);

    const gone = (c: DictationClient) => new Promise<string>((r) => c.socket.once('disconnect', (reason: string) => r(reason)));
    const goneA = gone(onA);
    const goneB = gone(onB);
    expect((await http.post('/api/auth/logout', {})).status).toBe(204);
    expect(await goneA).toBe('io server disconnect');
    expect(await goneB).toBe('io server disconnect');
    expect(bystander.socket.connected).toBe(true);

    // A's sockets go with A; B's stay.
    const third = await a.loggedIn('clinician');
    const staysOnB = socketTo(b.url, third.http.cookieHeader);
    await staysOnB.connected();
    await a.service.close();
    await new Promise((r) => setTimeout(r, 500));
    expect(staysOnB.socket.connected).toBe(true);
    expect(bystander.socket.connected).toBe(true);
  });
});
