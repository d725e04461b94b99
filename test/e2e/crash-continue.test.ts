/**
 * A task lost for real (docs/resilience.md, "Crash"): two service processes (what `npm start` runs)
 * share one PostgreSQL, one S3 API and one Transcribe stand-in. A PCM and a WebM Opus session record
 * on task A; at a random moment A gets SIGKILL and its DATA_DIR (spool included) is deleted, as a
 * Fargate task's disk goes with it. The clients keep every chunk that `durableSeq` does not cover,
 * resume on task B and resend from its `ackSeq + 1`. Every acknowledged chunk must be in the final
 * recording and the transcript must cover all of it.
 *
 * The kill falls anywhere in the first 12 s: with durable checkpoints every CHECKPOINT_INTERVAL_MS
 * (default 5 s) nothing depends on where the 5 MiB multipart parts fall, so the first 164 s of a
 * WAV (whose part 1 used to stay in the spool until stop) are no different from any other moment.
 */
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fakeMicrophone, launchChromium, leastPageSessionMs, logInOnPage } from '../support/browser.js';
import { TcpProxy } from '../support/tcp-proxy.js';
import { coverageProblems, tonePcm } from '../support/coverage.js';
import type { AckResponse, EventPayload } from '../../src/realtime/events.js';
import { DictationClient, ok, pcmChunks } from '../support/dictation-client.js';
import { spawnService, type ServiceProcess } from '../support/process.js';
import { queryDb } from '../support/service.js';
import { twoTasks, webmTone, type TwoTasks } from '../support/two-tasks.js';

const MIC_WAV = path.resolve(import.meta.dirname, '../../../shared/audio/real/jfk.wav');
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const AUDIO_MS = 16_000;
const CHUNK_MS = 200;
const PACE_MS = 200; // the "microphone" produces a 200 ms chunk every 200 ms

let tasks: TwoTasks;
let db: TwoTasks['db'];
let a: ServiceProcess | undefined;
let b: ServiceProcess | undefined;
const taskDirs = new Map<string, string>();
const clients: DictationClient[] = [];
const cleanups: Array<() => Promise<unknown> | unknown> = [];

function env(name: string) {
  // A dead task is known as such after 3 s here (10 s by default): the test waits less.
  const task = tasks.task(name, { TASK_DEAD_AFTER_MS: '3000' });
  taskDirs.set(name, task.dir);
  return task.env;
}

beforeAll(async () => {
  tasks = await twoTasks();
  db = tasks.db;
  a = await spawnService(env('a'));
  b = await spawnService(env('b'));
}, 180_000);

afterAll(async () => {
  for (const c of cleanups.reverse()) await c();
  for (const c of clients) c.close();
  await Promise.all([a?.stop('SIGKILL'), b?.stop()]);
  await tasks?.close();
});

interface Outcome {
  sessionId: string;
  transcriptionId: string;
  moved: boolean;
  durationMs: number;
  /** The highest durableSeq the client saw before the crash, and where B said to resend from. */
  durableBefore: number;
  resumedAt: number;
  ackedBefore: number;
}

/**
 * A page's ledger as recorder.js keeps it: chunks are "recorded" at PACE_MS, sent one at a time and
 * kept until `durableSeq` covers them. When the connection dies it connects to `nextUrl`, resumes
 * (retrying `session_moving` while the dead task is not yet known dead) and resends from `ackSeq + 1`.
 */
async function runSession(cookie: string, firstUrl: string, nextUrl: string, chunks: Buffer[], audio: EventPayload<'session:start'>['audio']): Promise<Outcome> {
  let c = new DictationClient(firstUrl, cookie);
  clients.push(c);
  const started = ok(await c.start({ audio }));
  const sessionId = started.sessionId;
  const t0 = Date.now();
  const recorded = () => Math.min(chunks.length, Math.floor((Date.now() - t0) / PACE_MS) + 1);
  let acked = -1;
  let durable = -1;
  const kept = new Set<number>(); // the ledger: seqs not yet covered by durableSeq
  const out = { moved: false, durableBefore: -1, resumedAt: -1, ackedBefore: -1 };
  while (acked < chunks.length - 1) {
    if (!c.socket.connected) {
      out.durableBefore = durable;
      out.ackedBefore = acked;
      c.close();
      c = new DictationClient(nextUrl, cookie);
      clients.push(c);
      await c.connected();
      let res: AckResponse<'session:resume'> | undefined;
      for (let attempt = 0; attempt < 120; attempt++) {
        res = await c.request('session:resume', { sessionId, lastSeq: recorded() - 1 });
        if (res.ok || !['session_moving', 'storage_unavailable'].includes(res.error.code)) break;
        await sleep(250);
      }
      const resumed = ok(res!);
      // B continues from what is durable, never from something the client no longer holds.
      expect(resumed.ackSeq).toBeGreaterThanOrEqual(durable);
      for (let s = resumed.ackSeq + 1; s < recorded(); s++) expect(kept.has(s) || s > acked).toBe(true);
      acked = resumed.ackSeq;
      durable = resumed.durableSeq ?? durable;
      c.sessionId = sessionId;
      c.transcriptionId = started.transcriptionId;
      out.moved = true;
      out.resumedAt = acked;
      continue;
    }
    const next = acked + 1;
    if (next >= recorded()) {
      await sleep(10);
      continue;
    }
    const gone = new Promise<null>((r) => c.socket.once('disconnect', () => r(null)));
    const res = await Promise.race([c.chunk(next, chunks[next]!).catch(() => null), gone]);
    if (!res) continue;
    if (!res.ok) throw new Error(`chunk refused: ${res.error.code}`);
    acked = Math.max(acked, res.ackSeq);
    kept.add(next);
    durable = Math.max(durable, res.durableSeq ?? -1);
    for (const s of kept) if (s <= durable) kept.delete(s);
  }
  const stop = ok(await c.stop());
  return { sessionId, transcriptionId: started.transcriptionId, durationMs: stop.durationMs, ...out };
}

