/**
 * A scripted transcription engine for tests of the session domain: implements the port, turns the
 * audio written into words of a script at a fixed pace (partials, then a final per segment), and
 * fails on request. Passes the same contract suite as the real engines.
 *
 *   const engine = new FakeEngine({ script: 'chest pain since yesterday' });
 *   engine.setFaults({ failAfterAudioMs: { ms: 1000, error: new ProviderError('x', { retryable: true }) } });
 *   engine.streams[0].audioBytes
 */
import { ProviderError, type StreamOptions, type TranscriptionEngine, type TranscriptionStream, type TranscriptResult } from '../../src/transcription/port.js';
import { ResultQueue } from '../../src/transcription/result-queue.js';

export interface FakeFaults {
  /** `start()` rejects with this. */
  startError?: ProviderError;
  /** `check()` rejects with this. */
  checkError?: ProviderError;
  /** Iteration throws `error` once this much audio was written (results before it are delivered). */
  failAfterAudioMs?: { ms: number; error: ProviderError };
  /** `end()` never sees the last final: it waits forever (until abort). */
  hangOnEnd?: boolean;
  /** What the stream reports as queued but undecoded audio (an engine falling behind), in ms. */
  backlogMs?: number;
}

export interface FakeEngineOptions {
  script?: string;
  wordsPerSecond?: number;
  wordsPerSegment?: number;
  partialEveryMs?: number;
  /** Speaker labels for CONVERSATION, alternating per segment. */
  speakers?: string[];
  faults?: FakeFaults;
}

/** Digital silence (what a muted microphone sends) advances time but adds no words. */
function isSilence(pcm: Buffer): boolean {
  for (let i = 0; i + 1 < pcm.length; i += 2) if (Math.abs(pcm.readInt16LE(i)) > 64) return false;
  return true;
}

/** What one stream received. */
export interface FakeStreamRecord {
  options: StreamOptions;
  audioBytes: number;
  writes: number;
  ended: boolean;
  aborted: boolean;
}

export class FakeEngine implements TranscriptionEngine {
  readonly name = 'fake';
  readonly streams: FakeStreamRecord[] = [];
  private faults: FakeFaults;
  private closed = false;
  private readonly words: string[];

  constructor(private readonly options: FakeEngineOptions = {}) {
    this.faults = options.faults ?? {};
    this.words = (options.script ?? 'patient reports mild headache since this morning no fever').split(/\s+/).filter(Boolean);
  }

  setFaults(faults: FakeFaults): void {
    this.faults = faults;
    for (const wake of [...this.backlogWaiters]) wake();
  }

  /** Streams waiting in whenBacklogBelow: each checks again when the faults change. */
  private readonly backlogWaiters = new Set<() => void>();

  async start(options: StreamOptions): Promise<TranscriptionStream> {
    if (this.closed) throw new ProviderError('fake engine closed', { retryable: false, code: 'closed' });
    if (this.faults.startError) throw this.faults.startError;
    const record: FakeStreamRecord = { options, audioBytes: 0, writes: 0, ended: false, aborted: false };
    this.streams.push(record);
    const queue = new ResultQueue<TranscriptResult>();
    const wps = this.options.wordsPerSecond ?? 2.5;
    const perSeg = this.options.wordsPerSegment ?? 5;
    const partialEvery = this.options.partialEveryMs ?? 300;
    const speakers = this.options.speakers ?? ['spk_0', 'spk_1'];
    let segment = 0;
    let speechBytes = 0;
    let lastPartialAt = 0;
    let done = false;
    const audioMs = () => record.audioBytes / 32;
    const result = (kind: 'partial' | 'final', seg: number, upto: number): TranscriptResult => {
      const from = seg * perSeg;
      const text = Array.from({ length: upto - from }, (_, i) => this.words[(from + i) % this.words.length]).join(' ');
      return {
        kind,
        segmentId: `fake-${this.streams.length}-${seg}`,
        text,
        startMs: Math.round((from / wps) * 1000),
        endMs: Math.round((upto / wps) * 1000),
        ...(options.type === 'CONVERSATION' ? { speaker: speakers[seg % speakers.length]! } : {}),
      };
    };
    const heard = () => Math.floor((speechBytes / 32000) * wps);
    const faults = () => this.faults;
    let release: (() => void) | undefined;
    return {
      [Symbol.asyncIterator]: () => queue[Symbol.asyncIterator](),
      backlogMs: () => faults().backlogMs ?? 0,
      whenBacklogBelow: (ms: number) =>
        new Promise<void>((resolve) => {
          const check = (): void => {
            if (!done && (faults().backlogMs ?? 0) > ms) return;
            this.backlogWaiters.delete(check);
            resolve();
          };
          this.backlogWaiters.add(check);
          check();
        }),
      write(pcm: Buffer) {
        if (done || pcm.length === 0) return;
        record.audioBytes += pcm.length;
        record.writes++;
        if (!isSilence(pcm)) speechBytes += pcm.length;
        const fail = faults().failAfterAudioMs;
        if (fail && audioMs() >= fail.ms) {
          done = true;
          queue.fail(fail.error);
          return;
        }
        const n = heard();
        while (n >= (segment + 1) * perSeg) queue.push(result('final', segment, (segment += 1) * perSeg));
        if (audioMs() - lastPartialAt >= partialEvery && n > segment * perSeg) {
          lastPartialAt = audioMs();
          queue.push(result('partial', segment, n));
        }
      },
      async end() {
        if (!done) {
          done = true;
          record.ended = true;
          if (faults().hangOnEnd) await new Promise<void>((r) => (release = r));
          const n = heard();
          if (n > segment * perSeg) queue.push(result('final', segment, n));
          queue.close();
        }
        await queue.settled();
      },
      abort() {
        done = true;
        record.aborted = true;
        queue.abort();
        release?.();
      },
    };
  }

  async check(): Promise<void> {
    if (this.faults.checkError) throw this.faults.checkError;
  }

  async close(): Promise<void> {
    this.closed = true;
  }
}
