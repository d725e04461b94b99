/**
 * A task lost for real, and its clients never come back (docs/resilience.md, "Crash, and no
 * client"): two service processes share one PostgreSQL, one S3 API and one Transcribe stand-in. A
 * PCM and a WebM Opus session record on task A; at a random moment A gets SIGKILL and its DATA_DIR
 * (spool included) is deleted. Nobody resumes. Task B, once A's heartbeat is older than
 * TASK_DEAD_AFTER_MS and RESUME_GRACE_MS has passed, finalises both sessions from their durable
 * checkpoints: the recording holds every chunk that was acknowledged as durable (within one chunk),
 * the session is no longer `recording`, and the repair pass completes the transcript over the
 * stretch the dead task's engine had not finalised.
 */
import fs from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDecoder } from '../../src/audio/index.js';
import { coverageProblems, tonePcm } from '../support/coverage.js';
import type { EventPayload } from '../../src/realtime/events.js';
import { DictationClient, ok, pcmChunks } from '../support/dictation-client.js';
import { spawnService, type ServiceProcess } from '../support/process.js';
import { queryDb } from '../support/service.js';
import { twoTasks, webmTone, type TwoTasks } from '../support/two-tasks.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const CHUNK_MS = 200;

let tasks: TwoTasks;
let db: TwoTasks['db'];
let a: ServiceProcess | undefined;
let b: ServiceProcess | undefined;
const clients: DictationClient[] = [];

const env = (name: string, extra: Record<string, string>) => tasks.task(name, { TASK_DEAD_AFTER_MS: '3000', CHECKPOINT_INTERVAL_MS: '2000', ...extra });

beforeAll(async () => {
  tasks = await twoTasks();
  db = tasks.db;
}, 60_000);

afterAll(async () => {
  for (const c of clients) c.close();
  await Promise.all([a?.stop('SIGKILL'), b?.stop()]);
  await tasks?.close();
});

/** Sends a chunk every CHUNK_MS until the connection dies; never resumes. */
async function recordUntilLost(cookie: string, chunks: Buffer[], audio: EventPayload<'session:start'>['audio']) {
  const c = new DictationClient(a!.url, cookie);
  clients.push(c);
  const started = ok(await c.start({ audio }));
  let acked = -1;
  let durable = -1;
  for (let seq = 0; seq < chunks.length && c.socket.connected; seq++) {
    const gone = new Promise<null>((r) => c.socket.once('disconnect', () => r(null)));
    const res = await Promise.race([c.chunk(seq, chunks[seq]!).catch(() => null), gone]);
    if (!res?.ok) break;
    acked = res.ackSeq;
    durable = Math.max(durable, res.durableSeq ?? -1);
    await sleep(CHUNK_MS);
  }
  c.close();
  return { transcriptionId: started.transcriptionId, acked, durable };
}