async function finalRecording(transcriptionId: string) {
  await expect
    .poll(async () => (await queryDb<{ upload_state: string }>(db.url, 'SELECT upload_state FROM recordings WHERE transcription_id = $1 ORDER BY part_index DESC LIMIT 1', [transcriptionId]))[0]?.upload_state, { timeout: 20_000 })
    .toBe('completed');
  const parts = await queryDb<{ part_index: number; upload_state: string; duration_ms: string; object_key: string }>(
    db.url,
    'SELECT part_index, upload_state, duration_ms, object_key FROM recordings WHERE transcription_id = $1 ORDER BY part_index',
    [transcriptionId],
  );
  return parts;
}

async function transcriptProblems(transcriptionId: string, audioMs: number): Promise<string[]> {
  const rows = await queryDb<{ segment_key: string; start_ms: number; end_ms: number }>(
    db.url,
    `SELECT segment_key, start_ms::int AS start_ms, end_ms::int AS end_ms FROM transcript_segments WHERE transcription_id = $1 AND kind <> 'gap' ORDER BY start_ms`,
    [transcriptionId],
  );
  return coverageProblems(rows.map((r) => ({ segmentId: r.segment_key, startMs: r.start_ms, endMs: r.end_ms })), audioMs, { maxOverlapMs: 0, maxHoleMs: 450, endToleranceMs: 450, startToleranceMs: 450 });
}

