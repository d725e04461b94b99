import os from 'node:os';
import { Worker } from 'node:worker_threads';
import type { Logger } from '../../../lib/logger.js';
import type { VocabularyTerm } from '../../port.js';
import type { ModelPaths } from './pocketsphinx.js';
import type { FromWorker, SearchMode, ToWorker, WorkerInit } from './protocol.js';
import type { RecognizerResult } from './recognizer.js';
import type { VocabularyReport } from './vocabulary.js';

/** A message for one stream, without its id. */
export type StreamMessage = ToWorker extends infer M ? (M extends ToWorker ? Omit<M, 'id'> : never) : never;

/** What a stream hears back from its worker. */
export interface StreamHandlers {
  onResult(r: RecognizerResult): void;
  /** The worker decoded `samples` more of this stream's audio. */
  onProcessed?(samples: number): void;
  /** What the stream's custom vocabulary did to its decoder. */
  onVocabulary?(report: VocabularyReport): void;
  onEnded(): void;
  /** The worker failed this stream or died; `crashed` when the whole worker is gone. */
  onError(message: string, crashed: boolean): void;
}

interface Slot {
  worker: Worker;
  ready: Promise<void>;
  streams: Map<number, StreamHandlers>;
  /** Cost of each open stream (in fast-search streams), to place the next one on the least loaded worker. */
  weights: Map<number, number>;
  pings: Map<number, (err?: Error) => void>;
  dead: boolean;
  /** Marks the worker gone: fails its load wait, its streams and its pings (once). */
  die(message: string): void;
}

/**
 * Starts the worker entry: compiled JavaScript as is; TypeScript (under tsx or vitest) through a
 * small bootstrap that registers tsx's loader in the worker first (Node 20 does not pass `--import`
 * hooks on to workers).
 */
function startWorker(workerData: WorkerInit): Worker {
  if (!import.meta.url.endsWith('.ts')) return new Worker(new URL('./worker.js', import.meta.url), { workerData });
  const entry = new URL('./worker.ts', import.meta.url).href;
  const tsx = import.meta.resolve('tsx/esm/api');
  const boot = `import(${JSON.stringify(tsx)}).then((m) => { m.register(); return import(${JSON.stringify(entry)}); })`;
  return new Worker(boot, { eval: true, workerData });
}

/** When a pool's workers run. */
export interface WorkerPoolOptions {
  /**
   * `eager` (default): every worker starts (and loads the model) at construction, so the first
   * stream does not wait. `on-first-stream`: none until the first `open()`, which then waits for the
   * model load; for an engine that may never be used (the fallback).
   */
  start?: 'eager' | 'on-first-stream';
  /** With `on-first-stream`: stop every worker after this long without a stream (0 or unset: never). */
  idleStopMs?: number;
}

/**
 * A fixed set of worker threads, each with its own PocketSphinx instance. Streams go to the worker
 * with the fewest streams; a worker that dies fails its streams and is replaced on the next open.
 */
export class WorkerPool {
  private readonly slots: Slot[] = [];
  private nextId = 1;
  private closed = false;
  /** open() calls waiting for a worker; they count as use, so an idle stop never races them. */
  private opening = 0;
  private idleTimer?: NodeJS.Timeout;
  /** The model files the last worker to get ready loaded (undefined before). */
  loadedModel?: ModelPaths;
  /** True from an idle stop until the next worker starts: no worker runs, and none failed. */
  stoppedWhileIdle = false;

  constructor(
    private readonly size: number,
    private readonly init: WorkerInit,
    private readonly logger: Logger,
    private readonly options: WorkerPoolOptions = {},
  ) {
    if (options.start !== 'on-first-stream') for (let i = 0; i < size; i++) this.slots.push(this.spawn());
  }

  static defaultSize(): number {
    return Math.max(1, os.availableParallelism());
  }

  /** Worker threads running now (0 before an `on-first-stream` pool's first open and after an idle stop). */
  get workers(): number {
    return this.live().length;
  }

  /** Resolves when every running worker has loaded the model; rejects with the first load failure. */
  async ready(): Promise<void> {
    await Promise.all(this.live().map((s) => s.ready));
  }

  /** Opens a stream with the given search setting on the least loaded worker (`weight`: its cost in fast-search streams). */
  async open(handlers: StreamHandlers, search: SearchMode = 'fast', weight = 1, vocabulary?: VocabularyTerm[]): Promise<{ send(m: StreamMessage, transfer?: ArrayBuffer[]): void; readonly id: number }> {
    if (this.closed) throw new Error('worker pool is closed');
    this.cancelIdleStop();
    if (this.live().length === 0 && this.options.start === 'on-first-stream') this.logger.info({ workers: this.size }, 'offline_engine_starting');
    while (this.live().length < this.size) this.slots.push(this.spawn());
    const load = (x: Slot): number => [...x.weights.values()].reduce((a, b) => a + b, 0);
    const slot = this.live().reduce((a, b) => (load(b) < load(a) ? b : a));
    this.opening += 1;
    try {
      await slot.ready;
    } finally {
      this.opening -= 1;
      this.scheduleIdleStop();
    }
    if (slot.dead) throw new Error('offline_engine_worker_exited');
    const id = this.nextId++;
    slot.streams.set(id, handlers);
    slot.weights.set(id, weight);
    const send = (m: StreamMessage, transfer?: ArrayBuffer[]): void => {
      if (slot.dead) return;
      slot.worker.postMessage({ ...m, id } as ToWorker, transfer ?? []);
    };
    send({ type: 'open', search, ...(vocabulary?.length ? { vocabulary } : {}) });
    return { send, id };
  }

