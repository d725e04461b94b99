import type pg from 'pg';

/**
 * The rows of durable checkpoints (`recording_checkpoints`; what they are: recordings/checkpoints.ts
 * and docs/recordings.md).
 *
 * `pcm` checkpoints hold the 16 kHz PCM appended to the WAV recording; `wire` checkpoints hold Opus
 * chunks as received (WebM or Ogg, the container header in the first).
 */
export type CheckpointKind = 'pcm' | 'wire';

export interface CheckpointRow {
  firstSeq: number;
  lastSeq: number;
  kind: CheckpointKind;
  objectKey: string;
  bytes: number;
}

/** SQL for `recording_checkpoints`. */
export function checkpointsRepository(db: pg.Pool) {
  return {
    /**
     * Adds a checkpoint row while `ownerTask` owns the live session. False when it does not (another
     * task claimed the session: a zombie's checkpoint must not enter the new owner's chain, where it
     * would take the place of the new owner's row for the same `first_seq`). The transcription row
     * is locked FOR SHARE, so a claim either comes after this insert (and the claimer's read of the
     * chain sees the row) or before it (and the insert is refused). A retried insert of the same
     * object (its first answer lost) is true.
     */
    async insert(transcriptionId: string, c: CheckpointRow, ownerTask?: string): Promise<boolean> {
      const { rowCount } = await db.query(
        `INSERT INTO recording_checkpoints (transcription_id, first_seq, last_seq, kind, object_key, bytes)
         SELECT $1::uuid, $2::bigint, $3::bigint, $4::text, $5::text, $6::integer
          WHERE $7::text IS NULL OR EXISTS (SELECT 1 FROM transcriptions t WHERE t.id = $1::uuid AND t.owner_task = $7 AND t.status = 'recording' FOR SHARE)
         ON CONFLICT (transcription_id, first_seq) DO NOTHING`,
        [transcriptionId, c.firstSeq, c.lastSeq, c.kind, c.objectKey, c.bytes, ownerTask ?? null],
      );
      if (rowCount === 1) return true;
      const { rows } = await db.query<{ object_key: string }>('SELECT object_key FROM recording_checkpoints WHERE transcription_id = $1 AND first_seq = $2', [transcriptionId, c.firstSeq]);
      return rows[0]?.object_key === c.objectKey;
    },
    async list(transcriptionId: string): Promise<CheckpointRow[]> {
      const { rows } = await db.query<{ first_seq: string; last_seq: string; kind: CheckpointKind; object_key: string; bytes: number }>(
        'SELECT first_seq, last_seq, kind, object_key, bytes FROM recording_checkpoints WHERE transcription_id = $1 ORDER BY first_seq',
        [transcriptionId],
      );
      return rows.map((r) => ({ firstSeq: Number(r.first_seq), lastSeq: Number(r.last_seq), kind: r.kind, objectKey: r.object_key, bytes: r.bytes }));
    },
    /**
     * Deletes the rows of sessions that are over for good and whose recording is stored: not
     * `recording`, not ended at a shutdown within `resumeGraceMs` (another task may still continue
     * it from them), and whose highest recording part is `completed` (it holds the whole session).
     * Rows of a session whose recording failed stay: they may be the only copy of its audio.
     * Returns the object keys they named.
     */
    async removeSettled(resumeGraceMs: number): Promise<string[]> {
      const { rows } = await db.query<{ object_key: string }>(
        `DELETE FROM recording_checkpoints c USING transcriptions t
          WHERE t.id = c.transcription_id AND t.status <> 'recording'
            AND NOT (t.end_reason = 'server_shutdown' AND t.ended_at > now() - make_interval(secs => $1::double precision / 1000))
            AND (SELECT r.upload_state FROM recordings r WHERE r.transcription_id = t.id ORDER BY r.part_index DESC LIMIT 1) = 'completed'
          RETURNING c.object_key`,
        [resumeGraceMs],
      );
      return rows.map((r) => r.object_key);
    },
    /** Which of `keys` a row names. */
    async named(keys: readonly string[]): Promise<Set<string>> {
      if (keys.length === 0) return new Set();
      const { rows } = await db.query<{ object_key: string }>('SELECT object_key FROM recording_checkpoints WHERE object_key = ANY($1::text[])', [keys]);
      return new Set(rows.map((r) => r.object_key));
    },
    /**
     * Deletes the transcription's rows, unless another task than `ownerTask` owns the session now;
     * returns the object keys they named.
     */
    async removeAll(transcriptionId: string, ownerTask?: string): Promise<string[]> {
      const { rows } = await db.query<{ object_key: string }>(
        `DELETE FROM recording_checkpoints WHERE transcription_id = $1
            AND ($2::text IS NULL OR EXISTS (SELECT 1 FROM transcriptions t WHERE t.id = $1 AND (t.owner_task IS NULL OR t.owner_task = $2) FOR SHARE))
          RETURNING object_key`,
        [transcriptionId, ownerTask ?? null],
      );
      return rows.map((r) => r.object_key);
    },
  };
}
export type CheckpointsRepository = ReturnType<typeof checkpointsRepository>;
