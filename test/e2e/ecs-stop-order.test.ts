/**
 * The ECS stop sequence, in its real order, in front of two service processes (what `npm start`
 * runs) on one PostgreSQL, one S3 API and one Transcribe stand-in:
 *   1. ECS sets the task's desired status to STOPPED (the metadata endpoint v4 stand-in says so)
 *      and deregisters its target: the load balancer sends new connections to task B only;
 *   2. open connections to A are kept for the deregistration delay, then the load balancer cuts them;
 *   3. only then does A get SIGTERM, and SIGKILL after the stopTimeout.
 * Every client must hear `server_shutdown` while its socket to A still works (a drain that waits
 * for SIGTERM tells nobody), continue on B through the load balancer, and lose no acknowledged
 * audio. test/e2e/shutdown-resume.test.ts covers SIGTERM alone (no metadata endpoint, e.g. Docker).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tonePcm } from '../support/coverage.js';
import type { AckResponse } from '../../src/realtime/events.js';
import { DictationClient, ok, pcmChunks } from '../support/dictation-client.js';
import { LoadBalancerStandIn, MetadataStandIn } from '../support/ecs-emulator.js';
import { spawnService, type ServiceProcess } from '../support/process.js';
import { queryDb } from '../support/service.js';
import { twoTasks, type TwoTasks } from '../support/two-tasks.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
// Scaled down from production (infra/src/params.ts: drain 25 s, deregistration delay 35 s, stopTimeout 30 s).
const SHUTDOWN_TIMEOUT_MS = 6000;
const DEREGISTRATION_DELAY_MS = 9000;
const STOP_TIMEOUT_MS = 8000;
const SESSIONS = 6;
const AUDIO_MS = 12_000;
const CHUNK_MS = 200;
const PACE_MS = 100;

let tasks: TwoTasks;
let db: TwoTasks['db'];
let metadata: MetadataStandIn;
let lb: LoadBalancerStandIn;
let a: ServiceProcess | undefined;
let b: ServiceProcess | undefined;
const clients: DictationClient[] = [];

beforeAll(async () => {
  tasks = await twoTasks();
  db = tasks.db;
  metadata = await new MetadataStandIn().start();
  lb = await new LoadBalancerStandIn().start();
  const env = (name: string, extra: Record<string, string> = {}) =>
    tasks.task(name, {
      SHUTDOWN_TIMEOUT_MS: String(SHUTDOWN_TIMEOUT_MS),
      MAX_SESSIONS_PER_USER: String(SESSIONS),
      MAX_ENGINE_STREAMS_PER_USER: String(SESSIONS),
      ...extra,
    }).env;
  a = await spawnService(env('a', { ECS_CONTAINER_METADATA_URI_V4: metadata.url, ECS_STOP_POLL_MS: '250' }));
  b = await spawnService(env('b'));
  lb.register('a', a.port);
}, 180_000);

afterAll(async () => {
  for (const c of clients) c.close();
  await Promise.all([a?.stop('SIGKILL'), b?.stop()]);
  await lb?.close();
  await metadata?.close();
  await tasks?.close();
});

interface Outcome {
  transcriptionId: string;
  noticeAt?: number;
  continuedAt?: number;
  acked: number;
  durationMs: number;
  why?: string;
}

/**
 * A page's ledger as recorder.js keeps it: chunks "recorded" every PACE_MS, sent one at a time,
 * kept until acknowledged; on `server_shutdown` or a lost connection it reconnects to the load
 * balancer and resumes from `ackSeq + 1`.
 */
async function runSession(cookie: string, chunks: Buffer[]): Promise<Outcome> {
  let c = new DictationClient(lb.url, cookie);
  clients.push(c);
  const started = ok(
    await c.start().catch((err: Error) => {
      throw new Error(`session:start: ${err.message}`);
    }),
  );
  const sessionId = started.sessionId;
  const out: Outcome = { transcriptionId: started.transcriptionId, acked: -1, durationMs: 0 };
  const t0 = Date.now();
  const recorded = () => Math.min(chunks.length, Math.floor((Date.now() - t0) / PACE_MS) + 1);
  let moving = false;
  const watch = (client: DictationClient) =>
    client.socket.on('session:error', (e: { code: string }) => {
      if (e.code !== 'server_shutdown') return;
      moving = true;
      out.noticeAt ??= Date.now();
    });
  watch(c);
  while (out.acked < chunks.length - 1) {
    if (moving || !c.socket.connected) {
      out.why ??= `${moving ? 'moving' : 'disconnected'} at ${Date.now()}`;
      // As recorder.js: wait for the end (or the socket to go), then reconnect through the load balancer.
      const deadline = Date.now() + DEREGISTRATION_DELAY_MS + STOP_TIMEOUT_MS;
      while (c.received.ended.length === 0 && c.socket.connected && Date.now() < deadline) await sleep(25);
      c.close();
      let res: AckResponse<'session:resume'> | undefined;
      for (let attempt = 0; attempt < 80 && !res?.ok; attempt++) {
        c = new DictationClient(lb.url, cookie);
        clients.push(c);
        watch(c);
        const up = await c.connected().then(() => true, () => false);
        if (up) res = await c.request('session:resume', { sessionId, lastSeq: recorded() - 1 }, 10_000).catch(() => undefined);
        if (!res?.ok) {
          c.close();
          await sleep(250);
        }
      }
      expect(res, `${out.why}, resume: ${JSON.stringify(res)}`).toMatchObject({ ok: true });
      out.acked = ok(res!).ackSeq;
      out.continuedAt ??= Date.now();
      c.sessionId = sessionId;
      c.transcriptionId = started.transcriptionId;
      moving = false;
      continue;
    }
    const next = out.acked + 1;
    if (next >= recorded()) {
      await sleep(10);
      continue;
    }
    const gone = new Promise<null>((r) => c.socket.once('disconnect', () => r(null)));
    const res = await Promise.race([c.chunk(next, chunks[next]!).catch(() => null), gone]);
    if (!res) continue;
    if (res.ok) out.acked = Math.max(out.acked, res.ackSeq);
    else if (['session_ended', 'server_shutdown'].includes(res.error.code)) {
      moving = true;
      out.why ??= `chunk ${res.error.code} at ${Date.now()}`;
    }
    else throw new Error(`chunk refused: ${res.error.code}`);
  }
  const stop = ok(
    await c.stop().catch((err: Error) => {
      throw new Error(`session:stop (${out.why}, connected ${c.socket.connected}): ${err.message}`);
    }),
  );
  out.durationMs = stop.durationMs;
  return out;
}

