import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ERROR_TABLE } from '../../../src/lib/app-error.js';
import type { HttpClient } from '../../support/http.js';
import { seedTranscription } from '../../support/seed.js';
import { queryDb, startTestService, type TestService } from '../../support/service.js';
import { fillPath, listRoutes, type RouteInfo } from '../support.js';
import { hostileString, jsonLeaf, key, tree } from './arbitraries.js';

/**
 * Property-based fuzzing of every JSON route (read from the Express router stack, so new routes
 * are covered) against the running service and its real PostgreSQL: random and malformed bodies,
 * queries, ids and content types, as admin, clinician and anonymous. `FUZZ_RUNS` requests.
 * Every answer is a 2xx or a documented error code, never a 500, and nothing is polluted.
 */
const RUNS = Number(process.env.FUZZ_RUNS ?? 1000);
const SEED = process.env.FUZZ_SEED ? Number(process.env.FUZZ_SEED) : undefined;

let t: TestService;
let routes: RouteInfo[];
let as: Record<'admin' | 'clinician' | 'anonymous', HttpClient>;
let victimTranscription: string;
let victimUser: { id: string };

beforeAll(async () => {
  t = await startTestService({ LOGIN_MAX_PER_IP: '1000000', LOGIN_MAX_PER_USER: '1000000', LOG_LEVEL: 'info' });
  const [admin, clinician, victim] = await Promise.all([t.loggedIn('admin'), t.loggedIn('clinician'), t.loggedIn('clinician')]);
  as = { admin: admin.http, clinician: clinician.http, anonymous: t.client() };
  victimUser = victim.user;
  victimTranscription = await seedTranscription(t.databaseUrl, {
    clinicianId: victim.user.id,
    title: 'victim title',
    segments: [{ startMs: 0, endMs: 1000, text: 'victim words' }],
  });
  routes = listRoutes(t.service.app.app).filter((r) => r.path.startsWith('/api/'));
});
afterAll(() => t?.close());

const idParam = fc.oneof(
  fc.uuid(),
  fc.constantFrom('$VICTIM', '../../etc/passwd', '..%2f..%2f', '%2e%2e%2f', '%00', '%zz', 'clinicians', "1' OR '1'='1", '__proto__', 'constructor', 'a'.repeat(300)),
  fc.string({ maxLength: 40 }),
);
const queryValue = fc.oneof(hostileString, fc.constantFrom('txt', 'srt', 'vtt', 'json', 'PRIMARYCARE', 'completed', '2026-01-01', '2026-01-01T00:00:00Z', '10', '0', '-1', '1000', 'denied'), fc.uuid());
const query = fc.dictionary(
  fc.oneof(fc.constantFrom('q', 'format', 'clinician', 'from', 'to', 'specialty', 'status', 'cursor', 'limit', 'action', 'actor', 'target', 'outcome', '__proto__', 'constructor', 'a[b]', 'q[]'), key),
  fc.oneof({ weight: 4, arbitrary: queryValue }, { weight: 1, arbitrary: fc.array(queryValue, { minLength: 2, maxLength: 3 }) }),
  { maxKeys: 4 },
);
const loginBody = fc.record({ username: fc.oneof(hostileString, jsonLeaf), password: fc.oneof(hostileString, jsonLeaf) }, { requiredKeys: [] });
const userBody = fc.record({ username: fc.oneof(hostileString, jsonLeaf), role: fc.oneof(fc.constantFrom('admin', 'reviewer', 'clinician', 'root'), jsonLeaf), password: fc.oneof(hostileString, jsonLeaf), disabled: fc.oneof(fc.boolean(), jsonLeaf) }, { requiredKeys: [] });
const body = fc.oneof(
  { weight: 3, arbitrary: tree(jsonLeaf).map((v) => ({ kind: 'json' as const, value: v })) },
  { weight: 2, arbitrary: fc.oneof(loginBody, userBody).map((v) => ({ kind: 'json' as const, value: v })) },
  { weight: 1, arbitrary: fc.uint8Array({ maxLength: 256 }).map((b) => ({ kind: 'raw' as const, value: Buffer.from(b), type: 'application/json' })) },
  { weight: 1, arbitrary: fc.string({ maxLength: 200 }).map((s) => ({ kind: 'raw' as const, value: s, type: 'application/json' })) },
  { weight: 1, arbitrary: fc.constantFrom('{"a":', '[', '{"__proto__":{"polluted":1},"username":"x","password":"y"}', `${'['.repeat(20_000)}${']'.repeat(20_000)}`, JSON.stringify({ username: 'a', password: 'p'.repeat(70_000) })).map((s) => ({ kind: 'raw' as const, value: s, type: 'application/json' })) },
  { weight: 1, arbitrary: fc.tuple(fc.string({ maxLength: 60 }), fc.constantFrom('text/plain', 'application/x-www-form-urlencoded', 'application/json; charset=utf-16', 'application/json; charset=latin1', 'multipart/form-data; boundary=x', 'application/octet-stream', '')).map(([v, type]) => ({ kind: 'raw' as const, value: v, type })) },
);
const request = fc.record({
  who: fc.constantFrom('admin' as const, 'clinician' as const, 'anonymous' as const),
  route: fc.nat(),
  id: idParam,
  query,
  body,
});

