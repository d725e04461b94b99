/**
 * ResilientStream as a state machine: fakes at the engine port (the scripted FakeEngine of
 * test/support, and a hand-driven engine where a test needs exact results), vitest's fake timers
 * for the clock. The same behaviours are proven end to end against the Transcribe protocol server
 * in test/integration/engine-resilience.test.ts; here each runs in milliseconds and pins exact times.
 */
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { createLogger } from '../../../src/lib/logger.js';
import { Counters } from '../../../src/lib/metrics-hooks.js';
import { ProviderError, type EngineStatus, type StreamOptions, type TranscriptionEngine, type TranscriptionStream, type TranscriptResult } from '../../../src/transcription/port.js';
import { createResilientEngine, type ResilienceOptions } from '../../../src/transcription/resilient-stream.js';
import { ResultQueue } from '../../../src/transcription/result-queue.js';
import { FakeEngine, type FakeEngineOptions } from '../../support/fake-engine.js';

const log = createLogger({ level: 'silent' });

/** 100 ms of 16 kHz speech-loud PCM (a 440 Hz tone at about -13 dBFS). */
function speech(): Buffer {
  const b = Buffer.alloc(3200);
  for (let i = 0; i < 1600; i++) b.writeInt16LE(Math.round(8000 * Math.sin((2 * Math.PI * 440 * i) / 16000)), i * 2);
  return b;
}
const silence = () => Buffer.alloc(3200);

/** A FakeEngine under another name (results carry the engine name). */
function Named(name: string, options: FakeEngineOptions = {}): FakeEngine {
  return Object.defineProperty(new FakeEngine(options), 'name', { value: name });
}

/**
 * `engines[i]` serves the i-th open (the last one every later open), as a remote engine: its
 * streams report no backlog (the watchdog exempts engines that decode in this process).
 */
function remote(name: string, ...engines: TranscriptionEngine[]): TranscriptionEngine & { opens: number } {
  const r = {
    name,
    opens: 0,
    async start(o: StreamOptions): Promise<TranscriptionStream> {
      const s = await engines[Math.min(r.opens++, engines.length - 1)]!.start(o);
      return { [Symbol.asyncIterator]: () => s[Symbol.asyncIterator](), write: (p) => s.write(p), end: () => s.end(), abort: (e) => s.abort(e) };
    },
    check: async () => {},
    close: async () => {},
  };
  return r;
}

/** An engine whose streams the test drives by hand: emit results, fail, finish. */
class HandEngine implements TranscriptionEngine {
  readonly streams: Array<{ q: ResultQueue<TranscriptResult>; written: number; ended: boolean; aborted: boolean }> = [];
  constructor(readonly name = 'hand') {}
  async start(): Promise<TranscriptionStream> {
    const rec = { q: new ResultQueue<TranscriptResult>(), written: 0, ended: false, aborted: false };
    this.streams.push(rec);
    return {
      [Symbol.asyncIterator]: () => rec.q[Symbol.asyncIterator](),
      write: (pcm) => void (rec.written += pcm.length / 32),
      end: async () => {
        rec.ended = true;
        rec.q.close();
        await rec.q.settled();
      },
      abort: () => {
        rec.aborted = true;
        rec.q.abort();
      },
    };
  }
  async check(): Promise<void> {}
  async close(): Promise<void> {}
}

const final = (segmentId: string, startMs: number, endMs: number, text = 'words'): TranscriptResult => ({ kind: 'final', segmentId, text, startMs, endMs });

const so = (extra: Partial<StreamOptions> = {}): StreamOptions => ({ sampleRate: 16000, specialty: 'PRIMARYCARE', type: 'DICTATION', languageCode: 'en-US', sessionId: 's1', ...extra });

/** Writes `ms` of audio in 100 ms frames at real pace (fake clock). */
async function feed(s: TranscriptionStream, ms: number, frame: () => Buffer = speech): Promise<void> {
  for (let t = 0; t < ms; t += 100) {
    s.write(frame());
    await vi.advanceTimersByTimeAsync(100);
  }
}

