/**
 * A deploy, for real: two service processes (what `npm start` runs) share one PostgreSQL, one S3 API
 * and one Transcribe stand-in. Ten clinicians record on task A; A gets SIGTERM; every client is
 * told `server_shutdown`, resumes its session on task B with `session:resume` and resends from
 * `ackSeq + 1`. The stored recordings and transcripts must cover all the audio, exactly once.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { coverageProblems, tonePcm } from '../support/coverage.js';
import type { AckResponse } from '../../src/realtime/events.js';
import { DictationClient, ok, pcmChunks } from '../support/dictation-client.js';
import { spawnService, type ServiceProcess } from '../support/process.js';
import { queryDb } from '../support/service.js';
import { twoTasks, type TwoTasks } from '../support/two-tasks.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const SHUTDOWN_TIMEOUT_MS = 20_000;
const AUDIO_MS = 8000;
const CHUNK_MS = 200;
const PACE_MS = 100; // the "microphone" produces a 200 ms chunk every 100 ms

let tasks: TwoTasks;
let db: TwoTasks['db'];
let a: ServiceProcess | undefined;
let b: ServiceProcess | undefined;
const clients: DictationClient[] = [];

beforeAll(async () => {
  tasks = await twoTasks();
  db = tasks.db;
  const env = (name: string) =>
    tasks.task(name, {
      SHUTDOWN_TIMEOUT_MS: String(SHUTDOWN_TIMEOUT_MS),
      // The ten sessions are one clinician's, and all ten continue on task B.
      MAX_SESSIONS_PER_USER: '10',
      MAX_ENGINE_STREAMS_PER_USER: '10',
    }).env;
  // One after the other: the second start also proves migrations are a no-op for a running peer.
  a = await spawnService(env('a'));
  b = await spawnService(env('b'));
}, 180_000);

afterAll(async () => {
  for (const c of clients) c.close();
  await Promise.all([a?.stop('SIGKILL'), b?.stop()]);
  await tasks?.close();
});

interface Outcome {
  sessionId: string;
  transcriptionId: string;
  moved: boolean;
  durationMs: number;
}

/**
 * A page's ledger, as recorder.js keeps it: chunks are "recorded" at PACE_MS, sent one at a time,
 * and kept until acknowledged. On `server_shutdown` it waits for the session's end, connects to
 * `nextUrl` and resumes, resending from `ackSeq + 1`.
 */
async function runSession(cookie: string, firstUrl: string, nextUrl: string, chunks: Buffer[]): Promise<Outcome> {
  let c = new DictationClient(firstUrl, cookie);
  clients.push(c);
  const started = ok(await c.start());
  const sessionId = started.sessionId;
  const t0 = Date.now();
  const recorded = () => Math.min(chunks.length, Math.floor((Date.now() - t0) / PACE_MS) + 1);
  let acked = -1;
  let moved = false;
  let shutdownSeen = false;
  const watch = (client: DictationClient) => client.socket.on('session:error', (e: { code: string }) => e.code === 'server_shutdown' && (shutdownSeen = true));
  watch(c);
  while (acked < chunks.length - 1) {
    if (shutdownSeen || !c.socket.connected) {
      const deadline = Date.now() + SHUTDOWN_TIMEOUT_MS;
      while (c.received.ended.length === 0 && c.socket.connected && Date.now() < deadline) await sleep(25);
      c.close();
      c = new DictationClient(nextUrl, cookie);
      clients.push(c);
      watch(c);
      await c.connected();
      let res: AckResponse<'session:resume'> | undefined;
      for (let attempt = 0; attempt < 40; attempt++) {
        res = await c.request('session:resume', { sessionId, lastSeq: recorded() - 1 });
        if (res.ok || !['storage_unavailable', 'session_not_found'].includes(res.error.code)) break;
        await sleep(250);
      }
      acked = ok(res!).ackSeq;
      c.sessionId = sessionId;
      c.transcriptionId = started.transcriptionId;
      shutdownSeen = false;
      moved = true;
      continue;
    }
    const next = acked + 1;
    if (next >= recorded()) {
      await sleep(10);
      continue;
    }
    const gone = new Promise<null>((r) => c.socket.once('disconnect', () => r(null)));
    // A chunk in flight when the server closes the socket is resent after the resume.
    const res = await Promise.race([c.chunk(next, chunks[next]!).catch(() => null), gone]);
    if (!res) continue;
    if (res.ok) acked = Math.max(acked, res.ackSeq);
    else if (['session_ended', 'server_shutdown'].includes(res.error.code)) shutdownSeen = true;
    else throw new Error(`chunk refused: ${res.error.code}`);
  }
  const stop = ok(await c.stop());
  return { sessionId, transcriptionId: started.transcriptionId, moved, durationMs: stop.durationMs };
}

