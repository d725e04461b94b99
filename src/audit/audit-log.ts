import type { Pool } from '../db/pool.js';

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
    await this.db.query(
      `INSERT INTO audit_log (action, actor_id, actor_username, target_type, target_id, outcome, ip, user_agent, details)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`,
      [
        e.action,
        e.actorId ?? null,
        e.actorUsername ?? null,
        e.targetType ?? null,
        e.targetId ?? null,
        e.outcome ?? 'success',
        e.ip ?? null,
        e.userAgent?.slice(0, 512) ?? null,
        JSON.stringify(e.details ?? {}),
      ],
    );
  }
}
