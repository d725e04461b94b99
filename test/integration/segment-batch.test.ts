import pg from 'pg';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { Pool } from '../../src/db/pool.js';
import { DictationRepository } from '../../src/dictation/dictation-repo.js';
import { SegmentBatcher } from '../../src/dictation/segment-batcher.js';
import { SegmentRepository, type SegmentRow } from '../../src/dictation/segment-repo.js';
import { createTestDatabase } from '../support/db.js';
import { migrate, seedTranscription } from '../support/recordings.js';

/**
 * The finals of all live sessions of a task, stored in one statement per batch window
 * (segment-batcher.ts, segment-repo.ts) with the guarantees of one INSERT per final: stored before
 * the caller goes on, a replayed key stored once, fenced by owner against a concurrent claim, and a
 * row the database refuses failing only its own caller.
 */

describe('SegmentBatcher', () => {
  const batchers: Array<SegmentBatcher<string, string>> = [];
  afterEach(async () => {
    for (const b of batchers.splice(0)) await b.flush();
  });
  const make = (write: (rows: string[]) => Promise<string[]>, o = { windowMs: 40, maxRows: 100 }) => {
    const b = new SegmentBatcher(write, o);
    batchers.push(b);
    return b;
  };

  it('writes the rows that arrive within the window together, answers each caller with its own outcome, and never overlaps writes', async () => {
    const writes: string[][] = [];
    let inFlight = 0;
    let maxInFlight = 0;
    const b = make(async (rows) => {
      inFlight++;
      maxInFlight = Math.max(maxInFlight, inFlight);
      writes.push(rows);
      await new Promise((r) => setTimeout(r, 60));
      inFlight--;
      return rows.map((r) => `stored ${r}`);
    });
    const first = ['a', 'b', 'c'].map((r) => b.add(r));
    await new Promise((r) => setTimeout(r, 70)); // the first batch is written and still in flight
    const second = ['d', 'e'].map((r) => b.add(r));
    expect(await Promise.all([...first, ...second])).toEqual(['stored a', 'stored b', 'stored c', 'stored d', 'stored e']);
    expect(writes).toEqual([['a', 'b', 'c'], ['d', 'e']]);
    expect(maxInFlight).toBe(1);
  });

  it('writes at once when maxRows are waiting, without waiting for the window', async () => {
    const writes: string[][] = [];
    const b = make(async (rows) => (writes.push(rows), rows), { windowMs: 60_000, maxRows: 3 });
    const t0 = Date.now();
    await Promise.all(['a', 'b', 'c'].map((r) => b.add(r)));
    expect(Date.now() - t0).toBeLessThan(1000);
    expect(writes).toEqual([['a', 'b', 'c']]);
  });

  it('tries a failed batch again row by row: a row the database refuses fails only its own caller', async () => {
    const writes: string[][] = [];
    const b = make(async (rows) => {
      writes.push(rows);
      if (rows.includes('bad')) throw new Error('invalid byte sequence');
      return rows;
    });
    const got = await Promise.allSettled(['a', 'bad', 'c'].map((r) => b.add(r)));
    expect(got.map((g) => g.status)).toEqual(['fulfilled', 'rejected', 'fulfilled']);
    expect(writes).toEqual([['a', 'bad', 'c'], ['a'], ['bad'], ['c']]);
  });
});

