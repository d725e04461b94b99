import type { Socket } from 'socket.io-client';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase } from '../support/db.js';
import { HttpClient } from '../support/http.js';
import { runCli } from '../support/process.js';
import { queryDb, startTestService, type TestService } from '../support/service.js';
import { disconnected, handshake, openSocket } from './support.js';

/**
 * Attack tests (issue 19, item 3): a password reset, a disable or a role change from the operator's
 * CLI ends the user's web sessions and sockets on every task. Two service instances (two tasks: each
 * its own pool, Socket.IO server and adapter listener) share one database; the CLI runs as its own
 * OS process (bin/arogya-live.js) that reaches them only through PostgreSQL.
 */
const SECRET = 'one-secret-shared-by-both-test-tasks-0123456789';
let db: Awaited<ReturnType<typeof createTestDatabase>>;
let a: TestService;
let b: TestService;
const sockets: Socket[] = [];

beforeAll(async () => {
  db = await createTestDatabase();
  // Task A re-checks its sockets often (the sweep test); task B almost never, so a socket dropped
  // on B was dropped by the revocation's notification, not by B's own sweep.
  a = await startTestService({ SESSION_SECRET: SECRET, SOCKET_SESSION_CHECK_MS: '300' }, {}, { url: db.url });
  b = await startTestService({ SESSION_SECRET: SECRET, SOCKET_SESSION_CHECK_MS: '3600000' }, {}, { url: db.url });
});
afterEach(() => {
  for (const s of sockets.splice(0)) s.disconnect();
});
afterAll(async () => {
  await b?.close();
  await a?.close();
  await db?.drop();
});

function sock(t: TestService, cookie: string): Socket {
  const s = openSocket(t.url, { cookie });
  sockets.push(s);
  return s;
}

const cli = (args: string[], stdin = '') => runCli(['users', ...args], { DATABASE_URL: db.url, LOG_LEVEL: 'warn' }, stdin);

/** A user logged in once; the same cookie used against both tasks, with a socket open on each. */
async function victim() {
  const user = await a.createUser('clinician');
  const http = new HttpClient(a.url);
  await http.login(user.username, user.password);
  const onB = new HttpClient(b.url);
  onB.cookies.set('arogya.sid', http.cookies.get('arogya.sid')!);
  expect((await onB.get('/api/auth/me')).status).toBe(200);
  const [sa, sb] = [sock(a, http.cookieHeader), sock(b, http.cookieHeader)];
  expect(await handshake(sa)).toEqual({ connected: true });
  expect(await handshake(sb)).toEqual({ connected: true });
  return { user, http, onB, sa, sb };
}

