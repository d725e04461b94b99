import fs from 'node:fs';
import type { Socket } from 'socket.io-client';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { DictationClient, ok, pcmChunks } from '../support/dictation-client.js';
import type { HttpClient } from '../support/http.js';
import { seedTranscription } from '../support/seed.js';
import { queryDb, startTestService, type TestService } from '../support/service.js';
import { disconnected, fillPath, handshake, listRoutes, median, openSocket } from './support.js';

/**
 * Attack tests (SECURITY.md, "Attack tests"): each one is an attacker's move against the running
 * service with its real PostgreSQL, and the control that answers it.
 */
let t: TestService;
const sockets: Socket[] = [];
const clients: DictationClient[] = [];
const EVIL = 'https://evil.example';

beforeAll(async () => {
  t = await startTestService({ LOGIN_MAX_PER_USER: '5', LOGIN_MAX_PER_IP: '10000' });
});
afterEach(() => {
  for (const s of sockets.splice(0)) s.disconnect();
  for (const c of clients.splice(0)) c.close();
});
afterAll(() => t?.close());

function sock(headers: Record<string, string>, transports?: Array<'websocket' | 'polling'>): Socket {
  const s = openSocket(t.url, headers, transports);
  sockets.push(s);
  return s;
}

function dictation(http: HttpClient): DictationClient {
  const c = new DictationClient(t.url, http.cookieHeader);
  clients.push(c);
  return c;
}

const silence = (ms: number) => Buffer.alloc(Math.round((16000 * 2 * ms) / 1000));
const tone = (ms: number) => {
  const b = Buffer.alloc(Math.round((16000 * 2 * ms) / 1000));
  for (let i = 0; i < b.length / 2; i++) b.writeInt16LE(Math.round(8000 * Math.sin(i / 5)), i * 2);
  return b;
};

async function auditRows(where: string, params: unknown[]) {
  return queryDb<{ action: string; outcome: string; target_id: string | null; actor_id: string | null; details: Record<string, unknown> }>(
    t.databaseUrl,
    `SELECT action, outcome, target_id, actor_id, details FROM audit_log WHERE ${where} ORDER BY id`,
    params,
  );
}

describe('socket handshake attacks', () => {
  it('refuses a socket without a session, over both transports', async () => {
    expect(await handshake(sock({}))).toEqual({ connected: false, message: 'unauthorized' });
    expect(await handshake(sock({}, ['polling']))).toEqual({ connected: false, message: 'unauthorized' });
  });

  it('refuses a socket whose session has expired', async () => {
    const { http, user } = await t.loggedIn('clinician');
    expect(await handshake(sock({ cookie: http.cookieHeader }))).toEqual({ connected: true });
    await queryDb(t.databaseUrl, `UPDATE http_sessions SET expire = now() - interval '1 second' WHERE sess->>'userId' = $1`, [user.id]);
    expect(await handshake(sock({ cookie: http.cookieHeader }))).toEqual({ connected: false, message: 'unauthorized' });
  });

  it('refuses a socket whose session was logged out, and drops the one that was open', async () => {
    const { http } = await t.loggedIn('clinician');
    const cookie = http.cookieHeader;
    const open = sock({ cookie });
    expect(await handshake(open)).toEqual({ connected: true });
    const dropped = disconnected(open);
    expect((await http.post('/api/auth/logout')).status).toBe(204);
    expect(await dropped).toBe('io server disconnect');
    expect(await handshake(sock({ cookie }))).toEqual({ connected: false, message: 'unauthorized' });
  });

  it.each([['websocket'], ['polling']] as const)('refuses a valid session from a foreign Origin over %s', async (transport) => {
    const { http } = await t.loggedIn('clinician');
    const result = await handshake(sock({ cookie: http.cookieHeader, origin: EVIL }, [transport]));
    expect(result.connected).toBe(false);
    const nullOrigin = await handshake(sock({ cookie: http.cookieHeader, origin: 'null' }, [transport]));
    expect(nullOrigin.connected).toBe(false);
  });

  it('drops the open sockets of a user an admin disables, and of a user whose password an admin resets', async () => {
    const admin = await t.loggedIn('admin');
    const victim = await t.loggedIn('clinician');
    const reset = await t.loggedIn('clinician');
    const bystander = await t.loggedIn('clinician');
    const [a, b, c] = [sock({ cookie: victim.http.cookieHeader }), sock({ cookie: reset.http.cookieHeader }), sock({ cookie: bystander.http.cookieHeader })];
    for (const s of [a, b, c]) expect(await handshake(s)).toEqual({ connected: true });

    const goneA = disconnected(a, 60_000);
    expect((await admin.http.request('PATCH', `/api/admin/users/${victim.user.id}`, { json: { disabled: true } })).status).toBe(200);
    expect(await goneA).toBe('io server disconnect');

    const goneB = disconnected(b, 60_000); // the reset hashes a password first: seconds on a loaded machine
    expect((await admin.http.request('PATCH', `/api/admin/users/${reset.user.id}`, { json: { password: 'a-brand-new-password-1' } })).status).toBe(200);
    expect(await goneB).toBe('io server disconnect');
    expect(c.connected).toBe(true);
  }, 180_000);
});

