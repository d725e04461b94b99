import type { Pool } from '../db/pool.js';
import type { EndReason } from '../realtime/events.js';
import type { SessionType, Specialty } from '../transcription/port.js';

export interface NewTranscription {
  clinicianId: string;
  title: string;
  specialty: Specialty;
  type: SessionType;
  engine: string;
  encoding: 'pcm_s16le' | 'webm_opus' | 'ogg_opus';
  sampleRate: number | null;
  ownerTask: string;
}

export interface SegmentRow {
  transcriptionId: string;
  /** Unique per transcription: a replayed final is stored once. */
  segmentKey: string;
  startMs: number;
  endMs: number;
  text: string;
  speaker?: string;
  engine: string;
  kind?: 'final' | 'gap' | 'provisional';
}

/** What the live pipeline writes: the transcription row's life and its segments as they arrive. */
export class DictationRepository {
  constructor(private readonly db: Pool) {}

  async create(t: NewTranscription): Promise<{ id: string; createdAt: Date }> {
    const { rows } = await this.db.query<{ id: string; created_at: Date }>(
      `INSERT INTO transcriptions (clinician_id, title, specialty, type, engine, audio_encoding, sample_rate, owner_task, last_audio_at)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, now()) RETURNING id, created_at`,
      [t.clinicianId, t.title, t.specialty, t.type, t.engine, t.encoding, t.sampleRate, t.ownerTask],
    );
    return { id: rows[0]!.id, createdAt: rows[0]!.created_at };
  }

  /** Stores a segment; returns false when that segment key was already stored. */
  async insertSegment(s: SegmentRow): Promise<{ id: string } | undefined> {
    const { rows } = await this.db.query<{ id: string }>(
      `INSERT INTO transcript_segments (transcription_id, segment_key, start_ms, end_ms, text, speaker, engine, kind)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
       ON CONFLICT (transcription_id, segment_key) DO NOTHING RETURNING id`,
      [s.transcriptionId, s.segmentKey, Math.round(s.startMs), Math.round(Math.max(s.endMs, s.startMs)), s.text, s.speaker ?? null, s.engine, s.kind ?? 'final'],
    );
    return rows[0];
  }

  /**
   * Records audio the server never received: a `gap` segment (reviewers see it) and an entry in the
   * recording's `gaps` metadata. Idempotent per `fromSeq`.
   */
  async markGap(g: { transcriptionId: string; fromSeq: number; toSeq: number; atMs: number; durationMs: number; engine: string }): Promise<void> {
    const client = await this.db.connect();
    try {
      await client.query('BEGIN');
      await client.query(
        `INSERT INTO transcript_segments (transcription_id, segment_key, start_ms, end_ms, text, engine, kind)
         VALUES ($1, $2, $3, $4, '', $5, 'gap') ON CONFLICT (transcription_id, segment_key) DO NOTHING`,
        [g.transcriptionId, `gap-${g.fromSeq}`, g.atMs, g.atMs + g.durationMs, g.engine],
      );
      await client.query(
        `UPDATE recordings SET gaps = gaps || $2::jsonb, updated_at = now()
          WHERE transcription_id = $1 AND NOT gaps @> $3::jsonb`,
        [
          g.transcriptionId,
          JSON.stringify([{ fromSeq: g.fromSeq, toSeq: g.toSeq, atMs: g.atMs, durationMs: g.durationMs }]),
          JSON.stringify([{ fromSeq: g.fromSeq }]),
        ],
      );
      await client.query('COMMIT');
    } catch (err) {
      await client.query('ROLLBACK').catch(() => {});
      throw err;
    } finally {
      client.release();
    }
  }

  /** Live progress a resume on any task needs: the highest contiguous chunk and the audio received. */
  async progress(id: string, ackSeq: number, audioMs: number): Promise<void> {
    await this.db.query('UPDATE transcriptions SET ack_seq = $2, audio_ms = $3, last_audio_at = now() WHERE id = $1', [id, ackSeq, Math.round(audioMs)]);
  }

  async finish(
    id: string,
    r: { status: 'completed' | 'failed'; endReason: EndReason; durationMs: number; ackSeq: number; failureReason?: string },
  ): Promise<void> {
    await this.db.query(
      `UPDATE transcriptions
          SET status = $2, end_reason = $3, duration_ms = $4, audio_ms = $4, ack_seq = $5, failure_reason = $6, ended_at = now(), owner_task = NULL
        WHERE id = $1`,
      [id, r.status, r.endReason, Math.round(r.durationMs), r.ackSeq, r.failureReason ?? null],
    );
  }

  /**
   * Closes transcriptions a dead process left in `recording` (owned by this task in a previous
   * life, by nobody, or silent for `graceMs`) whose recording is settled or absent: `completed`
   * with reason `interrupted` when any text was stored, else `failed`. Returns how many.
   */
  async closeInterrupted(taskId: string, graceMs: number): Promise<number> {
    const { rowCount } = await this.db.query(
      `UPDATE transcriptions t
          SET status = CASE WHEN EXISTS (SELECT 1 FROM transcript_segments s WHERE s.transcription_id = t.id) THEN 'completed' ELSE 'failed' END,
              end_reason = 'error', failure_reason = coalesce(t.failure_reason, 'interrupted'),
              ended_at = now(), duration_ms = coalesce(t.duration_ms, t.audio_ms), owner_task = NULL
        WHERE t.status = 'recording'
          AND (t.owner_task = $1 OR t.owner_task IS NULL OR coalesce(t.last_audio_at, t.created_at) < now() - make_interval(secs => $2::double precision / 1000))
          AND NOT EXISTS (SELECT 1 FROM recordings r WHERE r.transcription_id = t.id AND r.upload_state IN ('uploading', 'completing'))`,
      [taskId, graceMs],
    );
    return rowCount ?? 0;
  }
}