describe('revocation from the CLI reaches every task', { timeout: 240_000 }, () => {
  it.each([
    ['set-password', (u: string) => ['set-password', '--username', u, '--password-stdin'], 'a-brand-new-password-42\n'],
    ['disable', (u: string) => ['disable', '--username', u], ''],
    ['set-role', (u: string) => ['set-role', '--username', u, '--role', 'reviewer'], ''],
  ])('users %s: the old cookie gets 401 on both tasks and the sockets on both are disconnected', async (_cmd, args, stdin) => {
    const v = await victim();
    // The CLI is a fresh node process compiling TypeScript: tens of seconds on a loaded machine.
    const [goneA, goneB] = [disconnected(v.sa, 150_000), disconnected(v.sb, 150_000)];
    const res = await cli(args(v.user.username), stdin);
    expect(res.code, res.stderr).toBe(0);
    expect(await goneB).toBe('io server disconnect');
    expect(await goneA).toBe('io server disconnect');
    expect((await v.http.get('/api/auth/me')).status).toBe(401);
    expect((await v.onB.get('/api/auth/me')).status).toBe(401);
    expect(await handshake(sock(b, v.http.cookieHeader))).toEqual({ connected: false, message: 'unauthorized' });
  });

  it('refuses a session created before a password reset even if its row survived the revocation', async () => {
    const v = await victim();
    const [row] = await queryDb<{ sid: string; sess: unknown; expire: Date }>(db.url, `SELECT sid, sess, expire FROM http_sessions WHERE sess->>'userId' = $1`, [v.user.id]);
    expect((await cli(['set-password', '--username', v.user.username, '--password-stdin'], 'another-new-password-77\n')).code).toBe(0);
    // Put the stolen session back, as a restore or a racing write could.
    await queryDb(db.url, 'INSERT INTO http_sessions (sid, sess, expire) VALUES ($1, $2, $3)', [row!.sid, JSON.stringify(row!.sess), row!.expire]);
    expect((await v.http.get('/api/auth/me')).status).toBe(401);
    expect(await handshake(sock(a, v.http.cookieHeader))).toEqual({ connected: false, message: 'unauthorized' });
    // The owner, logging in with the new password, is unaffected.
    const fresh = new HttpClient(a.url);
    await fresh.login(v.user.username, 'another-new-password-77');
    expect((await fresh.get('/api/auth/me')).status).toBe(200);
  });

  it("an admin resetting another user's password over the API takes the same path: their sockets on the other task drop, the admin's session stays", async () => {
    const admin = await a.loggedIn('admin');
    const v = await victim();
    const goneB = disconnected(v.sb, 20_000);
    expect((await admin.http.request('PATCH', `/api/admin/users/${v.user.id}`, { json: { password: 'admin-chosen-password-9' } })).status).toBe(200);
    expect(await goneB).toBe('io server disconnect');
    expect((await v.onB.get('/api/auth/me')).status).toBe(401);
    expect((await admin.http.get('/api/auth/me')).status).toBe(200);
  });

  it('an admin who resets their own password keeps the session they did it from', async () => {
    const admin = await a.loggedIn('admin');
    expect((await admin.http.request('PATCH', `/api/admin/users/${admin.user.id}`, { json: { password: 'my-own-new-password-5' } })).status).toBe(200);
    expect((await admin.http.get('/api/auth/me')).status).toBe(200);
  });
});

describe('sockets and the web session they came from', () => {
  it('disconnects an open socket once its web session has expired (the periodic re-check)', async () => {
    const { http, user } = await a.loggedIn('clinician');
    const s = sock(a, http.cookieHeader);
    expect(await handshake(s)).toEqual({ connected: true });
    const gone = disconnected(s, 20_000);
    await queryDb(db.url, `UPDATE http_sessions SET expire = now() - interval '1 second' WHERE sess->>'userId' = $1`, [user.id]);
    expect(await gone).toBe('io server disconnect');
  });

  it('refuses session:start on a socket whose web session has expired, and disconnects it', async () => {
    const { http, user } = await b.loggedIn('clinician');
    const s = sock(b, http.cookieHeader);
    expect(await handshake(s)).toEqual({ connected: true });
    await queryDb(db.url, `UPDATE http_sessions SET expire = now() - interval '1 second' WHERE sess->>'userId' = $1`, [user.id]);
    const gone = disconnected(s, 20_000);
    const ack = await s.timeout(10_000).emitWithAck('session:start', { audio: { encoding: 'pcm_s16le' } });
    expect(ack).toEqual({ ok: false, error: { code: 'unauthorized', message: expect.any(String) } });
    expect(await gone).toBe('io server disconnect');
  });

  it('ends a session past SESSION_MAX_AGE_MS after its login however active it is', async () => {
    const { http, user } = await a.loggedIn('clinician');
    expect((await http.get('/api/auth/me')).status).toBe(200);
    const age = a.config.SESSION_MAX_AGE_MS + 60_000;
    await queryDb(db.url, `UPDATE http_sessions SET sess = jsonb_set(sess::jsonb, '{loginAt}', to_jsonb($2::bigint))::json WHERE sess->>'userId' = $1`, [user.id, Date.now() - age]);
    expect((await http.get('/api/auth/me')).status).toBe(401);
  });
});
