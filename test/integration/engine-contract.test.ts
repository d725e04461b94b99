/**
 * One contract for every engine behind the transcription port: the scripted fake, the offline
 * PocketSphinx engine on real audio, and the AWS Transcribe Medical adapter through the real SDK
 * against the protocol-faithful test server. Then the AWS adapter's own failure modes.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Framer } from '../../src/audio/index.js';
import { createLogger } from '../../src/lib/logger.js';
import { ProviderError, type StreamOptions, type TranscriptionEngine, type TranscriptionStream, type TranscriptResult } from '../../src/transcription/port.js';
import { createAwsTranscribeMedicalEngine } from '../../src/transcription/providers/aws-transcribe-medical/index.js';
import { createLocalEngine } from '../../src/transcription/providers/local/index.js';
import { readReferences, readSharedPcm } from '../support/audio.js';
import { FakeEngine } from '../support/fake-engine.js';
import { startTranscribeServer, type TranscribeServer } from '../support/transcribe-server.js';
import { normaliseWords, wer } from '../support/wer.js';

const logger = createLogger({ level: 'silent' });
const FRAME = 3200;
const SCRIPT = 'the patient reports intermittent chest pain radiating to the left arm since yesterday evening';

const streamOptions = (over: Partial<StreamOptions> = {}): StreamOptions => ({
  sampleRate: 16000,
  specialty: 'CARDIOLOGY',
  type: 'DICTATION',
  languageCode: 'en-US',
  sessionId: 'contract-test',
  ...over,
});

/** Real speech: a LibriSpeech sentence, then a clinical sentence (with the pause between them). */
function speech(): { pcm: Buffer; reference: string } {
  const a = readReferences('real').find((r) => r.file === '1089-134686-0000.wav')!;
  const b = readReferences('clinical-synth').find((r) => r.file === 'rms_med10.wav')!;
  return {
    pcm: Buffer.concat([readSharedPcm(`real/${a.file}`), Buffer.alloc(16000), readSharedPcm(`clinical-synth/${b.file}`)]),
    reference: `${a.text} ${b.text}`,
  };
}

interface Run {
  results: TranscriptResult[];
  error?: unknown;
  /** Results collected when end() resolved. */
  atEnd?: number;
}

/** Writes audio in 100 ms frames (optionally with a pause in the middle), iterating concurrently. */
async function transcribe(stream: TranscriptionStream, pcm: Buffer, opts: { pauseAtMs?: number; pauseMs?: number } = {}): Promise<Run> {
  const run: Run = { results: [] };
  const reading = (async () => {
    try {
      for await (const r of stream) run.results.push(r);
    } catch (err) {
      run.error = err;
    }
  })();
  for (let i = 0; i < pcm.length; i += FRAME) {
    if (opts.pauseAtMs !== undefined && i === opts.pauseAtMs * 32) await new Promise((r) => setTimeout(r, opts.pauseMs));
    stream.write(pcm.subarray(i, i + FRAME));
  }
  try {
    await stream.end();
    run.atEnd = run.results.length;
  } catch (err) {
    run.error ??= err;
  }
  await reading;
  return run;
}

interface Subject {
  name: string;
  make(): Promise<TranscriptionEngine>;
  /** Words the engine should hear in `speech()` (scripted engines: as many script words as they produced). */
  expected(reference: string, hypothesisWords: number): string;
  maxWer: number;
  cleanup?(): Promise<void>;
}

/** The first n words of the script said over and over. */
const scripted = (n: number): string => Array.from({ length: n }, (_, i) => SCRIPT.split(' ')[i % SCRIPT.split(' ').length]).join(' ');

let server: TranscribeServer;

const subjects: Subject[] = [
  { name: 'fake', make: async () => new FakeEngine({ script: SCRIPT }), expected: (_, n) => scripted(n), maxWer: 0 },
  { name: 'local (PocketSphinx)', make: async () => createLocalEngine({ workers: 1 }, logger), expected: (ref) => ref, maxWer: 0.5 },
  {
    name: 'aws (Transcribe Medical via the protocol server)',
    make: async () => createAwsTranscribeMedicalEngine({ region: 'us-east-1', endpoint: server.url, credentials: { accessKeyId: 'test', secretAccessKey: 'test' } }, logger),
    expected: (_, n) => scripted(n),
    maxWer: 0,
  },
];

beforeAll(async () => {
  server = await startTranscribeServer({ script: SCRIPT });
});
afterAll(async () => {
  await server.close();
});