/** Starts a resilient stream and collects what it yields. */
async function open(primary: TranscriptionEngine, fallback: TranscriptionEngine | undefined, o: Partial<ResilienceOptions>, extra: Partial<StreamOptions> = {}) {
  const metrics = new Counters();
  const statuses: EngineStatus[] = [];
  const degraded: Array<{ fromMs: number; toMs: number }> = [];
  const engine = createResilientEngine(primary, fallback, { watchdogMs: 0, idleReleaseMs: 0, ...o }, log, metrics);
  const stream = await engine.start(so({ onStatus: (st) => statuses.push(st), onDegraded: (d) => degraded.push(d), ...extra }));
  const results: TranscriptResult[] = [];
  let error: unknown;
  const done = (async () => {
    try {
      for await (const r of stream) results.push(r);
    } catch (e) {
      error = e;
    }
  })();
  const finals = () => results.filter((r) => r.kind === 'final').map((r) => [r.startMs, r.endMs, r.engine]);
  return { engine, stream, metrics, statuses, degraded, results, finals, done, error: () => error };
}

const limitExceeded = (extra: { refusedAtOpen?: boolean } = {}) => new ProviderError('limit', { retryable: true, code: 'LimitExceededException', ...extra });

beforeEach(() => {
  vi.useFakeTimers({ now: 1_000_000 });
});
afterEach(() => {
  vi.useRealTimers();
});

