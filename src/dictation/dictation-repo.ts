import type { Pool } from '../db/pool.js';
import type { EndReason } from './types.js';
import type { SessionType, Specialty } from '../transcription/port.js';
import type { ProgressRow } from './progress-batcher.js';
import { SegmentRepository, type SegmentRow } from './segment-repo.js';

export type { SegmentRow } from './segment-repo.js';

export interface NewTranscription {
  clinicianId: string;
  title: string;
  specialty: Specialty;
  type: SessionType;
  engine: string;
  encoding: 'pcm_s16le' | 'webm_opus' | 'ogg_opus';
  sampleRate: number | null;
  ownerTask: string;
  /** The live session id, so a resume on any task finds the row. */
  sessionId: string;
}

/** What a task needs to continue a session another task ended at shutdown. */
export interface ResumableTranscription {
  id: string;
  ackSeq: number;
  audioMs: number;
  specialty: Specialty;
  type: SessionType;
  encoding: 'pcm_s16le' | 'webm_opus' | 'ogg_opus';
  sampleRate: number | null;
  resumePart: number;
  /**
   * `shutdown`: another task ended it with `server_shutdown` (its recording part is complete);
   * `crashed`: still `recording`, but its owner has not been seen for `deadAfterMs` (or is this task
   * in an earlier life); `owner_alive`: still `recording` on a task that is alive.
   */
  state: 'shutdown' | 'crashed' | 'owner_alive';
}

/** A session whose task died and whose client did not come back (see `findAbandoned`). */
export interface AbandonedTranscription {
  id: string;
  resumePart: number;
  encoding: 'pcm_s16le' | 'webm_opus' | 'ogg_opus';
  /** The last ack_seq the dead task stored (what its client had been told it held). */
  ackSeq: number;
}

/**
 * What the live pipeline writes: the transcription row's life (here) and its segments as they
 * arrive (`segments`, segment-repo.ts). `insertSegment`, `markGap` and `trimForContinuation` pass
 * through to it, so the live session and the manager reach both through the one `repo` they hold.
 */
export class DictationRepository {
  readonly segments: SegmentRepository;

  constructor(private readonly db: Pool) {
    this.segments = new SegmentRepository(db);
  }

  async create(t: NewTranscription): Promise<{ id: string; createdAt: Date }> {
    const { rows } = await this.db.query<{ id: string; created_at: Date }>(
      `INSERT INTO transcriptions (clinician_id, title, specialty, type, engine, audio_encoding, sample_rate, owner_task, last_audio_at, session_id)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, now(), $9) RETURNING id, created_at`,
      [t.clinicianId, t.title, t.specialty, t.type, t.engine, t.encoding, t.sampleRate, t.ownerTask, t.sessionId],
    );
    return { id: rows[0]!.id, createdAt: rows[0]!.created_at };
  }

  /** Stores a final segment, batched with other sessions' (see SegmentRepository.insert). */
  insertSegment(s: SegmentRow, ownerTask?: string): Promise<{ id: string } | undefined> {
    return this.segments.insert(s, ownerTask);
  }

  /** Whether `taskId` still owns live session `id` (false once another task claimed it, or it ended). */
  async ownedBy(id: string, taskId: string): Promise<boolean> {
    const { rowCount } = await this.db.query(`SELECT 1 FROM transcriptions WHERE id = $1 AND owner_task = $2 AND status = 'recording'`, [id, taskId]);
    return rowCount === 1;
  }

  /** See SegmentRepository.markGap. */
  markGap(g: Parameters<SegmentRepository['markGap']>[0]): Promise<void> {
    return this.segments.markGap(g);
  }

  /**
   * The transcription of live session `sessionId` of `clinicianId` if it may be continued here:
   * another task ended it at shutdown within `graceMs`, or it is still `recording` on a task that
   * is not this one's live copy (see {@link ResumableTranscription.state}); undefined otherwise.
   */
  async findResumable(sessionId: string, clinicianId: string, graceMs: number, deadAfterMs = 10_000): Promise<ResumableTranscription | undefined> {
    const { rows } = await this.db.query<{
      id: string; ack_seq: string; audio_ms: string; specialty: Specialty; type: SessionType; audio_encoding: ResumableTranscription['encoding']; sample_rate: number | null; resume_part: number;
      state: ResumableTranscription['state'];
    }>(
      `SELECT id, ack_seq, audio_ms, specialty, type, audio_encoding, sample_rate, resume_part,
              CASE WHEN t.status <> 'recording' THEN 'shutdown'
                   WHEN EXISTS (SELECT 1 FROM task_heartbeats h WHERE h.task_id = t.owner_task
                                   AND h.seen_at > now() - make_interval(secs => $4::double precision / 1000)) THEN 'owner_alive'
                   ELSE 'crashed' END AS state
         FROM transcriptions t
        WHERE session_id = $1 AND clinician_id = $2
          AND ((end_reason = 'server_shutdown' AND ended_at > now() - make_interval(secs => $3::double precision / 1000)) OR status = 'recording')`,
      [sessionId, clinicianId, graceMs, deadAfterMs],
    );
    const r = rows[0];
    return r && { id: r.id, ackSeq: Number(r.ack_seq), audioMs: Number(r.audio_ms), specialty: r.specialty, type: r.type, encoding: r.audio_encoding, sampleRate: r.sample_rate, resumePart: r.resume_part, state: r.state };
  }