describe.each(subjects)('engine contract: $name', (subject) => {
  let engine: TranscriptionEngine;
  const audio = speech();
  const durationMs = audio.pcm.length / 32;

  beforeAll(async () => {
    engine = await subject.make();
    await engine.check();
  });
  afterAll(async () => {
    await engine.close();
  });

  it('turns real speech into partials then finals whose words match, with stable segment ids and sane times', async () => {
    const run = await transcribe(await engine.start(streamOptions()), audio.pcm);
    expect(run.error).toBeUndefined();
    const finals = run.results.filter((r) => r.kind === 'final');
    const partials = run.results.filter((r) => r.kind === 'partial');
    expect(finals.length).toBeGreaterThanOrEqual(2);
    expect(partials.length).toBeGreaterThan(finals.length);
    // end() resolved after the last final had been delivered.
    expect(run.atEnd).toBe(run.results.length);
    expect(run.results.at(-1)?.kind).toBe('final');

    const hypothesis = finals.map((f) => f.text).join(' ');
    const expected = subject.expected(audio.reference, normaliseWords(hypothesis).length);
    const scored = wer(expected, hypothesis);
    expect(scored.wer).toBeLessThanOrEqual(subject.maxWer);
    if (subject.maxWer > 0) {
      const heard = new Set(normaliseWords(hypothesis));
      const refWords = normaliseWords(expected);
      expect(refWords.filter((w) => heard.has(w)).length / refWords.length).toBeGreaterThan(0.6);
    }

    // Each segment: partials first, exactly one final, nothing after it.
    const finalIds = finals.map((f) => f.segmentId);
    expect(new Set(finalIds).size).toBe(finalIds.length);
    const closed = new Set<string>();
    for (const r of run.results) {
      expect(closed.has(r.segmentId)).toBe(false);
      if (r.kind === 'final') closed.add(r.segmentId);
    }
    for (const p of partials) expect(finalIds).toContain(p.segmentId);
    // At least one segment had a partial before its final.
    expect(finals.some((f) => partials.some((p) => p.segmentId === f.segmentId))).toBe(true);

    let lastStart = -1;
    for (const f of finals) {
      expect(f.startMs).toBeGreaterThanOrEqual(lastStart);
      expect(f.endMs).toBeGreaterThanOrEqual(f.startMs);
      expect(f.endMs).toBeLessThanOrEqual(durationMs + 50);
      lastStart = f.startMs;
    }
  });

  it('abort() ends iteration at once and drops what is pending', async () => {
    const stream = await engine.start(streamOptions());
    const seen: TranscriptResult[] = [];
    let failed: unknown;
    const reading = (async () => {
      try {
        for await (const r of stream) seen.push(r);
      } catch (err) {
        failed = err;
      }
    })();
    for (let i = 0; i < audio.pcm.length / 2; i += FRAME) stream.write(audio.pcm.subarray(i, i + FRAME));
    stream.abort(new Error('test abort'));
    await reading;
    expect(failed).toBeUndefined();
    const count = seen.length;
    stream.write(audio.pcm.subarray(0, FRAME)); // ignored after abort
    await stream.end(); // resolves, does not throw
    expect(seen.length).toBe(count);
  });

  it('end() on a stream that heard only silence resolves with no finals', async () => {
    const run = await transcribe(await engine.start(streamOptions()), Buffer.alloc(32000));
    expect(run.error).toBeUndefined();
    expect(run.results.filter((r) => r.text !== '')).toEqual([]);
  });
});

