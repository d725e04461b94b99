import type pg from 'pg';
import type { Pool } from '../db/pool.js';
import { AppError } from '../lib/app-error.js';
import type { ClinicianRef, TranscriptionStatus } from './types.js';

/** Who makes a change: recorded in the history beside what changed. */
export interface Editor {
  id: string;
  username: string;
}

/** One row of `GET /api/transcriptions/:id/history` (API.md, "Review"). */
export interface HistoryItem {
  version: number;
  at: string;
  by: ClinicianRef;
  segmentId?: string;
  field: 'text' | 'speaker' | 'status';
  before: string | null;
  after: string | null;
  reason?: string;
}

export interface EditedSegment {
  id: string;
  text: string;
  speaker: string | null;
  machineText: string;
  startMs: number;
  endMs: number;
}

/** What a change did, for the audit row: identifiers and counts, never the text. */
export interface ChangeOutcome {
  version: number;
  previousVersion: number;
  status: TranscriptionStatus;
  statusChanged: boolean;
}

interface Locked {
  id: string;
  status: TranscriptionStatus;
  version: number;
}

const AT_TEXT = `to_char(at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')`;

/**
 * The write side of review: segment edits, speaker renames, sign-off and reopening. Each change runs
 * in one transaction that locks the transcription row, checks the version the client saw (optimistic
 * concurrency: a stale version is `edit_conflict` carrying the current one), writes the new values,
 * raises `version` and appends to `transcript_edits`. Nothing is overwritten without its history:
 * the engine's text stays in `machine_text`, every before → after is a history row.
 *
 * Access (who may see the transcription) is decided by the caller; this class decides what the
 * transcription's state allows.
 */
export class TranscriptReviewRepository {
  constructor(private readonly db: Pool) {}

  /**
   * Changes one segment's text and/or speaker label.
   * @throws AppError `not_found` (no such segment in this transcription), `edit_conflict`,
   *   `transcript_signed`, `conflict` (still recording)
   */
  async editSegment(
    transcriptionId: string,
    segmentId: string,
    change: { text?: string; speaker?: string | null; version: number },
    by: Editor,
  ): Promise<ChangeOutcome & { segment: EditedSegment; fields: string[] }> {
    return this.tx(async (c) => {
      const t = await this.lockEditable(c, transcriptionId, change.version);
      const { rows } = await c.query<{ id: string; text: string; machine_text: string; speaker: string | null; start_ms: string; end_ms: string }>(
        `SELECT id, text, coalesce(machine_text, text) AS machine_text, speaker, start_ms, end_ms
           FROM transcript_segments WHERE id = $1 AND transcription_id = $2 FOR UPDATE`,
        [segmentId, transcriptionId],
      );
      const seg = rows[0];
      if (!seg) throw new AppError('not_found');
      const changes: Array<{ field: 'text' | 'speaker'; before: string | null; after: string | null }> = [];
      if (change.text !== undefined && change.text !== seg.text) changes.push({ field: 'text', before: seg.text, after: change.text });
      if (change.speaker !== undefined && change.speaker !== seg.speaker) changes.push({ field: 'speaker', before: seg.speaker, after: change.speaker });
      const segment = (text: string, speaker: string | null): EditedSegment => ({
        id: seg.id,
        text,
        speaker,
        machineText: seg.machine_text,
        startMs: Number(seg.start_ms),
        endMs: Number(seg.end_ms),
      });
      if (changes.length === 0) {
        return { version: t.version, previousVersion: t.version, status: t.status, statusChanged: false, segment: segment(seg.text, seg.speaker), fields: [] };
      }
      const text = change.text ?? seg.text;
      const speaker = change.speaker !== undefined ? change.speaker : seg.speaker;
      await c.query(
        `UPDATE transcript_segments SET machine_text = coalesce(machine_text, text), text = $2, speaker = $3 WHERE id = $1`,
        [seg.id, text, speaker],
      );
      const outcome = await this.bump(c, t, by);
      for (const ch of changes) await this.append(c, transcriptionId, outcome.version, by, { segmentId: seg.id, ...ch });
      return { ...outcome, segment: segment(text, speaker), fields: changes.map((ch) => ch.field) };
    });
  }

  /**
   * Renames a speaker label in every segment that carries it: one history row per segment changed,
   * all with the same new version.
   * @throws AppError `edit_conflict`, `transcript_signed`, `conflict`
   */
  async renameSpeaker(transcriptionId: string, from: string, to: string, version: number, by: Editor): Promise<ChangeOutcome & { segments: number }> {
    return this.tx(async (c) => {
      const t = await this.lockEditable(c, transcriptionId, version);
      if (from === to) return { version: t.version, previousVersion: t.version, status: t.status, statusChanged: false, segments: 0 };
      const { rows } = await c.query<{ id: string }>(
        `UPDATE transcript_segments SET speaker = $3, machine_text = coalesce(machine_text, text)
          WHERE transcription_id = $1 AND speaker = $2 RETURNING id`,
        [transcriptionId, from, to],
      );
      if (rows.length === 0) return { version: t.version, previousVersion: t.version, status: t.status, statusChanged: false, segments: 0 };
      const outcome = await this.bump(c, t, by);
      for (const r of rows) await this.append(c, transcriptionId, outcome.version, by, { segmentId: r.id, field: 'speaker', before: from, after: to });
      return { ...outcome, segments: rows.length };
    });
  }