describe('the ECS stop order: STOPPED + deregistration, delay, connections cut, SIGTERM, SIGKILL', () => {
  it(`tells all ${SESSIONS} clients server_shutdown while their sockets work, and each continues on task B without losing acknowledged audio`, async () => {
    const http = await tasks.clinician(a!.url, 'clinician-ecs', 'pw-ecs-stop-test-123');
    const chunks = pcmChunks(tonePcm(AUDIO_MS), CHUNK_MS);

    const runs = Array.from({ length: SESSIONS }, () => runSession(http.cookieHeader, chunks));
    // Every session live on A (the shared CPU can make starts slow), then a little audio.
    await expect.poll(() => a!.lines.filter((l) => l.includes('"session_started"')).length, { timeout: 60_000 }).toBe(SESSIONS);
    await sleep(1500);
    // A deployment's new task is registered and healthy before the old one is stopped.
    lb.register('b', b!.port);

    // The ECS order.
    const stopAt = Date.now();
    metadata.stop();
    const cut = lb.deregister('a', DEREGISTRATION_DELAY_MS);
    const stopped = (async () => {
      await cut;
      const openAtCut = lb.connections('a');
      const exited = a!.stop('SIGTERM');
      const killer = setTimeout(() => a!.proc.kill('SIGKILL'), STOP_TIMEOUT_MS);
      const code = await exited;
      clearTimeout(killer);
      return { code, openAtCut };
    })();
    const outcomes = await Promise.all(runs);
    const { code } = await stopped;

    const noticed = outcomes.filter((o) => o.noticeAt !== undefined && o.noticeAt < stopAt + DEREGISTRATION_DELAY_MS);
    const continueMs = outcomes.map((o) => (o.continuedAt ?? Infinity) - stopAt).sort((x, y) => x - y);
    const ackedChunks = outcomes.reduce((n, o) => n + o.acked + 1, 0);
    const lostMs = outcomes.reduce((n, o) => n + Math.max(0, AUDIO_MS - o.durationMs), 0);
    console.info(
      `ECS stop order: ${SESSIONS} sessions; ${noticed.length} told server_shutdown before the cut; chunks acknowledged ${ackedChunks} of ${SESSIONS * chunks.length}, ` +
        `audio lost ${lostMs} ms (${Math.round(lostMs / CHUNK_MS)} chunks); continued on B after ${continueMs[0]}..${continueMs[continueMs.length - 1]} ms from STOPPED; A exited ${code}`,
    );

    expect(noticed).toHaveLength(SESSIONS);
    expect(code).toBe(0);
    expect(a!.lines.some((l) => l.includes('"ecs_task_stopping"'))).toBe(true);
    expect(a!.lines.some((l) => l.includes('"drain_complete"'))).toBe(true);
    // Each session continued on B before A could be killed (its figure is printed above: on an idle
    // machine ~2 s; on a shared 2-core CI box up to ~9 s).
    expect(continueMs[continueMs.length - 1]).toBeLessThan(DEREGISTRATION_DELAY_MS + STOP_TIMEOUT_MS);
    for (const o of outcomes) {
      expect(Math.abs(o.durationMs - AUDIO_MS)).toBeLessThan(20);
      const [tr] = await queryDb<{ status: string; end_reason: string; resume_part: number }>(db.url, 'SELECT status, end_reason, resume_part FROM transcriptions WHERE id = $1', [o.transcriptionId]);
      expect(tr).toMatchObject({ status: 'completed', end_reason: 'stopped', resume_part: 1 });
      await expect
        .poll(async () => (await queryDb<{ upload_state: string }>(db.url, 'SELECT upload_state FROM recordings WHERE transcription_id = $1 AND part_index = 1', [o.transcriptionId]))[0]?.upload_state, { timeout: 15_000 })
        .toBe('completed');
      const [part] = await queryDb<{ duration_ms: string }>(db.url, 'SELECT duration_ms FROM recordings WHERE transcription_id = $1 AND part_index = 1', [o.transcriptionId]);
      expect(Math.abs(Number(part!.duration_ms) - AUDIO_MS)).toBeLessThan(20);
    }
  }, 180_000);
});
