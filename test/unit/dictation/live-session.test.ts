/**
 * LiveSession as a state machine: fakes at its ports (the scripted engine of test/support, a
 * recording writer whose appends the test releases, an in-memory repository, progress and sink),
 * the real PCM decoder, and vitest's fake timers for the idle and duration limits. End to end the
 * same session runs in test/integration/dictation.test.ts and test/e2e.
 */
import { EventEmitter } from 'node:events';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { createDecoder, InvalidAudioError, type LiveAudioDecoder, type OpusHeadInfo, type OpusPacket } from '../../../src/audio/index.js';
import type { DictationRepository } from '../../../src/dictation/dictation-repo.js';
import { LiveSession, type LiveSessionLimits } from '../../../src/dictation/live-session.js';
import { AppError } from '../../../src/lib/app-error.js';
import { createLogger } from '../../../src/lib/logger.js';
import type { CheckpointWriter } from '../../../src/recordings/checkpoints.js';
import type { RecordingWriter } from '../../../src/recordings/writer.js';
import { ProviderError, type TranscriptionStream } from '../../../src/transcription/port.js';
import { FakeEngine } from '../../support/fake-engine.js';

/** 100 ms of 16 kHz speech-loud PCM. */
function speech(ms = 100): Buffer {
  const b = Buffer.alloc(ms * 32);
  for (let i = 0; i < ms * 16; i++) b.writeInt16LE(Math.round(8000 * Math.sin((2 * Math.PI * 440 * i) / 16000)), i * 2);
  return b;
}

/** A recording writer whose appends wait until the test releases them (`hold`), or go at once. */
class FakeWriter extends EventEmitter {
  /** PCM bytes (WAV) or packet counts (Ogg) of each append, in order. */
  appended: number[] = [];
  heads: OpusHeadInfo[] = [];
  private held: Array<() => void> = [];
  hold = false;
  finishError?: Error;
  finished?: { timeoutMs?: number };
  aborted?: string;
  appendPcm(pcm: Buffer): Promise<void> {
    return this.store(pcm.length);
  }
  async setOpusHead(head: OpusHeadInfo): Promise<void> {
    this.heads.push(head);
  }
  appendOpus(packets: readonly OpusPacket[]): Promise<void> {
    return this.store(packets.length);
  }
  private store(n: number): Promise<void> {
    if (!this.hold) {
      this.appended.push(n);
      return Promise.resolve();
    }
    return new Promise((resolve) =>
      this.held.push(() => {
        this.appended.push(n);
        resolve();
      }),
    );
  }
  /** Releases the oldest held append. */
  release(): void {
    this.held.shift()?.();
  }
  get waiting(): number {
    return this.held.length;
  }
  async finish(o: { timeoutMs?: number }) {
    this.finished = o;
    if (this.finishError) throw this.finishError;
    return { state: 'completed' as const, objectKey: 'k', contentType: 'audio/wav' };
  }
  async abort(reason: string) {
    this.aborted = reason;
  }
}

const LIMITS: LiveSessionLimits = { idleTimeoutMs: 5000, maxSessionMs: 60_000, maxChunkBytes: 16_000, maxBacklogBytes: 10_000 };

