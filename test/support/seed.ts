import pg from 'pg';

export interface SeedSegment {
  startMs: number;
  endMs: number;
  text: string;
  speaker?: string | null;
  kind?: 'final' | 'gap' | 'provisional';
  /** The engine's words (timing, confidence), as the live pipeline stores them. */
  words?: Array<{ text: string; startMs: number; endMs: number; confidence?: number }>;
  /** PHI entity spans, as Transcribe Medical reports them. */
  phi?: Array<{ type: string; startMs: number; endMs: number; content: string }>;
  /** The engine that produced the segment (default `local`, the transcription's). */
  engine?: string;
}

export interface SeedTranscription {
  clinicianId: string;
  title?: string;
  status?: 'recording' | 'completed' | 'failed';
  specialty?: string;
  type?: 'CONVERSATION' | 'DICTATION';
  createdAt?: string;
  durationMs?: number | null;
  failureReason?: string | null;
  segments?: SeedSegment[];
  recording?: { state: 'uploading' | 'completed' | 'failed'; contentType?: string; bytes?: number };
}

/** Inserts a transcription with its segments (and optionally a recording row) by SQL; returns its id. */
export async function seedTranscription(url: string, s: SeedTranscription): Promise<string> {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  try {
    await c.query('BEGIN');
    const status = s.status ?? 'completed';
    const { rows } = await c.query<{ id: string }>(
      `INSERT INTO transcriptions (clinician_id, title, specialty, type, engine, status, failure_reason, audio_encoding,
                                   created_at, ended_at, duration_ms, end_reason)
       VALUES ($1, $2, $3, $4, 'local', $5, $6, 'pcm_s16le', coalesce($7::timestamptz, now()),
               CASE WHEN $5 = 'recording' THEN NULL ELSE coalesce($7::timestamptz, now()) + interval '1 minute' END,
               $8, CASE WHEN $5 = 'failed' THEN 'error' WHEN $5 = 'completed' THEN 'stopped' END)
       RETURNING id`,
      [
        s.clinicianId,
        s.title ?? 'Consultation',
        s.specialty ?? 'PRIMARYCARE',
        s.type ?? 'CONVERSATION',
        status,
        s.failureReason ?? (status === 'failed' ? 'transcriber_unavailable' : null),
        s.createdAt ?? null,
        s.durationMs === undefined ? 60_000 : s.durationMs,
      ],
    );
    const id = rows[0]!.id;
    let i = 0;
    for (const seg of s.segments ?? []) {
      await c.query(
        `INSERT INTO transcript_segments (transcription_id, segment_key, start_ms, end_ms, text, machine_text, speaker, engine, kind, words, phi)
         VALUES ($1, $2, $3, $4, $5, $5, $6, $7, $8, $9, $10)`,
        [
          id,
          `seg-${i++}`,
          seg.startMs,
          seg.endMs,
          seg.text,
          seg.speaker ?? null,
          seg.engine ?? 'local',
          seg.kind ?? 'final',
          seg.words ? JSON.stringify(seg.words) : null,
          seg.phi ? JSON.stringify(seg.phi) : null,
        ],
      );
    }
    if (s.recording) {
      await c.query(
        `INSERT INTO recordings (transcription_id, object_key, content_type, upload_state, bytes, duration_ms, completed_at)
         VALUES ($1, $2, $3, $4, $5, 11000, CASE WHEN $4 = 'completed' THEN now() END)`,
        [id, `rec/${id}`, s.recording.contentType ?? 'audio/wav', s.recording.state, s.recording.bytes ?? 352_844],
      );
    }
    await c.query('COMMIT');
    return id;
  } finally {
    await c.end();
  }
}

/**
 * Stores a real recording for a transcription through the service's own recording path (spool →
 * multipart upload to the embedded S3-API store → completed row), from a 16 kHz WAV of ../shared/audio.
 */
export async function storeRecording(service: { recordings: { open: RecordingOpen } }, transcriptionId: string, sharedWav: string): Promise<void> {
  const { readSharedPcm } = await import('./audio.js');
  const writer = await service.recordings.open({ transcriptionId, encoding: 'pcm_s16le', sampleRate: 16000 });
  await writer.appendPcm(readSharedPcm(sharedWav));
  const result = await writer.finish();
  if (result.state !== 'completed') throw new Error(`recording not stored: ${result.state}`);
}
type RecordingOpen = (o: { transcriptionId: string; encoding: 'pcm_s16le'; sampleRate: number }) => Promise<{
  appendPcm(pcm: Buffer): Promise<void>;
  finish(): Promise<{ state: string }>;
}>;
