/**
 * Sessions with Opus input and TRANSCRIBE_AUDIO=opus, end to end: a real Socket.IO client sends
 * WebM Opus as MediaRecorder does, the service passes the packets to the real AWS adapter, which
 * sends Ogg Opus through the real SDK to the protocol stand-in (which checks every page and decodes
 * it). While Transcribe serves the session nothing is decoded in the service (no message to the
 * Opus worker); a failover decodes for the offline-engine stand-in from the replayed packets on.
 */
import { Worker } from 'node:worker_threads';
import { afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { createLogger } from '../../src/lib/logger.js';
import { createAwsTranscribeMedicalEngine } from '../../src/transcription/providers/aws-transcribe-medical/index.js';
import { encodeOpus, readSharedPcm } from '../support/audio.js';
import { DictationClient, ok } from '../support/dictation-client.js';
import { FakeEngine } from '../support/fake-engine.js';
import { queryDb, startTestService, type TestService } from '../support/service.js';
import { startTranscribeServer, type TranscribeServer } from '../support/transcribe-server.js';

const logger = createLogger({ level: 'silent' });
const cleanups: Array<() => Promise<unknown> | unknown> = [];
afterEach(async () => {
  vi.restoreAllMocks();
  for (const c of cleanups.splice(0).reverse()) await c();
});

const WAV = 'real/1089-134686-0000.wav';
let webm: Buffer;
let seconds: number;
beforeAll(async () => {
  webm = await encodeOpus(WAV, 'webm');
  seconds = readSharedPcm(WAV).length / 32000;
});

/** ~250 ms chunks of the WebM (32 kbit/s: ~1 kB), as MediaRecorder's timeslice gives them. */
const webmChunks = () => {
  const out: Buffer[] = [];
  for (let i = 0; i < webm.length; i += 1000) out.push(webm.subarray(i, i + 1000));
  return out;
};

/** Counts the Opus decode requests the process posts to its decoding worker. */
function countDecodes(): { n: number } {
  const count = { n: 0 };
  const post = Worker.prototype.postMessage;
  vi.spyOn(Worker.prototype, 'postMessage').mockImplementation(function (this: Worker, message: unknown, transfer?: Parameters<Worker['postMessage']>[1]) {
    if ((message as { type?: string })?.type === 'decode') count.n++;
    return post.call(this, message, transfer);
  });
  return count;
}

async function setup(audio: 'pcm' | 'opus', fallback?: FakeEngine): Promise<{ t: TestService; server: TranscribeServer; c: DictationClient }> {
  const server = await startTranscribeServer({ wordsPerSecond: 2.5, wordsPerSegment: 6 });
  cleanups.push(() => server.close());
  const engine = createAwsTranscribeMedicalEngine({ region: 'us-east-1', endpoint: server.url, credentials: { accessKeyId: 'test', secretAccessKey: 'test' }, startWindowMs: 1000, audio }, logger);
  const t = await startTestService({}, { engine, ...(fallback ? { fallbackEngine: fallback } : {}), resilience: { probeIntervalMs: 60_000, watchdogMs: 0 } });
  cleanups.push(() => t.close());
  const { http } = await t.loggedIn('clinician');
  const c = new DictationClient(t.url, http.cookieHeader);
  cleanups.push(() => c.close());
  return { t, server, c };
}

async function storedRecordingMs(t: TestService, id: string): Promise<number> {
  await expect
    .poll(async () => (await queryDb<{ upload_state: string }>(t.databaseUrl, 'SELECT upload_state FROM recordings WHERE transcription_id = $1', [id]))[0]?.upload_state, { timeout: 15_000 })
    .toBe('completed');
  const [rec] = await queryDb<{ duration_ms: string }>(t.databaseUrl, 'SELECT duration_ms FROM recordings WHERE transcription_id = $1', [id]);
  return Number(rec!.duration_ms);
}

describe('TRANSCRIBE_AUDIO=opus sessions', () => {
  it('a webm_opus session gets its text from Ogg Opus sent as it arrived, and nothing is decoded in the service', async () => {
    const { t, server, c } = await setup('opus', new FakeEngine());
    const decodes = countDecodes();
    const levels: number[] = [];
    c.socket.on('session:level', (p) => levels.push(p.dbfs));
    ok(await c.start({ type: 'DICTATION', audio: { encoding: 'webm_opus' } }));
    await c.stream(webmChunks(), { inFlight: 2 });
    const stop = ok(await c.stop());
    expect(Math.abs(stop.durationMs / 1000 - seconds)).toBeLessThan(0.15);
    expect(server.requests).toHaveLength(1);
    const rec = server.requests[0]!;
    expect(rec).toMatchObject({ mediaEncoding: 'ogg-opus', outcome: 'completed', ogg: { tags: true } });
    expect(rec.ogg!.error).toBeUndefined();
    expect(Math.abs(rec.ogg!.decodedMs / 1000 - seconds)).toBeLessThan(0.1);
    expect(c.received.finals.length).toBeGreaterThan(0);
    expect(c.received.finals.every((f) => f.endMs <= stop.durationMs + 1)).toBe(true);
    expect(decodes.n).toBe(0);
    // Passthrough sessions send no level events (the page meters its own microphone).
    expect(levels).toEqual([]);
    expect(Math.abs((await storedRecordingMs(t, c.transcriptionId!)) / 1000 - seconds)).toBeLessThan(0.1);
  }, 60_000);

  it('fails over mid-session to the offline engine, which gets the audio after the failure decoded and transcribes it', async () => {
    const fallback = new FakeEngine({ wordsPerSecond: 2.5, wordsPerSegment: 3 });
    const { t, server, c } = await setup('opus', fallback);
    const decodes = countDecodes();
    ok(await c.start({ type: 'DICTATION', audio: { encoding: 'webm_opus' } }));
    // Transcribe fails after ~3 s of audio and refuses every new stream from then on.
    server.setFaults({ exceptionAfterAudioMs: { ms: 3000, type: 'ServiceUnavailableException' }, rejectStart: { status: 503, type: 'ServiceUnavailableException' } });
    await c.stream(webmChunks(), { inFlight: 1, realTimeMsPerChunk: 40 });
    const stop = ok(await c.stop());
    expect(c.received.errors.map((e) => e.code)).toContain('transcriber_failover');
    expect(fallback.streams).toHaveLength(1);
    expect(decodes.n).toBeGreaterThan(0);
    // The fallback heard PCM from the uncovered point to the end: at least the audio after the failure.
    expect(fallback.streams[0]!.audioBytes / 32).toBeGreaterThan(seconds * 1000 - 3500);
    const rows = await queryDb<{ engine: string; end_ms: number }>(t.databaseUrl, "SELECT engine, end_ms::int AS end_ms FROM transcript_segments WHERE transcription_id = $1 AND kind = 'final' ORDER BY start_ms", [c.transcriptionId]);
    const local = rows.filter((r) => r.engine === 'fake');
    expect(local.length).toBeGreaterThan(0);
    expect(local.at(-1)!.end_ms).toBeGreaterThan(stop.durationMs - 2000);
  }, 60_000);

  it('TRANSCRIBE_AUDIO=pcm keeps decoding Opus and sends 16 kHz PCM', async () => {
    const { server, c } = await setup('pcm');
    const decodes = countDecodes();
    ok(await c.start({ type: 'DICTATION', audio: { encoding: 'webm_opus' } }));
    await c.stream(webmChunks(), { inFlight: 2 });
    ok(await c.stop());
    expect(server.requests[0]).toMatchObject({ mediaEncoding: 'pcm', sampleRate: 16000, outcome: 'completed' });
    expect(Math.abs(server.requests[0]!.audioBytes / 32000 - seconds)).toBeLessThan(0.15);
    expect(decodes.n).toBeGreaterThan(0);
    expect(c.received.finals.length).toBeGreaterThan(0);
  }, 60_000);
});