  /** Round trip to every worker (fails if one is stuck or dead). */
  async ping(timeoutMs = 5000): Promise<void> {
    await Promise.all(
      this.live().map(async (slot) => {
        await slot.ready;
        await new Promise<void>((resolve, reject) => {
          const id = this.nextId++;
          const timer = setTimeout(() => {
            slot.pings.delete(id);
            reject(new Error('offline engine worker did not answer'));
          }, timeoutMs);
          slot.pings.set(id, (err) => {
            clearTimeout(timer);
            if (err) reject(err);
            else resolve();
          });
          slot.worker.postMessage({ type: 'ping', id } satisfies ToWorker);
        });
      }),
    );
  }

  async close(): Promise<void> {
    this.closed = true;
    this.cancelIdleStop();
    await this.stopAll('engine closed');
  }

  /** Stops every worker; `graceful` lets each free its native memory first (terminate() leaks it). */
  private async stopAll(message: string, graceful = false): Promise<void> {
    const slots = this.slots.splice(0);
    await Promise.all(
      slots.map(async (s) => {
        const wasLive = !s.dead;
        s.die(message);
        if (graceful && wasLive) {
          await new Promise<void>((resolve) => {
            const timer = setTimeout(resolve, 5000);
            s.worker.once('exit', () => {
              clearTimeout(timer);
              resolve();
            });
            s.worker.postMessage({ type: 'shutdown', id: 0 } satisfies ToWorker);
          });
        }
        await s.worker.terminate();
      }),
    );
  }

  private live(): Slot[] {
    return this.slots.filter((s) => !s.dead);
  }

  private inUse(): number {
    return this.opening + this.slots.reduce((n, s) => n + s.streams.size, 0);
  }

  /** Arms the idle stop once the last stream is gone (no-op unless `idleStopMs` is set). */
  private scheduleIdleStop(): void {
    const ms = this.options.idleStopMs ?? 0;
    if (ms <= 0 || this.closed || this.idleTimer || this.live().length === 0 || this.inUse() > 0) return;
    this.idleTimer = setTimeout(() => {
      this.idleTimer = undefined;
      if (this.closed || this.inUse() > 0) return;
      this.logger.info({ workers: this.live().length, idleMs: ms }, 'offline_engine_idle_stop');
      this.stoppedWhileIdle = true;
      void this.stopAll('offline engine stopped while idle', true);
    }, ms);
    this.idleTimer.unref();
  }

  private cancelIdleStop(): void {
    if (this.idleTimer) clearTimeout(this.idleTimer);
    this.idleTimer = undefined;
  }

  private spawn(): Slot {
    this.stoppedWhileIdle = false;
    const worker = startWorker(this.init);
    let markReady!: () => void;
    let markFailed!: (e: Error) => void;
    const ready = new Promise<void>((resolve, reject) => {
      markReady = resolve;
      markFailed = reject;
    });
    // Observed by open()/ready(); never left unhandled if nobody asks.
    ready.catch(() => {});
    const die = (message: string): void => {
      if (slot.dead) return;
      slot.dead = true;
      markFailed(new Error(message));
      for (const h of slot.streams.values()) h.onError(message, true);
      slot.streams.clear();
      slot.weights.clear();
      for (const p of slot.pings.values()) p(new Error(message));
      slot.pings.clear();
      this.scheduleIdleStop();
    };
    const slot: Slot = { worker, ready, streams: new Map(), weights: new Map(), pings: new Map(), dead: false, die };
    worker.on('message', (m: FromWorker) => {
      switch (m.type) {
        case 'ready':
          this.loadedModel = m.model;
          markReady();
          break;
        case 'init-error':
          die(m.message);
          void worker.terminate();
          break;
        case 'processed':
          slot.streams.get(m.id)?.onProcessed?.(m.samples);
          break;
        case 'vocabulary':
          slot.streams.get(m.id)?.onVocabulary?.(m.report);
          break;
        case 'result':
          slot.streams.get(m.id)?.onResult(m.result);
          break;
        case 'ended': {
          const h = slot.streams.get(m.id);
          slot.streams.delete(m.id);
          slot.weights.delete(m.id);
          h?.onEnded();
          this.scheduleIdleStop();
          break;
        }
        case 'stream-error': {
          const h = slot.streams.get(m.id);
          slot.streams.delete(m.id);
          slot.weights.delete(m.id);
          h?.onError(m.message, false);
          this.scheduleIdleStop();
          break;
        }
        case 'pong':
          slot.pings.get(m.id)?.();
          slot.pings.delete(m.id);
          break;
      }
    });
    worker.on('error', (err) => {
      this.logger.error({ err }, 'offline_engine_worker_failed');
      die('offline_engine_worker_failed');
    });
    worker.on('exit', (code) => {
      if (!this.closed && !slot.dead) this.logger.error({ code }, 'offline_engine_worker_exited');
      die('offline_engine_worker_exited');
    });
    return slot;
  }

  /** Forgets a stream (after abort) so late results are dropped. */
  forget(id: number): void {
    for (const s of this.slots) {
      s.streams.delete(id);
      s.weights.delete(id);
    }
    this.scheduleIdleStop();
  }
}
