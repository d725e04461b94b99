import type { Pool } from '../db/pool.js';
import { withoutNul } from '../lib/text.js';

export interface AuditEntry {
  action: string;
  actorId?: string | null;
  actorUsername?: string | null;
  targetType?: string;
  targetId?: string;
  outcome?: 'success' | 'failure' | 'denied';
  ip?: string;
  userAgent?: string;
  /** Identifiers and counts only: never transcript text, titles or passwords. */
  details?: Record<string, unknown>;
}

/**
 * The append-only audit log (who, what, when, from where). The table refuses UPDATE, DELETE and
 * TRUNCATE by trigger, so rows cannot be rewritten even by the application's own role.
 */
export class AuditLog {
  constructor(private readonly db: Pool) {}

  async record(e: AuditEntry): Promise<void> {
    // Targets and details can come from the request (an id in the URL): a NUL in them must not make
    // the insert fail, or a refused request would go unaudited and answer 500.
    const clean = (s: string | null | undefined) => (s == null ? null : withoutNul(s));
    await this.db.query(
      `INSERT INTO audit_log (action, actor_id, actor_username, target_type, target_id, outcome, ip, user_agent, details)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`,
      [
        e.action,
        e.actorId ?? null,
        clean(e.actorUsername),
        clean(e.targetType),
        clean(e.targetId),
        e.outcome ?? 'success',
        clean(e.ip),
        clean(e.userAgent?.slice(0, 512)),
        // jsonb refuses \u0000 too.
        JSON.stringify(e.details ?? {}, (_key, v: unknown) => (typeof v === 'string' ? withoutNul(v) : v)),
      ],
    );
  }
}
