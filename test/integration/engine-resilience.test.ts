/**
 * The resilient engine wrapper end to end: real Socket.IO clients, the real service, the real AWS
 * adapter and SDK against the Transcribe protocol server with faults injected at its boundary, and
 * (for failover) the scripted fake or the real offline engine behind the same port.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { createLogger } from '../../src/lib/logger.js';
import type { ResilienceOptions } from '../../src/transcription/resilient-stream.js';
import type { TranscriptionEngine } from '../../src/transcription/port.js';
import { createAwsTranscribeMedicalEngine } from '../../src/transcription/providers/aws-transcribe-medical/index.js';
import { createLocalEngine } from '../../src/transcription/providers/local/index.js';
import { readSharedPcm } from '../support/audio.js';
import { coverageProblems, tonePcm } from '../support/coverage.js';
import { DictationClient, pcmChunks } from '../support/dictation-client.js';
import { FakeEngine } from '../support/fake-engine.js';
import { queryDb, startTestService, type TestService } from '../support/service.js';
import { startTranscribeServer, type TranscribeServer } from '../support/transcribe-server.js';

const logger = createLogger({ level: 'silent' });
const cleanups: Array<() => Promise<unknown> | unknown> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

interface Setup {
  t: TestService;
  server: TranscribeServer;
  c: DictationClient;
}

async function setup(fallback: TranscriptionEngine | undefined, resilience: Partial<ResilienceOptions>): Promise<Setup> {
  const server = await startTranscribeServer({ wordsPerSecond: 2.5, wordsPerSegment: 6 });
  cleanups.push(() => server.close());
  const engine = createAwsTranscribeMedicalEngine(
    { region: 'us-east-1', endpoint: server.url, credentials: { accessKeyId: 'test', secretAccessKey: 'test' }, startWindowMs: 200 },
    logger,
  );
  const t = await startTestService({}, { engine, ...(fallback ? { fallbackEngine: fallback } : {}), resilience });
  cleanups.push(() => t.close());
  const { http } = await t.loggedIn('clinician');
  const c = new DictationClient(t.url, http.cookieHeader);
  cleanups.push(() => c.close());
  const started = await c.start({ type: 'DICTATION', audio: { encoding: 'pcm_s16le', sampleRate: 16000 } });
  expect(started.ok).toBe(true);
  return { t, server, c };
}

type StoredSegment = { segment_key: string; start_ms: number; end_ms: number; engine: string; kind: string };

async function storedSegments(t: TestService, id: string): Promise<StoredSegment[]> {
  return queryDb<StoredSegment>(
    t.databaseUrl,
    'SELECT segment_key, start_ms::int AS start_ms, end_ms::int AS end_ms, engine, kind FROM transcript_segments WHERE transcription_id = $1 ORDER BY start_ms',
    [id],
  );
}

async function recordingMs(t: TestService, id: string): Promise<number> {
  await expect
    .poll(async () => (await queryDb<{ upload_state: string }>(t.databaseUrl, 'SELECT upload_state FROM recordings WHERE transcription_id = $1', [id]))[0]?.upload_state, { timeout: 15_000 })
    .toBe('completed');
  const [rec] = await queryDb<{ duration_ms: string }>(t.databaseUrl, 'SELECT duration_ms FROM recordings WHERE transcription_id = $1', [id]);
  return Number(rec!.duration_ms);
}

/** Stored segments match the finals the client saw, one row per final, none repeated. */
function expectStoredMatchesFinals(rows: StoredSegment[], c: DictationClient) {
  expect(rows.map((r) => r.segment_key).sort()).toEqual(c.received.finals.map((f) => f.segmentId).sort());
  expect(new Set(rows.map((r) => r.segment_key)).size).toBe(rows.length);
}