describe('session fixation', () => {
  it('ignores a session id planted before login and issues a new one', async () => {
    const user = await t.createUser('clinician');
    const http = t.client();
    const planted = 's%3Aattacker-chosen-session-id.forged';
    http.cookies.set('arogya.sid', planted);
    // An anonymous request does not create (or adopt) a session.
    expect((await http.get('/api/auth/me')).status).toBe(401);
    await http.login(user.username, user.password);
    const issued = http.cookies.get('arogya.sid');
    expect(issued).toBeDefined();
    expect(issued).not.toBe(planted);
    const attacker = t.client();
    attacker.cookies.set('arogya.sid', planted);
    expect((await attacker.get('/api/auth/me')).status).toBe(401);
  });

  it('gives a logged-in user a different session id when they log in again', async () => {
    const { http, user } = await t.loggedIn('reviewer');
    const before = http.cookies.get('arogya.sid');
    await http.login(user.username, user.password);
    expect(http.cookies.get('arogya.sid')).not.toBe(before);
  });
});

describe('CSRF: every cookie-authenticated write refuses a foreign Origin', () => {
  it('finds the write routes from the router stack', () => {
    const writes = listRoutes(t.service.app.app).filter((r) => !['GET', 'HEAD', 'OPTIONS'].includes(r.method));
    // The routes this test knows today; a new one is covered by the next test automatically.
    expect(writes.map((r) => `${r.method} ${r.path}`)).toEqual(expect.arrayContaining(['POST /api/auth/login', 'POST /api/auth/logout', 'POST /api/admin/users', 'PATCH /api/admin/users/:id']));
  });

  it('answers each write route with 403 origin_mismatch from a foreign Origin, a null Origin or a cross-site fetch, and changes nothing', async () => {
    const admin = await t.loggedIn('admin');
    const target = await t.createUser('clinician');
    const writes = listRoutes(t.service.app.app).filter((r) => !['GET', 'HEAD', 'OPTIONS'].includes(r.method));
    expect(writes.length).toBeGreaterThanOrEqual(4);
    const before = await queryDb(t.databaseUrl, 'SELECT count(*)::int AS n FROM users');
    const forged: Array<Record<string, string>> = [{ origin: EVIL }, { origin: 'null' }, { origin: `${t.url}.evil.example` }, { 'sec-fetch-site': 'cross-site' }];
    for (const route of writes) {
      for (const headers of forged) {
        const path = fillPath(route.path, { id: target.id });
        const body = route.path.endsWith('/login')
          ? { username: admin.user.username, password: admin.user.password }
          : route.path.endsWith('/users/:id')
            ? { disabled: true }
            : { username: 'csrf-made-me', role: 'admin', password: 'csrf-password-long' };
        const res = await admin.http.request(route.method, path, { json: body, headers });
        expect(res.status, `${route.method} ${route.path} ${JSON.stringify(headers)}`).toBe(403);
        expect(res.json.error.code).toBe('origin_mismatch');
      }
    }
    expect(await queryDb(t.databaseUrl, 'SELECT count(*)::int AS n FROM users')).toEqual(before);
    expect(await queryDb(t.databaseUrl, 'SELECT disabled_at FROM users WHERE id = $1', [target.id])).toEqual([{ disabled_at: null }]);
    expect((await admin.http.get('/api/auth/me')).status).toBe(200); // the logout did not happen
  });
});

