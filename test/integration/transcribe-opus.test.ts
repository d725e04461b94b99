/**
 * Opus passed through to Transcribe (TRANSCRIBE_AUDIO=opus): the AWS adapter through the real SDK
 * against the protocol stand-in, which checks every Ogg page it receives (CRC, headers, page
 * numbers, granule positions) and decodes the audio; then the resilient wrapper, whose offline
 * fallback needs PCM: the packets it replays and those after are decoded for it, off-thread.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { opusPacketSource } from '../../src/audio/decoder.js';
import { createOpusPacketDecoder } from '../../src/audio/off-thread-decoder.js';
import { opusPacketSamples48k } from '../../src/audio/opus-packet.js';
import { createLogger } from '../../src/lib/logger.js';
import type { OpusStreamHead, OpusStreamPacket, StreamOptions, TranscriptionEngine, TranscriptionStream, TranscriptResult } from '../../src/transcription/port.js';
import { createAwsTranscribeMedicalEngine } from '../../src/transcription/providers/aws-transcribe-medical/index.js';
import { createResilientEngine, opusSpeech } from '../../src/transcription/resilient-stream.js';
import { encodeOpus } from '../support/audio.js';
import { FakeEngine } from '../support/fake-engine.js';
import { startTranscribeServer, type TranscribeServer } from '../support/transcribe-server.js';

const logger = createLogger({ level: 'silent' });
const streamOptions = (over: Partial<StreamOptions> = {}): StreamOptions => ({
  sampleRate: 16000,
  specialty: 'CARDIOLOGY',
  type: 'DICTATION',
  languageCode: 'en-US',
  sessionId: 'opus-test',
  input: 'ogg-opus',
  ...over,
});

/** A real sentence as the packets a WebM client sends, in 250 ms chunks (the page's chunk length). */
let chunks: OpusStreamPacket[][];
let head: OpusStreamHead;
let totalSamples = 0;

beforeAll(async () => {
  const webm = await encodeOpus('real/1089-134686-0000.wav', 'webm');
  let h: OpusStreamHead | undefined;
  const source = opusPacketSource('webm_opus', (x) => (h = { channels: x.channels, preSkip: x.preSkip, inputSampleRate: x.inputSampleRate }));
  const packets = source.push(webm).map((data) => ({ data, samples48k: opusPacketSamples48k(data) }));
  head = h!;
  chunks = [];
  for (let i = 0; i < packets.length; i += 12) chunks.push(packets.slice(i, i + 12)); // 12 × 20 ms ≈ 250 ms
  totalSamples = packets.reduce((n, p) => n + p.samples48k, 0);
});

function awsEngine(server: TranscribeServer, audio: 'pcm' | 'opus', over: { keepAliveAfterMs?: number } = {}): TranscriptionEngine {
  return createAwsTranscribeMedicalEngine({ region: 'us-east-1', endpoint: server.url, credentials: { accessKeyId: 'test', secretAccessKey: 'test' }, startWindowMs: 1000, audio, ...over }, logger);
}

async function collect(stream: TranscriptionStream): Promise<{ results: TranscriptResult[]; error?: unknown }> {
  const out: { results: TranscriptResult[]; error?: unknown } = { results: [] };
  try {
    for await (const r of stream) out.results.push(r);
  } catch (err) {
    out.error = err;
  }
  return out;
}

const tick = (ms = 5) => new Promise((r) => setTimeout(r, ms));

