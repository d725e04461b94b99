import { createHash } from 'node:crypto';
import type pg from 'pg';
import type { Pool } from '../db/pool.js';

export interface LoginLimits {
  /** Failures for one username (from any address) that cost nothing; each further one doubles the wait. */
  perUser: number;
  /** Usernames that may fail from one address before that address waits (each username counts once). */
  perIp: number;
  /** A counter forgets its failures after this long without a new one. */
  windowMs: number;
  /** The first wait once a limit is reached; it doubles with each further failure… */
  delayBaseMs: number;
  /** …up to this. */
  delayMaxMs: number;
}

/** An admitted attempt: report its outcome with {@link LoginLimiter.failed} or {@link LoginLimiter.succeeded}. */
export interface LoginTicket {
  readonly userKey: string;
  readonly pairKey: string;
  readonly ipKey: string;
  /** Whether this attempt was the address's first failure for this username (so it counted there). */
  readonly countedForIp: boolean;
}

export type Admission = { ok: true; ticket: LoginTicket } | { ok: false; retryAfterMs: number };

interface Row {
  key: string;
  failures: number;
  wait_ms: number;
}

/**
 * Login throttling shared by every task through PostgreSQL, consumed BEFORE the password is checked
 * (and refunded on success), so a burst of concurrent guesses cannot all be evaluated before the
 * first failure is written: `admit` counts each attempt as a failure inside one transaction that
 * locks the counters' rows, and only then is scrypt run.
 *
 * It slows rather than locks:
 * - per username (from any address), `perUser` failures are free, then each attempt waits
 *   `delayBaseMs · 2^(failures − perUser)`, at most `delayMaxMs`: the right password always gets in
 *   after a bounded wait, and an online guesser gets about one try per `delayMaxMs`;
 * - per address, the number of DIFFERENT usernames that failed from it: a clinic behind one NAT
 *   where one clinician mistypes twenty times costs the address one, not twenty; a password
 *   sprayer that walks through usernames is slowed after `perIp` of them.
 * Trade-off (SECURITY.md): anyone can keep one named user waiting up to `delayMaxMs` per attempt by
 * failing on their behalf; it is a delay, not a lock-out, and every failure is in the audit log.
 * Keys hold hashes, never usernames or addresses.
 */
export class LoginLimiter {
  constructor(
    private readonly db: Pool,
    private readonly limits: LoginLimits,
  ) {}

  /** Admits an attempt (and counts it as a failure until told otherwise), or says how long to wait. */
  async admit(ip: string, username: string): Promise<Admission> {
    const user = normalisedUser(username);
    const ticket = { userKey: `u:${hash(user)}`, pairKey: `p:${hash(`${ip}\n${user}`)}`, ipKey: `i:${hash(ip)}` };
    const keys = [ticket.userKey, ticket.pairKey, ticket.ipKey].sort();
    const client = await this.db.connect();
    try {
      await client.query('BEGIN');
      // A new row is born expired, so it reads as zero failures below.
      await client.query('INSERT INTO login_throttle (key, expires_at) SELECT unnest($1::text[]), now() ON CONFLICT (key) DO NOTHING', [keys]);
      const { rows } = await client.query<Row>(
        `SELECT key,
                CASE WHEN expires_at <= now() THEN 0 ELSE failures END AS failures,
                CASE WHEN expires_at <= now() OR blocked_until <= now() THEN 0 ELSE extract(epoch FROM blocked_until - now()) * 1000 END::float8 AS wait_ms
           FROM login_throttle WHERE key = ANY($1::text[]) ORDER BY key FOR UPDATE`,
        [keys],
      );
      const byKey = new Map(rows.map((r) => [r.key, r]));
      const get = (k: string): Row => byKey.get(k) ?? { key: k, failures: 0, wait_ms: 0 };
      const [u, p, i] = [get(ticket.userKey), get(ticket.pairKey), get(ticket.ipKey)];
      const wait = Math.max(u.wait_ms, i.wait_ms);
      if (wait > 0) {
        await client.query('ROLLBACK');
        return { ok: false, retryAfterMs: Math.ceil(wait) };
      }
      const countedForIp = p.failures === 0;
      await this.setCount(client, u.key, u.failures + 1, this.limits.perUser);
      await this.setCount(client, p.key, p.failures + 1, Infinity);
      if (countedForIp) await this.setCount(client, i.key, i.failures + 1, this.limits.perIp);
      await client.query('COMMIT');
      // Expired counters are swept now and then by whichever task admits a login.
      if (Math.random() < 0.02) void this.db.query(`DELETE FROM login_throttle WHERE expires_at < now()`).catch(() => {});
      return { ok: true, ticket: { ...ticket, countedForIp } };
    } catch (err) {
      await client.query('ROLLBACK').catch(() => {});
      throw err;
    } finally {
      client.release();
    }
  }