describe('SIGTERM with 10 live sessions, resumed on a second task', () => {
  it('tells every client server_shutdown, stores everything, exits 0 in time, and task B continues each session without loss or duplicates', async () => {
    const http = await tasks.clinician(a!.url, 'clinician-deploy', 'pw-deploy-test-123');
    const chunks = pcmChunks(tonePcm(AUDIO_MS), CHUNK_MS);

    const runs = Array.from({ length: 10 }, () => runSession(http.cookieHeader, a!.url, b!.url, chunks));
    // Every session live on A first (starts are slow on a loaded shared CPU), then a little audio.
    await expect.poll(() => a!.lines.filter((l) => l.includes('"session_started"')).length, { timeout: 60_000 }).toBe(10);
    await sleep(1500);
    const termAt = Date.now();
    // When A exits, not when the clients are done on B.
    const exited = a!.stop('SIGTERM').then((code) => ({ code, exitMs: Date.now() - termAt }));
    const outcomes = await Promise.all(runs);
    const { code, exitMs } = await exited;

    expect(code).toBe(0);
    expect(exitMs).toBeLessThan(SHUTDOWN_TIMEOUT_MS);
    expect(a!.lines.some((l) => l.includes('"shutdown_complete"'))).toBe(true);
    expect(outcomes.every((o) => o.moved)).toBe(true);

    for (const o of outcomes) {
      expect(Math.abs(o.durationMs - AUDIO_MS)).toBeLessThan(20);
      const [tr] = await queryDb<{ status: string; end_reason: string; resume_part: number; duration_ms: string }>(
        db.url,
        'SELECT status, end_reason, resume_part, duration_ms FROM transcriptions WHERE id = $1',
        [o.transcriptionId],
      );
      expect(tr).toMatchObject({ status: 'completed', end_reason: 'stopped', resume_part: 1 });
      // Part 0 is what task A stored at shutdown; part 1, written by B, is the whole recording and supersedes it.
      await expect
        .poll(async () => (await queryDb<{ upload_state: string }>(db.url, 'SELECT upload_state FROM recordings WHERE transcription_id = $1 AND part_index = 1', [o.transcriptionId]))[0]?.upload_state, { timeout: 15_000 })
        .toBe('completed');
      // Once part 1 is stored, part 0's object is deleted and its row says so.
      await expect
        .poll(async () => (await queryDb<{ upload_state: string }>(db.url, 'SELECT upload_state FROM recordings WHERE transcription_id = $1 AND part_index = 0', [o.transcriptionId]))[0]?.upload_state, { timeout: 15_000 })
        .toBe('superseded');
      const parts = await queryDb<{ part_index: number; upload_state: string; duration_ms: string }>(
        db.url,
        'SELECT part_index, upload_state, duration_ms FROM recordings WHERE transcription_id = $1 ORDER BY part_index',
        [o.transcriptionId],
      );
      expect(parts.map((p) => [p.part_index, p.upload_state])).toEqual([
        [0, 'superseded'],
        [1, 'completed'],
      ]);
      expect(Number(parts[0]!.duration_ms)).toBeGreaterThan(0);
      expect(Number(parts[0]!.duration_ms)).toBeLessThan(AUDIO_MS);
      expect(Math.abs(Number(parts[1]!.duration_ms) - AUDIO_MS)).toBeLessThan(20);

      const rows = await queryDb<{ segment_key: string; start_ms: number; end_ms: number; engine: string }>(
        db.url,
        'SELECT segment_key, start_ms::int AS start_ms, end_ms::int AS end_ms, engine FROM transcript_segments WHERE transcription_id = $1 ORDER BY start_ms',
        [o.transcriptionId],
      );
      const finals = rows.map((r) => ({ segmentId: r.segment_key, startMs: r.start_ms, endMs: r.end_ms }));
      // At the hand-over, the last words A's engine had not finished (under one word, 400 ms) are
      // not re-transcribed by B; everything else is covered once.
      expect(coverageProblems(finals, AUDIO_MS, { maxOverlapMs: 0, maxHoleMs: 450, endToleranceMs: 450, startToleranceMs: 0 })).toEqual([]);
      expect(rows.some((r) => r.segment_key.startsWith('p1-'))).toBe(true);
      expect(rows.some((r) => !r.segment_key.startsWith('p1-'))).toBe(true);
    }
    // B served the rest: every stream it opened started where A's timeline stopped.
    expect(b!.lines.filter((l) => l.includes('"session_continued"'))).toHaveLength(10);
  }, 150_000);
});
