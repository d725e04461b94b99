/**
 * The sweep of checkpoints a crash left behind (docs/recordings.md, "Orphaned checkpoints"): rows and
 * objects of a session whose recording is stored, left by a task that died before deleting them, and
 * objects no row names (a crash between PutObject and INSERT). What a live session, a session ended
 * at a shutdown that may still be continued, or a session whose recording failed still needs stays.
 * Real service, real PostgreSQL, real S3 API.
 */
import { randomUUID } from 'node:crypto';
import { HeadObjectCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { afterEach, describe, expect, it } from 'vitest';
import { tonePcm } from '../support/coverage.js';
import { DictationClient, ok, pcmChunks } from '../support/dictation-client.js';
import { queryDb, startTestService, type TestService } from '../support/service.js';

const cleanups: Array<() => Promise<unknown> | unknown> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

const CHUNKS = pcmChunks(tonePcm(4000), 200);

async function record(t: TestService, http: { cookieHeader: string }, chunks: number) {
  const c = new DictationClient(t.url, http.cookieHeader);
  cleanups.push(() => c.close());
  expect((await c.start()).ok).toBe(true);
  for (let seq = 0; seq < chunks; seq++) await c.chunk(seq, CHUNKS[seq]!);
  await expect.poll(async () => ok(await c.request('session:resume', { sessionId: c.sessionId, lastSeq: chunks - 1 })).durableSeq, { timeout: 10_000, interval: 100 }).toBe(chunks - 1);
  return c;
}

describe('the sweep of orphaned checkpoints', () => {
  it('deletes the rows and objects of stored sessions and objects no row names; keeps those of live, continuable and unsaved sessions', async () => {
    const t = await startTestService({ CHECKPOINT_INTERVAL_MS: '200', RESUME_GRACE_MS: '60000' });
    cleanups.push(() => t.close());
    t0 = t;
    const { store } = t.service;
    const put = async (key: string) => store.client.send(new PutObjectCommand({ Bucket: store.bucket, Key: key, Body: Buffer.alloc(3200), ...store.sseParams() }));
    const exists = (key: string) => store.client.send(new HeadObjectCommand({ Bucket: store.bucket, Key: key })).then(() => true, () => false);
    /** A checkpoint as a task leaves it: the object and its row. */
    const leave = async (transcriptionId: string, firstSeq: number) => {
      const key = `${store.prefix}checkpoints/${randomUUID()}`;
      await put(key);
      await queryDb(t.databaseUrl, `INSERT INTO recording_checkpoints (transcription_id, first_seq, last_seq, kind, object_key, bytes) VALUES ($1, $2, $2, 'pcm', $3, 3200)`, [transcriptionId, firstSeq, key]);
      return key;
    };
    const rowsOf = async (id: string) => (await queryDb<{ object_key: string }>(t.databaseUrl, 'SELECT object_key FROM recording_checkpoints WHERE transcription_id = $1', [id])).map((r) => r.object_key);
    const { http } = await t.loggedIn('clinician');

    // 1. Stored and over: its task died after storing the recording, before deleting the checkpoints.
    const stored = await record(t, http, 5);
    expect((await stop(stored)).ok).toBe(true);
    const strayRow = await leave(stored.transcriptionId!, 0);
    // 2. An object a crash left between PutObject and INSERT.
    const strayObject = `${store.prefix}checkpoints/${randomUUID()}`;
    await put(strayObject);
    // 3. Live: its checkpoints are the durable copy.
    const live = await record(t, http, 5);
    const liveKeys = await rowsOf(live.transcriptionId!);
    expect(liveKeys.length).toBeGreaterThan(0);
    // 4. Ended at a shutdown within RESUME_GRACE_MS: another task may continue it from them.
    const shutdown = await record(t, http, 5);
    expect((await stop(shutdown)).ok).toBe(true);
    const shutdownKey = await leave(shutdown.transcriptionId!, 0);
    await queryDb(t.databaseUrl, `UPDATE transcriptions SET end_reason = 'server_shutdown' WHERE id = $1`, [shutdown.transcriptionId]);
    // 5. Over, but its recording failed: the checkpoints may be the only copy of the audio.
    const unsaved = await record(t, http, 5);
    expect((await stop(unsaved)).ok).toBe(true);
    const unsavedKey = await leave(unsaved.transcriptionId!, 0);
    await queryDb(t.databaseUrl, `UPDATE recordings SET upload_state = 'failed' WHERE transcription_id = $1`, [unsaved.transcriptionId]);

    const result = await t.service.recordings.sweepCheckpoints({ resumeGraceMs: 60_000, minObjectAgeMs: 0 });
    expect(result).toEqual({ rows: 1, objects: 2 });
    expect(await rowsOf(stored.transcriptionId!)).toEqual([]);
    expect(await exists(strayRow)).toBe(false);
    expect(await exists(strayObject)).toBe(false);
    expect((await rowsOf(live.transcriptionId!)).sort()).toEqual([...liveKeys].sort());
    for (const key of liveKeys) expect(await exists(key)).toBe(true);
    expect(await rowsOf(shutdown.transcriptionId!)).toEqual([shutdownKey]);
    expect(await exists(shutdownKey)).toBe(true);
    expect(await rowsOf(unsaved.transcriptionId!)).toEqual([unsavedKey]);
    expect(await exists(unsavedKey)).toBe(true);

    // The age guard: an unnamed object younger than a day (its row may still be on its way) stays.
    const young = `${store.prefix}checkpoints/${randomUUID()}`;
    await put(young);
    expect(await t.service.recordings.sweepCheckpoints({ resumeGraceMs: 60_000 })).toEqual({ rows: 0, objects: 0 });
    expect(await exists(young)).toBe(true);
  }, 90_000);
});

/** Stops a session and waits until its own checkpoints are deleted (its recording is stored). */
async function stop(c: DictationClient) {
  const res = await c.stop();
  await expect.poll(async () => (await queryDb(t0!.databaseUrl, 'SELECT 1 FROM recording_checkpoints WHERE transcription_id = $1', [c.transcriptionId])).length, { timeout: 10_000 }).toBe(0);
  return res;
}
let t0: TestService | undefined;
