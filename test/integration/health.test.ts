import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase } from '../support/db.js';
import { startTestService, type TestService } from '../support/service.js';
import { TcpProxy } from '../support/tcp-proxy.js';

describe('GET /health', () => {
  let t: TestService;
  beforeAll(async () => {
    t = await startTestService();
  });
  afterAll(() => t?.close());

  it('reports every check healthy with the migration counts, without a session', async () => {
    const res = await t.client().get('/health');
    expect(res.status).toBe(200);
    expect(res.json.status).toBe('healthy');
    expect(res.json.checks.database.status).toBe('ok');
    expect(res.json.checks.migrations).toMatchObject({ status: 'up_to_date', pending: 0 });
    expect(res.json.checks.migrations.applied).toBeGreaterThanOrEqual(7);
    expect(res.headers.get('cache-control')).toBe('no-store');
  });
});

describe('GET /health with a slow dependency', () => {
  it('answers from the cached snapshot instead of waiting for a hung check', async () => {
    let calls = 0;
    let release!: () => void;
    const hung = new Promise<void>((r) => (release = r));
    const t = await startTestService(
      { HEALTH_CACHE_MS: '100' },
      {
        healthChecks: {
          transcriber: async () => {
            calls += 1;
            if (calls > 1) await hung; // the first run (start-up) answers; later ones hang
          },
        },
      },
    );
    try {
      await new Promise((r) => setTimeout(r, 300)); // a background refresh is now hanging
      expect(calls).toBeGreaterThan(1);
      const res = await t.client().get('/health');
      expect(res.status).toBe(200);
      expect(res.json.checks.transcriber.status).toBe('ok');
    } finally {
      release();
      await t.close();
    }
  });

  it('reports a shared dependency that never answers as down once its timeout passes: 200 degraded, not a task replacement', async () => {
    let calls = 0;
    const t = await startTestService(
      { HEALTH_CACHE_MS: '100' },
      { healthChecks: { storage: () => (++calls === 1 ? Promise.resolve() : new Promise(() => {})) } },
    );
    try {
      await expect.poll(async () => (await t.client().get('/health')).json.status, { timeout: 10_000 }).toBe('degraded');
      const res = await t.client().get('/health');
      expect(res.status).toBe(200);
      expect(res.json.checks.storage).toMatchObject({ status: 'error', error: 'timeout', latencyMs: expect.any(Number) });
      expect(res.json.checks.database.status).toBe('ok');
      expect(t.service.health.sharedDown()).toBe(1);
    } finally {
      await t.close();
    }
  });
});

describe('a database outage mid-run', () => {
  it('turns /health 200 degraded (every task shares it) and requests into database_unavailable, then recovers by itself', async () => {
    const db = await createTestDatabase();
    const target = new URL(db.url);
    const proxy = await new TcpProxy(target.hostname, Number(target.port)).start();
    const viaProxy = new URL(db.url);
    viaProxy.port = String(proxy.port);
    const t = await startTestService({ HEALTH_CACHE_MS: '100' }, {}, { url: viaProxy.toString(), drop: db.drop });
    try {
      const { http, user } = await t.loggedIn('clinician');
      expect((await http.get('/api/auth/me')).status).toBe(200);

      await proxy.cut();
      await expect.poll(async () => (await t.client().get('/health')).json.status, { timeout: 10_000 }).toBe('degraded');
      const health = await t.client().get('/health');
      expect(health.status).toBe(200);
      expect(health.json.checks.database).toMatchObject({ status: 'error', latencyMs: expect.any(Number) });
      // The migrations cannot be counted without the database: unknown, not "failed".
      expect(health.json.checks.migrations.status).toBe('error');
      expect(health.json.checks.eventLoop.status).toBe('ok');

      const me = await http.get('/api/auth/me');
      expect(me.status).toBe(503);
      expect(me.json.error.code).toBe('database_unavailable');
      const login = await t.client().post('/api/auth/login', { username: user.username, password: user.password });
      expect(login.status).toBe(503);
      expect(login.json.error.code).toBe('database_unavailable');

      await proxy.restore();
      await expect.poll(async () => (await t.client().get('/health')).json.status, { timeout: 10_000 }).toBe('healthy');
      expect((await http.get('/api/auth/me')).status).toBe(200);
      await t.client().login(user.username, user.password);
    } finally {
      await t.close();
      await proxy.close();
    }
  });
});

describe('GET /health for what a new task would cure', () => {
  it('answers 503 unhealthy when this task\'s disk is full, and 200 again when space is back', async () => {
    let full = false;
    const t = await startTestService(
      { HEALTH_CACHE_MS: '100' },
      { healthChecks: { disk: async () => { if (full) throw Object.assign(new Error('3 MiB free'), { code: 'disk_full' }); return { freeMiB: 9000 }; } } },
    );
    try {
      full = true;
      await expect.poll(async () => (await t.client().get('/health')).status, { timeout: 10_000 }).toBe(503);
      const res = await t.client().get('/health');
      expect(res.json).toMatchObject({ status: 'unhealthy', checks: { disk: { status: 'error', error: 'disk_full' }, database: { status: 'ok' } } });
      full = false;
      await expect.poll(async () => (await t.client().get('/health')).status, { timeout: 10_000 }).toBe(200);
    } finally {
      await t.close();
    }
  });

  it('answers 503 unhealthy when a migration this task needs is not applied', async () => {
    const t = await startTestService({ HEALTH_CACHE_MS: '100' });
    try {
      await t.service.db.query(`DELETE FROM pgmigrations WHERE id = (SELECT max(id) FROM pgmigrations)`);
      await expect.poll(async () => (await t.client().get('/health')).status, { timeout: 10_000 }).toBe(503);
      const res = await t.client().get('/health');
      expect(res.json.status).toBe('unhealthy');
      expect(res.json.checks.migrations).toMatchObject({ status: 'pending', pending: 1 });
    } finally {
      await t.close();
    }
  });

  it('answers 503 at once when the task starts draining, with the moment it began', async () => {
    const t = await startTestService({ HEALTH_CACHE_MS: '60000' });
    try {
      expect((await t.client().get('/health')).status).toBe(200);
      t.service.health.setDraining();
      const res = await t.client().get('/health');
      expect(res.status).toBe(503);
      expect(res.json).toMatchObject({ status: 'unhealthy', checks: { draining: { status: 'error', since: expect.any(String) }, database: { status: 'ok' } } });
    } finally {
      await t.close();
    }
  });
});
