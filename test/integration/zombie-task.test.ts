/**
 * A task presumed dead that wakes up (docs/resilience.md, "Zombie task"): its heartbeat stopped long
 * enough (a paused process, a partition from the database) for another task to claim its session,
 * but the process itself lives on with the session in memory. Whatever it still does (checkpoints
 * of chunks its client kept sending, a grace period that expires, late finals) must not write to the
 * session the new owner continues. The other task is played here by the very UPDATEs its claim makes
 * (`claimCrashed` and `abandonUnfinished`) and by the checkpoint row it writes next.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { tonePcm } from '../support/coverage.js';
import { DictationClient, ok, pcmChunks } from '../support/dictation-client.js';
import { queryDb, startTestService, type TestService } from '../support/service.js';

const cleanups: Array<() => Promise<unknown> | unknown> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

const CHUNKS = pcmChunks(tonePcm(20_000), 200);

async function liveSession(t: TestService, chunks: number) {
  const { http } = await t.loggedIn('clinician');
  const c = new DictationClient(t.url, http.cookieHeader);
  cleanups.push(() => c.close());
  expect((await c.start()).ok).toBe(true);
  let durable = -1;
  for (let seq = 0; seq < chunks; seq++) durable = Math.max(durable, ok(await c.chunk(seq, CHUNKS[seq]!)).durableSeq ?? -1);
  // Wait for a checkpoint that covers every chunk sent so far.
  await expect.poll(async () => ok(await c.request('session:resume', { sessionId: c.sessionId, lastSeq: chunks - 1 })).durableSeq, { timeout: 10_000, interval: 100 }).toBe(chunks - 1);
  return c;
}

/** What task B does when it claims a crashed session: owner, resume part, A's part aborted, its next checkpoint. */
async function claimAsOtherTask(t: TestService, transcriptionId: string, durableSeq: number, o: { checkpoint: boolean }): Promise<Date> {
  const [claimed] = await queryDb<{ at: Date }>(
    t.databaseUrl,
    `UPDATE transcriptions SET owner_task = 'task-b', last_audio_at = now(), resume_part = resume_part + 1 WHERE id = $1 AND status = 'recording' RETURNING now() AS at`,
    [transcriptionId],
  );
  expect(claimed).toBeDefined();
  // Task B is alive (else this task would take the session back as abandoned: AbandonedSessions).
  await queryDb(t.databaseUrl, `INSERT INTO task_heartbeats (task_id, seen_at) VALUES ('task-b', now()) ON CONFLICT (task_id) DO UPDATE SET seen_at = now()`);
  await queryDb(t.databaseUrl, `UPDATE recordings SET upload_state = 'aborted', failure_reason = 'continued elsewhere' WHERE transcription_id = $1 AND upload_state IN ('uploading', 'completing')`, [transcriptionId]);
  if (o.checkpoint) await queryDb(t.databaseUrl, `INSERT INTO recording_checkpoints (transcription_id, first_seq, last_seq, kind, object_key, bytes) VALUES ($1, $2, $2, 'pcm', 'task-b-object', 6400)`, [
    transcriptionId,
    durableSeq + 1,
  ]);
  return claimed!.at;
}

async function sharedRecord(t: TestService, id: string) {
  const [tr] = await queryDb<{ status: string; owner_task: string | null; end_reason: string | null }>(t.databaseUrl, 'SELECT status, owner_task, end_reason FROM transcriptions WHERE id = $1', [id]);
  const checkpoints = await queryDb<{ first_seq: string; last_seq: string; object_key: string }>(t.databaseUrl, 'SELECT first_seq, last_seq, object_key FROM recording_checkpoints WHERE transcription_id = $1 ORDER BY first_seq', [id]);
  const parts = await queryDb<{ part_index: number; upload_state: string }>(t.databaseUrl, 'SELECT part_index, upload_state FROM recordings WHERE transcription_id = $1 ORDER BY part_index', [id]);
  return { tr, checkpoints, parts };
}

describe('a task that was presumed dead and wakes up (zombie)', () => {
  it('stops writing once another task has claimed its session: its next checkpoint is refused, the session ends here only (its client is told to move), and the claimer\'s row, chain and record stand', async () => {
    const t = await startTestService({ CHECKPOINT_INTERVAL_MS: '300' });
    cleanups.push(() => t.close());
    const c = await liveSession(t, 10);
    const id = c.transcriptionId!;
    // Task B has not written a checkpoint yet (its first comes up to an interval later).
    const claimedAt = await claimAsOtherTask(t, id, 9, { checkpoint: false });

    // The client is still connected to the zombie and keeps sending: the chunks are acknowledged
    // (they are in its spool) but their checkpoint, the next link of the chain B continues, is refused.
    for (let seq = 10; seq < 14; seq++) {
      const res = await c.chunk(seq, CHUNKS[seq]!);
      if (!res.ok) break;
      expect(res.durableSeq).toBeLessThanOrEqual(9);
    }
    await expect.poll(() => c.received.ended.map((e) => e.reason), { timeout: 10_000 }).toEqual(['server_shutdown']);
    expect(c.received.errors.map((e) => e.code)).toContain('server_shutdown');
    expect(t.logs.text()).toContain('"checkpoint_fenced"');

    const { tr, checkpoints, parts } = await sharedRecord(t, id);
    expect(tr).toMatchObject({ status: 'recording', owner_task: 'task-b', end_reason: null });
    expect(Number(checkpoints.at(-1)!.last_seq)).toBe(9);
    expect(parts.map((p) => p.upload_state)).toEqual(['aborted']);
    const late = await queryDb(t.databaseUrl, 'SELECT 1 FROM transcript_segments WHERE transcription_id = $1 AND created_at > $2', [id, claimedAt]);
    expect(late).toEqual([]);
  }, 60_000);

  it('does not end, complete or clean up a claimed session when its own grace period expires: no finish, no completed part, no deleted checkpoints', async () => {
    const t = await startTestService({ CHECKPOINT_INTERVAL_MS: '300', RESUME_GRACE_MS: '500' });
    cleanups.push(() => t.close());
    const c = await liveSession(t, 10);
    const id = c.transcriptionId!;
    await claimAsOtherTask(t, id, 9, { checkpoint: true });
    // Its client went to task B: the zombie's grace period runs out and it ends the session.
    c.close();
    await expect.poll(() => t.service.sessions.liveCount, { timeout: 10_000 }).toBe(0);
    await new Promise((r) => setTimeout(r, 500)); // anything a completed upload would trigger

    const { tr, checkpoints, parts } = await sharedRecord(t, id);
    expect(tr).toMatchObject({ status: 'recording', owner_task: 'task-b', end_reason: null });
    expect(checkpoints[0]).toMatchObject({ first_seq: '0' });
    expect(checkpoints.at(-1)).toMatchObject({ first_seq: '10', object_key: 'task-b-object' });
    expect(parts.map((p) => p.upload_state)).toEqual(['aborted']);
    expect(t.logs.text()).toContain('"session_fenced"');
  }, 60_000);
});