  /**
   * Takes a `crashed` session (see findResumable) for this task. Atomic: of two tasks racing, one
   * gets true. The dead owner's progress writes no longer match the row.
   */
  async claimCrashed(id: string, taskId: string, fromPart: number): Promise<boolean> {
    const { rowCount } = await this.db.query(
      `UPDATE transcriptions SET owner_task = $2, last_audio_at = now(), resume_part = resume_part + 1
        WHERE id = $1 AND status = 'recording' AND resume_part = $3`,
      [id, taskId, fromPart],
    );
    return rowCount === 1;
  }

  /**
   * Sessions still `recording` whose owner (not `taskId`) has written no heartbeat for `deadAfterMs`
   * (or is no one), and that have shown no sign of life (the owner's last heartbeat, the last audio)
   * for `graceMs`: their client had that long to resume elsewhere and did not.
   */
  async findAbandoned(taskId: string, deadAfterMs: number, graceMs: number, limit = 20): Promise<AbandonedTranscription[]> {
    const { rows } = await this.db.query<{ id: string; resume_part: number; audio_encoding: AbandonedTranscription['encoding']; ack_seq: string }>(
      `SELECT t.id, t.resume_part, t.audio_encoding, t.ack_seq
         FROM transcriptions t LEFT JOIN task_heartbeats h ON h.task_id = t.owner_task
        WHERE t.status = 'recording' AND t.owner_task IS DISTINCT FROM $1
          AND (h.seen_at IS NULL OR h.seen_at < now() - make_interval(secs => $2::double precision / 1000))
          AND GREATEST(h.seen_at, t.last_audio_at, t.created_at) < now() - make_interval(secs => $3::double precision / 1000)
        ORDER BY t.created_at LIMIT $4`,
      [taskId, deadAfterMs, graceMs, limit],
    );
    return rows.map((r) => ({ id: r.id, resumePart: r.resume_part, encoding: r.audio_encoding, ackSeq: Number(r.ack_seq) }));
  }

  /** Undoes `claimCrashed` when the continuation could not start: owned by no one, resumable again. */
  async releaseCrashedClaim(id: string, taskId: string, fromPart: number): Promise<void> {
    await this.db.query(`UPDATE transcriptions SET owner_task = NULL, resume_part = $3 WHERE id = $1 AND owner_task = $2 AND status = 'recording'`, [id, taskId, fromPart]);
  }

  /** See SegmentRepository.trimForContinuation. */
  trimForContinuation(transcriptionId: string, durableMs: number, maxReplayMs: number): Promise<number> {
    return this.segments.trimForContinuation(transcriptionId, durableMs, maxReplayMs);
  }

  /** This task is alive (task_heartbeats); rows of tasks gone for a day are removed on the way. */
  async heartbeat(taskId: string, first = false): Promise<void> {
    await this.db.query(`INSERT INTO task_heartbeats (task_id, seen_at) VALUES ($1, now()) ON CONFLICT (task_id) DO UPDATE SET seen_at = now()`, [taskId]);
    if (first) await this.db.query(`DELETE FROM task_heartbeats WHERE seen_at < now() - interval '1 day'`);
  }

  /**
   * Takes the transcription for this task: back to `recording`, owned here, next resume part.
   * Atomic: when two tasks race for one resume, exactly one gets true.
   */
  async claimForResume(id: string, taskId: string, fromPart: number): Promise<boolean> {
    const { rowCount } = await this.db.query(
      `UPDATE transcriptions SET status = 'recording', end_reason = NULL, ended_at = NULL, failure_reason = NULL, duration_ms = NULL,
              owner_task = $2, last_audio_at = now(), resume_part = resume_part + 1
        WHERE id = $1 AND end_reason = 'server_shutdown' AND resume_part = $3`,
      [id, taskId, fromPart],
    );
    return rowCount === 1;
  }

