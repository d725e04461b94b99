import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hashingLoad, MAX_HASH_QUEUE } from '../../src/auth/passwords.js';
import { queryDb, startTestService, type TestService } from '../support/service.js';

/**
 * Attack tests for the login throttle (issue 19, items 1 and 5): concurrent bursts, the bound on
 * concurrent password hashing, and a throttle that slows rather than locks. Each test sends from its
 * own address (X-Forwarded-For, trusted from loopback) so the tests do not share counters.
 */
let t: TestService;
const PER_USER = 5;
const PER_IP = 10;
// Long waits, so a burst on a loaded machine cannot outlast them; tests that need a wait to pass
// move the counters' clocks instead of sleeping (see `waitPasses`).
const BASE_MS = 60_000;

beforeAll(async () => {
  t = await startTestService({
    LOGIN_MAX_PER_USER: String(PER_USER),
    LOGIN_MAX_PER_IP: String(PER_IP),
    LOGIN_DELAY_BASE_MS: String(BASE_MS),
    LOGIN_DELAY_MAX_MS: String(BASE_MS * 2),
  });
});
afterAll(() => t?.close());

let nextIp = 1;
const freshIp = () => `198.51.100.${nextIp++}`;

function login(ip: string, username: string, password: string) {
  return t.client({ 'x-forwarded-for': ip }).post('/api/auth/login', { username, password });
}

/** Every current wait ends now, as if its time had passed. */
async function waitPasses(): Promise<void> {
  await queryDb(t.databaseUrl, `UPDATE login_throttle SET blocked_until = least(blocked_until, now())`);
}

/** Login attempts whose password was actually checked (audited as success or failure), from `ip`. */
async function evaluated(ip: string): Promise<number> {
  const rows = await queryDb<{ n: number }>(t.databaseUrl, `SELECT count(*)::int AS n FROM audit_log WHERE action = 'login' AND ip = $1 AND outcome IN ('success', 'failure')`, [ip]);
  return rows[0]!.n;
}

// Bursts of scrypt on a shared 2-core machine: minutes, not seconds, when other suites run beside.
describe('login throttle against concurrent bursts', { timeout: 240_000 }, () => {
  it(`evaluates at most ${PER_USER} of 30 concurrent logins for one user (29 wrong, 1 right) and answers the rest 429`, async () => {
    const user = await t.createUser('clinician');
    const ip = freshIp();
    const attempts = Array.from({ length: 30 }, (_, i) => (i === 29 ? user.password : `wrong-guess-${i}-xxxx`));
    const results = await Promise.all(attempts.map((password) => login(ip, user.username, password)));
    expect(await evaluated(ip)).toBeLessThanOrEqual(PER_USER);
    const limited = results.filter((r) => r.status === 429);
    expect(limited.length).toBeGreaterThanOrEqual(30 - PER_USER);
    expect(limited.every((r) => r.json.error.code === 'rate_limited' && Number(r.headers.get('retry-after')) > 0)).toBe(true);
  });

  it(`evaluates at most ${PER_IP} of 40 concurrent logins from one address for 40 usernames`, async () => {
    const ip = freshIp();
    const results = await Promise.all(Array.from({ length: 40 }, (_, i) => login(ip, `sprayed-${i}-${randomBytes(3).toString('hex')}`, 'spring-2026-password')));
    expect(await evaluated(ip)).toBeLessThanOrEqual(PER_IP);
    expect(results.filter((r) => r.status === 429).length).toBeGreaterThanOrEqual(40 - PER_IP);
  });

  it('runs at most 2 password hashes at once during a burst from many addresses, and refuses past the queue bound', async () => {
    let maxRunning = 0;
    let maxWaiting = 0;
    const sampler = setInterval(() => {
      const load = hashingLoad();
      maxRunning = Math.max(maxRunning, load.running);
      maxWaiting = Math.max(maxWaiting, load.waiting);
    }, 2);
    try {
      const n = MAX_HASH_QUEUE + 12;
      const results = await Promise.all(Array.from({ length: n }, (_, i) => login(freshIp(), `flood-${i}-${randomBytes(3).toString('hex')}`, 'whatever-password-1')));
      expect(maxRunning).toBe(2);
      expect(maxWaiting).toBeGreaterThan(2); // the bound was exercised, not merely unreached
      expect(maxWaiting).toBeLessThanOrEqual(MAX_HASH_QUEUE);
      expect(results.every((r) => r.status === 401 || r.status === 429)).toBe(true);
    } finally {
      clearInterval(sampler);
    }
  });
});

describe('login throttle slows rather than locks', { timeout: 240_000 }, () => {
  it('lets the right password in after the wait that follows 5 failures, and doubles the wait per further failure', async () => {
    const user = await t.createUser('clinician');
    const ip = freshIp();
    for (let i = 0; i < PER_USER; i++) expect((await login(ip, user.username, `wrong-guess-${i}-xxxx`)).status).toBe(401);
    const blocked = await login(ip, user.username, user.password);
    expect(blocked.status).toBe(429);
    expect(Number(blocked.headers.get('retry-after'))).toBe(Math.ceil(BASE_MS / 1000));
    // After the wait one more failure doubles the wait.
    await waitPasses();
    expect((await login(ip, user.username, 'sixth-wrong-guess-xx')).status).toBe(401);
    const doubled = await login(ip, user.username, user.password);
    expect(doubled.status).toBe(429);
    expect(Number(doubled.headers.get('retry-after'))).toBe(Math.ceil((2 * BASE_MS) / 1000));
    // After the wait the owner gets in: a delay, not a 15-minute lock-out.
    await waitPasses();
    expect((await login(ip, user.username, user.password)).status).toBe(200);
    // The success cleared the username's count: the next typo costs nothing.
    expect((await login(ip, user.username, 'one-more-typo-xxxx')).status).toBe(401);
    expect((await login(ip, user.username, user.password)).status).toBe(200);
  });

  it('one clinician mistyping 12 times behind a shared address does not slow the other users of that address', async () => {
    const [typist, colleague] = await Promise.all([t.createUser('clinician'), t.createUser('clinician')]);
    const clinic = freshIp();
    let denied = 0;
    for (let i = 0; i < 12; i++) {
      const res = await login(clinic, typist.username, `typo-number-${i}-xx`);
      if (res.status === 429) denied++;
    }
    expect(denied).toBeGreaterThan(0); // the typist is slowed…
    expect((await login(clinic, colleague.username, colleague.password)).status).toBe(200); // …the clinic is not
  });

  it(`slows an address after ${PER_IP} different usernames failed from it, but not another address`, async () => {
    const sprayer = freshIp();
    const victim = await t.createUser('clinician');
    for (let i = 0; i < PER_IP; i++) expect((await login(sprayer, `nobody-${i}-${randomBytes(3).toString('hex')}`, 'spray-password-xx')).status).toBe(401);
    expect((await login(sprayer, victim.username, victim.password)).status).toBe(429);
    expect((await login(freshIp(), victim.username, victim.password)).status).toBe(200);
  });
});
