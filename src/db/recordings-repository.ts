import type pg from 'pg';

/** `superseded`: an earlier part whose object was deleted because a later completed part holds the whole recording. */
export type UploadState = 'uploading' | 'completing' | 'completed' | 'failed' | 'aborted' | 'superseded';

export interface RecordingFormat {
  container: 'wav' | 'ogg';
  /** WAV only: PCM sample rate. */
  sampleRate?: number;
}

export interface UploadedPart {
  n: number;
  etag: string;
  /** Bytes of the part as stored in S3. */
  size: number;
}

export interface RecordingRow {
  id: string;
  transcriptionId: string;
  objectKey: string;
  contentType: string;
  uploadId: string | null;
  uploadState: UploadState;
  parts: UploadedPart[];
  bytes: number;
  durationMs: number;
  sha256: string | null;
  failureReason: string | null;
  format: RecordingFormat;
}

const COLUMNS = `id, transcription_id, object_key, content_type, upload_id, upload_state, parts, bytes, duration_ms, sha256, failure_reason, format`;

function toRow(r: Record<string, unknown>): RecordingRow {
  // Later entries for the same part number (a re-upload) win.
  const byNumber = new Map<number, UploadedPart>();
  for (const p of r.parts as UploadedPart[]) byNumber.set(p.n, p);
  return {
    id: r.id as string,
    transcriptionId: r.transcription_id as string,
    objectKey: r.object_key as string,
    contentType: r.content_type as string,
    uploadId: (r.upload_id as string | null) ?? null,
    uploadState: r.upload_state as UploadState,
    parts: [...byNumber.values()].sort((a, b) => a.n - b.n),
    bytes: Number(r.bytes),
    durationMs: Number(r.duration_ms),
    sha256: (r.sha256 as string | null) ?? null,
    failureReason: (r.failure_reason as string | null) ?? null,
    format: r.format as RecordingFormat,
  };
}

