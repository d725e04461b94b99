import type { Pool } from '../db/pool.js';
import type { PhiEntity, Word } from '../transcription/port.js';
import { SegmentBatcher } from './segment-batcher.js';

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
  /** Per-word timing and confidence from the engine (review highlights low-confidence words). */
  words?: Word[];
  /** PHI entity spans the engine identified (review redacts them). */
  phi?: PhiEntity[];
}

/** One segment to store; with `ownerTask`, only while that task owns the live session. */
export interface SegmentWrite {
  row: SegmentRow;
  ownerTask?: string | undefined;
}

/**
 * How long the first final of a batch waits for others. The bench's engine stand-in finalises every
 * 2.4 s per session (BENCHMARKS.md), so 100 sessions make about 42 finals a second: with 50 ms
 * windows about 2 land in each (Poisson, 42 × 0.05), so about 14 statements and commits a second
 * instead of 42, and a burst (a failover's replay, many sessions taken over at once) goes in one.
 * A final reaches the screen at most 50 ms later, next to the engine's seconds.
 */
const BATCH_WINDOW_MS = 50;
/** A batch this large goes at once (a few hundred kB of parameters at most). */
const BATCH_MAX_ROWS = 500;

/** The transcript segments of live sessions: finals (batched across sessions), gaps, the continuation's trim. */
export class SegmentRepository {
  private readonly batcher: SegmentBatcher<SegmentWrite, { id: string } | undefined>;

  constructor(
    private readonly db: Pool,
    batch: { windowMs: number; maxRows: number } = { windowMs: BATCH_WINDOW_MS, maxRows: BATCH_MAX_ROWS },
  ) {
    this.batcher = new SegmentBatcher((rows) => this.insertMany(rows), batch);
  }

  /**
   * Stores a segment with the finals of other sessions that arrive within the batch window (see
   * SegmentBatcher); resolves once it is committed, with undefined when that segment key was
   * already stored or the session is fenced (see {@link insertMany}).
   * @throws the database's error when the row could not be stored (alone, after its batch failed)
   */
  insert(s: SegmentRow, ownerTask?: string): Promise<{ id: string } | undefined> {
    return this.batcher.add({ row: s, ownerTask });
  }

  /** Writes the segments waiting for the batch window now (tests, shutdown). */
  flush(): Promise<void> {
    return this.batcher.flush();
  }

  /**
   * Stores segments in one statement; returns, per row in order, its id, or undefined when that
   * segment key was already stored, or when its `ownerTask` no longer owns the live session
   * (another task took it over: a zombie's late final must not land in the transcript the new
   * owner writes). The row lock (FOR SHARE) makes the check and the insert one step against a
   * concurrent claim. The locks are taken in transcription id order, as `progress` takes its
   * own, so two statements over many sessions never wait on each other in a cycle.
   */
  async insertMany(writes: readonly SegmentWrite[]): Promise<Array<{ id: string } | undefined>> {
    if (writes.length === 0) return [];
    const rows = writes.map((w) => w.row);
    const fenced = [...new Set(writes.filter((w) => w.ownerTask !== undefined).map((w) => w.row.transcriptionId))];
    const { rows: stored } = await this.db.query<{ id: string; transcription_id: string; segment_key: string }>(
      `WITH v AS (
         SELECT * FROM unnest($1::uuid[], $2::text[], $3::bigint[], $4::bigint[], $5::text[], $6::text[], $7::text[], $8::text[], $9::jsonb[], $10::jsonb[], $11::text[])
           AS v(transcription_id, segment_key, start_ms, end_ms, text, speaker, engine, kind, words, phi, owner_task)
       ), owners AS MATERIALIZED (
         SELECT t.id, t.owner_task FROM transcriptions t WHERE t.id = ANY($12::uuid[]) ORDER BY t.id FOR SHARE
       )
       INSERT INTO transcript_segments (transcription_id, segment_key, start_ms, end_ms, text, machine_text, speaker, engine, kind, words, phi)
       SELECT v.transcription_id, v.segment_key, v.start_ms, v.end_ms, v.text, v.text, v.speaker, v.engine, v.kind, v.words, v.phi
         FROM v
        WHERE v.owner_task IS NULL OR EXISTS (SELECT 1 FROM owners o WHERE o.id = v.transcription_id AND o.owner_task = v.owner_task)
       ON CONFLICT (transcription_id, segment_key) DO NOTHING RETURNING id, transcription_id, segment_key`,
      [
        rows.map((s) => s.transcriptionId),
        rows.map((s) => s.segmentKey),
        rows.map((s) => Math.round(s.startMs)),
        rows.map((s) => Math.round(Math.max(s.endMs, s.startMs))),
        rows.map((s) => s.text),
        rows.map((s) => s.speaker ?? null),
        rows.map((s) => s.engine),
        rows.map((s) => s.kind ?? 'final'),
        rows.map((s) => (s.words?.length ? JSON.stringify(s.words) : null)),
        rows.map((s) => (s.phi?.length ? JSON.stringify(s.phi) : null)),
        writes.map((w) => w.ownerTask ?? null),
        fenced,
      ],
    );
    const ids = new Map(stored.map((r) => [`${r.transcription_id}/${r.segment_key}`, r.id]));
    return rows.map((s) => {
      const key = `${s.transcriptionId}/${s.segmentKey}`;
      const id = ids.get(key);
      // A key given twice in one batch is stored once: the second is a replay, as with two inserts.
      ids.delete(key);
      return id === undefined ? undefined : { id };
    });
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

  /**
   * Where a crashed session's stored transcript stands against its durable audio (`durableMs`):
   * `coveredMs`, the end of the last final inside it; `transcriptEndMs`, the end of the last final
   * at all (past `durableMs` when the dead task transcribed audio that never became durable); and
   * how many segments there are.
   */
  async transcriptExtent(transcriptionId: string, durableMs: number): Promise<{ coveredMs: number; transcriptEndMs: number; segments: number }> {
    const { rows } = await this.db.query<{ covered: string | null; last: string | null; n: number }>(
      `SELECT max(end_ms) FILTER (WHERE end_ms <= $2) AS covered, max(end_ms) AS last, count(*)::int AS n
         FROM transcript_segments WHERE transcription_id = $1 AND kind <> 'gap'`,
      [transcriptionId, Math.floor(durableMs)],
    );
    return { coveredMs: Number(rows[0]?.covered ?? 0), transcriptEndMs: Number(rows[0]?.last ?? 0), segments: rows[0]?.n ?? 0 };
  }

  /**
   * Before a crashed session continues from its durable audio (`durableMs` of it): the final segments
   * that reach past the last one ending inside it are deleted, since that audio is transcribed again
   * (at most `maxReplayMs` of it). Returns where the new engine stream starts (`coveredMs`).
   */
  async trimForContinuation(transcriptionId: string, durableMs: number, maxReplayMs: number): Promise<number> {
    const { rows } = await this.db.query<{ covered: string | null }>(
      `SELECT max(end_ms) AS covered FROM transcript_segments WHERE transcription_id = $1 AND kind <> 'gap' AND end_ms <= $2`,
      [transcriptionId, Math.floor(durableMs)],
    );
    const coveredMs = Math.max(Number(rows[0]?.covered ?? 0), Math.floor(durableMs) - maxReplayMs, 0);
    await this.db.query(`DELETE FROM transcript_segments WHERE transcription_id = $1 AND kind <> 'gap' AND end_ms > $2`, [transcriptionId, coveredMs]);
    return coveredMs;
  }
}