async function makeSession(o: { limits?: Partial<LiveSessionLimits>; decoder?: LiveAudioDecoder; stream?: TranscriptionStream; engine?: FakeEngine } = {}) {
  const engine = o.engine ?? new FakeEngine();
  const stream = o.stream ?? (await engine.start({ sampleRate: 16000, specialty: 'PRIMARYCARE', type: 'DICTATION', languageCode: 'en-US', sessionId: 's1' }));
  const writer = new FakeWriter();
  const events: Array<[string, unknown]> = [];
  const order: string[] = [];
  const finished: unknown[] = [];
  const repo = {
    insertSegment: async (s: { segmentKey: string }) => {
      order.push(`stored ${s.segmentKey}`);
      return { id: s.segmentKey };
    },
    markGap: async () => {},
    ownedBy: async () => true,
    finish: async (_id: string, f: unknown) => {
      finished.push(f);
      return true;
    },
  };
  const noted: Array<[number, number]> = [];
  const checkpointed: Array<[number, Buffer]> = [];
  const checkpoints = { add: (seq: number, b: Buffer) => void checkpointed.push([seq, b]), once: () => {}, close: () => {}, flush: async () => {} };
  let closed = 0;
  let opened = 0;
  const session = new LiveSession({
    id: 's1',
    transcriptionId: 't1',
    userId: 'u1',
    engineName: 'fake',
    decoder: o.decoder ?? (await createDecoder({ encoding: 'pcm_s16le', sampleRate: 16000 })),
    stream,
    openRecording: async () => {
      opened++;
      return writer as unknown as RecordingWriter;
    },
    checkpoints: checkpoints as unknown as CheckpointWriter,
    repo: repo as unknown as DictationRepository,
    progress: { note: (_t, ackSeq, audioMs) => void noted.push([ackSeq, audioMs]), forget: () => {}, flush: async () => {} },
    sink: {
      partial: (p) => void events.push(['partial', p]),
      final: (p) => {
        order.push(`shown ${p.segmentId}`);
        events.push(['final', p]);
      },
      error: (p) => void events.push(['error', p]),
      level: () => {},
      ended: (p) => void events.push(['ended', p]),
    },
    limits: { ...LIMITS, ...o.limits },
    logger: createLogger({ level: 'silent' }),
    onClosed: () => void closed++,
  });
  return { session, engine, writer, events, order, finished, noted, checkpointed, opened: () => opened, closed: () => closed, ended: () => events.filter(([k]) => k === 'ended').map(([, p]) => (p as { reason: string }).reason) };
}

const code = (p: Promise<unknown>) => p.then(() => 'resolved', (e: AppError) => e.code);

beforeEach(() => {
  vi.useFakeTimers({ now: 1_000_000 });
});
afterEach(() => {
  vi.useRealTimers();
});

describe('LiveSession limits', () => {
  it('ends with idle_timeout idleTimeoutMs after the last chunk, not before; each chunk re-arms the timer', async () => {
    const t = await makeSession();
    await vi.advanceTimersByTimeAsync(4000);
    expect(await t.session.chunk(0, speech())).toBe(0);
    await vi.advanceTimersByTimeAsync(4999); // 8.999 s since start, 4.999 s since the chunk
    expect(t.ended()).toEqual([]);
    await vi.advanceTimersByTimeAsync(1);
    expect(t.ended()).toEqual(['idle_timeout']);
    expect(t.finished).toEqual([{ status: 'completed', endReason: 'idle_timeout', durationMs: 100, ackSeq: 0, failureReason: undefined }]);
    expect(t.closed()).toBe(1);
  });

  it('ends with max_duration at maxSessionMs even while chunks keep arriving', async () => {
    const t = await makeSession({ limits: { maxSessionMs: 3000 } });
    let seq = 0;
    for (let ms = 0; ms < 2900; ms += 100) {
      await t.session.chunk(seq++, speech());
      await vi.advanceTimersByTimeAsync(100);
    }
    expect(t.ended()).toEqual([]);
    await t.session.chunk(seq++, speech());
    await vi.advanceTimersByTimeAsync(100);
    expect(t.ended()).toEqual(['max_duration']);
    expect(t.finished).toMatchObject([{ endReason: 'max_duration', durationMs: 3000, ackSeq: 29 }]);
    expect(await code(t.session.chunk(seq, speech()))).toBe('session_ended');
  });
});