/** SQL for the `recordings` table (and the transcription status changes recovery makes). */
export function recordingsRepository(db: pg.Pool) {
  return {
    /** A new recording row; part > 0 continues a session on another task and inherits the earlier part's gaps. */
    async insert(row: { transcriptionId: string; objectKey: string; contentType: string; format: RecordingFormat; partIndex?: number }): Promise<RecordingRow> {
      const { rows } = await db.query(
        `INSERT INTO recordings (transcription_id, object_key, content_type, format, part_index, gaps)
         VALUES ($1, $2, $3, $4, $5, COALESCE((SELECT gaps FROM recordings WHERE transcription_id = $1 AND part_index < $5 ORDER BY part_index DESC LIMIT 1), '[]'::jsonb))
         RETURNING ${COLUMNS}`,
        [row.transcriptionId, row.objectKey, row.contentType, JSON.stringify(row.format), row.partIndex ?? 0],
      );
      return toRow(rows[0]!);
    },

    async setUploadId(id: string, uploadId: string): Promise<void> {
      await db.query(`UPDATE recordings SET upload_id = $2, updated_at = now() WHERE id = $1`, [id, uploadId]);
    },

    async addPart(id: string, part: UploadedPart): Promise<void> {
      await db.query(`UPDATE recordings SET parts = parts || $2::jsonb, updated_at = now() WHERE id = $1`, [id, JSON.stringify([part])]);
    },

    async setState(id: string, state: UploadState, failureReason: string | null = null): Promise<void> {
      await db.query(`UPDATE recordings SET upload_state = $2, failure_reason = $3, updated_at = now() WHERE id = $1`, [id, state, failureReason]);
    },

    async markCompleted(id: string, m: { bytes: number; durationMs: number; sha256: string; note: string | null }): Promise<void> {
      await db.query(
        `UPDATE recordings SET upload_state = 'completed', bytes = $2, duration_ms = $3, sha256 = $4, failure_reason = $5,
           completed_at = now(), updated_at = now() WHERE id = $1`,
        [id, m.bytes, m.durationMs, m.sha256, m.note],
      );
    },

    async findByTranscription(transcriptionId: string): Promise<RecordingRow | null> {
      // The highest part is the whole recording (docs/resilience.md).
      const { rows } = await db.query(`SELECT ${COLUMNS} FROM recordings WHERE transcription_id = $1 ORDER BY part_index DESC LIMIT 1`, [transcriptionId]);
      return rows[0] ? toRow(rows[0]) : null;
    },

    /**
     * The completed earlier parts of recording `id`'s transcription, if `id` itself is completed: the
     * parts it supersedes (docs/resilience.md, "Recording parts").
     */
    async findSupersededBy(id: string): Promise<Array<{ id: string; objectKey: string }>> {
      const { rows } = await db.query(
        `SELECT o.id, o.object_key FROM recordings n
           JOIN recordings o ON o.transcription_id = n.transcription_id AND o.part_index < n.part_index
          WHERE n.id = $1 AND n.upload_state = 'completed' AND o.upload_state = 'completed'
          ORDER BY o.part_index`,
        [id],
      );
      return rows.map((r) => ({ id: r.id as string, objectKey: r.object_key as string }));
    },

    /** Marks a completed part `superseded` once its object is deleted. */
    async markSuperseded(id: string): Promise<void> {
      await db.query(`UPDATE recordings SET upload_state = 'superseded', updated_at = now() WHERE id = $1 AND upload_state = 'completed'`, [id]);
    },

    /** Completed later parts whose completed earlier parts are still stored (a delete that failed or was cut short). */
    async findPendingSupersessions(): Promise<Array<{ id: string; transcriptionId: string }>> {
      const { rows } = await db.query(
        `SELECT n.id, n.transcription_id FROM recordings n
          WHERE n.part_index > 0 AND n.upload_state = 'completed'
            AND EXISTS (SELECT 1 FROM recordings o WHERE o.transcription_id = n.transcription_id AND o.part_index < n.part_index AND o.upload_state = 'completed')`,
      );
      return rows.map((r) => ({ id: r.id as string, transcriptionId: r.transcription_id as string }));
    },

    /**
     * Unfinished recordings that no live process owns: the session ended (or failed) without the
     * upload completing; or the session is still `recording` but owned by this task (a previous
     * life of it) or by no one, or its owner has sent no audio for `graceMs`; but not another task's
     * session that has durable checkpoints (those are finalised from the checkpoints).
     */
    async findOrphans(taskId: string, graceMs: number): Promise<Array<RecordingRow & { transcriptionStatus: string }>> {
      const { rows } = await db.query(
        `SELECT r.id, r.transcription_id, r.object_key, r.content_type, r.upload_id, r.upload_state, r.parts, r.bytes,
                r.duration_ms, r.sha256, r.failure_reason, r.format, t.status AS transcription_status
           FROM recordings r JOIN transcriptions t ON t.id = r.transcription_id
          WHERE r.upload_state IN ('uploading', 'completing')
            AND (t.status <> 'recording' OR t.owner_task IS NULL OR t.owner_task = $1
                 OR COALESCE(t.last_audio_at, t.created_at) < now() - make_interval(secs => $2::double precision / 1000))
            -- Another task's live session with durable checkpoints is continued or finalised from
            -- them (dictation/abandoned-sessions.ts); its spool is not here.
            AND NOT (t.status = 'recording' AND t.owner_task IS DISTINCT FROM $1
                     AND EXISTS (SELECT 1 FROM recording_checkpoints c WHERE c.transcription_id = t.id))
          ORDER BY r.created_at`,
        [taskId, graceMs],
      );
      return rows.map((r) => ({ ...toRow(r), transcriptionStatus: r.transcription_status as string }));
    },

    /**
     * The unfinished parts of a transcription whose task died, when another task continues the
     * session from its durable checkpoints: they are `aborted` (their spool went with the task; the
     * new part holds the whole recording). Returns them, for aborting their multipart uploads.
     */
    async abandonUnfinished(transcriptionId: string, reason: string): Promise<Array<{ objectKey: string; uploadId: string | null }>> {
      const { rows } = await db.query(
        `UPDATE recordings SET upload_state = 'aborted', failure_reason = $2, updated_at = now()
          WHERE transcription_id = $1 AND upload_state IN ('uploading', 'completing') RETURNING object_key, upload_id`,
        [transcriptionId, reason],
      );
      return rows.map((r) => ({ objectKey: r.object_key as string, uploadId: (r.upload_id as string | null) ?? null }));
    },

    /** Ends a crashed session: `completed` with a note, or `failed` with the reason. Only touches `recording` rows. */
    async endCrashedTranscription(transcriptionId: string, outcome: { status: 'completed' | 'failed'; reason: string; durationMs: number | null }): Promise<void> {
      await db.query(
        `UPDATE transcriptions SET status = $2, failure_reason = $3, end_reason = COALESCE(end_reason, 'error'),
           ended_at = COALESCE(ended_at, now()), duration_ms = COALESCE(duration_ms, $4)
          WHERE id = $1 AND status = 'recording'`,
        [transcriptionId, outcome.status, outcome.reason, outcome.durationMs],
      );
    },
  };
}

export type RecordingsRepository = ReturnType<typeof recordingsRepository>;
