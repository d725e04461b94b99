import type { Logger } from '../../../lib/logger.js';
import { RepeatedWarnings } from '../../../lib/repeated-warnings.js';
import { ProviderError, type StreamOptions, type TranscriptionEngine, type TranscriptionStream, type TranscriptResult } from '../../port.js';
import { ResultQueue } from '../../result-queue.js';
import { loadPocketsphinx, type ModelPaths, resolveModel } from './pocketsphinx.js';
import type { SearchMode } from './protocol.js';
import type { VocabularyReport } from './vocabulary.js';
import { WorkerPool } from './worker-pool.js';

export { APT_INSTALL_LINE, APT_PACKAGES, LocalEngineSetupError } from './pocketsphinx.js';
export type { SearchMode } from './protocol.js';

/**
 * PocketSphinx search settings that let ~8 real-time streams keep up on 2 cores (the defaults
 * manage ~4) for a few WER points: no second (flat) pass, no lattice best path, tighter pruning.
 */
export const FAST_SEARCH_ARGS = ['-fwdflat', 'no', '-bestpath', 'no', '-maxhmmpf', '3000', '-pl_window', '10'] as const;
/** PocketSphinx's own defaults: a second (flat) pass and the lattice best path; fewer errors, ~3× the CPU. */
export const FULL_SEARCH_ARGS = [] as const;
/**
 * CPU of one full-search stream in fast-search streams (the unit of `maxStreams`): 2.3× on jfk.wav
 * (11.4 against 4.9 CPU-seconds for 11 s of audio, one stream, a busy 2-core machine), ~3.3× in
 * the earlier capacity figures (about 3 real-time streams on 2 cores against 10); `npm run
 * bench:accuracy` reports each setting's throughput (concurrency.*.xRealtime).
 */
export const FULL_SEARCH_COST = 3;

/**
 * The search a new stream gets under `search: 'auto'`: full while the engine has spare real-time
 * capacity, i.e. while the streams running plus this one at full cost stay within half of
 * `capacity` (the first stream on an idle engine always, when it fits at all); fast beyond, so a
 * failover of many sessions still keeps up. `load` and `capacity` are in fast-search streams.
 */
export function pickSearch(load: number, capacity: number): SearchMode {
  return load + FULL_SEARCH_COST <= Math.max(FULL_SEARCH_COST, capacity / 2) && load + FULL_SEARCH_COST <= capacity ? 'full' : 'fast';
}

export interface LocalEngineOptions {
  /** Worker threads (default: one per core). */
  workers?: number;
  /** Directory with `en-us.lm.bin` + `cmudict-en-us.dict` to use instead of Debian's (scripts/fetch-model.sh). */
  lmDir?: string;
  /**
   * `auto` (default): each stream's search by load ({@link pickSearch}); `full` or `fast`: every
   * stream that setting (benchmarks).
   */
  search?: 'auto' | SearchMode;
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
   * Most fast-search streams at once (default {@link STREAMS_PER_WORKER} per worker, what two cores
   * decode in real time: BENCHMARKS.md); a full-search stream counts {@link FULL_SEARCH_COST}. Each
   * holds its own decoder (~50 MB), so without a cap a whole task failing over at once (100 sessions)
   * would take ~5 GB and every core. Past it `start` throws a retryable `engine_busy`: a new session
   * is refused with `transcriber_unavailable`, and a session failing over keeps recording while the
   * resilient wrapper retries.
   */
  maxStreams?: number;
  /** Window over which repeats of one warning are collapsed into a count (LOG_REPEAT_WINDOW_MS). */
  repeatWindowMs?: number;
}

/** The offline engine's default stream cap per worker thread. */
export const STREAMS_PER_WORKER = 5;

/** The offline engine: the port, plus how many worker threads and streams it is running now. */
export interface LocalEngine extends TranscriptionEngine {
  readonly workers: number;
  readonly activeStreams: number;
  /** The model files the workers loaded (once one is ready). */
  readonly loadedModel: ModelPaths | undefined;
  /** The search setting of each open stream, in start order. */
  readonly searches: readonly SearchMode[];
  /** What the custom vocabulary of the last stream that had one did to its decoder (tests, logs). */
  readonly lastVocabulary: VocabularyReport | undefined;
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
  const searchPolicy = options.search ?? 'auto';
  /** Open streams by id → their search (the load is their summed cost). */
  const open = new Map<number, SearchMode>();
  let nextStream = 0;
  let lastVocabulary: VocabularyReport | undefined;
  const load = (): number => [...open.values()].reduce((n, s) => n + (s === 'full' ? FULL_SEARCH_COST : 1), 0);
  const pool = new WorkerPool(
    workers,
    {
      ...(options.lmDir ? { lmDir: options.lmDir } : {}),
      args: { full: [...FULL_SEARCH_ARGS], fast: [...FAST_SEARCH_ARGS] },
      spareDecoders: options.spareDecoders ?? 1,
      // An idle engine's next stream is full search (auto), unless every stream is fast.
      firstSearch: searchPolicy === 'auto' ? pickSearch(0, maxStreams) : searchPolicy,
    },
    logger,
    { start: onDemand ? 'on-first-stream' : 'eager', ...(options.idleStopMs ? { idleStopMs: options.idleStopMs } : {}) },
  );
  const log = logger.child({ engine: 'local' });
  // Every start refused at capacity would warn: a burst of starts writes one line and a count.
  const warnings = new RepeatedWarnings(log, options.repeatWindowMs);