describe('LiveSession chunks', () => {
  it('acks a chunk only once its audio is in the recording, and chunks sent together in seq order', async () => {
    const t = await makeSession({ limits: { maxBacklogBytes: 64_000 } });
    t.writer.hold = true;
    await vi.advanceTimersByTimeAsync(0);
    const acks: number[] = [];
    const p = [0, 1, 2].map((seq) => t.session.chunk(seq, speech((seq + 1) * 100)).then((a) => void acks.push(a)));
    await vi.advanceTimersByTimeAsync(0);
    expect(acks).toEqual([]);
    expect(t.writer.waiting).toBe(1); // one at a time: chunk 1 waits for chunk 0
    t.writer.release();
    await vi.advanceTimersByTimeAsync(0);
    expect(acks).toEqual([0]);
    t.writer.release();
    await vi.advanceTimersByTimeAsync(0);
    t.writer.release();
    await Promise.all(p);
    expect(acks).toEqual([0, 1, 2]);
    expect(t.writer.appended).toEqual([3200, 6400, 9600]);
    expect(t.session.ackSeq).toBe(2);
    expect(t.session.audioMs).toBe(600);
    expect(t.noted).toEqual([
      [0, 100],
      [1, 300],
      [2, 600],
    ]);
  });

  it('answers a resend with the current ackSeq without storing it again, and refuses a skipped seq with sequence_gap and the ackSeq', async () => {
    const t = await makeSession();
    expect(await t.session.chunk(0, speech())).toBe(0);
    expect(await t.session.chunk(1, speech())).toBe(1);
    expect(await t.session.chunk(0, speech())).toBe(1);
    expect(await t.session.chunk(1, speech())).toBe(1); // the last one acked: its ack was lost
    const gap = await t.session.chunk(3, speech()).catch((e: AppError) => e);
    expect(gap).toBeInstanceOf(AppError);
    expect(gap).toMatchObject({ code: 'sequence_gap', options: { details: { ackSeq: 1 } } });
    expect(await t.session.chunk(2, speech())).toBe(2);
    expect(t.writer.appended).toEqual([3200, 3200, 3200]);
  });

  it('refuses a chunk over maxChunkBytes, and one that would take the unprocessed audio over maxBacklogBytes (retryable) until the backlog drains', async () => {
    const t = await makeSession();
    await vi.advanceTimersByTimeAsync(0);
    expect(await code(t.session.chunk(0, Buffer.alloc(16_002)))).toBe('audio_too_large');
    t.writer.hold = true;
    const held = [0, 1, 2].map((seq) => t.session.chunk(seq, speech()));
    // 3 × 3200 = 9600 bytes waiting; 3200 more would pass 10000.
    const refused = await t.session.chunk(3, speech()).catch((e: AppError) => e);
    expect(refused).toMatchObject({ code: 'audio_backlog_exceeded', retryable: true });
    const fits = t.session.chunk(3, Buffer.alloc(400)); // 9600 + 400 = 10000: exactly the limit, taken
    t.writer.hold = false;
    for (let i = 0; i < 4; i++) {
      t.writer.release();
      await vi.advanceTimersByTimeAsync(0);
    }
    expect(await Promise.all([...held, fits])).toEqual([0, 1, 2, 3]);
    expect(await t.session.chunk(4, speech())).toBe(4);
  });
});

describe('LiveSession end', () => {
  it('stores each final before showing it, finishes the engine, the recording and the row on stop, and is idempotent', async () => {
    const t = await makeSession();
    for (let seq = 0; seq < 25; seq++) await t.session.chunk(seq, speech()); // 2.5 s: one final at 2 s
    const first = t.session.end('stopped');
    expect(t.session.end('idle_timeout')).toBe(first);
    expect(await first).toEqual({ durationMs: 2500 });
    expect(t.order).toEqual(['stored fake-1-0', 'shown fake-1-0', 'stored fake-1-1', 'shown fake-1-1']);
    expect(t.writer.finished).toEqual({ timeoutMs: 1000 });
    expect(t.finished).toEqual([{ status: 'completed', endReason: 'stopped', durationMs: 2500, ackSeq: 24, failureReason: undefined }]);
    expect(t.ended()).toEqual(['stopped']);
    expect(t.closed()).toBe(1);
  });

  it('waits for queued chunks before ending: a stop after three chunks stores all three', async () => {
    const t = await makeSession();
    t.writer.hold = true;
    await vi.advanceTimersByTimeAsync(0);
    const acks = [0, 1, 2].map((seq) => t.session.chunk(seq, speech()));
    const ended = t.session.end('stopped');
    for (let i = 0; i < 3; i++) {
      await vi.advanceTimersByTimeAsync(0);
      t.writer.release();
    }
    expect(await Promise.all(acks)).toEqual([0, 1, 2]);
    await ended;
    expect(t.finished).toMatchObject([{ ackSeq: 2, durationMs: 300 }]);
  });

  it('ends with reason error and failure invalid_audio on undecodable audio, telling the client it is fatal', async () => {
    const decoder: LiveAudioDecoder = {
      encoding: 'pcm_s16le',
      push: () => {
        throw new InvalidAudioError('not audio');
      },
      end: () => Buffer.alloc(0),
    };
    const t = await makeSession({ decoder });
    expect(await code(t.session.chunk(0, speech()))).toBe('invalid_audio');
    await vi.advanceTimersByTimeAsync(0);
    await t.session.end('stopped'); // the same end as the one invalid audio started
    expect(t.events.find(([k]) => k === 'error')).toEqual(['error', { code: 'invalid_audio', message: expect.any(String), fatal: true }]);
    expect(t.ended()).toEqual(['error']);
    expect(t.finished).toMatchObject([{ endReason: 'error', failureReason: 'invalid_audio' }]);
  });

  it('keeps recording when the engine fails: a non-fatal transcriber_unavailable notice, acks go on, and the end records the failure', async () => {
    const engine = new FakeEngine({ faults: { failAfterAudioMs: { ms: 500, error: new ProviderError('gone', { retryable: false, code: 'x' }) } } });
    const t = await makeSession({ engine });
    for (let seq = 0; seq < 10; seq++) expect(await t.session.chunk(seq, speech())).toBe(seq);
    await vi.advanceTimersByTimeAsync(0);
    expect(t.events.filter(([k]) => k === 'error')).toEqual([['error', { code: 'transcriber_unavailable', message: expect.any(String), fatal: false }]]);
    await t.session.end('stopped');
    expect(t.writer.appended).toHaveLength(10);
    expect(t.finished).toEqual([{ status: 'completed', endReason: 'stopped', durationMs: 1000, ackSeq: 9, failureReason: 'transcriber_unavailable' }]);
  });

  it('marks the row failed with recording_not_saved when the recording cannot be finished, and still ends', async () => {
    const t = await makeSession();
    await t.session.chunk(0, speech());
    t.writer.finishError = new AppError('storage_unavailable');
    await t.session.end('stopped');
    expect(t.finished).toMatchObject([{ status: 'failed', failureReason: 'recording_not_saved' }]);
    expect(t.ended()).toEqual(['stopped']);
  });

  it('gives the recording 10 s at a server shutdown (another task continues from it), 1 s otherwise', async () => {
    const t = await makeSession();
    await t.session.chunk(0, speech());
    await t.session.end('server_shutdown');
    expect(t.writer.finished).toEqual({ timeoutMs: 10_000 });
    expect(t.finished).toMatchObject([{ endReason: 'server_shutdown' }]);
  });
});

