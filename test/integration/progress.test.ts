import pg from 'pg';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { DictationRepository } from '../../src/dictation/dictation-repo.js';
import { ProgressBatcher, type ProgressRow } from '../../src/dictation/progress-batcher.js';
import { createLogger } from '../../src/lib/logger.js';
import { readSharedPcm } from '../support/audio.js';
import { createTestDatabase } from '../support/db.js';
import { DictationClient, pcmChunks } from '../support/dictation-client.js';
import { LogCapture } from '../support/log-capture.js';
import { migrate, seedTranscription } from '../support/recordings.js';
import { queryDb, startTestService, type TestService } from '../support/service.js';

/** The live progress a resume or crash recovery reads: written for all sessions in one statement. */

describe('ProgressBatcher', () => {
  const logs = new LogCapture();
  const logger = createLogger({ level: 'warn' }, logs);
  const batchers: ProgressBatcher[] = [];
  afterEach(async () => {
    for (const b of batchers.splice(0)) await b.close();
  });
  const make = (write: (rows: ProgressRow[]) => Promise<void>) => {
    const b = new ProgressBatcher(write, 60_000, logger);
    batchers.push(b);
    return b;
  };

  it('writes only the latest progress of each session, all in one write, and nothing when idle', async () => {
    const writes: ProgressRow[][] = [];
    const b = make(async (rows) => void writes.push(rows));
    for (let seq = 0; seq < 50; seq++) for (const id of ['a', 'b', 'c']) b.note(id, seq, (seq + 1) * 200);
    await b.flush();
    await b.flush();
    expect(writes).toHaveLength(1);
    expect(writes[0]!.sort((x, y) => x.transcriptionId.localeCompare(y.transcriptionId))).toEqual([
      { transcriptionId: 'a', ackSeq: 49, audioMs: 10_000 },
      { transcriptionId: 'b', ackSeq: 49, audioMs: 10_000 },
      { transcriptionId: 'c', ackSeq: 49, audioMs: 10_000 },
    ]);
  });

  it('drops a forgotten session, never overlaps writes, and flushes what is left on close', async () => {
    const writes: ProgressRow[][] = [];
    let inFlight = 0;
    let maxInFlight = 0;
    const b = make(async (rows) => {
      inFlight++;
      maxInFlight = Math.max(maxInFlight, inFlight);
      await new Promise((r) => setTimeout(r, 30));
      writes.push(rows);
      inFlight--;
    });
    b.note('a', 1, 200);
    b.note('gone', 1, 200);
    b.forget('gone');
    const first = b.flush();
    b.note('a', 2, 400); // arrives while the first write is in flight
    await Promise.all([first, b.flush(), b.flush()]);
    b.note('a', 3, 600);
    await b.close();
    expect(maxInFlight).toBe(1);
    expect(writes.map((w) => w.map((r) => `${r.transcriptionId}:${r.ackSeq}`))).toEqual([['a:1'], ['a:2'], ['a:3']]);
  });

  it('keeps the rows of a failed write for the next one, unless newer progress or the end superseded them', async () => {
    const writes: ProgressRow[][] = [];
    let fail = true;
    const b = make(async (rows) => {
      if (fail) throw new Error('connection terminated');
      writes.push(rows);
    });
    b.note('a', 5, 1000);
    b.note('b', 5, 1000);
    b.note('ended', 5, 1000);
    const failing = b.flush();
    b.note('b', 6, 1200);
    b.forget('ended');
    await failing;
    expect(logs.entries.map((e) => e.msg)).toContain('progress_write_failed');
    fail = false;
    await b.flush();
    expect(writes).toHaveLength(1);
    expect(writes[0]!.map((r) => `${r.transcriptionId}:${r.ackSeq}`).sort()).toEqual(['a:5', 'b:6']);
  });
});

describe('DictationRepository.progress on PostgreSQL', () => {
  let pool: pg.Pool;
  let drop: () => Promise<void>;
  beforeAll(async () => {
    const db = await createTestDatabase();
    drop = db.drop;
    await migrate(db.url);
    pool = new pg.Pool({ connectionString: db.url, max: 2 });
  });
  afterAll(async () => {
    await pool?.end();
    await drop?.();
  });

  it('updates every live row this task owns in one statement, and leaves ended or foreign rows alone', async () => {
    const repo = new DictationRepository(pool);
    const mine = await Promise.all([1, 2, 3].map(() => seedTranscription(pool, { ownerTask: 'task-a' })));
    const foreign = await seedTranscription(pool, { ownerTask: 'task-b' });
    const ended = await seedTranscription(pool, { ownerTask: 'task-a' });
    await pool.query(`UPDATE transcriptions SET status = 'completed', ack_seq = 99, audio_ms = 20000, owner_task = NULL WHERE id = $1`, [ended.transcriptionId]);
    await pool.query(`UPDATE transcriptions SET last_audio_at = now() - interval '1 minute'`);

    const rows = [...mine, foreign, ended].map((t, i) => ({ transcriptionId: t.transcriptionId, ackSeq: 10 + i, audioMs: 2000.4 + i * 200 }));
    await repo.progress('task-a', rows);

    const got = await pool.query<{ id: string; ack_seq: string; audio_ms: string; fresh: boolean }>(
      `SELECT id, ack_seq, audio_ms, last_audio_at > now() - interval '10 seconds' AS fresh FROM transcriptions`,
    );
    const byId = new Map(got.rows.map((r) => [r.id, r]));
    mine.forEach((t, i) => expect(byId.get(t.transcriptionId)).toMatchObject({ ack_seq: String(10 + i), audio_ms: String(Math.round(2000.4 + i * 200)), fresh: true }));
    expect(byId.get(foreign.transcriptionId)).toMatchObject({ ack_seq: '-1', audio_ms: '0', fresh: false });
    expect(byId.get(ended.transcriptionId)).toMatchObject({ ack_seq: '99', audio_ms: '20000', fresh: false });
    await expect(repo.progress('task-a', [])).resolves.toBeUndefined();
  });
});

describe('live progress of a running session', () => {
  let t: TestService;
  const clients: DictationClient[] = [];
  beforeAll(async () => {
    t = await startTestService();
  });
  afterAll(async () => {
    for (const c of clients) c.close();
    await t?.close();
  });

  it('reaches the database while the sessions are still live, for every session', async () => {
    const pcm = readSharedPcm('real/1089-134686-0000.wav');
    const chunks = pcmChunks(pcm, 200);
    const sessions = await Promise.all(
      [0, 1, 2].map(async () => {
        const { http } = await t.loggedIn('clinician');
        const c = new DictationClient(t.url, http.cookieHeader);
        clients.push(c);
        await c.start();
        await c.stream(chunks);
        return c;
      }),
    );
    const ids = sessions.map((c) => c.transcriptionId);
    // Not stopped: only the periodic progress write can have put these numbers there.
    await expect
      .poll(async () => (await queryDb<{ ack_seq: string; audio_ms: string; status: string }>(t.databaseUrl, 'SELECT ack_seq, audio_ms, status FROM transcriptions WHERE id = ANY($1) ORDER BY id', [ids])).map((r) => [r.status, Number(r.ack_seq), Math.round(Number(r.audio_ms) / 100)]), { timeout: 10_000, interval: 250 })
      .toEqual(ids.map(() => ['recording', chunks.length - 1, Math.round(pcm.length / 32 / 100)]));
    for (const c of sessions) expect(await c.stop()).toMatchObject({ ok: true });
  });
});