  const setupFailure = (err: unknown): ProviderError =>
    new ProviderError('offline engine could not load its model', { retryable: false, code: 'engine_setup', cause: err });

  return {
    name: 'local',
    get workers() {
      return pool.workers;
    },
    get activeStreams() {
      return open.size;
    },
    get loadedModel() {
      return pool.loadedModel;
    },
    get searches() {
      return [...open.values()];
    },
    get lastVocabulary() {
      return lastVocabulary;
    },
    async start(opts: StreamOptions): Promise<TranscriptionStream> {
      const used = load();
      if (used + 1 > maxStreams) {
        warnings.warn({ active: open.size, load: used, maxStreams }, 'offline_engine_at_capacity');
        throw new ProviderError(`offline engine at capacity (${maxStreams} streams)`, { retryable: true, code: 'engine_busy' });
      }
      const search = searchPolicy === 'auto' ? pickSearch(used, maxStreams) : searchPolicy;
      // Counted from here (no await before) until the stream is over, however it ends.
      const streamKey = nextStream++;
      open.set(streamKey, search);
      const queue = new ResultQueue<TranscriptResult>();
      let endedResolve!: () => void;
      const ended = new Promise<void>((r) => (endedResolve = r));
      void ended.then(() => {
        open.delete(streamKey);
      });
      let handle: Awaited<ReturnType<WorkerPool['open']>>;
      let sentSamples = 0;
      let processedSamples = 0;
      const backlogMs = (): number => ((sentSamples - processedSamples) / 16_000) * 1000;
      // Sessions waiting for the worker to catch up (whenBacklogBelow): checked as audio is processed.
      let waiters: Array<{ ms: number; resolve: () => void }> = [];
      const wake = (all: boolean): void => {
        if (waiters.length === 0) return;
        const now = backlogMs();
        const stay = waiters.filter((w) => !all && now > w.ms);
        for (const w of waiters) if (all || now <= w.ms) w.resolve();
        waiters = stay;
      };
      void ended.then(() => wake(true));
      try {
        handle = await pool.open({
          onResult: (r) => queue.push(r),
          onProcessed: (samples) => {
            processedSamples += samples;
            wake(false);
          },
          onVocabulary: (report) => {
            lastVocabulary = report;
            // Counts only: the terms of a specialty's vocabulary are configuration, but keep logs lean.
            log.info({ sessionId: opts.sessionId, added: report.added.length, known: report.known.length, skipped: report.skipped.length }, 'offline_vocabulary_loaded');
          },
          onEnded: () => {
            queue.close();
            endedResolve();
          },
          onError: (message, crashed) => {
            log.error({ sessionId: opts.sessionId, crashed }, 'offline_engine_stream_failed');
            queue.fail(new ProviderError(`offline engine: ${message}`, { retryable: true, code: crashed ? 'worker_crashed' : 'stream_failed' }));
            endedResolve();
          },
        }, search, search === 'full' ? FULL_SEARCH_COST : 1, opts.vocabulary?.terms);
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
        backlogMs,
        whenBacklogBelow(ms: number): Promise<void> {
          if (state === 'done' || backlogMs() <= ms) return Promise.resolve();
          return new Promise((resolve) => waiters.push({ ms, resolve }));
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
        // The idle stop may end the workers between ready() and the ping: that is the engine
        // going back to its not-started state, not a failure (a health poll racing it must not
        // report the engine down). Checked as the not-started state is.
        if (onDemand && pool.workers === 0 && pool.stoppedWhileIdle) {
          try {
            resolveModel(options.lmDir);
            return;
          } catch (e) {
            throw setupFailure(e);
          }
        }
        throw setupFailure(err);
      }
    },
    close: () => {
      warnings.close();
      return pool.close();
    },
  };
}