describe('AWS adapter with TRANSCRIBE_AUDIO=opus', () => {
  let server: TranscribeServer;
  beforeAll(async () => {
    server = await startTranscribeServer({ wordsPerSecond: 2.5, wordsPerSegment: 6 });
  });
  afterAll(() => server.close());

  it('sends one valid Ogg Opus stream (MediaEncoding ogg-opus, headers, CRCs, granules), at most one audio event per chunk, and gets its text', async () => {
    const engine = awsEngine(server, 'opus');
    expect(engine.acceptsOpus).toBe(true);
    try {
      const before = server.requests.length;
      const stream = await engine.start(streamOptions());
      const reading = collect(stream);
      for (const c of chunks) {
        stream.writeOpus!(c, head);
        await tick();
      }
      await stream.end();
      const run = await reading;
      expect(run.error).toBeUndefined();
      const rec = server.requests[before]!;
      expect(rec).toMatchObject({ mediaEncoding: 'ogg-opus', sampleRate: 48000, outcome: 'completed' });
      expect(rec.ogg?.error).toBeUndefined();
      expect(rec.ogg).toMatchObject({ head: { channels: head.channels, preSkip: head.preSkip }, tags: true, granule: totalSamples });
      expect(rec.ogg!.audioPackets).toBe(chunks.flat().length);
      // The audio the service decoded is the sentence (pre-skip trimmed), within a packet.
      expect(Math.abs(rec.ogg!.decodedMs - (totalSamples - head.preSkip) / 48)).toBeLessThan(20);
      expect(rec.audioEvents).toBeLessThanOrEqual(chunks.length);
      const finals = run.results.filter((r) => r.kind === 'final');
      expect(finals.length).toBeGreaterThan(0);
      expect(finals.at(-1)!.endMs).toBeLessThanOrEqual(Math.ceil(totalSamples / 48) + 1);
    } finally {
      await engine.close();
    }
  });

  it('keeps an Ogg Opus stream alive with valid Opus silence pages, mapped out of result times', async () => {
    const engine = awsEngine(server, 'opus', { keepAliveAfterMs: 200 });
    try {
      const before = server.requests.length;
      const stream = await engine.start(streamOptions());
      const reading = collect(stream);
      const half = Math.floor(chunks.length / 2);
      for (const c of chunks.slice(0, half)) stream.writeOpus!(c, head);
      await tick(700); // three keep-alives or so
      for (const c of chunks.slice(half)) stream.writeOpus!(c, head);
      await stream.end();
      const run = await reading;
      expect(run.error).toBeUndefined();
      const rec = server.requests[before]!;
      expect(rec.ogg?.error).toBeUndefined();
      const keepAliveSamples = rec.ogg!.granule - totalSamples;
      expect(keepAliveSamples).toBeGreaterThanOrEqual(4800); // at least one 100 ms of silence
      expect(keepAliveSamples % 4800).toBe(0);
      // Result times are the client's audio: the injected silence is not in them.
      expect(run.results.at(-1)!.endMs).toBeLessThanOrEqual(Math.ceil(totalSamples / 48) + 1);
    } finally {
      await engine.close();
    }
  });

  it('refuses an ogg-opus stream when configured for pcm, and sends pcm streams as PCM', async () => {
    const engine = awsEngine(server, 'pcm');
    try {
      expect(engine.acceptsOpus).toBeFalsy();
      await expect(engine.start(streamOptions())).rejects.toMatchObject({ code: 'opus_not_enabled', retryable: false });
      const before = server.requests.length;
      const stream = await engine.start(streamOptions({ input: 'pcm' }));
      stream.write(Buffer.alloc(3200));
      await stream.end();
      expect(server.requests[before]).toMatchObject({ mediaEncoding: 'pcm', sampleRate: 16000 });
      expect(server.requests[before]!.ogg).toBeUndefined();
    } finally {
      await engine.close();
    }
  });

  it('the stand-in refuses a stream whose pages are broken (so the checks above can fail)', async () => {
    const engine = awsEngine(server, 'opus');
    try {
      const before = server.requests.length;
      const stream = await engine.start(streamOptions());
      const reading = collect(stream);
      // A packet changed after it was handed over changes no CRC: the page writer computed it from
      // these bytes. So break the stream the other way: a second stream's pages on this one.
      stream.writeOpus!(chunks[0]!, head);
      await tick(50);
      (stream as unknown as { ogg: unknown }).ogg = undefined; // a new writer: a second BOS page
      stream.writeOpus!(chunks[1]!, head);
      const run = await reading;
      expect((run.error as { code?: string }).code).toBe('BadRequestException');
      expect(server.requests[before]!.ogg!.error).toMatch(/BOS|sequence|second logical stream/);
    } finally {
      await engine.close();
    }
  });
});

describe('opusSpeech (speech in Opus input without decoding it)', () => {
  it("reads the SILK voice-activity flag: the sentence's chunks are speech, digital silence and an unflagged SILK frame are not", () => {
    const speechChunks = chunks.filter((c) => opusSpeech(c)).length;
    expect(speechChunks / chunks.length).toBeGreaterThan(0.7);
    expect(opusSpeech([{ data: Uint8Array.of(0xf8, 0xff, 0xfe), samples48k: 960 }])).toBe(false);
    // TOC 0x48: SILK wideband 20 ms, code 0; first byte after it with the top bit clear / set.
    expect(opusSpeech([{ data: Uint8Array.of(0x48, 0x10, 0x22, 0x33), samples48k: 960 }])).toBe(false);
    expect(opusSpeech([{ data: Uint8Array.of(0x48, 0x90, 0x22, 0x33), samples48k: 960 }])).toBe(true);
    // A CELT frame has no flag and counts as speech.
    expect(opusSpeech([{ data: Uint8Array.of(0xf8, 0x12, 0x34, 0x56, 0x78), samples48k: 960 }])).toBe(true);
  });
});

