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

  it('reports a check that never answers as failed once its timeout passes', async () => {
    let calls = 0;
    const t = await startTestService(
      { HEALTH_CACHE_MS: '100' },
      { healthChecks: { storage: () => (++calls === 1 ? Promise.resolve() : new Promise(() => {})) } },
    );
    try {
      await expect.poll(async () => (await t.client().get('/health')).status, { timeout: 10_000 }).toBe(503);
      const res = await t.client().get('/health');
      expect(res.status).toBe(503);
      expect(res.json.status).toBe('unhealthy');
      expect(res.json.checks.storage).toMatchObject({ status: 'error', error: 'timeout' });
      expect(res.json.checks.database.status).toBe('ok');
    } finally {
      await t.close();
    }
  });
});

describe('a database outage mid-run', () => {
  it('turns /health 503 and requests into database_unavailable, then recovers by itself', async () => {
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
      await expect.poll(async () => (await t.client().get('/health')).status, { timeout: 10_000 }).toBe(503);
      const health = await t.client().get('/health');
      expect(health.json.checks.database.status).toBe('error');

      const me = await http.get('/api/auth/me');
      expect(me.status).toBe(503);
      expect(me.json.error.code).toBe('database_unavailable');
      const login = await t.client().post('/api/auth/login', { username: user.username, password: user.password });
      expect(login.status).toBe(503);
      expect(login.json.error.code).toBe('database_unavailable');

      await proxy.restore();
      await expect.poll(async () => (await t.client().get('/health')).status, { timeout: 10_000 }).toBe(200);
      expect((await http.get('/api/auth/me')).status).toBe(200);
      await t.client().login(user.username, user.password);
    } finally {
      await t.close();
      await proxy.close();
    }
  });
});