describe('SIGKILL of a task, the loss of its disk, and no client coming back', () => {
  it('another task finalises its PCM and WebM Opus sessions from their durable checkpoints: recording within one chunk of what was durable, transcript completed by the repair pass, no longer recording', async () => {
    const taskA = env('a', {});
    // B gives a client 4 s to come back after A was last seen.
    const taskB = env('b', { RESUME_GRACE_MS: '4000', REPAIR_SPEED: '10' });
    [a, b] = await Promise.all([spawnService(taskA.env), spawnService(taskB.env)]);
    const http = await tasks.clinician(a.url, 'clinician-finalise', 'pw-finalise-test-1234');

    const pcm = tonePcm(30_000);
    const webm = await webmTone(30_000);
    const opusChunks: Buffer[] = [];
    for (let i = 0; i < webm.length; i += 800) opusChunks.push(webm.subarray(i, i + 800)); // ~200 ms each
    const runs = [
      recordUntilLost(http.cookieHeader, pcmChunks(pcm, CHUNK_MS), { encoding: 'pcm_s16le', sampleRate: 16000 }),
      recordUntilLost(http.cookieHeader, opusChunks, { encoding: 'webm_opus' }),
    ];
    const killAt = 5000 + Math.floor(Math.random() * 5000);
    await sleep(killAt);
    await a.stop('SIGKILL');
    fs.rmSync(taskA.dir, { recursive: true, force: true });
    const [wav, opus] = await Promise.all(runs);
    const context = `killed at ${killAt} ms; PCM acked ${wav!.acked}, durable ${wav!.durable}; Opus acked ${opus!.acked}, durable ${opus!.durable}`;

    const row = async (id: string) =>
      (
        await queryDb<{ status: string; end_reason: string | null; failure_reason: string | null; ack_seq: string; duration_ms: string | null }>(
          db.url,
          'SELECT status, end_reason, failure_reason, ack_seq, duration_ms FROM transcriptions WHERE id = $1',
          [id],
        )
      )[0]!;
    for (const s of [wav!, opus!]) await expect.poll(async () => (await row(s.transcriptionId)).status, { timeout: 60_000, interval: 500 }).not.toBe('recording');
    expect(b.lines.filter((l) => l.includes('"session_finalised_after_crash"')).length, context).toBe(2);

    const finalPart = async (id: string) => {
      await expect
        .poll(async () => (await queryDb<{ upload_state: string }>(db.url, 'SELECT upload_state FROM recordings WHERE transcription_id = $1 ORDER BY part_index DESC LIMIT 1', [id]))[0]?.upload_state, { timeout: 20_000 })
        .toBe('completed');
      return queryDb<{ part_index: number; upload_state: string; duration_ms: string; object_key: string }>(db.url, 'SELECT part_index, upload_state, duration_ms, object_key FROM recordings WHERE transcription_id = $1 ORDER BY part_index', [id]);
    };

    for (const s of [wav!, opus!]) {
      const tr = await row(s.transcriptionId);
      expect(tr, context).toMatchObject({ status: 'completed', end_reason: 'error' });
      expect(tr.failure_reason, context).toContain('did not come back');
      // What B stored as durable is at least what the client was told, at most what it sent.
      expect(Number(tr.ack_seq), context).toBeGreaterThanOrEqual(s.durable);
      expect(Number(tr.ack_seq), context).toBeLessThanOrEqual(s.acked);
      expect(s.durable, context).toBeGreaterThanOrEqual(0);
    }

    // PCM: the WAV is exactly the durable chunks, sample for sample.
    const wavParts = await finalPart(wav!.transcriptionId);
    expect(wavParts.map((p) => [p.part_index, p.upload_state]), context).toEqual([
      [0, 'aborted'],
      [1, 'completed'],
    ]);
    const durableChunks = Number((await row(wav!.transcriptionId)).ack_seq) + 1;
    const stored = await tasks.storedObject(wavParts[1]!.object_key);
    expect(stored.subarray(44).equals(pcm.subarray(0, durableChunks * CHUNK_MS * 32)), context).toBe(true);
    expect(Math.abs(Number(wavParts[1]!.duration_ms) - durableChunks * CHUNK_MS), context).toBeLessThanOrEqual(CHUNK_MS);

    // Opus: the Ogg holds the durable chunks' audio (decoded, within one chunk).
    const opusParts = await finalPart(opus!.transcriptionId);
    expect(opusParts.map((p) => [p.part_index, p.upload_state]), context).toEqual([
      [0, 'aborted'],
      [1, 'completed'],
    ]);
    const decoder = await createDecoder({ encoding: 'webm_opus' });
    const durableOpusMs = (decoder.push(webm.subarray(0, (Number((await row(opus!.transcriptionId)).ack_seq) + 1) * 800)).pcm.length + decoder.end().length) / 32;
    expect(Math.abs(Number(opusParts[1]!.duration_ms) - durableOpusMs), context).toBeLessThanOrEqual(CHUNK_MS);

    // The transcript: what the dead task stored, then the repair pass over the rest of the audio.
    for (const [s, audioMs] of [
      [wav!, Number(wavParts[1]!.duration_ms)],
      [opus!, Number(opusParts[1]!.duration_ms)],
    ] as const) {
      // A stretch when the dead task's engine had not finalised the end of the durable audio (almost
      // always; the kill falls at a random moment); the coverage check below says whether it was needed.
      await expect
        .poll(async () => (await queryDb<{ status: string }>(db.url, 'SELECT status FROM transcript_repairs WHERE transcription_id = $1', [s.transcriptionId])).every((r) => r.status === 'repaired'), { timeout: 60_000, interval: 500 })
        .toBe(true);
      const finals = await queryDb<{ segment_key: string; start_ms: number; end_ms: number }>(
        db.url,
        `SELECT segment_key, start_ms::int AS start_ms, end_ms::int AS end_ms FROM transcript_segments WHERE transcription_id = $1 AND kind = 'final' ORDER BY start_ms`,
        [s.transcriptionId],
      );
      expect(coverageProblems(finals.map((f) => ({ segmentId: f.segment_key, startMs: f.start_ms, endMs: f.end_ms })), audioMs, { maxOverlapMs: 0, maxHoleMs: 450, endToleranceMs: 450, startToleranceMs: 450 }), context).toEqual([]);
    }

    // Their checkpoints are gone once the recordings are stored.
    await expect.poll(async () => (await queryDb<{ n: number }>(db.url, 'SELECT count(*)::int AS n FROM recording_checkpoints'))[0]!.n, { timeout: 15_000 }).toBe(0);
  }, 240_000);
});