describe('horizontal access between clinicians', () => {
  let alice: Awaited<ReturnType<TestService['loggedIn']>>;
  let bob: Awaited<ReturnType<TestService['loggedIn']>>;
  let bobsId: string;

  beforeAll(async () => {
    [alice, bob] = await Promise.all([t.loggedIn('clinician'), t.loggedIn('clinician')]);
    bobsId = await seedTranscription(t.databaseUrl, {
      clinicianId: bob.user.id,
      title: 'Bob private consult',
      segments: [{ startMs: 0, endMs: 2000, text: 'confidential wording of bob' }],
      recording: { state: 'completed', contentType: 'audio/wav', bytes: 1000 },
    });
  });

  it.each([
    ['transcript', '', 'transcription.view'],
    ['audio', '/audio', 'transcription.playback'],
    ['export', '/export?format=txt', 'transcription.export'],
  ])("answers another clinician's %s with 404 and a denied audit row", async (_what, suffix, action) => {
    const res = await alice.http.get(`/api/transcriptions/${bobsId}${suffix}`);
    expect(res.status).toBe(404);
    expect(res.json.error.code).toBe('not_found');
    expect(res.text).not.toContain('confidential');
    const rows = await auditRows('actor_id = $1 AND target_id = $2 AND action = $3', [alice.user.id, bobsId, action]);
    expect(rows).toEqual([expect.objectContaining({ outcome: 'denied', details: { reason: 'not_visible' } })]);
  });

  it("leaves another clinician's transcriptions out of lists and searches", async () => {
    const list = await alice.http.get('/api/transcriptions');
    expect(list.json.items.map((i: { id: string }) => i.id)).not.toContain(bobsId);
    const search = await alice.http.get('/api/transcriptions?q=confidential');
    expect(search.json.items).toEqual([]);
    const filtered = await alice.http.get(`/api/transcriptions?clinician=${bob.user.id}`);
    expect(filtered.json.items).toEqual([]);
  });

  it("refuses resume, chunk and stop on another clinician's live session, audits each, and leaves it running", async () => {
    const owner = dictation(bob.http);
    const started = ok(await owner.start());
    expect((await owner.chunk(0, tone(200))).ok).toBe(true);

    const intruder = dictation(alice.http);
    await intruder.connected();
    const sessionId = started.sessionId as string;
    const attempts = [
      await intruder.request('session:resume', { sessionId, lastSeq: -1 }),
      await intruder.request('audio:chunk', { sessionId, seq: 1, data: silence(200) }),
      await intruder.request('audio:chunk', { sessionId, seq: 0, data: silence(200) }),
      await intruder.request('session:stop', { sessionId }),
    ];
    for (const a of attempts) expect(a).toEqual({ ok: false, error: { code: 'session_not_found', message: expect.any(String) } });
    // No event of Bob's session reaches Alice's socket.
    expect(intruder.received).toEqual({ partials: [], finals: [], errors: [], notices: [], ended: [] });

    const rows = await auditRows(`actor_id = $1 AND target_id = $2`, [alice.user.id, sessionId]);
    expect(rows.map((r) => [r.action, r.outcome])).toEqual([
      ['live_session.resume', 'denied'],
      ['live_session.chunk', 'denied'],
      ['live_session.chunk', 'denied'],
      ['live_session.stop', 'denied'],
    ]);
    expect(rows[0]!.details).toMatchObject({ reason: 'not_owner', transcriptionId: started.transcriptionId });

    // Bob's session is undisturbed: his next chunk is seq 1 and his stop works.
    expect(await owner.chunk(1, tone(200))).toMatchObject({ ok: true, ackSeq: 1 });
    const stopped = await owner.stop();
    expect(stopped).toMatchObject({ ok: true, transcriptionId: started.transcriptionId });
    expect(owner.received.ended).toHaveLength(1);
  });
});