/** A stream that keeps what it is written (the engine's side of the feed). */
function listeningStream(): { stream: TranscriptionStream; heard: Buffer[] } {
  const heard: Buffer[] = [];
  let done!: () => void;
  const over = new Promise<void>((r) => (done = r));
  const stream: TranscriptionStream = {
    write: (pcm) => void heard.push(pcm),
    end: async () => done(),
    abort: () => done(),
    async *[Symbol.asyncIterator]() {
      await over;
    },
  };
  return { stream, heard };
}

/**
 * An Opus decoder at the session's port: each push demuxes one packet at once (the OpusHead with
 * the first) and its 100 ms of PCM (every sample = seq + 1) resolves when the test says.
 */
function opusDecoder() {
  const head: OpusHeadInfo = { channels: 1, preSkip: 312, inputSampleRate: 48000, outputGain: 0, channelMappingFamily: 0, raw: Buffer.alloc(19) };
  const decodes: Array<{ resolve: () => void; reject: (e: Error) => void }> = [];
  let n = 0;
  const decoder: LiveAudioDecoder = {
    encoding: 'webm_opus',
    push: (chunk) => {
      const seq = n++;
      const pcm = new Promise<Buffer>((resolve, reject) =>
        decodes.push({ resolve: () => resolve(Buffer.alloc(3200, seq + 1)), reject }),
      );
      return { pcm, packets: [{ data: chunk, samples48k: 4800 }], ...(seq === 0 ? { head } : {}) };
    },
    end: () => Buffer.alloc(0),
  };
  return { decoder, decodes, head };
}

