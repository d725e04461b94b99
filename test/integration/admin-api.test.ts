import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { HttpClient } from '../support/http.js';
import { queryDb, startTestService, type TestService } from '../support/service.js';

let t: TestService;
let admin: { http: HttpClient; user: { id: string; username: string; password: string } };

beforeAll(async () => {
  t = await startTestService();
  admin = await t.loggedIn('admin');
});
afterAll(() => t?.close());

const patch = (http: HttpClient, id: string, json: unknown) => http.request('PATCH', `/api/admin/users/${id}`, { json });

describe('admin API access', () => {
  it('refuses clinicians and reviewers with 403 and audits the attempt; 401 without a session', async () => {
    for (const role of ['clinician', 'reviewer'] as const) {
      const { http, user } = await t.loggedIn(role);
      expect((await http.get('/api/admin/users')).status).toBe(403);
      expect((await http.get('/api/admin/audit')).status).toBe(403);
      expect((await http.post('/api/admin/users', { username: 'sneaky-one', role: 'admin', password: 'a-long-password-1' })).status).toBe(403);
      const rows = await queryDb<{ action: string; outcome: string }>(
        t.databaseUrl,
        `SELECT action, outcome FROM audit_log WHERE actor_id = $1 AND action = 'admin.access'`,
        [user.id],
      );
      expect(rows).toHaveLength(3);
      expect(rows.every((r) => r.outcome === 'denied')).toBe(true);
    }
    expect((await t.client().get('/api/admin/users')).status).toBe(401);
    expect(await queryDb(t.databaseUrl, `SELECT 1 FROM users WHERE username = 'sneaky-one'`)).toHaveLength(0);
  });
});

describe('user management', () => {
  it('creates a user who can then log in; a taken username is 409 and bad input 400', async () => {
    const res = await admin.http.post('/api/admin/users', { username: 'Dr.Rao', role: 'clinician', password: 'correct-horse-battery' });
    expect(res.status).toBe(201);
    expect(res.json.user).toEqual({ id: expect.any(String), username: 'dr.rao', role: 'clinician', disabled: false, createdAt: expect.any(String) });
    const rao = t.client();
    expect((await rao.login('dr.rao', 'correct-horse-battery')).role).toBe('clinician');
    expect((await admin.http.post('/api/admin/users', { username: 'dr.rao', role: 'reviewer', password: 'correct-horse-battery' })).json.error.code).toBe('username_taken');
    for (const body of [{ username: 'x', role: 'clinician', password: 'correct-horse-battery' }, { username: 'ok-name', role: 'root', password: 'correct-horse-battery' }, { username: 'ok-name', role: 'clinician', password: 'short' }]) {
      const bad = await admin.http.post('/api/admin/users', body);
      expect(bad.status).toBe(400);
      expect(bad.json.error.code).toBe('invalid_payload');
    }
    const list = await admin.http.get('/api/admin/users');
    expect(list.json.items.map((u: { username: string }) => u.username)).toContain('dr.rao');
    expect(JSON.stringify(list.json)).not.toMatch(/password|scrypt/);
  });

  it('changes a role, which ends the user\'s sessions (issue 19: one revoke path); the next login has the new role', async () => {
    const { http, user } = await t.loggedIn('clinician');
    const res = await patch(admin.http, user.id, { role: 'reviewer' });
    expect(res.status).toBe(200);
    expect(res.json.user.role).toBe('reviewer');
    expect((await http.get('/api/auth/me')).status).toBe(401);
    await http.login(user.username, user.password);
    expect((await http.get('/api/auth/me')).json.user.role).toBe('reviewer');
  });

  it('disables and re-enables a user: their session ends and login is refused meanwhile', async () => {
    const { http, user } = await t.loggedIn('reviewer');
    expect((await patch(admin.http, user.id, { disabled: true })).json.user.disabled).toBe(true);
    expect((await http.get('/api/transcriptions')).status).toBe(401);
    expect((await t.client().post('/api/auth/login', { username: user.username, password: user.password })).status).toBe(401);
    expect((await patch(admin.http, user.id, { disabled: false })).json.user.disabled).toBe(false);
    await t.client().login(user.username, user.password);
  });

  it("resets a password: the old one stops working and the user's existing sessions end", async () => {
    const { http, user } = await t.loggedIn('clinician');
    expect((await patch(admin.http, user.id, { password: 'a-brand-new-password' })).status).toBe(200);
    expect((await http.get('/api/auth/me')).status).toBe(401);
    expect((await t.client().post('/api/auth/login', { username: user.username, password: user.password })).status).toBe(401);
    await t.client().login(user.username, 'a-brand-new-password');
  });

  it('will not let an admin demote or disable themselves, and 404s unknown users', async () => {
    expect((await patch(admin.http, admin.user.id, { role: 'clinician' })).json.error.code).toBe('conflict');
    expect((await patch(admin.http, admin.user.id, { disabled: true })).status).toBe(409);
    expect((await admin.http.get('/api/auth/me')).json.user.role).toBe('admin');
    expect((await patch(admin.http, '00000000-0000-4000-8000-000000000000', { disabled: true })).status).toBe(404);
    expect((await patch(admin.http, admin.user.id, {})).status).toBe(400);
    expect((await patch(admin.http, admin.user.id, { role: 'admin', extra: 1 })).status).toBe(400);
  });
});

