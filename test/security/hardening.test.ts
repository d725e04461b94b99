import fs from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config.js';
import { DictationClient, ok } from '../support/dictation-client.js';
import { runCli } from '../support/process.js';
import { queryDb, startTestService, type TestService } from '../support/service.js';
import { handshake, openSocket } from './support.js';

/** Smaller findings of the issue 19 attack (item 5), each with the test of its fix. */
let t: TestService;
beforeAll(async () => {
  t = await startTestService({ MAX_SOCKETS_PER_USER: '3', LOG_REPEAT_WINDOW_MS: '1500', MAX_ENGINE_STREAMS_PER_USER: '4' });
});
afterAll(() => t?.close());

describe('invalid_payload over HTTP', () => {
  it('names the fields at fault (not "The request URL is not valid.") and never echoes their values', async () => {
    const res = await t.client().post('/api/auth/login', { username: 12345, password: '' });
    expect(res.status).toBe(400);
    expect(res.json.error.code).toBe('invalid_payload');
    expect(res.json.error.message).toBe('Invalid or missing: username, password.');
    expect(res.json.error.fields).toEqual(['username', 'password']);
    const { http } = await t.loggedIn('admin');
    const bad = await http.post('/api/admin/users', { username: 'x', role: 'surgeon', password: 'long-enough-password' });
    expect(bad.json.error).toMatchObject({ code: 'invalid_payload', fields: ['role'] });
    expect(bad.text).not.toContain('surgeon');
  });
});

describe('titles', () => {
  it('loses its bidirectional control characters, so it cannot display reversed in lists and file names', async () => {
    const { http } = await t.loggedIn('clinician');
    const live = new DictationClient(t.url, http.cookieHeader);
    try {
      const started = ok(await live.start({ title: 'Consult \u202Efdp.exe\u2066 \u200Fnote\u2069', audio: { encoding: 'pcm_s16le', sampleRate: 16000 } }));
      const detail = await http.get(`/api/transcriptions/${started.transcriptionId}`);
      expect(detail.json.title).toBe('Consult fdp.exe note');
    } finally {
      live.close();
    }
  });
});

describe('socket audit rows', () => {
  it("record the client's address from the trusted proxy chain, not the proxy's", async () => {
    const { http, user } = await t.loggedIn('clinician');
    const live = new DictationClient(t.url, `${http.cookieHeader}`, { 'x-forwarded-for': '203.0.113.9, 127.0.0.1' });
    try {
      expect((await live.start()).ok).toBe(true);
      await expect
        .poll(async () => (await queryDb<{ ip: string }>(t.databaseUrl, `SELECT ip FROM audit_log WHERE action = 'recording.start' AND actor_id = $1`, [user.id])).map((r) => r.ip))
        .toEqual(['203.0.113.9']);
    } finally {
      live.close();
    }
  });
});

describe('sockets per user', () => {
  it('refuses a 4th socket of one user with too_many_connections while another user still connects', async () => {
    const { http } = await t.loggedIn('clinician');
    const opened = Array.from({ length: 3 }, () => openSocket(t.url, { cookie: http.cookieHeader }));
    try {
      for (const s of opened) expect(await handshake(s)).toEqual({ connected: true });
      const extra = openSocket(t.url, { cookie: http.cookieHeader });
      opened.push(extra);
      expect(await handshake(extra)).toEqual({ connected: false, message: 'too_many_connections' });
      const other = await t.loggedIn('clinician');
      const theirs = openSocket(t.url, { cookie: other.http.cookieHeader });
      opened.push(theirs);
      expect(await handshake(theirs)).toEqual({ connected: true });
      // A closed socket gives its place back.
      opened[0]!.disconnect();
      await expect.poll(async () => {
        const again = openSocket(t.url, { cookie: http.cookieHeader });
        opened.push(again);
        return (await handshake(again)).connected;
      }).toBe(true);
    } finally {
      for (const s of opened) s.disconnect();
    }
  });

  it('holds under a burst: 60 simultaneous handshakes on one cookie (websocket and polling) get exactly 3 sockets', async () => {
    const { http } = await t.loggedIn('clinician');
    const burst = Array.from({ length: 60 }, (_, i) => openSocket(t.url, { cookie: http.cookieHeader }, i % 2 ? ['polling'] : ['websocket'], 30_000));
    try {
      const outcomes = await Promise.all(burst.map(handshake));
      // (a generous handshake timeout: on a loaded machine 60 handshakes can take more than 5 s)
      expect(outcomes.filter((o) => o.connected)).toHaveLength(3);
      expect(outcomes.filter((o) => !o.connected)).toEqual(Array.from({ length: 57 }, () => ({ connected: false, message: 'too_many_connections' })));
    } finally {
      for (const s of burst) s.disconnect();
    }
  }, 60_000);
});