  /** Undoes a claim whose continuation could not start (the session stays resumable). */
  async releaseClaim(id: string, fromPart: number): Promise<void> {
    await this.db.query(
      `UPDATE transcriptions SET status = 'completed', end_reason = 'server_shutdown', ended_at = now(), duration_ms = audio_ms, owner_task = NULL, resume_part = $2
        WHERE id = $1 AND status = 'recording'`,
      [id, fromPart],
    );
  }

  /**
   * Live progress a resume or recovery on any task needs, for many sessions in one statement (see
   * ProgressBatcher). Only rows still recording and owned by `taskId` change: a write that lands
   * after the session's end, or after another task claimed it, is a no-op.
   */
  async progress(taskId: string, rows: readonly ProgressRow[]): Promise<void> {
    if (rows.length === 0) return;
    // Rows locked in id order, as the segment batch locks them (SegmentRepository.insertMany):
    // in the join's order the two could each hold a row the other waits for.
    await this.db.query(
      `WITH v AS (SELECT * FROM unnest($2::uuid[], $3::bigint[], $4::bigint[]) AS v(id, ack_seq, audio_ms)),
            locked AS MATERIALIZED (
              SELECT t.id FROM transcriptions t WHERE t.id = ANY($2::uuid[]) AND t.status = 'recording' AND t.owner_task = $1 ORDER BY t.id FOR NO KEY UPDATE
            )
       UPDATE transcriptions AS t
          SET ack_seq = v.ack_seq, audio_ms = v.audio_ms, last_audio_at = now()
         FROM v
        WHERE t.id = v.id AND t.id IN (SELECT id FROM locked) AND t.status = 'recording' AND t.owner_task = $1`,
      [taskId, rows.map((r) => r.transcriptionId), rows.map((r) => r.ackSeq), rows.map((r) => Math.round(r.audioMs))],
    );
  }

  /**
   * Ends the transcription. With `ownerTask`, only while that task owns it: a task that was presumed
   * dead (paused, partitioned) and wakes up must not end a session another task continues or has
   * finalised. Returns whether the row changed.
   */
  async finish(
    id: string,
    r: { status: 'completed' | 'failed'; endReason: EndReason; durationMs: number; ackSeq: number; failureReason?: string },
    ownerTask?: string,
  ): Promise<boolean> {
    const { rowCount } = await this.db.query(
      `UPDATE transcriptions
          SET status = $2, end_reason = $3, duration_ms = $4, audio_ms = $4, ack_seq = $5, failure_reason = $6, ended_at = now(), owner_task = NULL
        WHERE id = $1 AND ($7::text IS NULL OR owner_task = $7)`,
      [id, r.status, r.endReason, Math.round(r.durationMs), r.ackSeq, r.failureReason ?? null, ownerTask ?? null],
    );
    return rowCount === 1;
  }

  /**
   * Closes transcriptions a dead process left in `recording` (owned by this task in a previous
   * life, by nobody, or silent for `graceMs`) whose recording is settled or absent: `completed`
   * with reason `interrupted` when any text was stored, else `failed`. Another task's session with
   * durable checkpoints is left to `AbandonedSessions`, which stores their audio. Returns how many.
   */
  async closeInterrupted(taskId: string, graceMs: number): Promise<number> {
    const { rowCount } = await this.db.query(
      `UPDATE transcriptions t
          SET status = CASE WHEN EXISTS (SELECT 1 FROM transcript_segments s WHERE s.transcription_id = t.id) THEN 'completed' ELSE 'failed' END,
              end_reason = 'error', failure_reason = coalesce(t.failure_reason, 'interrupted'),
              ended_at = now(), duration_ms = coalesce(t.duration_ms, t.audio_ms), owner_task = NULL
        WHERE t.status = 'recording'
          AND (t.owner_task = $1 OR t.owner_task IS NULL OR coalesce(t.last_audio_at, t.created_at) < now() - make_interval(secs => $2::double precision / 1000))
          AND NOT EXISTS (SELECT 1 FROM recordings r WHERE r.transcription_id = t.id AND r.upload_state IN ('uploading', 'completing'))
          AND (t.owner_task = $1 OR NOT EXISTS (SELECT 1 FROM recording_checkpoints c WHERE c.transcription_id = t.id))`,
      [taskId, graceMs],
    );
    return rowCount ?? 0;
  }
}