describe('SegmentRepository batched finals on PostgreSQL', () => {
  let pool: pg.Pool;
  let drop: () => Promise<void>;
  beforeAll(async () => {
    const db = await createTestDatabase();
    drop = db.drop;
    await migrate(db.url);
    pool = new pg.Pool({ connectionString: db.url, max: 4 });
  });
  afterAll(async () => {
    await pool?.end();
    await drop?.();
  });

  /** The pool as the repository sees it, with every statement it sends counted. */
  const counted = () => {
    const statements: string[] = [];
    const db = {
      query: (...args: Parameters<pg.Pool['query']>) => {
        statements.push(String(args[0]));
        return (pool.query as (...a: unknown[]) => unknown).apply(pool, args);
      },
      connect: () => pool.connect(),
    } as unknown as Pool;
    return { db, statements };
  };
  const final = (transcriptionId: string, n: number, text = `words ${n}`): SegmentRow => ({
    transcriptionId,
    segmentKey: `e0-${n}`,
    startMs: n * 1000,
    endMs: n * 1000 + 900.4,
    text,
    engine: 'aws',
    words: [{ text: 'words', startMs: n * 1000, endMs: n * 1000 + 400, confidence: 0.9 }],
  });
  const stored = async (ids: string[]) =>
    (
      await pool.query<{ transcription_id: string; segment_key: string; end_ms: string; text: string; machine_text: string; words: unknown }>(
        'SELECT transcription_id, segment_key, end_ms, text, machine_text, words FROM transcript_segments WHERE transcription_id = ANY($1) ORDER BY transcription_id, start_ms',
        [ids],
      )
    ).rows;

  it('stores the finals of 30 sessions that arrive within the window in one statement, each committed before its caller goes on', async () => {
    const { db, statements } = counted();
    const repo = new SegmentRepository(db, { windowMs: 50, maxRows: 500 });
    const sessions = await Promise.all(Array.from({ length: 30 }, () => seedTranscription(pool, { ownerTask: 'task-a' })));
    const ids = sessions.map((s) => s.transcriptionId);
    // Every session stores its next final at once, three times over (each session's finals one
    // after another, as session-results.ts stores them). When a caller's promise resolves, its row
    // is already visible to another connection.
    const checker = await pool.connect();
    const visibleOnResolve: boolean[] = [];
    try {
      for (let n = 0; n < 3; n++) {
        await Promise.all(
          ids.map(async (id) => {
            expect(await repo.insert(final(id, n), 'task-a')).toMatchObject({ id: expect.any(String) });
            const seen = await checker.query('SELECT 1 FROM transcript_segments WHERE transcription_id = $1 AND segment_key = $2', [id, `e0-${n}`]);
            visibleOnResolve.push(seen.rowCount === 1);
          }),
        );
      }
    } finally {
      checker.release();
    }
    expect(statements).toHaveLength(3);
    expect(visibleOnResolve).toEqual(Array(90).fill(true));
    const rows = await stored(ids);
    expect(rows).toHaveLength(90);
    expect(rows.filter((r) => r.transcription_id === ids[0])).toMatchObject([0, 1, 2].map((n) => ({ segment_key: `e0-${n}`, end_ms: String(n * 1000 + 900), text: `words ${n}`, machine_text: `words ${n}` })));
    expect(rows[0]!.words).toEqual([{ text: 'words', startMs: 0, endMs: 400, confidence: 0.9 }]);

    // A replayed final (same key) is stored once, also when it comes twice in one batch.
    const again = await Promise.all([repo.insert(final(ids[0]!, 0, 'other'), 'task-a'), repo.insert(final(ids[1]!, 7), 'task-a'), repo.insert(final(ids[1]!, 7), 'task-a')]);
    expect(again.map((a) => a !== undefined)).toEqual([false, true, false]);
    expect((await stored([ids[0]!]))[0]!.text).toBe('words 0');
  });

  it('refuses the finals of a session another task owns, in the same batch as finals it stores', async () => {
    const { db, statements } = counted();
    const repo = new SegmentRepository(db, { windowMs: 50, maxRows: 500 });
    const mine = await seedTranscription(pool, { ownerTask: 'task-a' });
    const claimed = await seedTranscription(pool, { ownerTask: 'task-b' });
    const unfenced = await seedTranscription(pool, { ownerTask: 'task-b' });
    const got = await Promise.all([repo.insert(final(mine.transcriptionId, 0), 'task-a'), repo.insert(final(claimed.transcriptionId, 0), 'task-a'), repo.insert(final(unfenced.transcriptionId, 0))]);
    expect(got.map((g) => g !== undefined)).toEqual([true, false, true]);
    expect(statements).toHaveLength(1);
    expect((await stored([claimed.transcriptionId])).length).toBe(0);
  });

  it('waits for a claim in flight and then refuses the claimed session\'s final: the check and the insert are one step', async () => {
    const repo = new SegmentRepository(pool, { windowMs: 20, maxRows: 500 });
    const kept = await seedTranscription(pool, { ownerTask: 'task-a' });
    const taken = await seedTranscription(pool, { ownerTask: 'task-a' });
    const claimer = await pool.connect();
    try {
      await claimer.query('BEGIN');
      await claimer.query(`UPDATE transcriptions SET owner_task = 'task-b', resume_part = resume_part + 1 WHERE id = $1`, [taken.transcriptionId]);
      const batch = Promise.all([repo.insert(final(kept.transcriptionId, 0), 'task-a'), repo.insert(final(taken.transcriptionId, 0), 'task-a')]);
      // The batch waits on the claimed row's lock until the claim commits.
      await expect
        .poll(async () => (await pool.query(`SELECT 1 FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND query LIKE '%INSERT INTO transcript_segments%'`)).rowCount, { timeout: 10_000 })
        .toBe(1);
      await claimer.query('COMMIT');
      expect((await batch).map((g) => g !== undefined)).toEqual([true, false]);
    } finally {
      claimer.release(true); // closed: a failed test must not leave its transaction on a pooled connection
    }
    expect((await stored([taken.transcriptionId])).length).toBe(0);
    expect((await stored([kept.transcriptionId])).length).toBe(1);
  });

  it('stores the rest of a batch when the database refuses one of its rows: that row fails alone, as its own insert did', async () => {
    const { db, statements } = counted();
    const repo = new SegmentRepository(db, { windowMs: 50, maxRows: 500 });
    const sessions = await Promise.all(Array.from({ length: 5 }, () => seedTranscription(pool, { ownerTask: 'task-a' })));
    const ids = sessions.map((s) => s.transcriptionId);
    // PostgreSQL text cannot hold a NUL character.
    const got = await Promise.allSettled(ids.map((id, i) => repo.insert(final(id, 0, i === 2 ? 'bad \u0000 text' : 'fine'), 'task-a')));
    expect(got.map((g) => g.status)).toEqual(['fulfilled', 'fulfilled', 'rejected', 'fulfilled', 'fulfilled']);
    expect(String((got[2] as PromiseRejectedResult).reason)).toMatch(/0x00/);
    expect(statements).toHaveLength(1 + 5);
    expect((await stored(ids)).map((r) => r.transcription_id).sort()).toEqual(ids.filter((_, i) => i !== 2).sort());
  });
  it('never deadlocks with the batched progress write over the same sessions: both lock in id order', async () => {
    // Three live sessions whose rows lie on disk, and go to the progress write, in descending id
    // order: locked in the order of the join, the progress write would take c before a while the
    // segment batch takes a before c.
    const [a, b, c] = ['a', 'b', 'c'].map((x) => `00000000-0000-4000-8000-00000000000${x}`) as [string, string, string];
    const { userId } = await seedTranscription(pool, { ownerTask: 'task-a' });
    for (const id of [c, b, a]) {
      await pool.query(`INSERT INTO transcriptions (id, clinician_id, engine, audio_encoding, sample_rate, owner_task, last_audio_at) VALUES ($1, $2, 'aws', 'pcm_s16le', 16000, 'task-a', now())`, [id, userId]);
    }
    // With a table of real size the planner joins by index from the array, in the array's order.
    await pool.query(`INSERT INTO transcriptions (clinician_id, engine, audio_encoding, status) SELECT $1, 'aws', 'pcm_s16le', 'completed' FROM generate_series(1, 2000)`, [userId]);
    await pool.query('ANALYZE transcriptions');
    const waiting = async (like: string) => (await pool.query(`SELECT 1 FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND query LIKE $1`, [like])).rowCount;
    const segments = new SegmentRepository(pool);
    const dictation = new DictationRepository(pool);
    const other = await pool.connect();
    try {
      // Someone holds b (a claim's check, a checkpoint) while both statements start.
      await other.query('BEGIN');
      await other.query('SELECT 1 FROM transcriptions WHERE id = $1 FOR SHARE', [b]);
      const progress = dictation.progress('task-a', [c, b, a].map((id) => ({ transcriptionId: id, ackSeq: 5, audioMs: 1000 })));
      await expect.poll(() => waiting('%UPDATE transcriptions%'), { timeout: 10_000 }).toBe(1);
      const batch = segments.insertMany([a, c].map((id) => ({ row: final(id, 0), ownerTask: 'task-a' })));
      await expect.poll(() => waiting('%INSERT INTO transcript_segments%'), { timeout: 10_000 }).toBe(1);
      await other.query('COMMIT');
      const [p, s] = await Promise.allSettled([progress, batch]);
      expect([p.status, s.status, String((p as PromiseRejectedResult).reason ?? (s as PromiseRejectedResult).reason ?? '')]).toEqual(['fulfilled', 'fulfilled', '']);
    } finally {
      other.release(true);
    }
    expect((await stored([a, c])).length).toBe(2);
    expect((await pool.query(`SELECT count(*)::int AS n FROM transcriptions WHERE id = ANY($1) AND ack_seq = 5`, [[a, b, c]])).rows[0].n).toBe(3);
  });
});