describe('resilient wrapper with Opus input', () => {
  let server: TranscribeServer;
  beforeAll(async () => {
    server = await startTranscribeServer({ wordsPerSecond: 2.5, wordsPerSegment: 6 });
  });
  afterAll(() => server.close());

  it('fails over mid-stream to a PCM engine that gets the replayed and later packets decoded, then recovers on a new Ogg stream', async () => {
    server.setFaults({});
    const fallback = new FakeEngine({ wordsPerSecond: 2.5, wordsPerSegment: 3 });
    let decoders = 0;
    const engine = createResilientEngine(awsEngine(server, 'opus'), fallback, { probeIntervalMs: 300, backoffBaseMs: 50, watchdogMs: 0, idleReleaseMs: 0 }, logger, undefined, () => {
      decoders++;
      return createOpusPacketDecoder();
    });
    expect(engine.acceptsOpus).toBe(true);
    try {
      const before = server.requests.length;
      const statuses: string[] = [];
      const stream = await engine.start(streamOptions({ onStatus: (st) => statuses.push(st.kind) }));
      const reading = collect(stream);
      // Transcribe fails after ~2 s of audio and refuses new streams (an outage): the fallback takes over.
      server.setFaults({ exceptionAfterAudioMs: { ms: 2000, type: 'ServiceUnavailableException' }, rejectStart: { status: 503, type: 'ServiceUnavailableException' } });
      const third = Math.floor(chunks.length / 3);
      for (const c of chunks.slice(0, 2 * third)) {
        stream.writeOpus!(c, head);
        await tick(20);
      }
      await expect.poll(() => fallback.streams.length, { timeout: 10_000 }).toBe(1);
      expect(decoders).toBe(1);
      // Transcribe is back: the next probe opens a new Ogg stream and the session returns to it.
      server.setFaults({});
      await expect.poll(() => statuses, { timeout: 10_000 }).toEqual(['failover', 'recovered']);
      for (const c of chunks.slice(2 * third)) {
        stream.writeOpus!(c, head);
        await tick(20);
      }
      await stream.end();
      const run = await reading;
      expect(run.error).toBeUndefined();
      const ours = server.requests.slice(before);
      // Every accepted stream was valid Ogg Opus from its own headers on.
      for (const r of ours.filter((x) => x.outcome !== 'rejected')) {
        expect(r.mediaEncoding).toBe('ogg-opus');
        expect(r.ogg?.error).toBeUndefined();
        expect(r.ogg?.tags).toBe(true);
      }
      // The fallback heard PCM: the uncovered audio replayed, then what came while it served (non-silent: it made words).
      const fb = fallback.streams[0]!;
      expect(fb.options.input).toBeUndefined();
      expect(fb.audioBytes).toBeGreaterThan(32 * 1000);
      const fromFallback = run.results.filter((r) => r.engine === 'fake' && r.kind === 'final');
      expect(fromFallback.length).toBeGreaterThan(0);
      const last = ours.at(-1)!;
      expect(last).toMatchObject({ outcome: 'completed', ogg: { tags: true } });
      expect(last.ogg!.audioPackets).toBeGreaterThan(0);
      const finalsAfterRecovery = run.results.filter((r) => r.engine === 'aws' && r.kind === 'final' && r.startMs >= fromFallback.at(-1)!.startMs);
      expect(finalsAfterRecovery.length).toBeGreaterThan(0);
    } finally {
      await engine.close();
    }
  }, 40_000);

  it('passes PCM sessions through as before (no decoder, MediaEncoding pcm)', async () => {
    server.setFaults({});
    let decoders = 0;
    const engine = createResilientEngine(awsEngine(server, 'opus'), new FakeEngine(), {}, logger, undefined, () => {
      decoders++;
      return createOpusPacketDecoder();
    });
    try {
      const before = server.requests.length;
      const stream = await engine.start(streamOptions({ input: undefined }));
      const reading = collect(stream);
      for (let i = 0; i < 10; i++) stream.write(Buffer.alloc(3200, 1));
      await stream.end();
      expect((await reading).error).toBeUndefined();
      expect(server.requests[before]).toMatchObject({ mediaEncoding: 'pcm', audioBytes: 32_000 });
      expect(decoders).toBe(0);
    } finally {
      await engine.close();
    }
  });
});