describe('SQL injection in search and filters', () => {
  let alice: Awaited<ReturnType<TestService['loggedIn']>>;
  let admin: Awaited<ReturnType<TestService['loggedIn']>>;
  beforeAll(async () => {
    let bob: Awaited<ReturnType<TestService['loggedIn']>>;
    [alice, bob, admin] = await Promise.all([t.loggedIn('clinician'), t.loggedIn('clinician'), t.loggedIn('admin')]);
    await seedTranscription(t.databaseUrl, { clinicianId: bob.user.id, segments: [{ startMs: 0, endMs: 1000, text: 'one users password union select true' }] });
  });

  const INJECTIONS = [
    "' OR '1'='1",
    "'; DROP TABLE users; --",
    '") OR ("1"="1',
    "1' UNION SELECT username, password_hash FROM users --",
    "\\'; SELECT pg_sleep(5); --",
    '%27%20OR%201%3D1',
    "$1 OR true",
    'a:* | !b & (c',
  ];

  it.each(INJECTIONS)('treats %j in ?q= as search words: only the caller\'s rows, no error', async (injection) => {
    const res = await alice.http.get(`/api/transcriptions?q=${encodeURIComponent(injection)}`);
    expect(res.status).toBe(200);
    expect(res.json.items).toEqual([]);
    expect(res.text).not.toContain('scrypt$');
  });

  it('refuses injections in typed filters with 400 and answers free-text audit filters with no rows', async () => {
    const { http } = admin;
    for (const injection of INJECTIONS) {
      const q = encodeURIComponent(injection);
      for (const path of [`/api/transcriptions?clinician=${q}`, `/api/transcriptions?status=${q}`, `/api/transcriptions?from=${q}`, `/api/transcriptions?cursor=${q}`, `/api/admin/audit?action=${q}`, `/api/admin/audit?actor=${q}`]) {
        const res = await http.get(path);
        expect(res.status, path).toBe(400);
        expect(res.json.error.code).toBe('invalid_payload');
      }
      const free = await http.get(`/api/admin/audit?target=${q}`);
      expect(free.status).toBe(200);
      expect(free.json.items).toEqual([]);
    }
    expect(await queryDb(t.databaseUrl, 'SELECT count(*)::int AS n FROM users')).toEqual([{ n: expect.any(Number) }]);
  });

  it.each([
    ['search text', '/api/transcriptions?q=a%00b'],
    ['an audit filter', '/api/admin/audit?target=a%00b'],
    ['a transcription id', '/api/transcriptions/a%00b'],
    ['an export id', '/api/transcriptions/a%00b/export?format=txt'],
    ['an admin path', '/api/admin/users/a%00b'],
  ])('answers a NUL byte in %s with a 4xx error code, not a 500', async (_what, path) => {
    const res = await admin.http.get(path);
    expect(res.status).toBeGreaterThanOrEqual(400);
    expect(res.status).toBeLessThan(500);
    const asClinician = await alice.http.get(path);
    expect(asClinician.status).toBeGreaterThanOrEqual(400);
    expect(asClinician.status).toBeLessThan(500);
  });

  it('answers a NUL byte in a login username or a user to create with 4xx, not a 500', async () => {
    const login = await t.client().post('/api/auth/login', { username: 'adm\u0000in', password: 'whatever-password' });
    expect([400, 401]).toContain(login.status);
    const create = await admin.http.post('/api/admin/users', { username: 'x\u0000y', role: 'clinician', password: 'long-enough-password' });
    expect(create.status).toBe(400);
  });
});