describe('ResilientStream', () => {
  it('reconnects to the same engine at once after a mid-stream LimitExceeded, replays from the covered point, and yields one continuous timeline without a repeated final', async () => {
    const aws = Named('aws', { faults: { failAfterAudioMs: { ms: 3000, error: limitExceeded() } } });
    const local = Named('local');
    const t = await open(aws, local, {});
    await feed(t.stream, 2900); // a final at 2 s (5 words at 2.5 words/s)
    expect(aws.streams).toHaveLength(1);
    t.stream.write(speech()); // 3 s: the stream fails
    aws.setFaults({});
    const failedAt = Date.now();
    await vi.advanceTimersByTimeAsync(0);
    expect(aws.streams).toHaveLength(2);
    expect(Date.now() - failedAt).toBeLessThan(1000);
    // The new stream was fed the audio after the final (2-3 s), not the whole session.
    expect(aws.streams[1]!.audioBytes).toBe(1000 * 32);
    await feed(t.stream, 4000);
    await t.stream.end();
    await t.done;
    expect(t.finals()).toEqual([
      [0, 2000, 'aws'],
      [2000, 4000, 'aws'],
      [4000, 6000, 'aws'],
      [6000, 6800, 'aws'], // the last 2 words, finalised by end()
    ]);
    expect(t.results.filter((r) => r.kind === 'final').map((r) => r.segmentId.split('-')[0])).toEqual(['e0', 'e1', 'e1', 'e1']);
    expect(local.streams).toHaveLength(0);
    expect(t.statuses).toEqual([]);
    expect(t.metrics.get('engine_retries_total', { engine: 'aws' })).toBe(1);
    expect(t.degraded).toEqual([]); // 2-3 s was re-transcribed live by the primary: nothing to repair
  });

  it('fails over when the primary refuses at open with an outage code, tells the clinician, and the fallback carries on from the covered point', async () => {
    const aws = Named('aws', { faults: { failAfterAudioMs: { ms: 3000, error: limitExceeded() } } });
    const local = Named('local');
    const t = await open(aws, local, { probeIntervalMs: 60_000 });
    await feed(t.stream, 2900);
    aws.setFaults({ failAfterAudioMs: { ms: 3000, error: limitExceeded() }, startError: limitExceeded() });
    t.stream.write(speech()); // 3 s: the stream fails; the reopen is refused
    await vi.advanceTimersByTimeAsync(0);
    expect(aws.streams).toHaveLength(1);
    expect(local.streams).toHaveLength(1);
    expect(t.statuses).toEqual([{ kind: 'failover', from: 'aws', to: 'local' }]);
    expect(local.streams[0]!.audioBytes).toBe(1000 * 32);
    await feed(t.stream, 1000);
    await t.stream.end();
    await t.done;
    expect(t.finals()).toEqual([
      [0, 2000, 'aws'],
      [2000, 4000, 'local'],
    ]);
    expect(t.degraded).toEqual([{ fromMs: 2000, toMs: 4000 }]);
    expect(t.metrics.get('engine_failovers_total')).toBe(1);
  });

  it('opens the fallback at start when the primary refuses a retryable error, and throws a non-retryable one', async () => {
    const local = Named('local');
    const t = await open(Named('aws', { faults: { startError: limitExceeded() } }), local, { probeIntervalMs: 60_000 });
    expect(local.streams).toHaveLength(1);
    expect(t.statuses).toEqual([{ kind: 'failover', from: 'aws', to: 'local' }]);
    t.stream.abort();
    const denied = new ProviderError('denied', { retryable: false, code: 'AccessDeniedException' });
    const engine = createResilientEngine(Named('aws', { faults: { startError: denied } }), local, {}, log);
    await expect(engine.start(so())).rejects.toBe(denied);
    expect(local.streams).toHaveLength(1);
  });

  it('replaces a remote stream that hears speech but says nothing once watchdogMs have passed, not before, on the same engine', async () => {
    const deaf = Named('aws', { wordsPerSecond: 0 });
    const good = Named('aws');
    const aws = remote('aws', deaf, good);
    const local = Named('local');
    const t = await open(aws, local, { watchdogMs: 5000 });
    await feed(t.stream, 4900); // writes at 0..4.8 s
    expect(aws.opens).toBe(1);
    await feed(t.stream, 100); // the write at 4.9 s: 4.9 s since the stream started
    expect(aws.opens).toBe(1);
    await feed(t.stream, 100); // the write at 5.0 s
    expect(aws.opens).toBe(2);
    expect(deaf.streams[0]!.aborted).toBe(true);
    expect(t.metrics.get('engine_watchdog_replaced_total', { engine: 'aws' })).toBe(1);
    expect(local.streams).toHaveLength(0);
    await t.stream.end();
    await t.done;
    // Nothing was covered: the replacement heard every frame from the start, 5.1 s in all.
    expect(good.streams[0]!.audioBytes).toBe(5100 * 32);
    expect(t.finals()).toEqual([
      [0, 2000, 'aws'],
      [2000, 4000, 'aws'],
      [4000, 4800, 'aws'],
    ]);
  });

  it('does not fire the watchdog on silence, nor on an engine that decodes in this process (it reports a backlog)', async () => {
    const deaf = Named('aws', { wordsPerSecond: 0 });
    const t = await open(remote('aws', deaf), undefined, { watchdogMs: 5000 });
    await feed(t.stream, 20_000, silence);
    expect(deaf.streams).toHaveLength(1);
    t.stream.abort();
    const local = Named('local', { wordsPerSecond: 0 });
    const u = await open(local, undefined, { watchdogMs: 5000 });
    await feed(u.stream, 20_000);
    expect(local.streams).toHaveLength(1);
    u.stream.abort();
  });

  it('probes the primary every probeIntervalMs while on the fallback and goes back to it from the covered point once it opens', async () => {
    const aws = Named('aws', { faults: { startError: new ProviderError('busy', { retryable: true, code: 'ThrottlingException' }) } });
    const local = Named('local');
    const t = await open(aws, local, { probeIntervalMs: 2000 });
    await feed(t.stream, 2000); // probe at 2 s: refused
    expect(local.streams).toHaveLength(1);
    aws.setFaults({});
    await feed(t.stream, 1900);
    expect(aws.streams).toHaveLength(0); // no probe between the intervals
    await feed(t.stream, 100); // probe at 4 s: opens
    expect(aws.streams).toHaveLength(1);
    expect(local.streams[0]!.ended).toBe(true); // ended gracefully: its last words are finalised
    expect(t.statuses).toEqual([
      { kind: 'failover', from: 'aws', to: 'local' },
      { kind: 'recovered', engine: 'aws' },
    ]);
    await feed(t.stream, 2000);
    await t.stream.end();
    await t.done;
    expect(t.finals()).toEqual([
      [0, 2000, 'local'],
      [2000, 4000, 'local'],
      [4000, 6000, 'aws'],
    ]);
    expect(t.degraded).toEqual([{ fromMs: 0, toMs: 4000 }]);
  });

  it('drops a final of a replacement stream that ends within the covered point, and keeps the one after it', async () => {
    const hand = new HandEngine();
    const t = await open(hand, undefined, {});
    await feed(t.stream, 2000);
    hand.streams[0]!.q.push(final('a', 0, 1050, 'first words'));
    await vi.advanceTimersByTimeAsync(0);
    hand.streams[0]!.q.fail(new ProviderError('reset', { retryable: true, code: 'ECONNRESET' }));
    await vi.advanceTimersByTimeAsync(0);
    expect(hand.streams).toHaveLength(2);
    // Replay starts at the frame holding 1050 ms: 1000-2000 ms.
    expect(hand.streams[1]!.written).toBe(1000);
    hand.streams[1]!.q.push(final('a', 0, 50, 'words')); // 1000-1050: repeats covered audio
    hand.streams[1]!.q.push(final('b', 50, 900, 'next words'));
    await vi.advanceTimersByTimeAsync(0);
    await t.stream.end();
    await t.done;
    expect(t.results.map((r) => [r.segmentId, r.startMs, r.endMs, r.text])).toEqual([
      ['e0-a', 0, 1050, 'first words'],
      ['e1-b', 1050, 1900, 'next words'],
    ]);
    expect(t.metrics.get('engine_duplicate_finals_dropped_total')).toBe(1);
  });

  it('without a fallback backs off 0, 250, 500, 1000 ms between failed opens and gives up on the failure after the budget', async () => {
    const hand = new HandEngine();
    const opens: number[] = [];
    const start0 = Date.now();
    let refuse = false;
    const aws: TranscriptionEngine = {
      name: 'aws',
      start: async () => {
        opens.push(Date.now() - start0);
        if (refuse) throw new ProviderError('down', { retryable: true, code: 'ServiceUnavailableException' });
        return hand.start();
      },
      check: async () => {},
      close: async () => {},
    };
    const t = await open(aws, undefined, { maxRetries: 4, backoffBaseMs: 250, backoffMaxMs: 5000 });
    refuse = true;
    hand.streams[0]!.q.fail(new ProviderError('reset', { retryable: true, code: 'ECONNRESET' }));
    await vi.advanceTimersByTimeAsync(10_000);
    await t.done;
    expect(opens).toEqual([0, 0, 250, 750, 1750]);
    expect(t.error()).toMatchObject({ code: 'ServiceUnavailableException' });
    expect(t.metrics.get('engine_gave_up_total', { engine: 'aws' })).toBe(1);
  });

  it('gives an idle stream back after idleReleaseMs of silence and reopens on speech with the second before it', async () => {
    const aws = Named('aws');
    const t = await open(aws, undefined, { idleReleaseMs: 3000 });
    await feed(t.stream, 2000); // a final at 2 s
    await feed(t.stream, 2800, silence); // the last speech was written at 1.9 s; now 4.8 s
    expect(aws.streams[0]!.ended).toBe(false);
    await feed(t.stream, 100, silence); // 4.9 s: 3 s after the last speech
    expect(aws.streams[0]!.ended).toBe(true);
    expect(t.metrics.get('engine_idle_releases_total', { engine: 'aws' })).toBe(1);
    await feed(t.stream, 5000, silence);
    expect(aws.streams).toHaveLength(1);
    t.stream.write(speech());
    await vi.advanceTimersByTimeAsync(0);
    expect(aws.streams).toHaveLength(2);
    // One second of silence before the speech, then the speech frame.
    expect(aws.streams[1]!.audioBytes).toBe(1100 * 32);
    expect(t.metrics.get('engine_retries_total')).toBe(0);
    t.stream.abort();
  });
});

describe('ResilientStream backlog', () => {
  it('whenBacklogBelow waits on the inner stream (an engine that queues locally) until it is under the limit, and resolves at once for one that does not queue', async () => {
    const local = Named('local', { faults: { backlogMs: 5000 } });
    const t = await open(local, undefined, {});
    await feed(t.stream, 300);
    expect(t.stream.backlogMs!()).toBe(5000);
    let caughtUp = false;
    const waiting = t.stream.whenBacklogBelow!(3000).then(() => (caughtUp = true));
    await vi.advanceTimersByTimeAsync(1000);
    expect(caughtUp).toBe(false);
    local.setFaults({ backlogMs: 3000 });
    await waiting;
    expect(caughtUp).toBe(true);
    await t.stream.end();
    await t.done;

    const r = await open(remote('aws', Named('aws')), undefined, {});
    await feed(r.stream, 300);
    await r.stream.whenBacklogBelow!(0); // no backlog reported: nothing to wait for
    await r.stream.end();
    await r.done;
  });
});
