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
import { DictationClient, ok, pcmChunks } from '../support/dictation-client.js';
import { FakeEngine } from '../support/fake-engine.js';
import { queryDb, startTestService, type TestService } from '../support/service.js';
import { keyedSpeechPcm, scriptWords, startTranscribeServer, type TranscribeServer, type TranscribeServerOptions } from '../support/transcribe-server.js';
import { wordEdits } from '../support/wer.js';

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

async function setup(fallback: TranscriptionEngine | undefined, resilience: Partial<ResilienceOptions>, serverOptions: TranscribeServerOptions = {}): Promise<Setup> {
  const server = await startTranscribeServer({ wordsPerSecond: 2.5, wordsPerSegment: 6, ...serverOptions });
  cleanups.push(() => server.close());
  const engine = createAwsTranscribeMedicalEngine(
    // A refusal that comes after the start window looks like an open stream to a probe; on a
    // loaded 2-core machine 200 ms was not always enough (production default: 500).
    { region: 'us-east-1', endpoint: server.url, credentials: { accessKeyId: 'test', secretAccessKey: 'test' }, startWindowMs: 1000 },
    logger,
  );
  const t = await startTestService({}, { engine, ...(fallback ? { fallbackEngine: fallback } : {}), resilience });
  cleanups.push(() => t.close());
  const { http } = await t.loggedIn('clinician');
  const c = new DictationClient(t.url, http.cookieHeader);
  cleanups.push(() => c.close());
  const started = ok(await c.start({ type: 'DICTATION', audio: { encoding: 'pcm_s16le', sampleRate: 16000 } }));
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

/**
 * The stored transcript against the script of keyed audio of `n` words: the share of scripted words
 * kept (1 − word edits / n, so a repeated word costs as much as a lost one) and the stored words.
 */
async function keptWords(t: TestService, id: string, n: number): Promise<{ kept: number; words: string[] }> {
  const rows = await queryDb<{ text: string }>(t.databaseUrl, "SELECT text FROM transcript_segments WHERE transcription_id = $1 AND kind = 'final' ORDER BY start_ms", [id]);
  const words = rows.flatMap((r) => r.text.split(/\s+/).filter(Boolean));
  return { kept: 1 - wordEdits(scriptWords(n), words) / n, words };
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
    const stop = ok(await c.stop());

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

  it('reconnects to Transcribe within 1 s after LimitExceededException mid-stream, keeps >= 97 % of the scripted words, repeats none and does not fail over', async () => {
    const fallback = new FakeEngine({ script: 'words only the fallback would say' });
    const { t, server, c } = await setup(fallback, {}, { keyed: true });
    // The scenario: one stream fails with LimitExceeded after 5 s of a 20 s session.
    server.setFaults({ exceptionAfterAudioMs: { ms: 5000, type: 'LimitExceededException' }, once: true });
    const n = 50;
    await c.stream(pcmChunks(keyedSpeechPcm(n), 200), { inFlight: 1, realTimeMsPerChunk: 100 });
    expect((await c.stop()).ok).toBe(true);

    expect(server.requests.map((r) => r.outcome)).toEqual(['exception', 'completed']);
    const reconnectMs = server.requests[1]!.startedAt - server.requests[0]!.endedAt!;
    expect(reconnectMs).toBeLessThan(1000);
    expect(fallback.streams).toHaveLength(0);
    expect(c.received.errors).toEqual([]);
    const rows = await storedSegments(t, c.transcriptionId!);
    expectStoredMatchesFinals(rows, c);
    expect(rows.every((r) => r.engine === 'aws')).toBe(true);
    expect(coverageProblems(c.received.finals, 20_000, { maxOverlapMs: 0, endToleranceMs: 400 })).toEqual([]);
    const { kept } = await keptWords(t, c.transcriptionId!, n);
    console.info(`LimitExceeded mid-stream: reconnect ${reconnectMs} ms, words kept ${(kept * 100).toFixed(1)} %`);
    expect(kept).toBeGreaterThanOrEqual(0.97);
    expect(t.service.counters.get('engine_failovers_total')).toBe(0);
  });

  it('fails over when opening fails (LimitExceededException at open after a mid-stream failure), tells the clinician, and goes back to Transcribe as soon as a probe opens', async () => {
    const fallback = new FakeEngine({ wordsPerSecond: 2.5, wordsPerSegment: 5 });
    const { t, server, c } = await setup(fallback, { probeIntervalMs: 1500 });
    // A quota refusal: the open stream fails and every new one is refused with 429 until cleared.
    server.setFaults({ exceptionAfterAudioMs: { ms: 3000, type: 'LimitExceededException' }, rejectStart: { status: 429, type: 'LimitExceededException' } });
    let clearedAt = 0;
    const clearing = (async () => {
      await expect.poll(() => fallback.streams.length, { timeout: 10_000 }).toBe(1);
      await new Promise((r) => setTimeout(r, 1000));
      server.setFaults({});
      clearedAt = Date.now();
    })();
    const pcm = tonePcm(14_000);
    await c.stream(pcmChunks(pcm, 200), { inFlight: 1, realTimeMsPerChunk: 100 });
    await clearing;
    expect((await c.stop()).ok).toBe(true);

    expect(c.received.errors.map((e) => e.code)).toEqual(['transcriber_failover', 'transcriber_recovered']);
    expect(c.received.errors.every((e) => !e.fatal)).toBe(true);
    expect(c.received.notices.map((e) => e.code)).toEqual(['transcriber_failover', 'transcriber_recovered']);
    expect(fallback.streams).toHaveLength(1);
    // Reconnect first (refused at open), then the fallback; back on the first probe after the refusal ends.
    const outcomes = server.requests.map((r) => r.outcome);
    expect(outcomes[0]).toBe('exception');
    expect(outcomes[1]).toBe('rejected');
    expect(outcomes.at(-1)).toBe('completed');
    expect(outcomes.filter((o) => o === 'completed')).toHaveLength(1);
    expect(server.requests.at(-1)!.startedAt - clearedAt).toBeLessThan(1500 + 500);
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

  it('replaces a silent stream (open, takes audio, never answers) within the watchdog time, without failover or lost words', async () => {
    const fallback = new FakeEngine({ script: 'words only the fallback would say' });
    const { t, server, c } = await setup(fallback, { watchdogMs: 2000 }, { keyed: true });
    server.setFaults({ stallAfterAudioMs: 3000, once: true });
    const n = 40;
    await c.stream(pcmChunks(keyedSpeechPcm(n), 200), { inFlight: 1, realTimeMsPerChunk: 100 });
    const stoppedAt = Date.now();
    expect((await c.stop()).ok).toBe(true);

    expect(server.requests.map((r) => r.outcome)).toEqual(['stalled', 'completed']);
    // Replaced while the session ran, about watchdogMs after the stream went quiet (its last
    // result came just before the stall), not at the end of the session.
    const replacedAfterMs = server.requests[1]!.startedAt - server.requests[0]!.endedAt!;
    expect(server.requests[1]!.startedAt).toBeLessThan(stoppedAt);
    expect(replacedAfterMs).toBeLessThan(2000 + 1500);
    expect(t.service.counters.get('engine_watchdog_replaced_total', { engine: 'aws' })).toBe(1);
    expect(t.service.counters.get('engine_failovers_total')).toBe(0);
    expect(fallback.streams).toHaveLength(0);
    const rows = await storedSegments(t, c.transcriptionId!);
    expectStoredMatchesFinals(rows, c);
    const { kept } = await keptWords(t, c.transcriptionId!, n);
    console.info(`silent stream: replaced ${replacedAfterMs} ms after it went quiet, words kept ${(kept * 100).toFixed(1)} %`);
    expect(kept).toBeGreaterThanOrEqual(0.97);
  });

  it('sends every session on the fallback back to Transcribe as soon as any stream of it opens, not at the next probe', async () => {
    const fallback = new FakeEngine({ wordsPerSecond: 2.5, wordsPerSegment: 5 });
    const server = await startTranscribeServer({ wordsPerSecond: 2.5, wordsPerSegment: 6 });
    cleanups.push(() => server.close());
    const engine = createAwsTranscribeMedicalEngine(
      { region: 'us-east-1', endpoint: server.url, credentials: { accessKeyId: 'test', secretAccessKey: 'test' }, startWindowMs: 1000 },
      logger,
    );
    // Probes far apart: only the shared "the primary opened" signal can bring session A back quickly.
    const t = await startTestService({}, { engine, fallbackEngine: fallback, resilience: { probeIntervalMs: 60_000 } });
    cleanups.push(() => t.close());
    const { http } = await t.loggedIn('clinician');
    const a = new DictationClient(t.url, http.cookieHeader);
    const b = new DictationClient(t.url, http.cookieHeader);
    cleanups.push(() => a.close(), () => b.close());
    server.setFaults({ rejectStart: { status: 429, type: 'LimitExceededException' } });
    expect((await a.start({ type: 'DICTATION', audio: { encoding: 'pcm_s16le', sampleRate: 16000 } })).ok).toBe(true);
    const sendingA = a.stream(pcmChunks(tonePcm(8000), 200), { inFlight: 1, realTimeMsPerChunk: 100 });
    await expect.poll(() => a.received.errors.map((e) => e.code)).toEqual(['transcriber_failover']);
    server.setFaults({});
    const openedAt = Date.now();
    expect((await b.start({ type: 'DICTATION', audio: { encoding: 'pcm_s16le', sampleRate: 16000 } })).ok).toBe(true);
    await expect.poll(() => a.received.errors.map((e) => e.code), { timeout: 10_000, interval: 50 }).toEqual(['transcriber_failover', 'transcriber_recovered']);
    const backAfterMs = Date.now() - openedAt;
    console.info(`session on the fallback back on Transcribe ${backAfterMs} ms after another session's stream opened`);
    expect(backAfterMs).toBeLessThan(5000);
    await sendingA;
    expect((await a.stop()).ok).toBe(true);
    expect((await b.stop()).ok).toBe(true);
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
