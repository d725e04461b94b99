import type { Pool } from '../db/pool.js';
import type { SessionType, Specialty } from '../transcription/port.js';

/** A stretch claimed for repair, with what the engine stream needs. */
export interface ClaimedRepair {
  id: string;
  transcriptionId: string;
  fromMs: number;
  toMs: number;
  attempts: number;
  specialty: Specialty;
  type: SessionType;
}

/** A segment the repair produced, in session time. */
export interface RepairedSegment {
  segmentKey: string;
  startMs: number;
  endMs: number;
  text: string;
  speaker?: string | undefined;
}

/** What GET /api/transcriptions/:id shows of the repair pass (docs/resilience.md). */
export interface RepairSummary {
  /** `pending` while any stretch waits or runs, `failed` if one gave up, else `repaired`. */
  status: 'pending' | 'repaired' | 'failed';
  segmentsReplaced: number;
  stretches: Array<{ fromMs: number; toMs: number; status: 'pending' | 'running' | 'repaired' | 'failed' }>;
}

/** Attempts after which a stretch is given up (with the backoff below, about a day of outage). */
export const MAX_REPAIR_ATTEMPTS = 300;

/**
 * The `transcript_repairs` table: stretches to re-transcribe, claimed with FOR UPDATE SKIP LOCKED
 * so several tasks share the work and a restarted one picks up what it held.
 */
export class RepairRepository {
  constructor(private readonly db: Pool) {}

  /** Records a stretch to repair; a repeated report of the same stretch start changes nothing. */
  async add(transcriptionId: string, fromMs: number, toMs: number): Promise<void> {
    await this.db.query(
      `INSERT INTO transcript_repairs (transcription_id, from_ms, to_ms) VALUES ($1, $2, $3)
       ON CONFLICT (transcription_id, from_ms) DO UPDATE SET to_ms = GREATEST(transcript_repairs.to_ms, EXCLUDED.to_ms)
        WHERE transcript_repairs.status = 'pending'`,
      [transcriptionId, Math.round(fromMs), Math.round(toMs)],
    );
  }

  /**
   * Claims up to `limit` due stretches for `taskId`: pending ones whose session has ended (and is
   * not in review) and whose recording is completed, and running ones whose claim is older than their audio plus 5 min
   * (the task that held them died).
   */
  async claim(taskId: string, limit: number): Promise<ClaimedRepair[]> {
    if (limit <= 0) return [];
    // A transcript a reviewer has started on is theirs: its waiting stretches are given up.
    await this.db.query(
      `UPDATE transcript_repairs r SET status = 'failed', last_error = 'transcript_in_review'
         FROM transcriptions t WHERE t.id = r.transcription_id AND r.status = 'pending' AND t.status IN ('in_review', 'signed')`,
    );
    const { rows } = await this.db.query<{ id: string; transcription_id: string; from_ms: string; to_ms: string; attempts: number; specialty: Specialty; type: SessionType }>(
      `UPDATE transcript_repairs r SET status = 'running', claimed_by = $1, claimed_at = now(), attempts = r.attempts + 1
         FROM transcriptions t
        WHERE t.id = r.transcription_id AND r.id IN (
          SELECT q.id FROM transcript_repairs q JOIN transcriptions tt ON tt.id = q.transcription_id
           WHERE (q.status = 'pending' OR (q.status = 'running' AND q.claimed_at < now() - make_interval(secs => (q.to_ms - q.from_ms) / 1000.0 + 300)))
             AND q.not_before <= now() AND tt.status IN ('completed', 'failed')
             AND EXISTS (SELECT 1 FROM recordings c WHERE c.transcription_id = q.transcription_id AND c.upload_state = 'completed')
             AND NOT EXISTS (SELECT 1 FROM recordings c WHERE c.transcription_id = q.transcription_id AND c.upload_state IN ('uploading', 'completing'))
           ORDER BY q.not_before, q.created_at
           LIMIT $2
           FOR UPDATE OF q SKIP LOCKED)
        RETURNING r.id, r.transcription_id, r.from_ms, r.to_ms, r.attempts, t.specialty, t.type`,
      [taskId, limit],
    );
    return rows.map((r) => ({ id: r.id, transcriptionId: r.transcription_id, fromMs: Number(r.from_ms), toMs: Number(r.to_ms), attempts: r.attempts, specialty: r.specialty, type: r.type }));
  }