describe('a chunk for an ended session', () => {
  it('is answered session_ended (docs/errors.md), for the owner only: another user still gets session_not_found', async () => {
    const { http } = await t.loggedIn('clinician');
    const live = new DictationClient(t.url, http.cookieHeader);
    const other = await t.loggedIn('clinician');
    const theirs = new DictationClient(t.url, other.http.cookieHeader);
    try {
      expect((await live.start()).ok).toBe(true);
      expect((await live.chunk(0, Buffer.alloc(3200))).ok).toBe(true);
      expect((await live.stop()).ok).toBe(true);
      expect(await live.chunk(1, Buffer.alloc(3200))).toMatchObject({ ok: false, error: { code: 'session_ended' } });
      expect(await live.stop()).toMatchObject({ ok: false, error: { code: 'session_ended' } });
      await theirs.connected();
      // Whether someone else's session existed stays hidden.
      expect(await theirs.request('audio:chunk', { sessionId: live.sessionId, seq: 1, data: Buffer.alloc(3200) })).toMatchObject({ ok: false, error: { code: 'session_not_found' } });
    } finally {
      live.close();
      theirs.close();
    }
  });
});

describe('repeated warnings', () => {
  it('a burst of 1000 session starts on one account writes a refusal line and then one count per window, not 996 lines', async () => {
    const { http, user } = await t.loggedIn('clinician');
    const live = new DictationClient(t.url, http.cookieHeader);
    const refusals = () => t.logs.entries.filter((e) => e.msg === 'user_session_limit_reached' && e.userId === user.id);
    try {
      await live.connected();
      const began = Date.now();
      const acks = await Promise.all(Array.from({ length: 1000 }, () => live.request('session:start', { audio: { encoding: 'pcm_s16le', sampleRate: 16000 } }, 60_000)));
      const windows = Math.ceil((Date.now() - began) / 1500) + 1;
      const refused = acks.filter((a) => !a.ok && a.error.code === 'too_many_sessions').length;
      expect(refused).toBe(1000 - t.config.MAX_SESSIONS_PER_USER);
      // Every refusal is accounted for: a line of its own, or counted in a later line's `repeated`.
      const accounted = () => refusals().reduce((n, e) => n + (typeof e.repeated === 'number' ? e.repeated : 1), 0);
      await expect.poll(accounted, { timeout: 10_000 }).toBe(refused);
      // At most two lines per window (the first of the window, then its count).
      expect(refusals().length).toBeLessThanOrEqual(2 * windows);
      expect(refusals().length).toBeLessThan(20);
      expect(refusals().find((e) => e.repeated !== undefined)).toMatchObject({ level: 'warn', windowMs: 1500 });
      for (const a of acks) if (a.ok) expect((await live.request('session:stop', { sessionId: a.sessionId })).ok).toBe(true);
    } finally {
      live.close();
    }
  }, 60_000);
});

describe('weak passwords', () => {
  const weak = [
    ['12 spaces', ' '.repeat(12), /only spaces/],
    ['Unicode spaces', '\u00a0\u3000\t \u2003 \u00a0\u3000\t \u2003 ', /only spaces/],
    ['on the common list', 'Password1234', /common passwords/],
    ['on the common list', '1q2w3e4r5t6y', /common passwords/],
    ['on the common list', 'administrator', /common passwords/],
    ['a common one with digits and a symbol appended', 'iloveyou2024!', /common passwords/],
  ] as const;

  it.each(weak)('an admin creating another admin is refused a password %s (%j)', async (_what, password, message) => {
    const { http } = await t.loggedIn('admin');
    const res = await http.post('/api/admin/users', { username: `adm-${Math.random().toString(36).slice(2, 8)}`, role: 'admin', password });
    expect(res.status).toBe(400);
    expect(res.json.error).toMatchObject({ code: 'invalid_payload', message: expect.stringMatching(message) });
    expect(res.text).not.toContain(password.trim() || '\u0000');
  });

  it('an admin resetting their own password over the API, or the CLI adding an admin, is refused a common one', async () => {
    const { http, user } = await t.loggedIn('admin');
    const reset = await http.request('PATCH', `/api/admin/users/${user.id}`, { json: { password: 'qwertyuiop12' } });
    expect(reset.json.error).toMatchObject({ code: 'invalid_payload', message: expect.stringMatching(/common passwords/) });
    const cli = await runCli(['users', 'add', '--username', 'cli-admin-weak', '--role', 'admin', '--password-stdin'], { DATABASE_URL: t.databaseUrl, LOG_LEVEL: 'warn' }, 'password1234\n');
    expect(cli.code).not.toBe(0);
    expect(cli.stderr).toMatch(/common passwords/);
    expect(await queryDb(t.databaseUrl, 'SELECT 1 FROM users WHERE username = $1', ['cli-admin-weak'])).toHaveLength(0);
    // A long passphrase still passes.
    const ok = await http.request('PATCH', `/api/admin/users/${user.id}`, { json: { password: 'ward six night-shift ledger' } });
    expect(ok.status).toBe(200);
  }, 30_000);
});

describe('listening address', () => {
  it('is loopback by default, and the container image sets HOST=0.0.0.0 explicitly', () => {
    expect(loadConfig({}).HOST).toBe('127.0.0.1');
    const dockerfile = fs.readFileSync(new URL('../../Dockerfile', import.meta.url), 'utf8');
    const runtime = dockerfile.slice(dockerfile.lastIndexOf('\nFROM '));
    expect(runtime).toMatch(/^ENV [^\n]*(\\\n[^\n]*)*\bHOST=0\.0\.0\.0\b/m);
  });
});
