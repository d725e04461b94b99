/**
 * The offline engine as the fallback of TRANSCRIBE_ENGINE=aws costs nothing until a session fails
 * over: the real service built from config (the AWS adapter and SDK against the Transcribe protocol
 * server, the offline fallback from TRANSCRIBE_FALLBACK's default), with worker threads counted in
 * /proc/self/task.
 */
import fs from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import { readSharedPcm } from '../support/audio.js';
import { DictationClient, pcmChunks } from '../support/dictation-client.js';
import { queryDb, startTestService } from '../support/service.js';
import { startTranscribeServer } from '../support/transcribe-server.js';

const cleanups: Array<() => Promise<unknown> | unknown> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

/** Threads of this process (each offline engine worker is one). */
const threads = (): number => fs.readdirSync('/proc/self/task').length;

/** Sets environment variables for this test (the SDK reads the endpoint and credentials there). */
function setEnv(vars: Record<string, string>): void {
  const saved = Object.fromEntries(Object.keys(vars).map((k) => [k, process.env[k]]));
  Object.assign(process.env, vars);
  cleanups.push(() => {
    for (const [k, v] of Object.entries(saved)) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
  });
}

describe('offline fallback of TRANSCRIBE_ENGINE=aws', () => {
  it('runs no worker thread after start or health checks, starts one on the first failover, and that session is transcribed offline', async () => {
    const server = await startTranscribeServer({ wordsPerSecond: 2.5, wordsPerSegment: 6 });
    cleanups.push(() => server.close());
    setEnv({ AWS_ENDPOINT_URL_TRANSCRIBE_STREAMING: server.url, AWS_ACCESS_KEY_ID: 'test', AWS_SECRET_ACCESS_KEY: 'test' });
    const t = await startTestService(
      { TRANSCRIBE_ENGINE: 'aws', AWS_REGION: 'us-east-1', LOCAL_ENGINE_WORKERS: '1' },
      { engine: 'configured', resilience: { probeIntervalMs: 60_000 } },
    );
    cleanups.push(() => t.close());
    const { http } = await t.loggedIn('clinician');
    const c = new DictationClient(t.url, http.cookieHeader);
    cleanups.push(() => c.close());
    expect((await c.start({ type: 'DICTATION', audio: { encoding: 'pcm_s16le', sampleRate: 16000 } })).ok).toBe(true);

    // Idle on Transcribe, health probed: the fallback has no thread and has loaded no model.
    const health = await t.service.health.refresh();
    expect(health.checks.transcriber).toMatchObject({ status: 'ok', engine: 'aws' });
    const idleThreads = threads();
    expect(t.logs.entries.filter((l) => l.msg === 'offline_engine_starting')).toHaveLength(0);

    // Transcribe goes down mid-session: the open stream fails, every new one is refused.
    server.setFaults({ exceptionAfterAudioMs: { ms: 1000, type: 'ServiceUnavailableException' }, rejectStart: { status: 503, type: 'ServiceUnavailableException' } });
    const pcm = readSharedPcm('real/jfk.wav');
    await c.stream(pcmChunks(pcm, 200), { inFlight: 1, realTimeMsPerChunk: 100 });
    const duringFailover = threads();
    expect((await c.stop()).ok).toBe(true);

    expect(c.received.errors.map((e) => e.code)).toEqual(['transcriber_failover']);
    // One worker: its thread, plus (under tsx, as here) the thread running its loader hooks.
    expect(duringFailover - idleThreads).toBeGreaterThanOrEqual(1);
    expect(duringFailover - idleThreads).toBeLessThanOrEqual(2);
    expect(t.logs.entries.filter((l) => l.msg === 'offline_engine_starting')).toHaveLength(1);
    const rows = await queryDb<{ engine: string; text: string }>(
      t.databaseUrl,
      "SELECT engine, text FROM transcript_segments WHERE transcription_id = $1 AND kind = 'final' ORDER BY start_ms",
      [c.transcriptionId],
    );
    const local = rows.filter((r) => r.engine === 'local');
    expect(local.length).toBeGreaterThanOrEqual(2);
    // The audio kept while the model loaded was replayed: the offline text covers the speech.
    expect(local.map((r) => r.text).join(' ')).toMatch(/country/);
    expect(rows.every((r) => r.engine === 'local' || r.engine === 'aws')).toBe(true);
  }, 30_000);
});