  /**
   * Where the repair of a stretch ending at `toMs` should end: the end of the first live segment
   * that starts at (or just before) `toMs`. The stream that took over after the stretch may have
   * started in the middle of a word (a capped replay ring); that segment is re-transcribed with the
   * stretch, from a clean start, so the word is neither cut nor said twice. At most 30 s further.
   */
  async repairEnd(transcriptionId: string, toMs: number): Promise<number> {
    const { rows } = await this.db.query<{ end_ms: string }>(
      `SELECT end_ms FROM transcript_segments WHERE transcription_id = $1 AND kind = 'final' AND start_ms >= $2::bigint - 100 AND start_ms < $2::bigint + 30000
        ORDER BY start_ms LIMIT 1`,
      [transcriptionId, Math.round(toMs)],
    );
    const end = rows[0] ? Number(rows[0].end_ms) : toMs;
    return end > toMs && end - toMs <= 30_000 ? end : toMs;
  }

  /** At start-up: stretches this task held in a previous life go back to pending at once. */
  async releaseOwn(taskId: string): Promise<number> {
    const { rowCount } = await this.db.query(`UPDATE transcript_repairs SET status = 'pending', claimed_by = NULL, not_before = now() WHERE status = 'running' AND claimed_by = $1`, [taskId]);
    return rowCount ?? 0;
  }

  /**
   * Replaces the stretch's segments in one transaction: the final/provisional segments whose middle
   * lies inside [fromMs, toMs] (`toMs` from {@link repairEnd}, else the stretch's) are deleted and kept in `replaced`, the new ones inserted, and the
   * transcription's `version` raised. A transcript already in review or signed is left alone (the
   * stretch is marked failed, `transcript_in_review`). Returns undefined (nothing changed) when this
   * task no longer holds the claim.
   */
  async complete(id: string, taskId: string, engine: string, segments: readonly RepairedSegment[], toMs?: number): Promise<{ replaced: number; added: number; skipped?: string } | undefined> {
    const client = await this.db.connect();
    try {
      await client.query('BEGIN');
      const { rows: held } = await client.query<{ transcription_id: string; from_ms: string; to_ms: string }>(
        `SELECT transcription_id, from_ms, to_ms FROM transcript_repairs WHERE id = $1 AND status = 'running' AND claimed_by = $2 FOR UPDATE`,
        [id, taskId],
      );
      const h = held[0];
      if (!h) {
        await client.query('ROLLBACK');
        return undefined;
      }
      // Locks the transcription against a concurrent review edit (which takes the same row lock).
      // A reviewer's work wins: once a transcript is in review or signed, the repair is given up.
      const { rows: tr } = await client.query<{ status: string }>('SELECT status FROM transcriptions WHERE id = $1 FOR UPDATE', [h.transcription_id]);
      if (tr[0]?.status === 'in_review' || tr[0]?.status === 'signed') {
        await client.query(`UPDATE transcript_repairs SET status = 'failed', last_error = 'transcript_in_review', claimed_by = NULL WHERE id = $1`, [id]);
        await client.query('COMMIT');
        return { replaced: 0, added: 0, skipped: 'transcript_in_review' };
      }
      const { rows: old } = await client.query<{ segment_key: string; start_ms: string; end_ms: string; text: string; speaker: string | null; engine: string; kind: string }>(
        `DELETE FROM transcript_segments
          WHERE transcription_id = $1 AND kind IN ('final', 'provisional') AND (start_ms + end_ms) >= 2 * $2::bigint AND (start_ms + end_ms) <= 2 * $3::bigint
          RETURNING segment_key, start_ms, end_ms, text, speaker, engine, kind`,
        [h.transcription_id, h.from_ms, Math.round(toMs ?? Number(h.to_ms))],
      );
      let added = 0;
      for (const s of segments) {
        const { rowCount } = await client.query(
          `INSERT INTO transcript_segments (transcription_id, segment_key, start_ms, end_ms, text, machine_text, speaker, engine, kind)
           VALUES ($1, $2, $3, $4, $5, $5, $6, $7, 'final') ON CONFLICT (transcription_id, segment_key) DO NOTHING`,
          [h.transcription_id, s.segmentKey, Math.round(s.startMs), Math.round(Math.max(s.endMs, s.startMs)), s.text, s.speaker ?? null, engine],
        );
        added += rowCount ?? 0;
      }
      const replaced = old
        .map((o) => ({ segmentKey: o.segment_key, startMs: Number(o.start_ms), endMs: Number(o.end_ms), text: o.text, speaker: o.speaker, engine: o.engine, kind: o.kind }))
        .sort((a, b) => a.startMs - b.startMs);
      // A change to the transcript: an open review page editing on the old version gets edit_conflict.
      await client.query('UPDATE transcriptions SET version = version + 1 WHERE id = $1', [h.transcription_id]);
      await client.query(
        `UPDATE transcript_repairs SET status = 'repaired', replaced = $2::jsonb, segments_replaced = $3, segments_added = $4, repaired_at = now(), last_error = NULL WHERE id = $1`,
        [id, JSON.stringify(replaced), replaced.length, added],
      );
      await client.query('COMMIT');
      return { replaced: replaced.length, added };
    } catch (err) {
      await client.query('ROLLBACK').catch(() => {});
      throw err;
    } finally {
      client.release();
    }
  }