describe('GET /api/admin/audit', () => {
  it('shows logins, failed logins and user changes with who, when and where, filtered and paged', async () => {
    const target = await t.createUser('clinician');
    await t.client().post('/api/auth/login', { username: target.username, password: 'wrong-password-here' });
    await t.client().login(target.username, target.password);
    await patch(admin.http, target.id, { role: 'reviewer' });

    const all = await admin.http.get('/api/admin/audit?limit=100');
    expect(all.status).toBe(200);
    const actions = all.json.items.map((r: { action: string; outcome: string }) => `${r.action}:${r.outcome}`);
    expect(actions.slice(0, 3)).toEqual(['user.update:success', 'login:success', 'login:failure']);
    expect(all.json.items[0]).toMatchObject({
      actorId: admin.user.id,
      actorUsername: admin.user.username,
      targetType: 'user',
      targetId: target.id,
      details: { username: target.username, role: { from: 'clinician', to: 'reviewer' } },
      ip: expect.stringMatching(/127\.0\.0\.1/),
      at: expect.stringMatching(/^\d{4}-\d\d-\d\dT/),
    });

    const failures = await admin.http.get('/api/admin/audit?action=login&outcome=failure');
    expect(failures.json.items.length).toBeGreaterThanOrEqual(1);
    expect(failures.json.items.every((r: { action: string; outcome: string }) => r.action === 'login' && r.outcome === 'failure')).toBe(true);
    const byTarget = await admin.http.get(`/api/admin/audit?target=${target.id}`);
    expect(byTarget.json.items.map((r: { action: string }) => r.action)).toEqual(['user.update']);

    // Pages of 2 add up to the whole log, newest first, without repeats.
    const seen: string[] = [];
    let cursor: string | null = null;
    do {
      const res: Awaited<ReturnType<HttpClient['get']>> = await admin.http.get(`/api/admin/audit?limit=2${cursor ? `&cursor=${cursor}` : ''}`);
      seen.push(...res.json.items.map((r: { id: string }) => r.id));
      cursor = res.json.nextCursor;
    } while (cursor && seen.length < 1000);
    const ids = seen.map(Number);
    expect(new Set(ids).size).toBe(ids.length);
    expect([...ids].sort((a, b) => b - a)).toEqual(ids);
    expect(ids.length).toBeGreaterThanOrEqual(all.json.items.length);

    expect((await admin.http.get('/api/admin/audit?cursor=nope!')).status).toBe(400);
    expect((await admin.http.get('/api/admin/audit?outcome=maybe')).status).toBe(400);
  });

  it('never records passwords', async () => {
    const rows = await queryDb<{ details: unknown }>(t.databaseUrl, 'SELECT details FROM audit_log');
    expect(JSON.stringify(rows)).not.toMatch(/correct-horse|a-brand-new-password|wrong-password-here/);
  });
});
