import type { Pool } from '../db/pool.js';

export interface AuditRow {
  id: string;
  at: string;
  actorId: string | null;
  actorUsername: string | null;
  action: string;
  targetType: string | null;
  targetId: string | null;
  /** What the target is called now (a transcription's title, a user's name), for people to read. */
  targetLabel: string | null;
  outcome: 'success' | 'failure' | 'denied';
  ip: string | null;
  userAgent: string | null;
  details: Record<string, unknown>;
}

export interface AuditFilters {
  action?: string;
  actorId?: string;
  targetId?: string;
  outcome?: AuditRow['outcome'];
  from?: Date;
  to?: Date;
  /** Rows with an id below this (keyset on the bigserial id, newest first). */
  beforeId?: string;
  limit: number;
}

/** Reads the audit log for admins, newest first. Never writes: the table is append-only. */
export class AuditReader {
  constructor(private readonly db: Pool) {}

  async list(f: AuditFilters): Promise<{ items: AuditRow[]; nextCursor: string | null }> {
    const params: unknown[] = [];
    const p = (v: unknown) => {
      params.push(v);
      return `$${params.length}`;
    };
    const where: string[] = [];
    if (f.action) where.push(`a.action = ${p(f.action)}`);
    if (f.actorId) where.push(`a.actor_id = ${p(f.actorId)}`);
    if (f.targetId) where.push(`a.target_id = ${p(f.targetId)}`);
    if (f.outcome) where.push(`a.outcome = ${p(f.outcome)}`);
    if (f.from) where.push(`a.at >= ${p(f.from)}`);
    if (f.to) where.push(`a.at < ${p(f.to)}`);
    if (f.beforeId) where.push(`a.id < ${p(f.beforeId)}::bigint`);
    const { rows } = await this.db.query<{
      id: string;
      at: Date;
      actor_id: string | null;
      actor_username: string | null;
      action: string;
      target_type: string | null;
      target_id: string | null;
      outcome: AuditRow['outcome'];
      ip: string | null;
      user_agent: string | null;
      details: Record<string, unknown>;
      target_label: string | null;
    }>(
      // The labels are looked up for the page's rows only (scalar subqueries outside the LIMIT).
      `SELECT p.*,
              CASE WHEN p.target_id ~* '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$' THEN
                CASE p.target_type
                  WHEN 'transcription' THEN (SELECT t.title FROM transcriptions t WHERE t.id = p.target_id::uuid)
                  WHEN 'user' THEN (SELECT tu.username FROM users tu WHERE tu.id = p.target_id::uuid)
                END
              END AS target_label
         FROM (SELECT a.id, a.at, a.actor_id, coalesce(a.actor_username, u.username) AS actor_username, a.action,
                      a.target_type, a.target_id, a.outcome, a.ip, a.user_agent, a.details
                 FROM audit_log a LEFT JOIN users u ON u.id = a.actor_id
                ${where.length ? `WHERE ${where.join(' AND ')}` : ''}
                ORDER BY a.id DESC
                LIMIT ${p(f.limit + 1)}) p
        ORDER BY p.id DESC`,
      params,
    );
    const page = rows.slice(0, f.limit);
    const last = page[page.length - 1];
    return {
      items: page.map((r) => ({
        id: r.id,
        at: r.at.toISOString(),
        actorId: r.actor_id,
        actorUsername: r.actor_username,
        action: r.action,
        targetType: r.target_type,
        targetId: r.target_id,
        targetLabel: r.target_label,
        outcome: r.outcome,
        ip: r.ip,
        userAgent: r.user_agent,
        details: r.details,
      })),
      nextCursor: rows.length > f.limit && last ? Buffer.from(`a|${last.id}`).toString('base64url') : null,
    };
  }
}

/** @returns the id encoded in an audit cursor, or undefined when it is not one. */
export function decodeAuditCursor(cursor: string): string | undefined {
  if (!/^[A-Za-z0-9_-]{1,40}$/.test(cursor)) return undefined;
  const m = /^a\|(\d{1,18})$/.exec(Buffer.from(cursor, 'base64url').toString('utf8'));
  return m?.[1];
}