  /**
   * Puts a stretch back for later (`retryable`: after `delayMs`) or gives it up (`failed`) after
   * {@link MAX_REPAIR_ATTEMPTS} or a non-retryable error. `code` is an error code, never text.
   */
  async release(id: string, taskId: string, r: { code: string; retryable: boolean; delayMs: number }): Promise<void> {
    await this.db.query(
      `UPDATE transcript_repairs
          SET status = CASE WHEN $3 AND attempts < $5 THEN 'pending' ELSE 'failed' END,
              not_before = now() + make_interval(secs => $4::double precision / 1000), last_error = $6, claimed_by = NULL
        WHERE id = $1 AND status = 'running' AND claimed_by = $2`,
      [id, taskId, r.retryable, r.delayMs, MAX_REPAIR_ATTEMPTS, r.code.slice(0, 64)],
    );
  }

  /** The repair state of a transcription, or undefined when it never needed one. */
  async summary(transcriptionId: string): Promise<RepairSummary | undefined> {
    return repairSummary(this.db, transcriptionId);
  }
}

/** {@link RepairRepository.summary} for readers that hold only the pool (the transcript detail). */
export async function repairSummary(db: Pool, transcriptionId: string): Promise<RepairSummary | undefined> {
  const { rows } = await db.query<{ from_ms: string; to_ms: string; status: RepairSummary['stretches'][number]['status']; segments_replaced: number }>(
    'SELECT from_ms, to_ms, status, segments_replaced FROM transcript_repairs WHERE transcription_id = $1 ORDER BY from_ms',
    [transcriptionId],
  );
  if (rows.length === 0) return undefined;
  const stretches = rows.map((r) => ({ fromMs: Number(r.from_ms), toMs: Number(r.to_ms), status: r.status }));
  const status = stretches.some((s) => s.status === 'pending' || s.status === 'running') ? 'pending' : stretches.some((s) => s.status === 'failed') ? 'failed' : 'repaired';
  return { status, segmentsReplaced: rows.reduce((n, r) => n + r.segments_replaced, 0), stretches };
}