  /**
   * Signs the version the reviewer read. Signing is not a change of content: `version` stays.
   * @throws AppError `edit_conflict` (stale version), `transcript_signed` (already signed), `conflict`
   *   (still recording)
   */
  async sign(transcriptionId: string, version: number, by: Editor): Promise<{ version: number; signedAt: string; previousStatus: TranscriptionStatus }> {
    return this.tx(async (c) => {
      const t = await this.lockEditable(c, transcriptionId, version);
      const { rows } = await c.query<{ signed_at: string }>(
        `UPDATE transcriptions SET status = 'signed', signed_by = $2, signed_at = now(), signed_version = version
          WHERE id = $1
          RETURNING to_char(signed_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') AS signed_at`,
        [transcriptionId, by.id],
      );
      await this.append(c, transcriptionId, t.version, by, { field: 'status', before: t.status, after: 'signed' });
      return { version: t.version, signedAt: rows[0]!.signed_at, previousStatus: t.status };
    });
  }

  /**
   * Reopens a signed transcript for editing (admins only; the caller checks the role). The signature
   * leaves the row but stays in the history with the reason.
   * @throws AppError `conflict` when the transcript is not signed
   */
  async reopen(transcriptionId: string, reason: string, by: Editor): Promise<{ version: number; signedVersion: number | null }> {
    return this.tx(async (c) => {
      const { rows } = await c.query<{ status: TranscriptionStatus; version: number; signed_version: number | null }>(
        'SELECT status, version, signed_version FROM transcriptions WHERE id = $1 FOR UPDATE',
        [transcriptionId],
      );
      const t = rows[0];
      if (!t) throw new AppError('not_found');
      if (t.status !== 'signed') throw new AppError('conflict', 'Only a signed transcript can be reopened.');
      await c.query(`UPDATE transcriptions SET status = 'in_review', signed_by = NULL, signed_at = NULL, signed_version = NULL WHERE id = $1`, [transcriptionId]);
      await this.append(c, transcriptionId, t.version, by, { field: 'status', before: 'signed', after: 'in_review', reason });
      return { version: t.version, signedVersion: t.signed_version };
    });
  }

  /** Every change, oldest first. */
  async history(transcriptionId: string): Promise<HistoryItem[]> {
    const { rows } = await this.db.query<{
      version: number;
      at: string;
      actor_id: string | null;
      actor_username: string;
      segment_id: string | null;
      field: HistoryItem['field'];
      before: string | null;
      after: string | null;
      reason: string | null;
    }>(
      `SELECT version, ${AT_TEXT} AS at, actor_id, actor_username, segment_id, field, before, after, reason
         FROM transcript_edits WHERE transcription_id = $1 ORDER BY id`,
      [transcriptionId],
    );
    return rows.map((r) => {
      const item: HistoryItem = {
        version: r.version,
        at: r.at,
        by: { id: r.actor_id ?? '', username: r.actor_username },
        field: r.field,
        before: r.before,
        after: r.after,
      };
      if (r.segment_id) item.segmentId = r.segment_id;
      if (r.reason) item.reason = r.reason;
      return item;
    });
  }

  /**
   * Locks the transcription and checks that it may change at `version`. The signed check comes first:
   * a reviewer holding an old version of a signed transcript learns that it is signed, which reloading
   * would not change.
   */
  private async lockEditable(c: pg.PoolClient, id: string, version: number): Promise<Locked> {
    const { rows } = await c.query<Locked>('SELECT id, status, version FROM transcriptions WHERE id = $1 FOR UPDATE', [id]);
    const t = rows[0];
    if (!t) throw new AppError('not_found');
    if (t.status === 'signed') throw new AppError('transcript_signed', undefined, { details: { version: t.version } });
    if (t.status === 'recording') throw new AppError('conflict', 'The session is still recording; review it once it has ended.');
    if (t.version !== version) throw new AppError('edit_conflict', undefined, { details: { version: t.version } });
    return t;
  }

  /** Raises the version; the first change of a completed transcript puts it in review. */
  private async bump(c: pg.PoolClient, t: Locked, by: Editor): Promise<ChangeOutcome> {
    const { rows } = await c.query<{ version: number; status: TranscriptionStatus }>(
      `UPDATE transcriptions SET version = version + 1,
              status = CASE WHEN status = 'completed' THEN 'in_review' ELSE status END
        WHERE id = $1 RETURNING version, status`,
      [t.id],
    );
    const next = rows[0]!;
    const statusChanged = next.status !== t.status;
    if (statusChanged) await this.append(c, t.id, next.version, by, { field: 'status', before: t.status, after: next.status });
    return { version: next.version, previousVersion: t.version, status: next.status, statusChanged };
  }

  private async append(
    c: pg.PoolClient,
    transcriptionId: string,
    version: number,
    by: Editor,
    e: { segmentId?: string; field: HistoryItem['field']; before: string | null; after: string | null; reason?: string },
  ): Promise<void> {
    await c.query(
      `INSERT INTO transcript_edits (transcription_id, version, actor_id, actor_username, segment_id, field, before, after, reason)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`,
      [transcriptionId, version, by.id, by.username, e.segmentId ?? null, e.field, e.before, e.after, e.reason ?? null],
    );
  }

  private async tx<T>(fn: (c: pg.PoolClient) => Promise<T>): Promise<T> {
    const c = await this.db.connect();
    try {
      await c.query('BEGIN');
      const result = await fn(c);
      await c.query('COMMIT');
      return result;
    } catch (err) {
      await c.query('ROLLBACK').catch(() => {});
      throw err;
    } finally {
      c.release();
    }
  }
}
