import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { queryDb, startTestService, type TestService } from '../support/service.js';

let t: TestService;

beforeAll(async () => {
  t = await startTestService({ LOGIN_MAX_PER_USER: '3', LOGIN_MAX_PER_IP: '1000' });
});
afterAll(() => t?.close());

describe('POST /api/auth/login', () => {
  it('logs a user in with a hardened session cookie and returns the user', async () => {
    const user = await t.createUser('clinician');
    const http = t.client();
    const res = await http.post('/api/auth/login', { username: user.username, password: user.password });
    expect(res.status).toBe(200);
    expect(res.json).toEqual({ user: { id: user.id, username: user.username, role: 'clinician' } });
    const cookie = res.headers.getSetCookie().find((c) => c.startsWith('arogya.sid='));
    expect(cookie).toBeDefined();
    expect(cookie).toMatch(/HttpOnly/i);
    expect(cookie).toMatch(/SameSite=Lax/i);
    expect(cookie).toMatch(/Path=\//);
    expect(cookie).toMatch(/Expires=/); // idle expiry
    expect(cookie).not.toMatch(/Secure/); // plain HTTP in the test; Secure behind TLS (next test)
    const me = await http.get('/api/auth/me');
    expect(me.status).toBe(200);
    expect(me.json.user.username).toBe(user.username);
  });

  it('marks the cookie Secure when a trusted proxy says the request came over TLS', async () => {
    const user = await t.createUser('reviewer');
    const res = await t.client({ 'x-forwarded-proto': 'https' }).post('/api/auth/login', {
      username: user.username,
      password: user.password,
    });
    expect(res.status).toBe(200);
    expect(res.headers.getSetCookie().join()).toMatch(/Secure/);
  });

  it('accepts usernames case-insensitively', async () => {
    const user = await t.createUser('reviewer');
    const res = await t.client().post('/api/auth/login', { username: user.username.toUpperCase(), password: user.password });
    expect(res.status).toBe(200);
  });

  it('answers a wrong password and an unknown user with the same 401 body', async () => {
    const user = await t.createUser('clinician');
    const wrong = await t.client().post('/api/auth/login', { username: user.username, password: 'not-the-password' });
    const unknown = await t.client().post('/api/auth/login', { username: 'nobody-here', password: 'not-the-password' });
    expect(wrong.status).toBe(401);
    expect(unknown.status).toBe(401);
    expect(wrong.json).toEqual({ error: { code: 'invalid_credentials', message: expect.any(String) } });
    expect(unknown.json).toEqual(wrong.json);
    expect(wrong.headers.getSetCookie()).toEqual([]);
  });

  it('issues a new session id at login (no session fixation)', async () => {
    const user = await t.createUser('clinician');
    const http = t.client();
    await http.login(user.username, user.password);
    const first = http.cookies.get('arogya.sid');
    await http.login(user.username, user.password);
    const second = http.cookies.get('arogya.sid');
    expect(first).toBeDefined();
    expect(second).toBeDefined();
    expect(second).not.toBe(first);
    // The old id no longer authenticates.
    const stale = t.client();
    stale.cookies.set('arogya.sid', first!);
    expect((await stale.get('/api/auth/me')).status).toBe(401);
  });

  it('refuses a disabled user even with the right password', async () => {
    const user = await t.createUser('clinician');
    await queryDb(t.databaseUrl, 'UPDATE users SET disabled_at = now() WHERE id = $1', [user.id]);
    const res = await t.client().post('/api/auth/login', { username: user.username, password: user.password });
    expect(res.status).toBe(401);
    expect(res.json.error.code).toBe('invalid_credentials');
  });

  it('ends the sessions of a user disabled while logged in', async () => {
    const { http, user } = await t.loggedIn('reviewer');
    expect((await http.get('/api/auth/me')).status).toBe(200);
    await queryDb(t.databaseUrl, 'UPDATE users SET disabled_at = now() WHERE id = $1', [user.id]);
    expect((await http.get('/api/auth/me')).status).toBe(401);
  });

  it('rate-limits failed logins per username with 429 and Retry-After, even with the right password', async () => {
    const user = await t.createUser('clinician');
    for (let i = 0; i < 3; i++) {
      expect((await t.client().post('/api/auth/login', { username: user.username, password: 'wrong-password!' })).status).toBe(401);
    }
    const limited = await t.client().post('/api/auth/login', { username: user.username, password: user.password });
    expect(limited.status).toBe(429);
    expect(limited.json.error.code).toBe('rate_limited');
    expect(Number(limited.headers.get('retry-after'))).toBeGreaterThan(0);
  });

  it('writes login successes and failures to the audit log without the password', async () => {
    const user = await t.createUser('admin');
    await t.client().post('/api/auth/login', { username: user.username, password: 'definitely-wrong' });
    await t.client().login(user.username, user.password);
    const rows = await queryDb<{ action: string; outcome: string; details: unknown; ip: string }>(
      t.databaseUrl,
      "SELECT action, outcome, details, ip FROM audit_log WHERE actor_id = $1 AND action = 'login' ORDER BY id",
      [user.id],
    );
    expect(rows.map((r) => r.outcome)).toEqual(['failure', 'success']);
    expect(rows[0]!.ip).toBeTruthy();
    expect(JSON.stringify(rows)).not.toContain(user.password);
    expect(JSON.stringify(rows)).not.toContain('definitely-wrong');
  });
});

describe('per-IP login limit', () => {
  it('blocks an address that fails across many usernames', async () => {
    const s = await startTestService({ LOGIN_MAX_PER_IP: '4', LOGIN_MAX_PER_USER: '100', TRUST_PROXY: 'loopback' });
    try {
      const ip = { 'x-forwarded-for': '203.0.113.9' };
      for (let i = 0; i < 4; i++) {
        expect((await s.client(ip).post('/api/auth/login', { username: `user${i}`, password: 'x' })).status).toBe(401);
      }
      expect((await s.client(ip).post('/api/auth/login', { username: 'another', password: 'x' })).status).toBe(429);
      // Another address is unaffected.
      expect((await s.client({ 'x-forwarded-for': '203.0.113.10' }).post('/api/auth/login', { username: 'u', password: 'x' })).status).toBe(401);
    } finally {
      await s.close();
    }
  });
});

describe('POST /api/auth/logout and GET /api/auth/me', () => {
  it('logs out with 204 and the session stops working', async () => {
    const { http } = await t.loggedIn('clinician');
    const sid = http.cookies.get('arogya.sid');
    const out = await http.post('/api/auth/logout');
    expect(out.status).toBe(204);
    expect((await http.get('/api/auth/me')).status).toBe(401);
    const replay = t.client();
    replay.cookies.set('arogya.sid', sid!);
    expect((await replay.get('/api/auth/me')).status).toBe(401);
  });

  it('answers /me without a session with 401 unauthenticated', async () => {
    const res = await t.client().get('/api/auth/me');
    expect(res.status).toBe(401);
    expect(res.json).toEqual({ error: { code: 'unauthenticated', message: expect.any(String) } });
  });
});

describe('GET /api/settings', () => {
  it('gives a logged-in user the configured idle timeout the pages quote, and 401 without a session', async () => {
    const s = await startTestService({ IDLE_TIMEOUT_MS: '240000' });
    try {
      expect((await s.client().get('/api/settings')).status).toBe(401);
      const user = await s.createUser('clinician');
      const http = s.client();
      await http.login(user.username, user.password);
      const res = await http.get('/api/settings');
      expect(res.status).toBe(200);
      expect(res.json).toEqual({ idleTimeoutMs: 240_000 });
    } finally {
      await s.close();
    }
  });
});

describe('cross-site requests', () => {
  it('refuses a state-changing request from a foreign Origin', async () => {
    const { http } = await t.loggedIn('clinician');
    const res = await http.post('/api/auth/logout', undefined, { origin: 'https://evil.example' });
    expect(res.status).toBe(403);
    expect(res.json.error.code).toBe('origin_mismatch');
    expect((await http.get('/api/auth/me')).status).toBe(200);
  });

  it('accepts the same Origin the request was addressed to', async () => {
    const { http } = await t.loggedIn('clinician');
    const res = await http.post('/api/auth/logout', undefined, { origin: t.url.replace('127.0.0.1', '127.0.0.1') });
    expect(res.status).toBe(204);
  });

  it('refuses a login posted from a foreign Origin (login CSRF)', async () => {
    const user = await t.createUser('clinician');
    const res = await t.client({ origin: 'https://evil.example' }).post('/api/auth/login', {
      username: user.username,
      password: user.password,
    });
    expect(res.status).toBe(403);
  });
});

describe('bad input', () => {
  it.each([
    ['malformed JSON', '{"username": ', 400, 'invalid_json'],
    ['missing fields', '{}', 400, 'invalid_payload'],
    ['wrong types', '{"username": 5, "password": ["x"]}', 400, 'invalid_payload'],
    ['a JSON array', '[1,2,3]', 400, 'invalid_payload'],
    ['prototype keys', '{"__proto__": {"admin": true}, "constructor": {}}', 400, 'invalid_payload'],
    ['a huge body', JSON.stringify({ username: 'a', password: 'x'.repeat(200_000) }), 413, 'payload_too_large'],
  ])('answers %s with a clear error and no stack trace', async (_name, body, status, code) => {
    const res = await t.client().request('POST', '/api/auth/login', { body, headers: { 'content-type': 'application/json' } });
    expect(res.status).toBe(status);
    expect(res.json.error.code).toBe(code);
    expect(typeof res.json.error.message).toBe('string');
    expect(res.text).not.toMatch(/at .*\.(ts|js):\d+/);
    expect(res.text).not.toMatch(/node_modules/);
  });

  it('answers unknown API routes with a JSON 404', async () => {
    const res = await t.client().get('/api/does-not-exist');
    expect(res.status).toBe(404);
    expect(res.json).toEqual({ error: { code: 'not_found', message: expect.any(String) } });
  });

  it('keeps serving after bad input', async () => {
    expect((await t.client().get('/health')).status).toBe(200);
  });

  it('never logs passwords or cookies', async () => {
    const user = await t.createUser('clinician');
    const http = t.client();
    await http.login(user.username, user.password);
    await http.post('/api/auth/login', { username: user.username, password: 'a-wrong-secret-value' });
    const logged = t.logs.text();
    expect(logged).not.toContain(user.password);
    expect(logged).not.toContain('a-wrong-secret-value');
    expect(logged).not.toContain(http.cookies.get('arogya.sid')!);
  });
});

describe('security headers', () => {
  it('sends a strict CSP, no X-Powered-By and no-store on API responses', async () => {
    const res = await t.client().get('/api/auth/me');
    const csp = res.headers.get('content-security-policy') ?? '';
    expect(csp).toContain("default-src 'self'");
    expect(csp).toContain("script-src 'self'");
    expect(csp).toContain("frame-ancestors 'none'");
    expect(csp).not.toContain('unsafe-inline');
    expect(res.headers.get('x-powered-by')).toBeNull();
    expect(res.headers.get('cache-control')).toBe('no-store');
    expect(res.headers.get('strict-transport-security')).toMatch(/max-age=\d+/);
  });
});
