/**
 * The repair pass end to end: the real service, the real AWS adapter and SDK against the keyed
 * Transcribe stand-in (it reads the words from the audio, so every stream, live or repair, says the
 * same words for the same stretch of audio), a scripted fallback that says other words, the real
 * recording in the S3-API store and the real database.
 *
 * Durations: the 3-minute session is sent at 4× real time (45 s of wall clock) and the repair runs
 * at REPAIR_SPEED=20; the outage covers 60 s of the session's audio (15 s of wall clock). The stand-in
 * answers at any pace, so only the wall clock shrinks; the scenario (a 60 s outage inside a 3-minute
 * session, failover, recovery, repair) is the issue's.
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { afterEach, describe, expect, it } from 'vitest';
import { createLogger } from '../../src/lib/logger.js';
import { createAwsTranscribeMedicalEngine } from '../../src/transcription/providers/aws-transcribe-medical/index.js';
import { ProviderError } from '../../src/transcription/port.js';
import { coverageProblems } from '../support/coverage.js';
import { DictationClient, ok, pcmChunks } from '../support/dictation-client.js';
import { FakeEngine } from '../support/fake-engine.js';
import { queryDb, startTestService } from '../support/service.js';
import { keyedSpeechPcm, scriptWords, startTranscribeServer } from '../support/transcribe-server.js';

const logger = createLogger({ level: 'silent' });
const cleanups: Array<() => Promise<unknown> | unknown> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

const words = (rows: Array<{ text: string }>) => rows.flatMap((r) => r.text.split(/\s+/).filter(Boolean));

describe('repair pass', () => {
  it('after a 60 s Transcribe outage inside a 3-minute session, the stored transcript becomes the scripted text of the whole session, the fallback text kept as the prior version', async () => {
    const server = await startTranscribeServer({ keyed: true, wordsPerSecond: 2.5, wordsPerSegment: 6 });
    cleanups.push(() => server.close());
    const engine = createAwsTranscribeMedicalEngine(
      { region: 'us-east-1', endpoint: server.url, credentials: { accessKeyId: 'test', secretAccessKey: 'test' }, startWindowMs: 1000 },
      logger,
    );
    const fallback = new FakeEngine({ script: 'only the fallback engine would ever say these words', wordsPerSecond: 2.5, wordsPerSegment: 5 });
    const t = await startTestService({ REPAIR_CONCURRENCY: '2', REPAIR_SPEED: '20' }, { engine, fallbackEngine: fallback, repair: { pollMs: 200 } });
    cleanups.push(() => t.close());
    const { http } = await t.loggedIn('clinician');
    const c = new DictationClient(t.url, http.cookieHeader);
    cleanups.push(() => c.close());
    expect((await c.start({ type: 'DICTATION', audio: { encoding: 'pcm_s16le', sampleRate: 16000 } })).ok).toBe(true);

    const n = 450; // 3 min at 400 ms a word
    const chunks = pcmChunks(keyedSpeechPcm(n), 200);
    const third = chunks.length / 3;
    const send = (from: number, to: number) => c.stream(chunks.slice(from, to), { inFlight: 1, firstSeq: from, realTimeMsPerChunk: 50 });
    await send(0, third);
    // The outage: the open stream fails, every new one is refused, for 60 s of the session.
    server.setFaults({ exceptionAfterAudioMs: { ms: 0, type: 'ServiceUnavailableException' }, rejectStart: { status: 503, type: 'ServiceUnavailableException' } });
    await send(third, 2 * third);
    server.setFaults({});
    await send(2 * third, chunks.length);
    expect((await c.stop()).ok).toBe(true);
    const stoppedAt = Date.now();
    // Failover, then recovery. On a loaded machine a probe's refusal can come after the start window,
    // so the session may flap once more before it is back (each flap is a stretch of its own).
    const notices = c.received.errors.map((e) => e.code);
    expect(notices[0]).toBe('transcriber_failover');
    expect(notices.at(-1)).toBe('transcriber_recovered');
    const id = c.transcriptionId!;

    // Live, the outage was transcribed by the fallback: other words.
    const live = await queryDb<{ text: string; engine: string }>(t.databaseUrl, "SELECT text, engine FROM transcript_segments WHERE transcription_id = $1 AND kind = 'final' ORDER BY start_ms", [id]);
    expect(live.some((r) => r.engine === 'fake')).toBe(true);

    await expect.poll(async () => (await http.get(`/api/transcriptions/${id}`)).json?.repair?.status, { timeout: 60_000, interval: 250 }).toBe('repaired');
    const repairedAfterMs = Date.now() - stoppedAt;
    const detail = (await http.get(`/api/transcriptions/${id}`)).json;
    const stretches: Array<{ fromMs: number; toMs: number; status: string }> = detail.repair.stretches;
    expect(stretches.length).toBeGreaterThanOrEqual(1);
    expect(stretches.every((x) => x.status === 'repaired')).toBe(true);
    const stretch = { fromMs: stretches[0]!.fromMs, toMs: stretches.at(-1)!.toMs };
    expect(stretch.fromMs).toBeLessThanOrEqual(60_000);
    expect(stretch.toMs).toBeGreaterThanOrEqual(115_000);
    expect(detail.repair.segmentsReplaced).toBeGreaterThan(0);
    console.info(`repair: stretch ${stretch.fromMs}-${stretch.toMs} ms, ${detail.repair.segmentsReplaced} segments replaced, repaired ${repairedAfterMs} ms after stop`);

    // The whole session is now the stand-in's script, word for word, all from Transcribe.
    const stored = await queryDb<{ text: string; engine: string; segment_key: string }>(t.databaseUrl, "SELECT text, engine, segment_key FROM transcript_segments WHERE transcription_id = $1 AND kind = 'final' ORDER BY start_ms", [id]);
    expect(words(stored)).toEqual(scriptWords(n));
    expect(stored.every((r) => r.engine === 'aws')).toBe(true);
    // The fallback's text is kept as the prior version of the repaired stretch.
    const repairs = await queryDb<{ replaced: Array<{ engine: string; text: string }>; segments_replaced: number }>(
      t.databaseUrl,
      'SELECT replaced, segments_replaced FROM transcript_repairs WHERE transcription_id = $1 ORDER BY from_ms',
      [id],
    );
    const replaced = repairs.flatMap((r) => r.replaced);
    expect(replaced.length).toBe(detail.repair.segmentsReplaced);
    expect(words(replaced.filter((x) => x.engine === 'fake'))).toEqual(words(live.filter((r) => r.engine === 'fake')));
    // One repair stream per stretch, beside the one live stream that ended normally.
    expect(server.requests.filter((r) => r.outcome === 'completed').length).toBe(1 + stretches.length);
  }, 240_000);

  it('fills in a stretch nobody transcribed (fallback at its stream cap, audio beyond the replay ring) once Transcribe is back', async () => {
    const server = await startTranscribeServer({ keyed: true, wordsPerSecond: 2.5, wordsPerSegment: 6 });
    cleanups.push(() => server.close());
    const engine = createAwsTranscribeMedicalEngine(
      { region: 'us-east-1', endpoint: server.url, credentials: { accessKeyId: 'test', secretAccessKey: 'test' }, startWindowMs: 1000 },
      logger,
    );
    // The offline engine at its cap refuses every stream (retryable, as LOCAL_ENGINE_MAX_STREAMS does).
    const fallback = new FakeEngine({ faults: { startError: new ProviderError('busy', { retryable: true, code: 'engine_busy' }) } });
    // A 5 s replay ring: a 20 s outage leaves audio no stream will ever hear live.
    const t = await startTestService({ REPAIR_CONCURRENCY: '1', REPAIR_SPEED: '20' }, { engine, fallbackEngine: fallback, resilience: { replayMaxMs: 5000 }, repair: { pollMs: 200 } });
    cleanups.push(() => t.close());
    const { http } = await t.loggedIn('clinician');
    const c = new DictationClient(t.url, http.cookieHeader);
    cleanups.push(() => c.close());
    expect((await c.start({ type: 'DICTATION', audio: { encoding: 'pcm_s16le', sampleRate: 16000 } })).ok).toBe(true);

    const n = 100; // 40 s
    const chunks = pcmChunks(keyedSpeechPcm(n), 200);
    const send = (from: number, to: number) => c.stream(chunks.slice(from, to), { inFlight: 1, firstSeq: from, realTimeMsPerChunk: 50 });
    await send(0, 50); // 10 s
    server.setFaults({ exceptionAfterAudioMs: { ms: 0, type: 'ServiceUnavailableException' }, rejectStart: { status: 503, type: 'ServiceUnavailableException' } });
    await send(50, 150); // 20 s of outage
    server.setFaults({});
    await send(150, chunks.length);
    expect((await c.stop()).ok).toBe(true);
    const id = c.transcriptionId!;
    const live = await queryDb<{ text: string }>(t.databaseUrl, "SELECT text FROM transcript_segments WHERE transcription_id = $1 AND kind = 'final' ORDER BY start_ms", [id]);
    expect(words(live).length).toBeLessThan(n - 25); // at least the 15 s beyond the ring were never heard live

    await expect.poll(async () => (await http.get(`/api/transcriptions/${id}`)).json?.repair?.status, { timeout: 60_000, interval: 250 }).toBe('repaired');
    const stored = await queryDb<{ text: string }>(t.databaseUrl, "SELECT text FROM transcript_segments WHERE transcription_id = $1 AND kind = 'final' ORDER BY start_ms", [id]);
    expect(words(stored)).toEqual(scriptWords(n));
  }, 180_000);

  it('survives a restart: a stretch the task was repairing when it stopped is repaired by the task that starts next on its database, store and DATA_DIR', async () => {
    const server = await startTranscribeServer({ keyed: true, wordsPerSecond: 2.5, wordsPerSegment: 6 });
    cleanups.push(() => server.close());
    const aws = () =>
      createAwsTranscribeMedicalEngine({ region: 'us-east-1', endpoint: server.url, credentials: { accessKeyId: 'test', secretAccessKey: 'test' }, startWindowMs: 1000 }, logger);
    const busy = new FakeEngine({ faults: { startError: new ProviderError('busy', { retryable: true, code: 'engine_busy' }) } });
    // The first life runs no repairs, so the stretch is still to do when it stops.
    const first = await startTestService({ REPAIR_CONCURRENCY: '0' }, { engine: aws(), fallbackEngine: busy, resilience: { replayMaxMs: 3000 } });
    cleanups.push(() => first.close());
    const { http } = await first.loggedIn('clinician');
    const c = new DictationClient(first.url, http.cookieHeader);
    cleanups.push(() => c.close());
    expect((await c.start({ type: 'DICTATION', audio: { encoding: 'pcm_s16le', sampleRate: 16000 } })).ok).toBe(true);
    const n = 50; // 20 s
    const chunks = pcmChunks(keyedSpeechPcm(n), 200);
    const send = (from: number, to: number) => c.stream(chunks.slice(from, to), { inFlight: 1, firstSeq: from, realTimeMsPerChunk: 50 });
    await send(0, 25);
    server.setFaults({ exceptionAfterAudioMs: { ms: 0, type: 'ServiceUnavailableException' }, rejectStart: { status: 503, type: 'ServiceUnavailableException' } });
    await send(25, 75); // 10 s outage, 7 s of it beyond the ring
    server.setFaults({});
    await send(75, chunks.length);
    expect((await c.stop()).ok).toBe(true);
    const id = c.transcriptionId!;
    await expect
      .poll(async () => (await queryDb<{ upload_state: string }>(first.databaseUrl, 'SELECT upload_state FROM recordings WHERE transcription_id = $1', [id]))[0]?.upload_state, { timeout: 15_000 })
      .toBe('completed');
    await expect.poll(async () => (await queryDb(first.databaseUrl, 'SELECT 1 FROM transcript_repairs WHERE transcription_id = $1', [id])).length).toBe(1);
    // As if the task had claimed it and was stopped in the middle of the repair.
    await queryDb(first.databaseUrl, "UPDATE transcript_repairs SET status = 'running', claimed_by = $2, claimed_at = now(), attempts = 1 WHERE transcription_id = $1", [id, first.service.taskId]);
    await first.service.close();

    const second = await startTestService({ DATA_DIR: first.dataDir, REPAIR_CONCURRENCY: '1', REPAIR_SPEED: '20' }, { engine: aws(), repair: { pollMs: 200 } }, { url: first.databaseUrl });
    cleanups.push(() => second.close());
    expect(second.service.taskId).toBe(first.service.taskId);
    await expect
      .poll(async () => (await queryDb<{ status: string }>(first.databaseUrl, 'SELECT status FROM transcript_repairs WHERE transcription_id = $1', [id]))[0]?.status, { timeout: 60_000, interval: 250 })
      .toBe('repaired');
    const stored = await queryDb<{ text: string }>(first.databaseUrl, "SELECT text FROM transcript_segments WHERE transcription_id = $1 AND kind = 'final' ORDER BY start_ms", [id]);
    expect(words(stored)).toEqual(scriptWords(n));
  }, 180_000);

  it('repairs an Ogg Opus recording too: a stretch nobody transcribed is decoded from the stored Ogg and re-transcribed, so the transcript covers the whole session', async () => {
    // Not keyed: the stand-in's square-wave keys do not survive a lossy codec. It hears "speech" in
    // any non-silent audio and reports segment times in the audio it was sent.
    const server = await startTranscribeServer({ wordsPerSecond: 2.5, wordsPerSegment: 6 });
    cleanups.push(() => server.close());
    const engine = createAwsTranscribeMedicalEngine(
      { region: 'us-east-1', endpoint: server.url, credentials: { accessKeyId: 'test', secretAccessKey: 'test' }, startWindowMs: 1000 },
      logger,
    );
    const fallback = new FakeEngine({ faults: { startError: new ProviderError('busy', { retryable: true, code: 'engine_busy' }) } });
    const t = await startTestService({ REPAIR_CONCURRENCY: '1', REPAIR_SPEED: '20' }, { engine, fallbackEngine: fallback, resilience: { replayMaxMs: 3000 }, repair: { pollMs: 200 } });
    cleanups.push(() => t.close());
    const { http } = await t.loggedIn('clinician');
    const c = new DictationClient(t.url, http.cookieHeader);
    cleanups.push(() => c.close());
    expect((await c.start({ type: 'DICTATION', audio: { encoding: 'ogg_opus' } })).ok).toBe(true);

    const AUDIO_MS = 30_000;
    const { stdout: ogg } = await promisify(execFile)(
      'ffmpeg',
      ['-hide_banner', '-loglevel', 'error', '-f', 'lavfi', '-i', `sine=frequency=300:sample_rate=48000:duration=${AUDIO_MS / 1000}`, '-ac', '1', '-c:a', 'libopus', '-b:a', '32k', '-f', 'ogg', 'pipe:1'],
      { encoding: 'buffer', maxBuffer: 16 * 1024 * 1024 },
    );
    // ~32 kb/s: 800-byte chunks are ~200 ms of audio each.
    const chunks: Buffer[] = [];
    for (let i = 0; i < ogg.length; i += 800) chunks.push(ogg.subarray(i, i + 800));
    const third = Math.floor(chunks.length / 3);
    const send = (from: number, to: number) => c.stream(chunks.slice(from, to), { inFlight: 1, firstSeq: from, realTimeMsPerChunk: 50 });
    await send(0, third);
    server.setFaults({ exceptionAfterAudioMs: { ms: 0, type: 'ServiceUnavailableException' }, rejectStart: { status: 503, type: 'ServiceUnavailableException' } });
    await send(third, 2 * third); // ~10 s never heard live (the replay ring keeps 3 s)
    server.setFaults({});
    await send(2 * third, chunks.length);
    const stop = ok(await c.stop());
    const id = c.transcriptionId!;
    const finals = () =>
      queryDb<{ segment_key: string; start_ms: number; end_ms: number; engine: string }>(
        t.databaseUrl,
        "SELECT segment_key, start_ms::int AS start_ms, end_ms::int AS end_ms, engine FROM transcript_segments WHERE transcription_id = $1 AND kind = 'final' ORDER BY start_ms",
        [id],
      );
    const coverage = async () => coverageProblems((await finals()).map((r) => ({ segmentId: r.segment_key, startMs: r.start_ms, endMs: r.end_ms })), stop.durationMs, { maxHoleMs: 1500, endToleranceMs: 1500 });
    expect((await coverage()).some((p) => p.startsWith('hole'))).toBe(true);

    await expect.poll(async () => (await http.get(`/api/transcriptions/${id}`)).json?.repair?.status, { timeout: 60_000, interval: 250 }).toBe('repaired');
    const repaired = (await finals()).filter((r) => r.segment_key.startsWith('r'));
    expect(repaired.length).toBeGreaterThan(0);
    expect(repaired.every((r) => r.engine === 'aws')).toBe(true);
    expect(await coverage()).toEqual([]);
  }, 180_000);
});
