import type { Logger } from '../../../lib/logger.js';
import { ProviderError, type StreamOptions, type TranscriptionEngine, type TranscriptionStream, type TranscriptResult } from '../../port.js';
import { ResultQueue } from '../../result-queue.js';
import { loadPocketsphinx, resolveModel } from './pocketsphinx.js';
import { WorkerPool } from './worker-pool.js';

export { APT_INSTALL_LINE, APT_PACKAGES, LocalEngineSetupError } from './pocketsphinx.js';

/**
 * PocketSphinx search settings that let ~8 real-time streams keep up on 2 cores (the defaults
 * manage ~4) for a few WER points: no second (flat) pass, no lattice best path, tighter pruning.
 */
export const FAST_SEARCH_ARGS = ['-fwdflat', 'no', '-bestpath', 'no', '-maxhmmpf', '3000', '-pl_window', '10'] as const;

export interface LocalEngineOptions {
  /** Worker threads (default: one per core). */
  workers?: number;
  /** Directory with `en-us.lm.bin` + `cmudict-en-us.dict` to use instead of Debian's (scripts/fetch-model.sh). */
  lmDir?: string;
  /** PocketSphinx arguments; default {@link FAST_SEARCH_ARGS}. */
  searchArgs?: readonly string[];
  /** Fresh decoders each worker keeps ready for the next streams (default 1; each costs ~100 MB). */
  spareDecoders?: number;
  /**
   * `eager` (default): the workers start and load the model now, so the first stream does not wait.
   * `on-first-stream`: no worker (and no model in memory) until the first `start()`, which waits for
   * the load; for the fallback, which most tasks never use.
   */
  startWorkers?: 'eager' | 'on-first-stream';
  /** With `on-first-stream`: the workers exit after this long without a stream (unset: never). */
  idleStopMs?: number;
  /**
   * Most streams at once (default {@link STREAMS_PER_WORKER} per worker, what two cores decode in real
   * time: BENCHMARKS.md). Each holds its own decoder (~50 MB), so without a cap a whole task failing
   * over at once (100 sessions) would take ~5 GB and every core. Past it `start` throws a retryable
   * `engine_busy`: a new session is refused with `transcriber_unavailable`, and a session failing over
   * keeps recording while the resilient wrapper retries.
   */
  maxStreams?: number;
}

/** The offline engine's default stream cap per worker thread. */
export const STREAMS_PER_WORKER = 5;

/** The offline engine: the port, plus how many worker threads and streams it is running now. */
export interface LocalEngine extends TranscriptionEngine {
  readonly workers: number;
  readonly activeStreams: number;
}

/**
 * The offline engine. Throws {@link LocalEngineSetupError} (with the `apt-get install` line) at once
 * when PocketSphinx or its model is missing, whether the workers start now or later; model loading
 * then continues in the worker threads.
 */
export function createLocalEngine(options: LocalEngineOptions, logger: Logger): LocalEngine {
  loadPocketsphinx();
  resolveModel(options.lmDir);
  const onDemand = options.startWorkers === 'on-first-stream';
  const workers = options.workers ?? WorkerPool.defaultSize();
  const maxStreams = options.maxStreams ?? workers * STREAMS_PER_WORKER;
  let active = 0;
  const pool = new WorkerPool(
    workers,
    {
      ...(options.lmDir ? { lmDir: options.lmDir } : {}),
      args: [...(options.searchArgs ?? FAST_SEARCH_ARGS)],
      spareDecoders: options.spareDecoders ?? 1,
    },
    logger,
    { start: onDemand ? 'on-first-stream' : 'eager', ...(options.idleStopMs ? { idleStopMs: options.idleStopMs } : {}) },
  );
  const log = logger.child({ engine: 'local' });

  const setupFailure = (err: unknown): ProviderError =>
    new ProviderError('offline engine could not load its model', { retryable: false, code: 'engine_setup', cause: err });

  return {
    name: 'local',
    get workers() {
      return pool.workers;
    },
    get activeStreams() {
      return active;
    },
    async start(opts: StreamOptions): Promise<TranscriptionStream> {
      if (active >= maxStreams) {
        log.warn({ active, maxStreams }, 'offline engine at capacity');
        throw new ProviderError(`offline engine at capacity (${maxStreams} streams)`, { retryable: true, code: 'engine_busy' });
      }
      // Counted from here (no await before) until the stream is over, however it ends.
      active += 1;
      const queue = new ResultQueue<TranscriptResult>();
      let endedResolve!: () => void;
      const ended = new Promise<void>((r) => (endedResolve = r));
      void ended.then(() => {
        active -= 1;
      });
      let handle: Awaited<ReturnType<WorkerPool['open']>>;
      let sentSamples = 0;
      let processedSamples = 0;
      try {
        handle = await pool.open({
          onResult: (r) => queue.push(r),
          onProcessed: (samples) => {
            processedSamples += samples;
          },
          onEnded: () => {
            queue.close();
            endedResolve();
          },
          onError: (message, crashed) => {
            log.error({ sessionId: opts.sessionId, crashed }, 'offline engine stream failed');
            queue.fail(new ProviderError(`offline engine: ${message}`, { retryable: true, code: crashed ? 'worker_crashed' : 'stream_failed' }));
            endedResolve();
          },
        });
      } catch (err) {
        endedResolve();
        throw setupFailure(err);
      }
      let state: 'open' | 'ending' | 'done' = 'open';
      return {
        [Symbol.asyncIterator]: () => queue[Symbol.asyncIterator](),
        write(pcm: Buffer): void {
          if (state !== 'open' || pcm.length < 2) return;
          const bytes = pcm.length - (pcm.length % 2);
          const ab = new ArrayBuffer(bytes);
          new Uint8Array(ab).set(pcm.subarray(0, bytes));
          sentSamples += bytes / 2;
          handle.send({ type: 'audio', pcm: ab }, [ab]);
        },
        backlogMs(): number {
          return ((sentSamples - processedSamples) / 16_000) * 1000;
        },
        async end(): Promise<void> {
          if (state === 'open') {
            state = 'ending';
            handle.send({ type: 'end' });
          }
          await ended;
          state = 'done';
          await queue.settled();
        },
        abort(): void {
          if (state === 'done') return;
          state = 'done';
          handle.send({ type: 'abort' });
          pool.forget(handle.id);
          queue.abort();
          endedResolve();
        },
      };
    },
    async check(): Promise<void> {
      try {
        // Not started (or stopped while idle): healthy when the library and model files are there.
        // Starting the workers for a probe would spend the memory on-demand start saves.
        if (onDemand && pool.workers === 0) {
          resolveModel(options.lmDir);
          return;
        }
        await pool.ready();
        await pool.ping();
      } catch (err) {
        throw setupFailure(err);
      }
    },
    close: () => pool.close(),
  };
}