  /** The attempt failed: its waits start from now (the check took a while), not from admission. */
  async failed(ticket: LoginTicket): Promise<void> {
    await this.reanchor(ticket.userKey, this.limits.perUser);
    if (ticket.countedForIp) await this.reanchor(ticket.ipKey, this.limits.perIp);
  }

  /**
   * The attempt succeeded: the username's failures are forgotten (its owner proved who they are)
   * and the address gets its point back.
   */
  async succeeded(ticket: LoginTicket): Promise<void> {
    await this.db.query('DELETE FROM login_throttle WHERE key = ANY($1::text[])', [[ticket.userKey, ticket.pairKey]]);
    if (ticket.countedForIp) await this.undoOne(ticket.ipKey, this.limits.perIp);
  }

  /** The attempt was never evaluated (the server was too busy): it costs nothing. */
  async refund(ticket: LoginTicket): Promise<void> {
    await this.undoOne(ticket.userKey, this.limits.perUser);
    await this.undoOne(ticket.pairKey, Infinity);
    if (ticket.countedForIp) await this.undoOne(ticket.ipKey, this.limits.perIp);
  }

  /** The wait after `failures` failures against a key whose first `free` failures cost nothing. */
  delayMs(failures: number, free: number): number {
    if (failures < free) return 0;
    return Math.min(this.limits.delayMaxMs, this.limits.delayBaseMs * 2 ** Math.min(failures - free, 30));
  }

  private async setCount(client: pg.PoolClient, key: string, failures: number, free: number): Promise<void> {
    await client.query(
      // No wait is '-infinity', not now(): now() is this transaction's start, which a transaction that
      // started earlier and reads this row after our commit would see as a wait still running.
      `UPDATE login_throttle SET failures = $2,
              blocked_until = CASE WHEN $3::float8 > 0 THEN now() + $3::float8 * interval '1 millisecond' ELSE '-infinity'::timestamptz END,
              expires_at = now() + $4::float8 * interval '1 millisecond'
        WHERE key = $1`,
      [key, failures, this.delayMs(failures, free), this.limits.windowMs],
    );
  }

  /** Takes one failure back; the wait ends if the count falls under the free ones. */
  private async undoOne(key: string, free: number): Promise<void> {
    await this.db.query(
      `UPDATE login_throttle SET failures = greatest(0, failures - 1),
              blocked_until = CASE WHEN failures - 1 < $2 THEN '-infinity'::timestamptz ELSE blocked_until END
        WHERE key = $1`,
      [key, Number.isFinite(free) ? free : 2 ** 31 - 1],
    );
  }

  private async reanchor(key: string, free: number): Promise<void> {
    await this.db.query(
      `UPDATE login_throttle
          SET blocked_until = greatest(blocked_until, now() + CASE WHEN failures >= $2
                THEN least($4::float8, $3::float8 * power(2, least(failures - $2, 30))) ELSE 0 END * interval '1 millisecond')
        WHERE key = $1`,
      [key, free, this.limits.delayBaseMs, this.limits.delayMaxMs],
    );
  }
}

function normalisedUser(username: string): string {
  return username.trim().toLowerCase();
}

function hash(text: string): string {
  return createHash('sha256').update(text).digest('hex').slice(0, 32);
}