describe('aws adapter failure modes (real SDK, protocol server)', () => {
  let faultServer: TranscribeServer;
  let engine: TranscriptionEngine;
  const pcm = readSharedPcm('real/1089-134686-0000.wav');

  beforeAll(async () => {
    faultServer = await startTranscribeServer({ script: SCRIPT, idleTimeoutMs: 1000 });
    engine = createAwsTranscribeMedicalEngine(
      { region: 'us-east-1', endpoint: faultServer.url, credentials: { accessKeyId: 'test', secretAccessKey: 'test' }, keepAliveAfterMs: 200, endTimeoutMs: 1500 },
      logger,
    );
  });
  afterAll(async () => {
    await engine.close();
    await faultServer.close();
  });

  it('sends en-US, pcm, 16 kHz, the specialty and type, speaker labels for CONVERSATION, and maps speakers', async () => {
    faultServer.setFaults({});
    const before = faultServer.requests.length;
    const run = await transcribe(await engine.start(streamOptions({ specialty: 'NEUROLOGY', type: 'CONVERSATION' })), pcm);
    expect(run.error).toBeUndefined();
    const req = faultServer.requests[before]!;
    expect(req).toMatchObject({ path: '/medical-stream-transcription', languageCode: 'en-US', mediaEncoding: 'pcm', sampleRate: 16000, specialty: 'NEUROLOGY', type: 'CONVERSATION', showSpeakerLabel: 'true', outcome: 'completed', clientEnded: true });
    // Everything written arrived (plus whole 100 ms keep-alive frames while start() waited).
    expect(req.audioBytes).toBeGreaterThanOrEqual(pcm.length);
    expect((req.audioBytes - pcm.length) % 3200).toBe(0);
    const finals = run.results.filter((r) => r.kind === 'final');
    expect(finals.map((f) => f.speaker)).toEqual(finals.map((_, i) => String(i % 2)));
  });

  it('sends the frames of one client chunk (250 ms: 2 or 3 frames of 100 ms, written together as the live session does) as one audio event', async () => {
    faultServer.setFaults({});
    const before = faultServer.requests.length;
    const stream = await engine.start(streamOptions());
    const reading = (async () => {
      for await (const _ of stream) void _;
    })();
    const framer = new Framer();
    const chunks = 40;
    for (let c = 0; c < chunks; c++) {
      for (const frame of framer.push(pcm.subarray(c * 8000, (c + 1) * 8000))) stream.write(frame);
      await new Promise((r) => setTimeout(r, 20)); // the SDK sends what it has before the next chunk
    }
    await stream.end();
    await reading;
    const req = faultServer.requests[before]!;
    // 100 frames; at most a few 100 ms keep-alive events while start() waited for a refusal.
    expect(req.audioEvents).toBeLessThanOrEqual(chunks + 5);
  });

  it('a 400 at start rejects start() with a non-retryable ProviderError', async () => {
    faultServer.setFaults({ rejectStart: { status: 400, type: 'BadRequestException' } });
    const err = await engine.start(streamOptions()).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ProviderError);
    expect(err).toMatchObject({ retryable: false, code: 'BadRequestException' });
  });

  it('LimitExceededException (429) at start rejects with a retryable ProviderError', async () => {
    faultServer.setFaults({ rejectStart: { status: 429, type: 'LimitExceededException' } });
    const err = await engine.start(streamOptions()).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ProviderError);
    expect(err).toMatchObject({ retryable: true, code: 'LimitExceededException' });
  });

  it('a 429 that arrives after start() returned fails iteration as refusedAtOpen; an exception event before the first result does not', async () => {
    faultServer.setFaults({ rejectStart: { status: 429, type: 'LimitExceededException', delayMs: 800 } });
    const slow = await transcribe(await engine.start(streamOptions()), pcm.subarray(0, 32_000));
    expect(slow.error).toMatchObject({ retryable: true, code: 'LimitExceededException', refusedAtOpen: true });
    // Silence: no result comes before the exception, so the SDK's send() rejects with it.
    faultServer.setFaults({ exceptionAfterAudioMs: { ms: 1000, type: 'LimitExceededException' } });
    const early = await transcribe(await engine.start(streamOptions()), Buffer.alloc(64_000));
    expect(early.error).toMatchObject({ retryable: true, code: 'LimitExceededException', refusedAtOpen: false });
  });

  it('an exception event mid-stream delivers the earlier results, then iteration throws it', async () => {
    faultServer.setFaults({ exceptionAfterAudioMs: { ms: 4000, type: 'InternalFailureException' } });
    const run = await transcribe(await engine.start(streamOptions()), pcm);
    expect(run.results.filter((r) => r.kind === 'final').length).toBeGreaterThanOrEqual(1);
    expect(run.error).toBeInstanceOf(ProviderError);
    expect(run.error).toMatchObject({ retryable: true, code: 'InternalFailureException' });
  });

  it('a silently dropped HTTP/2 session is a retryable error, not a quiet end', async () => {
    faultServer.setFaults({ dropAfterAudioMs: 3000 });
    const run = await transcribe(await engine.start(streamOptions()), pcm, { pauseAtMs: 4000, pauseMs: 300 });
    expect(run.error).toBeInstanceOf(ProviderError);
    expect(run.error).toMatchObject({ retryable: true, code: 'stream_ended_early' });
  });

  it('a stalled service makes end() fail with a retryable error after endTimeoutMs', async () => {
    faultServer.setFaults({ stallAfterAudioMs: 2000 });
    const run = await transcribe(await engine.start(streamOptions()), pcm);
    expect(run.error).toBeInstanceOf(ProviderError);
    expect(run.error).toMatchObject({ retryable: true, code: 'end_timeout' });
  });

  it('keeps the stream alive with silence through a pause longer than the service idle timeout, times unshifted', async () => {
    faultServer.setFaults({});
    const before = faultServer.requests.length;
    // The server gives up after 1 s without audio; the adapter sends silence after 200 ms.
    const run = await transcribe(await engine.start(streamOptions()), pcm, { pauseAtMs: 3000, pauseMs: 2500 });
    expect(run.error).toBeUndefined();
    const req = faultServer.requests[before]!;
    expect(req.outcome).toBe('completed');
    expect(req.maxGapMs).toBeLessThan(1000);
    expect(req.audioBytes).toBeGreaterThan(pcm.length);
    // Injected silence is mapped out: results stay within the audio actually written.
    for (const r of run.results) expect(r.endMs).toBeLessThanOrEqual(pcm.length / 32 + 50);
  });
});
