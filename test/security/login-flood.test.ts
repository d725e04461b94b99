import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isDatabaseDown, toAppError } from '../../src/lib/app-error.js';
import { DictationClient } from '../support/dictation-client.js';
import { startTestService, type TestService } from '../support/service.js';

/**
 * Attack test (issue 19, item 4): 16 concurrent anonymous logins with random usernames from random
 * addresses (an attacker with many addresses, so the per-address throttle does not end it) for 20 s.
 * Before the fix scrypt took every thread-pool thread, pool waits became 500s and `/health` answered
 * 503 for ~18 s. Now at most 2 hashes run (src/auth/passwords.ts) and the rest queue or get 429.
 */
let t: TestService;
const FLOOD_MS = 20_000;
const FLOODERS = 16;

beforeAll(async () => {
  t = await startTestService({ HEALTH_CACHE_MS: '0' });
});
afterAll(() => t?.close());

const p99 = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(s.length * 0.99))]!;
};
const randomIp = () => `10.${randomBytes(1)[0]}.${randomBytes(1)[0]}.${randomBytes(1)[0]}`;

/** Sends a 100 ms PCM chunk every 100 ms until `until()`, returning each ack's round trip (ms). */
async function ackTimes(client: DictationClient, firstSeq: number, until: () => boolean): Promise<{ times: number[]; next: number }> {
  const times: number[] = [];
  const chunk = Buffer.alloc(3200);
  let seq = firstSeq;
  while (!until()) {
    const started = performance.now();
    const ack = await client.chunk(seq, chunk);
    times.push(performance.now() - started);
    expect(ack).toMatchObject({ ok: true, ackSeq: seq });
    seq++;
    await new Promise((r) => setTimeout(r, Math.max(0, 100 - (performance.now() - started))));
  }
  return { times, next: seq };
}

describe('an anonymous login flood', () => {
  it(`keeps /health at 200 and a live session's acks fast during ${FLOOD_MS / 1000} s of ${FLOODERS} concurrent logins`, async () => {
    const { http } = await t.loggedIn('clinician');
    const live = new DictationClient(t.url, http.cookieHeader);
    try {
      expect((await live.start()).ok).toBe(true);
      // Baseline on this machine right now (other suites share its 2 cores).
      const baseEnd = Date.now() + 3000;
      const base = await ackTimes(live, 0, () => Date.now() > baseEnd);

      const floodEnd = Date.now() + FLOOD_MS;
      const statuses = new Map<number, number>();
      const flooder = async () => {
        while (Date.now() < floodEnd) {
          const res = await fetch(`${t.url}/api/auth/login`, {
            method: 'POST',
            headers: { 'content-type': 'application/json', 'x-forwarded-for': randomIp() },
            body: JSON.stringify({ username: `ghost-${randomBytes(6).toString('hex')}`, password: 'not-a-real-password' }),
          });
          await res.arrayBuffer();
          statuses.set(res.status, (statuses.get(res.status) ?? 0) + 1);
        }
      };
      const health: number[] = [];
      const prober = async () => {
        while (Date.now() < floodEnd) {
          const res = await fetch(`${t.url}/health`, { signal: AbortSignal.timeout(5000) }).catch(() => undefined);
          health.push(res?.status ?? 0);
          await res?.arrayBuffer();
          await new Promise((r) => setTimeout(r, 250));
        }
      };
      const [during] = await Promise.all([ackTimes(live, base.next, () => Date.now() > floodEnd), prober(), ...Array.from({ length: FLOODERS }, flooder)]);

      // The flood was real: hundreds of attempts, each refused (401, or 429 once the hashing queue is full)…
      const attempts = [...statuses.values()].reduce((a, b) => a + b, 0);
      expect(attempts).toBeGreaterThan(FLOODERS);
      expect([...statuses.keys()].every((s) => s === 401 || s === 429), JSON.stringify([...statuses])).toBe(true);
      // …and the service stayed up for the load balancer and for the clinician.
      expect(health.length).toBeGreaterThan(10);
      expect(health.filter((s) => s !== 200)).toEqual([]);
      const floodP99 = p99(during.times);
      const baseP99 = p99(base.times);
      console.info(`login flood: ${attempts} attempts ${JSON.stringify([...statuses])}; ack p99 ${floodP99.toFixed(1)} ms during, ${baseP99.toFixed(1)} ms before; /health ${health.length}× 200`);
      // 100 ms is the goal on an idle 2-core machine; on a shared one the bound is 3× the baseline
      // measured just before, so other suites' load does not fail the test but starving does.
      expect(floodP99).toBeLessThan(Math.max(100, 3 * baseP99));
    } finally {
      live.close();
    }
  }, 180_000);
});

describe('a database pool with every connection busy', () => {
  it('is capacity_exceeded (503, retryable), not internal_error and not a database outage', async () => {
    const pool = new pg.Pool({ connectionString: t.databaseUrl, max: 1, connectionTimeoutMillis: 3000 });
    const held = await pool.connect();
    try {
      const err = await pool.query('SELECT 1').then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(err).toBeInstanceOf(Error);
      expect(isDatabaseDown(err)).toBe(false);
      expect(toAppError(err)).toMatchObject({ code: 'capacity_exceeded', status: 503, retryable: true });
    } finally {
      held.release();
      await pool.end();
    }
  });
});