describe('path traversal in ids and export formats', () => {
  let admin: Awaited<ReturnType<TestService['loggedIn']>>;
  beforeAll(async () => {
    admin = await t.loggedIn('admin');
  });
  const IDS = ['../../etc/passwd', '..%2f..%2fetc%2fpasswd', '%2e%2e%2f%2e%2e%2fetc%2fpasswd', '..\\..\\windows\\win.ini', '....//....//etc/passwd', '%252e%252e%252f'];

  it('answers traversal ids on every transcription route with 400/404 and never a file', async () => {
    const { http } = await t.loggedIn('admin');
    for (const id of IDS) {
      for (const suffix of ['', '/audio', '/export?format=txt']) {
        const res = await http.get(`/api/transcriptions/${id}${suffix}`);
        expect([400, 404], `${id}${suffix}`).toContain(res.status);
        expect(res.text).not.toMatch(/root:x:0:0|\[fonts\]|"dependencies"/);
        expect(res.headers.get('content-type') ?? '').toMatch(/application\/json/);
      }
    }
  });

  it('answers traversal in the export format with 400 invalid_payload', async () => {
    const { http, user } = await t.loggedIn('clinician');
    const id = await seedTranscription(t.databaseUrl, { clinicianId: user.id, segments: [{ startMs: 0, endMs: 1000, text: 'hello' }] });
    for (const format of ['../../x', '..%2f..%2fpackage.json', 'txt/../../../etc/passwd', '%00txt', 'TXT', 'txt%00.json']) {
      const res = await http.get(`/api/transcriptions/${id}/export?format=${format}`);
      expect(res.status, format).toBe(400);
      expect(res.json.error.code).toBe('invalid_payload');
      expect(res.headers.get('content-disposition')).toBeNull();
    }
  });

  it.each(['/api/transcriptions/%zz', '/api/transcriptions/%E0%A4%A/export?format=txt', '/api/admin/users/%'])(
    'answers the malformed percent-encoding in %s with 400 invalid_payload, not a 500',
    async (path) => {
      const res = path.startsWith('/api/admin') ? await admin.http.request('PATCH', path, { json: { disabled: true } }) : await admin.http.get(path);
      expect(res.status).toBe(400);
      expect(res.json.error.code).toBe('invalid_payload');
    },
  );

  it.each(['/%zz', '/vendor/%c0%ae%c0%ae/package.json', '/%c0%ae%c0%ae/package.json'])('answers the malformed static path %s with a JSON 404', async (path) => {
    const res = await admin.http.get(path);
    expect(res.status).toBe(404);
    expect(res.json.error.code).toBe('not_found');
  });

  it('serves no file outside public/ and vendor/', async () => {
    const secret = fs.readFileSync(`${t.dataDir}/session-secret`, 'utf8').trim();
    for (const path of ['/../package.json', '/%2e%2e/package.json', '/%2e%2e%2fpackage.json', '/vendor/..%2f..%2fpackage.json', '/vendor/%2e%2e/%2e%2e/%2e%2e/package.json', '/..%5c..%5cpackage.json', '/.env', '/.git/config', `/..%2f..%2f..${t.dataDir}/session-secret`]) {
      const res = await fetch(`${t.url}${path}`);
      const text = await res.text();
      expect(res.status, path).toBeGreaterThanOrEqual(400);
      expect(text).not.toContain('"dependencies"');
      expect(text).not.toContain(secret);
    }
  });
});

describe('brute-force login', () => {
  it('locks a username after 5 failures (429 even with the right password), whatever the source of the guesses', async () => {
    const user = await t.createUser('clinician');
    for (let i = 0; i < 5; i++) {
      const res = await t.client().post('/api/auth/login', { username: user.username, password: `guess-number-${i}` });
      expect(res.status).toBe(401);
    }
    const locked = await t.client().post('/api/auth/login', { username: user.username.toUpperCase(), password: user.password });
    expect(locked.status).toBe(429);
    expect(locked.json.error.code).toBe('rate_limited');
    expect(Number(locked.headers.get('retry-after'))).toBeGreaterThan(0);
    expect(locked.headers.getSetCookie()).toEqual([]);
    const rows = await auditRows(`action = 'login' AND outcome = 'denied' AND details->>'reason' = 'rate_limited' AND at > now() - interval '1 minute'`, []);
    expect(rows.length).toBeGreaterThan(0);
  });

  it('gives an unknown username, a wrong password and a disabled account the same status and body', async () => {
    const [exists, disabled] = await Promise.all([t.createUser('clinician'), t.createUser('clinician')]);
    await queryDb(t.databaseUrl, 'UPDATE users SET disabled_at = now() WHERE id = $1', [disabled.id]);
    const bodies = await Promise.all([
      t.client().post('/api/auth/login', { username: exists.username, password: 'wrong-password-here' }),
      t.client().post('/api/auth/login', { username: 'no-such-user-zz', password: 'wrong-password-here' }),
      t.client().post('/api/auth/login', { username: disabled.username, password: disabled.password }),
    ]);
    expect(new Set(bodies.map((b) => `${b.status} ${b.text}`)).size).toBe(1);
    expect(bodies[0]!.status).toBe(401);
  });

  it('takes as long for an unknown username as for a wrong password (median within 0.5x-2x)', async () => {
    const users = await Promise.all(Array.from({ length: 5 }, () => t.createUser('clinician')));
    const time = async (username: string) => {
      const started = performance.now();
      const res = await t.client().post('/api/auth/login', { username, password: 'not-the-password' });
      expect(res.status).toBe(401);
      return performance.now() - started;
    };
    const known: number[] = [];
    const unknown: number[] = [];
    for (let i = 0; i < users.length; i++) {
      known.push(await time(users[i]!.username));
      unknown.push(await time(`ghost-${i}-${Date.now()}`));
    }
    const ratio = median(unknown) / median(known);
    expect(ratio).toBeGreaterThan(0.5);
    expect(ratio).toBeLessThan(2);
  });
});
