import fs from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config.js';
import { DictationClient } from '../support/dictation-client.js';
import { queryDb, startTestService, type TestService } from '../support/service.js';
import { handshake, openSocket } from './support.js';

/** Smaller findings of the issue 19 attack (item 5), each with the test of its fix. */
let t: TestService;
beforeAll(async () => {
  t = await startTestService({ MAX_SOCKETS_PER_USER: '3', LOG_REPEAT_WINDOW_MS: '1500' });
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
      const started = await live.start({ title: 'Consult \u202Efdp.exe\u2066 \u200Fnote\u2069', audio: { encoding: 'pcm_s16le', sampleRate: 16000 } });
      expect(started.ok).toBe(true);
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
    const burst = Array.from({ length: 60 }, (_, i) => openSocket(t.url, { cookie: http.cookieHeader }, i % 2 ? ['polling'] : ['websocket']));
    try {
      const outcomes = await Promise.all(burst.map(handshake));
      expect(outcomes.filter((o) => o.connected)).toHaveLength(3);
      expect(outcomes.filter((o) => !o.connected)).toEqual(Array.from({ length: 57 }, () => ({ connected: false, message: 'too_many_connections' })));
    } finally {
      for (const s of burst) s.disconnect();
    }
  });
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
      const refused = acks.filter((a) => a.error?.code === 'too_many_sessions').length;
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

describe('listening address', () => {
  it('is loopback by default, and the container image sets HOST=0.0.0.0 explicitly', () => {
    expect(loadConfig({}).HOST).toBe('127.0.0.1');
    const dockerfile = fs.readFileSync(new URL('../../Dockerfile', import.meta.url), 'utf8');
    const runtime = dockerfile.slice(dockerfile.lastIndexOf('\nFROM '));
    expect(runtime).toMatch(/^ENV [^\n]*(\\\n[^\n]*)*\bHOST=0\.0\.0\.0\b/m);
  });
});