describe('LiveSession Opus chunks', () => {
  it('acks an Opus chunk once its packets are in the recording, before its PCM is decoded; the engine hears the chunks in order whatever order they decode in', async () => {
    const { decoder, decodes, head } = opusDecoder();
    const { stream, heard } = listeningStream();
    const t = await makeSession({ decoder, stream });
    const wire = [Buffer.from('chunk-0'), Buffer.from('chunk-1'), Buffer.from('chunk-2')];
    expect(await t.session.chunk(0, wire[0]!)).toBe(0);
    expect(await t.session.chunk(1, wire[1]!)).toBe(1);
    expect(await t.session.chunk(2, wire[2]!)).toBe(2);
    // Stored (head first, then one packet per chunk) and checkpointed as received; nothing decoded yet.
    expect(t.writer.heads).toEqual([head]);
    expect(t.writer.appended).toEqual([1, 1, 1]);
    expect(t.checkpointed).toEqual(wire.map((b, seq) => [seq, b]));
    expect(heard).toEqual([]);
    decodes[2]!.resolve();
    decodes[1]!.resolve();
    await vi.advanceTimersByTimeAsync(0);
    expect(heard).toEqual([]); // chunk 0 is not decoded yet: 1 and 2 wait for it
    decodes[0]!.resolve();
    await vi.advanceTimersByTimeAsync(0);
    expect(heard.map((f) => f[0])).toEqual([1, 2, 3]);
    expect(t.session.audioMs).toBe(300);
    await t.session.end('stopped');
    expect(t.finished).toMatchObject([{ status: 'completed', durationMs: 300, ackSeq: 2 }]);
  });

  it('ends with invalid_audio when an acknowledged chunk does not decode: what is stored stays, nothing after it is heard, later chunks are refused', async () => {
    const { decoder, decodes } = opusDecoder();
    const { stream, heard } = listeningStream();
    const t = await makeSession({ decoder, stream });
    expect(await t.session.chunk(0, Buffer.from('a'))).toBe(0);
    expect(await t.session.chunk(1, Buffer.from('b'))).toBe(1);
    decodes[1]!.resolve();
    decodes[0]!.reject(new InvalidAudioError('Opus packet does not decode'));
    await vi.advanceTimersByTimeAsync(0);
    expect(await code(t.session.chunk(2, Buffer.from('c')))).toBe('session_ended');
    await t.session.end('stopped');
    expect(heard).toEqual([]);
    expect(t.events.find(([k]) => k === 'error')).toEqual(['error', { code: 'invalid_audio', message: expect.any(String), fatal: true }]);
    expect(t.finished).toMatchObject([{ endReason: 'error', failureReason: 'invalid_audio', ackSeq: 1 }]);
    expect(t.writer.appended).toEqual([1, 1]);
  });
});

describe('LiveSession recording', () => {
  it('opens the recording at session start, before any chunk, once (Opus: the OpusHead waits for the first audio)', async () => {
    const { decoder } = opusDecoder();
    const t = await makeSession({ decoder });
    await vi.advanceTimersByTimeAsync(0);
    expect(t.opened()).toBe(1);
    expect(t.writer.heads).toEqual([]);
    await t.session.chunk(0, Buffer.from('a'));
    expect(t.opened()).toBe(1);
    expect(t.writer.heads).toHaveLength(1);
    const pcm = await makeSession();
    await vi.advanceTimersByTimeAsync(0);
    expect(pcm.opened()).toBe(1);
  });

  it('checkpoints a PCM chunk as what its WAV got (the 16 kHz PCM, resampled from 48 kHz), not as received', async () => {
    const t = await makeSession({ decoder: await createDecoder({ encoding: 'pcm_s16le', sampleRate: 48000 }) });
    const wire = Buffer.alloc(9600, 1); // 100 ms at 48 kHz
    await t.session.chunk(0, wire);
    const [[seq, stored]] = t.checkpointed as [[number, Buffer]];
    expect(seq).toBe(0);
    expect(stored.length).toBe(t.writer.appended[0]);
    expect(stored.length).toBeLessThan(wire.length / 2); // a third, less the resampler's delay
  });
});

describe('LiveSession engine backlog', () => {
  it('holds the ack while the engine is over 3 s behind, without polling, and acks once the engine says it caught up', async () => {
    const { stream } = listeningStream();
    let backlog = 5000;
    let reads = 0;
    let caughtUp!: () => void;
    const waits: number[] = [];
    stream.backlogMs = () => {
      reads++;
      return backlog;
    };
    stream.whenBacklogBelow = (ms) => {
      waits.push(ms);
      return new Promise<void>((r) => (caughtUp = r));
    };
    const t = await makeSession({ stream });
    let acked: number | undefined;
    const ack = t.session.chunk(0, speech()).then((a) => (acked = a));
    await vi.advanceTimersByTimeAsync(4000);
    expect(acked).toBeUndefined(); // stored, not acknowledged: the client waits
    expect(t.writer.appended).toEqual([3200]);
    expect(waits).toEqual([3000]);
    expect(reads).toBe(1); // asked once, then told: no 50 ms poll
    backlog = 2000;
    caughtUp();
    expect(await ack).toBe(0);
    expect(await t.session.chunk(1, speech())).toBe(1); // under the limit: no wait at all
    expect(waits).toEqual([3000]);
  });
});
