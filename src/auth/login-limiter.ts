import { createHash } from 'node:crypto';
import type { Pool } from '../db/pool.js';

export interface LoginLimits {
  perIp: number;
  perUser: number;
  windowMs: number;
}

/**
 * Counts failed logins per client IP and per username in PostgreSQL (rate-limiter-flexible), so every
 * task shares the limits. Usernames are hashed in the key: the table holds no identifiers.
 */
export class LoginLimiter {
  private limiters?: Promise<{ ip: RateLimiter; user: RateLimiter }>;

  constructor(
    private readonly db: Pool,
    private readonly limits: LoginLimits,
  ) {}

  /** Milliseconds to wait before trying again, or 0 when a login attempt may proceed. */
  async retryAfterMs(ip: string, username: string): Promise<number> {
    const { ip: byIp, user: byUser } = await this.get();
    const [a, b] = await Promise.all([byIp.get(ip), byUser.get(userKey(username))]);
    const blocked = [
      a && a.consumedPoints >= this.limits.perIp ? a.msBeforeNext : 0,
      b && b.consumedPoints >= this.limits.perUser ? b.msBeforeNext : 0,
    ];
    return Math.max(...blocked);
  }

  /** Records a failed attempt against both keys. */
  async fail(ip: string, username: string): Promise<void> {
    const { ip: byIp, user: byUser } = await this.get();
    await Promise.all([byIp.penalty(ip, 1), byUser.penalty(userKey(username), 1)]);
  }

  /** A successful login clears the username's count (not the IP's). */
  async succeed(username: string): Promise<void> {
    const { user: byUser } = await this.get();
    await byUser.delete(userKey(username));
  }

  private get(): Promise<{ ip: RateLimiter; user: RateLimiter }> {
    this.limiters ??= (async () => {
      const { RateLimiterPostgres } = await import('rate-limiter-flexible');
      const make = (prefix: string, points: number): RateLimiter =>
        new RateLimiterPostgres({
          storeClient: this.db,
          storeType: 'pool',
          tableName: 'login_rate_limits',
          tableCreated: true,
          keyPrefix: prefix,
          points,
          duration: Math.ceil(this.limits.windowMs / 1000),
          clearExpiredByTimeout: false,
        });
      return { ip: make('login_ip', this.limits.perIp), user: make('login_user', this.limits.perUser) };
    })();
    return this.limiters;
  }
}

type RateLimiter = InstanceType<typeof import('rate-limiter-flexible').RateLimiterPostgres>;

function userKey(username: string): string {
  return createHash('sha256').update(username.trim().toLowerCase()).digest('hex').slice(0, 32);
}