describe('resilient engine wrapper (AWS adapter against the Transcribe protocol server)', () => {
  it('reconnects after a silent HTTP/2 drop mid-stream and continues from the first uncovered audio, without lost or repeated finals', async () => {
    const { t, server, c } = await setup(new FakeEngine(), {});
    server.setFaults({ dropAfterAudioMs: 4000, once: true });
    const pcm = tonePcm(12_000);
    await c.stream(pcmChunks(pcm, 200), { inFlight: 1, realTimeMsPerChunk: 100 });
    const stop = await c.stop();
    expect(stop.ok).toBe(true);

    expect(server.requests.map((r) => r.outcome)).toEqual(['dropped', 'completed']);
    // The second stream got the audio from the end of the last final (4.8 s: two 6-word segments
    // at 2.5 words/s, or less) onwards, not the whole session again and not only the new audio.
    const replayedFromMs = 12_000 - server.requests[1]!.audioBytes / 32;
    expect(replayedFromMs).toBeGreaterThan(0);
    expect(replayedFromMs).toBeLessThanOrEqual(4000);
    const rows = await storedSegments(t, c.transcriptionId!);
    expect(rows.every((r) => r.engine === 'aws' && r.kind === 'final')).toBe(true);
    expectStoredMatchesFinals(rows, c);
    expect(coverageProblems(c.received.finals, 12_000, { maxOverlapMs: 100, maxHoleMs: 100, endToleranceMs: 400, startToleranceMs: 0 })).toEqual([]);
    expect(Math.abs((await recordingMs(t, c.transcriptionId!)) - 12_000)).toBeLessThan(50);
    expect(t.service.counters.get('engine_retries_total', { engine: 'aws' })).toBe(1);
    expect(t.service.counters.get('engine_failovers_total')).toBe(0);
    // The same counters reach Prometheus.
    const exposition = await t.service.metrics.registry.metrics();
    expect(exposition).toMatch(/^arogya_engine_retries_total\{engine="aws"\} 1$/m);
    expect(exposition).toMatch(/^arogya_engine_reconnects_total 1$/m);
  });

  it('fails over to the fallback on LimitExceededException mid-stream, tells the clinician, tags segments by engine, and goes back when Transcribe recovers', async () => {
    const fallback = new FakeEngine({ wordsPerSecond: 2.5, wordsPerSegment: 5 });
    const { t, server, c } = await setup(fallback, { probeIntervalMs: 1500 });
    server.setFaults({ exceptionAfterAudioMs: { ms: 3000, type: 'LimitExceededException' }, once: true });
    const pcm = tonePcm(14_000);
    await c.stream(pcmChunks(pcm, 200), { inFlight: 1, realTimeMsPerChunk: 100 });
    expect((await c.stop()).ok).toBe(true);

    expect(c.received.errors.map((e) => e.code)).toEqual(['transcriber_failover', 'transcriber_recovered']);
    expect(c.received.errors.every((e) => !e.fatal)).toBe(true);
    expect(fallback.streams).toHaveLength(1);
    expect(server.requests.map((r) => r.outcome)).toEqual(['exception', 'completed']);
    const rows = await storedSegments(t, c.transcriptionId!);
    expectStoredMatchesFinals(rows, c);
    // aws → fake → aws along the timeline, each segment tagged with the engine that produced it.
    const runs = rows.map((r) => r.engine).filter((e, i, a) => i === 0 || a[i - 1] !== e);
    expect(runs).toEqual(['aws', 'fake', 'aws']);
    expect(coverageProblems(c.received.finals, 14_000, { maxOverlapMs: 100, maxHoleMs: 150, endToleranceMs: 400, startToleranceMs: 0 })).toEqual([]);
    expect(Math.abs((await recordingMs(t, c.transcriptionId!)) - 14_000)).toBeLessThan(50);
    const [tr] = await queryDb<{ engine: string; failure_reason: string | null }>(t.databaseUrl, 'SELECT engine, failure_reason FROM transcriptions WHERE id = $1', [c.transcriptionId]);
    expect(tr).toEqual({ engine: 'aws', failure_reason: null });
    expect(t.service.counters.get('engine_failovers_total', { from: 'aws', to: 'fake' })).toBe(1);
    expect(t.service.counters.get('engine_recoveries_total', { engine: 'aws' })).toBe(1);
  });

  it('keeps the transcript going on the offline engine through a 30 s Transcribe outage and returns to Transcribe after it', async () => {
    const local = createLocalEngine({ workers: 1 }, logger);
    const { t, server, c } = await setup(local, { probeIntervalMs: 5000 });
    const pcm = Buffer.concat([
      readSharedPcm('real/jfk.wav'),
      readSharedPcm('real/1089-134686-0000.wav'),
      readSharedPcm('clinical-synth/rms_med10.wav'),
      readSharedPcm('real/jfk.wav'),
      readSharedPcm('clinical-synth/slt_med06.wav'),
    ]);
    const audioMs = pcm.length / 32;
    const sending = c.stream(pcmChunks(pcm, 200), { inFlight: 1, realTimeMsPerChunk: 200 });
    await new Promise((r) => setTimeout(r, 4000));
    // The outage: the open stream gets ServiceUnavailableException, every new one is refused.
    const outageAt = Date.now();
    server.setFaults({ exceptionAfterAudioMs: { ms: 0, type: 'ServiceUnavailableException' }, rejectStart: { status: 503, type: 'ServiceUnavailableException' } });
    await new Promise((r) => setTimeout(r, 30_000));
    server.setFaults({});
    const outageMs = Date.now() - outageAt;
    await sending;
    expect((await c.stop(90_000)).ok).toBe(true);

    expect(outageMs).toBeGreaterThanOrEqual(30_000);
    expect(c.received.errors.map((e) => e.code)).toEqual(['transcriber_failover', 'transcriber_recovered']);
    const refused = server.requests.filter((r) => r.outcome === 'rejected').length;
    expect(refused).toBeGreaterThanOrEqual(4); // probed every 5 s while down
    const rows = await storedSegments(t, c.transcriptionId!);
    expectStoredMatchesFinals(rows, c);
    const runs = rows.map((r) => r.engine).filter((e, i, a) => i === 0 || a[i - 1] !== e);
    expect(runs).toEqual(['aws', 'local', 'aws']);
    // The offline engine covered the outage: its text spans most of those 30 s.
    const localRows = rows.filter((r) => r.engine === 'local');
    expect(localRows.at(-1)!.end_ms - localRows[0]!.start_ms).toBeGreaterThan(20_000);
    // The protocol server times words by non-silent audio only, so on real speech its clock runs a
    // little behind the audio: the tail tolerance is wider than for the tone tests.
    expect(coverageProblems(c.received.finals, audioMs, { maxOverlapMs: 150, endToleranceMs: 3000 })).toEqual([]);
    expect(Math.abs((await recordingMs(t, c.transcriptionId!)) - audioMs)).toBeLessThan(50);
  }, 120_000);

  it('gives up after the retry budget without a fallback: the recording continues and the clinician is told', async () => {
    const { t, server, c } = await setup(undefined, { maxRetries: 2 });
    server.setFaults({ exceptionAfterAudioMs: { ms: 1000, type: 'InternalFailureException' } });
    const pcm = tonePcm(6000);
    await c.stream(pcmChunks(pcm, 200), { inFlight: 1, realTimeMsPerChunk: 50 });
    expect((await c.stop()).ok).toBe(true);
    expect(server.requests).toHaveLength(3);
    expect(c.received.errors).toContainEqual(expect.objectContaining({ code: 'transcriber_unavailable', fatal: false }));
    expect(Math.abs((await recordingMs(t, c.transcriptionId!)) - 6000)).toBeLessThan(50);
    expect(t.service.counters.get('engine_gave_up_total')).toBe(1);
  });
});