/** Logout and login would change the fuzzing clients' own sessions: those go out anonymously. */
function clientFor(who: keyof typeof as, route: RouteInfo): HttpClient {
  return route.path.startsWith('/api/auth/log') ? as.anonymous : as[who];
}

describe(`HTTP fuzzing (${RUNS} requests)`, () => {
  it('answers every JSON route with 2xx or a documented 4xx error code, never a 500 or a stack trace', async () => {
    expect(routes.length).toBeGreaterThanOrEqual(10);
    const usersBefore = await queryDb<{ n: number }>(t.databaseUrl, 'SELECT count(*)::int AS n FROM users');
    const statuses = new Map<string, number>();
    const t0 = performance.now();
    await fc.assert(
      fc.asyncProperty(request, async (r) => {
        const route = routes[r.route % routes.length]!;
        const id = r.id === '$VICTIM' ? victimTranscription : r.id;
        // Ids go in raw (already-encoded traversal strings stay encoded) unless they hold URL syntax.
        let path = route.path.replace(/:(\w+)/g, () => (/[/?#\s]/.test(id) || /[^\x20-\x7e]/.test(id) ? encodeURIComponent(id) : id));
        const qs = new URLSearchParams();
        for (const [k, v] of Object.entries(r.query)) for (const one of Array.isArray(v) ? v : [v]) qs.append(k, one);
        if ([...qs.keys()].length) path += `?${qs.toString()}`;
        const client = clientFor(r.who, route);
        const isWrite = !['GET', 'HEAD'].includes(route.method);
        const res = await client.request(route.method, path, !isWrite ? {} : r.body.kind === 'json' ? { json: r.body.value } : { body: r.body.value as string, headers: r.body.type ? { 'content-type': r.body.type } : {} });
        const key = `${res.status} ${res.json?.error?.code ?? ''}`.trim();
        statuses.set(key, (statuses.get(key) ?? 0) + 1);
        const label = `${r.who} ${route.method} ${path.slice(0, 200)}`;
        expect(res.status, label).toBeLessThan(500);
        expect(res.text, label).not.toMatch(/\bat .*\.(ts|js):\d+|node_modules/);
        // Node's HTTP parser refuses a request line over 16 KiB before the app sees it.
        if (res.status === 431) return;
        if (res.status >= 400) {
          expect(res.json?.error && Object.hasOwn(ERROR_TABLE, res.json.error.code), `${label} → ${res.status} ${res.text.slice(0, 200)}`).toBe(true);
          expect(ERROR_TABLE[res.json.error.code as keyof typeof ERROR_TABLE].status, label).toBe(res.status);
        }
        // The victim's transcript is never served to the other clinician or to nobody.
        if (r.who !== 'admin' && path.includes(victimTranscription)) expect(res.status, label).toBeGreaterThanOrEqual(400);
      }),
      { numRuns: RUNS, seed: SEED, endOnFailure: true },
    );
    const seconds = (performance.now() - t0) / 1000;
    console.info(`http fuzz: ${RUNS} requests over ${routes.length} routes in ${seconds.toFixed(1)} s; ${JSON.stringify(Object.fromEntries([...statuses].sort()))}`);

    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    expect(Object.prototype).not.toHaveProperty('isAdmin');
    expect(t.logs.entries.filter((e) => e.level === 'error' || e.level === 'fatal')).toEqual([]);
    // Fuzzed admin requests may add users (that is what the route is for), never remove or break them.
    expect((await queryDb<{ n: number }>(t.databaseUrl, 'SELECT count(*)::int AS n FROM users'))[0]!.n).toBeGreaterThanOrEqual(usersBefore[0]!.n);
    expect((await queryDb(t.databaseUrl, 'SELECT disabled_at FROM users WHERE id = $1', [victimUser.id]))[0]).toEqual({ disabled_at: null });
    for (const c of [as.admin, as.clinician]) expect((await c.get('/api/auth/me')).status).toBe(200);
    expect((await fetch(`${t.url}/health`)).status).toBe(200);
  }, 60_000 + RUNS * 100);
});