describe('SIGKILL of a task and the loss of its disk mid-session', () => {
  it('continues a PCM and a WebM Opus session on the second task: every acknowledged chunk is in the final recording and the transcript covers it all', async () => {
    const http = await tasks.clinician(a!.url, 'clinician-crash', 'pw-crash-test-1234');
    const pcm = tonePcm(AUDIO_MS);
    const webm = await webmTone(12_000);
    // ~32 kb/s: 800-byte chunks are ~200 ms of audio each.
    const opusChunks: Buffer[] = [];
    for (let i = 0; i < webm.length; i += 800) opusChunks.push(webm.subarray(i, i + 800));

    const runs = [
      runSession(http.cookieHeader, a!.url, b!.url, pcmChunks(pcm, CHUNK_MS), { encoding: 'pcm_s16le', sampleRate: 16000 }),
      runSession(http.cookieHeader, a!.url, b!.url, opusChunks, { encoding: 'webm_opus' }),
    ];
    const killAt = 2500 + Math.floor(Math.random() * 8000);
    await sleep(killAt);
    await a!.stop('SIGKILL');
    fs.rmSync(taskDirs.get('a')!, { recursive: true, force: true });
    const [wav, opus] = await Promise.all(runs);
    const context = `killed at ${killAt} ms; PCM acked ${wav!.ackedBefore}, durable ${wav!.durableBefore}; Opus acked ${opus!.ackedBefore}, durable ${opus!.durableBefore}`;

    for (const o of [wav!, opus!]) {
      expect(o.moved, context).toBe(true);
      // The crash lost what was acknowledged but not yet durable; the client had kept it.
      expect(o.resumedAt, context).toBeGreaterThanOrEqual(o.durableBefore);
      const [tr] = await queryDb<{ status: string; end_reason: string; resume_part: number }>(db.url, 'SELECT status, end_reason, resume_part FROM transcriptions WHERE id = $1', [o.transcriptionId]);
      expect(tr, context).toMatchObject({ status: 'completed', end_reason: 'stopped', resume_part: 1 });
      expect(b!.lines.some((l) => l.includes('"session_continued_after_crash"') && l.includes(o.transcriptionId))).toBe(true);
    }

    // PCM: the stored WAV is exactly the audio sent, sample for sample.
    expect(Math.abs(wav!.durationMs - AUDIO_MS), context).toBeLessThanOrEqual(CHUNK_MS);
    const wavParts = await finalRecording(wav!.transcriptionId);
    expect(wavParts.map((p) => [p.part_index, p.upload_state]), context).toEqual([
      [0, 'aborted'],
      [1, 'completed'],
    ]);
    const stored = await tasks.storedObject(wavParts[1]!.object_key);
    expect(stored.length, context).toBe(44 + pcm.length);
    expect(stored.subarray(44).equals(pcm), context).toBe(true);
    expect(await transcriptProblems(wav!.transcriptionId, AUDIO_MS), context).toEqual([]);

    // Opus: the Ogg recording holds the whole stream (its duration within one chunk of what was sent).
    const opusParts = await finalRecording(opus!.transcriptionId);
    expect(opusParts.at(-1)!.part_index, context).toBe(1);
    expect(Math.abs(Number(opusParts.at(-1)!.duration_ms) - 12_000), context).toBeLessThanOrEqual(CHUNK_MS);
    expect(Math.abs(opus!.durationMs - 12_000), context).toBeLessThanOrEqual(CHUNK_MS);
    expect(await transcriptProblems(opus!.transcriptionId, 12_000), context).toEqual([]);

    // Their checkpoints are gone once the recordings are stored for good.
    await expect.poll(async () => (await queryDb<{ n: number }>(db.url, 'SELECT count(*)::int AS n FROM recording_checkpoints'))[0]!.n, { timeout: 15_000 }).toBe(0);
  }, 180_000);

  it('the recording page in Chromium keeps what is not durable and, after its task is killed and its disk lost, continues on the second task: the recording holds every chunk and the transcript covers it', async () => {
    const a2 = await spawnService(env('a2'));
    cleanups.push(() => a2.stop('SIGKILL'));
    // The load balancer: the page's origin, in front of task A2 until A2 is gone, then of task B.
    const proxy = await new TcpProxy('127.0.0.1', a2.port).start();
    cleanups.push(() => proxy.close());
    const browser = await launchChromium(fakeMicrophone(MIC_WAV, true));
    cleanups.push(() => browser.close());
    const context = await browser.newContext();
    await context.setOffline(false);
    const page = await context.newPage();
    const problems: string[] = [];
    page.on('pageerror', (e) => problems.push(`pageerror: ${e.message}`));
    page.on('console', (m) => process.env.DEBUG_PAGE && console.log('PAGE', m.text()));

    const user = await tasks.createClinician('clinician-page-crash', 'pw-page-crash-1234');
    await page.goto(`${proxy.endpoint}/`);
    await logInOnPage(page, user);
    await expect.poll(() => page.locator('#connection').getAttribute('data-state'), { timeout: 15_000 }).toBe('connected');
    await page.locator('#record').click();
    await expect.poll(() => page.locator('#record').textContent()).toBe('■ Stop');
    // Past the first checkpoint (5 s), and some seconds that are acknowledged but not yet durable.
    await page.waitForTimeout(2500 + Math.floor(Math.random() * 6000));

    const continued = () => b!.lines.filter((l) => l.includes('"session_continued_after_crash"')).length;
    const before = continued();
    proxy.retarget('127.0.0.1', b!.port);
    await a2.stop('SIGKILL');
    fs.rmSync(taskDirs.get('a2')!, { recursive: true, force: true });

    await expect.poll(() => page.locator('#connection').getAttribute('data-state'), { timeout: 30_000 }).toBe('connected');
    await expect.poll(continued, { timeout: 30_000 }).toBe(before + 1);
    await page.waitForTimeout(3000);
    await page.locator('#record').click();
    await expect.poll(() => page.locator('#saved').isVisible(), { timeout: 60_000 }).toBe(true);
    expect(problems).toEqual([]);

    const [tr] = await queryDb<{ id: string; status: string; end_reason: string; duration_ms: string; ack_seq: string; resume_part: number }>(
      db.url,
      'SELECT id, status, end_reason, duration_ms, ack_seq, resume_part FROM transcriptions WHERE clinician_id = $1',
      [user.id],
    );
    expect(tr).toMatchObject({ status: 'completed', end_reason: 'stopped', resume_part: 1 });
    const durationMs = Number(tr!.duration_ms);
    // Every chunk is 200 ms but the last (20 to 200 ms): nothing between 0 and ackSeq is missing.
    const chunks = Number(tr!.ack_seq) + 1;
    expect(durationMs).toBeGreaterThan(leastPageSessionMs(chunks));
    expect(durationMs).toBeLessThanOrEqual(chunks * 200);
    const parts = await finalRecording(tr!.id);
    expect(parts.map((p) => [p.part_index, p.upload_state])).toEqual([
      [0, 'aborted'],
      [1, 'completed'],
    ]);
    expect(Math.abs(Number(parts[1]!.duration_ms) - durationMs)).toBeLessThanOrEqual(CHUNK_MS);
    expect(await transcriptProblems(tr!.id, durationMs)).toEqual([]);
  }, 180_000);
});
