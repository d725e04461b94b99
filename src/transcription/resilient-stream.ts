/**
 * The one wrapper that makes any engine resilient (STYLE.md): retry, reconnect, timestamp offset
 * and failover live here, not in the adapters. It implements the same port, so a live session
 * neither knows nor cares which engine, or which stream of it, produced a result.
 *
 * How it works, per session:
 * - Every PCM frame written is kept in a replay ring until a final covers it (capped at
 *   `replayMaxMs`). The shared audio source is never touched by a reconnect: each engine stream is
 *   fed from this ring and then from new writes.
 * - When a stream fails (retryable error, or an end nobody asked for, e.g. a silent HTTP/2 drop),
 *   a new stream is opened after a backoff and fed from the first frame not covered by a final;
 *   its timestamps are shifted by that frame's session time, so the timeline stays continuous.
 * - Segment ids are prefixed with a stream epoch (unique across streams); a final that ends at or
 *   before the covered position only repeats audio a previous stream already finalised and is
 *   dropped, so no final is duplicated.
 * - Throttling/outage errors (LimitExceeded, ServiceUnavailable, …), `failoverAfter` consecutive
 *   failures, or a spent retry budget switch the session to the fallback engine; the primary is
 *   probed every `probeIntervalMs` by opening a stream, and once one opens the fallback is ended
 *   gracefully (its last utterance is finalised) and the primary takes over from the covered point.
 */
import type { Logger } from '../lib/logger.js';
import { noopMetrics, type MetricsHooks } from '../lib/metrics-hooks.js';
import { ProviderError, type StreamOptions, type TranscriptionEngine, type TranscriptionStream, type TranscriptResult } from './port.js';
import { ResultQueue } from './result-queue.js';

export interface ResilienceOptions {
  /** Reconnects allowed per session (over all engines) before giving up. Default 8. */
  maxRetries: number;
  /** First backoff, doubled per consecutive failure up to `backoffMaxMs`. Defaults 250 / 5000. */
  backoffBaseMs: number;
  backoffMaxMs: number;
  /** Consecutive primary failures that switch to the fallback. Default 2. */
  failoverAfter: number;
  /** While on the fallback, how often the primary is tried again. Default 30000. */
  probeIntervalMs: number;
  /** Most audio kept for replay; older uncovered audio is not re-transcribed. Default 120000. */
  replayMaxMs: number;
}

export const DEFAULT_RESILIENCE: ResilienceOptions = {
  maxRetries: 8,
  backoffBaseMs: 250,
  backoffMaxMs: 5000,
  failoverAfter: 2,
  probeIntervalMs: 30_000,
  replayMaxMs: 120_000,
};

/** Provider codes meaning "the service is refusing or out", where hammering it again does not help. */
const OUTAGE_CODES = new Set(['LimitExceededException', 'ServiceUnavailableException', 'ThrottlingException', 'TooManyRequestsException']);

const FRAME_EPSILON_MS = 1;

/**
 * Wraps `primary` (and optionally `fallback`) in the resilient stream. The wrapper's `name` is the
 * primary's; each result carries the `engine` that produced it.
 */
export function createResilientEngine(
  primary: TranscriptionEngine,
  fallback: TranscriptionEngine | undefined,
  options: Partial<ResilienceOptions>,
  logger: Logger,
  metrics: MetricsHooks = noopMetrics,
): TranscriptionEngine {
  const opts = { ...DEFAULT_RESILIENCE, ...options };
  return {
    name: primary.name,
    async start(so: StreamOptions): Promise<TranscriptionStream> {
      const s = new ResilientStream(primary, fallback, opts, so, logger.child({ sessionId: so.sessionId, component: 'resilient_engine' }), metrics);
      await s.open();
      return s;
    },
    check: () => primary.check(),
    async close() {
      await Promise.all([primary.close(), fallback?.close()]);
    },
  };
}

type Role = 'primary' | 'fallback';
interface Inner {
  stream: TranscriptionStream;
  engine: TranscriptionEngine;
  role: Role;
  epoch: number;
  /** Session ms of the first sample this stream received. */
  baseMs: number;
  /** We asked this stream to end (session end or switch back). */
  ending: boolean;
}

class ResilientStream implements TranscriptionStream {
  private readonly out = new ResultQueue<TranscriptResult>();
  private readonly ring: Array<{ startMs: number; pcm: Buffer }> = [];
  private writtenMs: number;
  private coveredMs: number;
  private inner?: Inner;
  /** The inner stream takes writes (false while reconnecting or switching). */
  private live = false;
  private epoch = 0;
  private retries = 0;
  private consecutive = 0;
  private ending = false;
  private aborted = false;
  private probeTimer?: NodeJS.Timeout;
  private probed?: TranscriptionStream;
  private wakeSleep?: () => void;
  private loop?: Promise<void>;

  constructor(
    private readonly primary: TranscriptionEngine,
    private readonly fallback: TranscriptionEngine | undefined,
    private readonly o: ResilienceOptions,
    private readonly so: StreamOptions,
    private readonly log: Logger,
    private readonly metrics: MetricsHooks,
  ) {
    this.writtenMs = so.offsetMs ?? 0;
    this.coveredMs = this.writtenMs;
  }

  /** Opens the first stream: the primary, or the fallback when the primary refuses with an outage. */
  async open(): Promise<void> {
    try {
      this.inner = this.attach(await this.primary.start(this.innerOptions()), this.primary, 'primary');
    } catch (err) {
      const pe = asProviderError(err);
      this.metrics.inc('engine_stream_failures_total', { engine: this.primary.name, code: pe.code ?? 'unknown' });
      if (!this.fallback || !pe.retryable) throw err;
      this.inner = this.attach(await this.fallback.start(this.innerOptions()), this.fallback, 'fallback');
      this.announceFailover();
    }
    this.live = true;
    this.loop = this.run();
  }

  [Symbol.asyncIterator](): AsyncIterator<TranscriptResult> {
    return this.out[Symbol.asyncIterator]();
  }

  write(pcm: Buffer): void {
    if (this.ending || this.aborted || pcm.length === 0) return;
    const frame = Buffer.from(pcm);
    this.ring.push({ startMs: this.writtenMs, pcm: frame });
    this.writtenMs += frame.length / 32;
    this.capRing();
    if (this.live && this.inner) this.inner.stream.write(frame);
  }

  /** The current inner stream's queue (the offline engine's), so the session can pace acks. */
  backlogMs(): number {
    return this.inner?.stream.backlogMs?.() ?? 0;
  }

  async end(): Promise<void> {
    if (!this.ending && !this.aborted) {
      this.ending = true;
      this.stopProbing();
      if (this.live && this.inner && !this.inner.ending) {
        this.inner.ending = true;
        this.inner.stream.end().catch(() => {}); // a failure shows in the pump, which retries
      }
      this.wakeSleep?.();
    }
    await this.out.settled();
  }

  abort(reason?: Error): void {
    if (this.aborted) return;
    this.aborted = true;
    this.stopProbing();
    this.inner?.stream.abort(reason);
    this.probed?.abort(reason);
    this.out.abort();
    this.wakeSleep?.();
  }

  private innerOptions(): StreamOptions {
    const { onStatus: _s, offsetMs: _o, segmentPrefix: _p, ...rest } = this.so;
    return rest;
  }

  /** Feeds a new stream the uncovered audio and makes it current. */
  private attach(stream: TranscriptionStream, engine: TranscriptionEngine, role: Role): Inner {
    const baseMs = this.ring[0]?.startMs ?? this.writtenMs;
    for (const f of this.ring) stream.write(f.pcm);
    const inner: Inner = { stream, engine, role, epoch: this.epoch++, baseMs, ending: false };
    if (this.ending) {
      inner.ending = true;
      stream.end().catch(() => {});
    }
    return inner;
  }

  private async run(): Promise<void> {
    let err: unknown;
    for (;;) {
      if (this.inner) {
        const inner = this.inner;
        err = await this.pump(inner);
        if (this.aborted) return;
        this.live = false;
        this.inner = undefined;
        if (this.probed) {
          // The primary answered a probe and the fallback finished its last utterance: switch back.
          const stream = this.probed;
          this.probed = undefined;
          this.inner = this.attach(stream, this.primary, 'primary');
          this.live = true;
          this.consecutive = 0;
          this.metrics.inc('engine_recoveries_total', { engine: this.primary.name });
          this.log.info({ engine: this.primary.name }, 'engine_recovered');
          this.so.onStatus?.({ kind: 'recovered', engine: this.primary.name });
          continue;
        }
        if (err === undefined && inner.ending) {
          this.stopProbing();
          this.out.close();
          return;
        }
        err ??= new ProviderError('stream ended before the end of audio', { retryable: true, code: 'stream_ended_early' });
        const pe = asProviderError(err);
        this.metrics.inc('engine_stream_failures_total', { engine: inner.engine.name, code: pe.code ?? 'unknown' });
        this.log.warn({ engine: inner.engine.name, code: pe.code, retryable: pe.retryable }, 'engine_stream_failed');
        if (inner.role === 'fallback') this.stopProbing();
        err = this.nextAfter(inner.role, pe);
      }
      const next = err as { role: Role; delayMs: number } | ProviderError;
      if (next instanceof Error) {
        this.stopProbing();
        this.metrics.inc('engine_gave_up_total', { engine: this.primary.name });
        this.log.warn({ code: next.code, retries: this.retries }, 'engine_gave_up');
        this.out.fail(next);
        return;
      }
      await this.sleep(next.delayMs);
      if (this.aborted) return;
      const engine = next.role === 'primary' ? this.primary : this.fallback!;
      try {
        const stream = await engine.start(this.innerOptions());
        if (this.aborted) {
          stream.abort();
          return;
        }
        const wasPrimary = this.lastRole === 'primary';
        this.inner = this.attach(stream, engine, next.role);
        this.live = true;
        this.metrics.inc('engine_retries_total', { engine: engine.name });
        if (next.role === 'fallback' && wasPrimary) this.announceFailover();
        this.lastRole = next.role;
      } catch (e) {
        const pe = asProviderError(e);
        this.metrics.inc('engine_stream_failures_total', { engine: engine.name, code: pe.code ?? 'unknown' });
        this.log.warn({ engine: engine.name, code: pe.code, retryable: pe.retryable }, 'engine_start_failed');
        err = this.nextAfter(next.role, pe);
      }
    }
  }

  private lastRole: Role = 'primary';

  /** What to do after `role` failed with `pe`: reopen something after a delay, or give up (the error). */
  private nextAfter(role: Role, pe: ProviderError): { role: Role; delayMs: number } | ProviderError {
    this.lastRole = role;
    this.retries += 1;
    this.consecutive += 1;
    const delayMs = Math.min(this.o.backoffMaxMs, this.o.backoffBaseMs * 2 ** Math.max(0, this.consecutive - 1));
    if (role === 'primary' && this.fallback) {
      const outage = OUTAGE_CODES.has(pe.code ?? '');
      if (outage || this.consecutive >= this.o.failoverAfter || this.retries > this.o.maxRetries || !pe.retryable) {
        // The fallback takes over at once: the clinician keeps getting text.
        this.consecutive = 0;
        return { role: 'fallback', delayMs: 0 };
      }
      return { role: 'primary', delayMs };
    }
    if (!pe.retryable || this.retries > this.o.maxRetries) return pe;
    return { role, delayMs };
  }

  private announceFailover(): void {
    if (!this.fallback) return;
    this.lastRole = 'fallback';
    this.metrics.inc('engine_failovers_total', { from: this.primary.name, to: this.fallback.name });
    this.log.warn({ from: this.primary.name, to: this.fallback.name }, 'engine_failover');
    this.so.onStatus?.({ kind: 'failover', from: this.primary.name, to: this.fallback.name });
    this.scheduleProbe();
  }

  private scheduleProbe(): void {
    this.stopProbing();
    if (this.ending || this.aborted) return;
    this.probeTimer = setTimeout(() => void this.probe(), this.o.probeIntervalMs);
    this.probeTimer.unref?.();
  }

  private stopProbing(): void {
    if (this.probeTimer) clearTimeout(this.probeTimer);
    this.probeTimer = undefined;
  }

  private async probe(): Promise<void> {
    this.probeTimer = undefined;
    if (this.ending || this.aborted || this.inner?.role !== 'fallback' || this.probed) return;
    let stream: TranscriptionStream;
    try {
      stream = await this.primary.start(this.innerOptions());
    } catch (err) {
      this.log.info({ code: asProviderError(err).code }, 'engine_probe_failed');
      this.scheduleProbe();
      return;
    }
    const inner = this.inner;
    if (this.ending || this.aborted || inner?.role !== 'fallback') {
      stream.abort();
      return;
    }
    // New audio waits in the ring while the fallback finalises what it heard; the pump then
    // returns and run() hands the ring (from the covered point) to the primary.
    this.probed = stream;
    this.live = false;
    inner.ending = true;
    inner.stream.end().catch(() => {});
  }

  /** Forwards one stream's results with session timestamps; resolves with its failure, if any. */
  private async pump(inner: Inner): Promise<unknown> {
    const prefix = `${this.so.segmentPrefix ?? ''}e${inner.epoch}-`;
    try {
      for await (const r of inner.stream) {
        if (this.aborted) return undefined;
        const startMs = r.startMs + inner.baseMs;
        const endMs = r.endMs + inner.baseMs;
        const mapped: TranscriptResult = { ...r, segmentId: prefix + r.segmentId, startMs, endMs, engine: inner.engine.name };
        if (r.kind === 'final') {
          if (endMs <= this.coveredMs + FRAME_EPSILON_MS && inner.epoch > 0 && r.text.trim() !== '') {
            this.metrics.inc('engine_duplicate_finals_dropped_total');
            continue;
          }
          this.out.push(mapped);
          this.coveredMs = Math.max(this.coveredMs, endMs);
          this.consecutive = 0;
          this.trimRing();
        } else if (endMs > this.coveredMs) this.out.push(mapped);
      }
      return undefined;
    } catch (err) {
      return err ?? new Error('engine stream failed');
    }
  }

  /** Drops frames a final has covered: the replay starts at the frame holding `coveredMs`. */
  private trimRing(): void {
    while (this.ring.length > 0) {
      const f = this.ring[0]!;
      if (f.startMs + f.pcm.length / 32 > this.coveredMs + FRAME_EPSILON_MS) break;
      this.ring.shift();
    }
  }

  private capRing(): void {
    let dropped = 0;
    while (this.ring.length > 1 && this.writtenMs - this.ring[0]!.startMs > this.o.replayMaxMs) {
      dropped += this.ring.shift()!.pcm.length / 32;
    }
    if (dropped > 0) this.metrics.inc('engine_replay_dropped_ms_total', {}, dropped);
  }

  private sleep(ms: number): Promise<void> {
    if (ms <= 0 || this.aborted) return Promise.resolve();
    return new Promise((resolve) => {
      const timer = setTimeout(done, ms);
      function done() {
        clearTimeout(timer);
        resolve();
      }
      this.wakeSleep = () => {
        this.wakeSleep = undefined;
        // An end during a backoff still needs the last audio transcribed: only abort cuts it short.
        if (this.aborted) done();
      };
    });
  }
}

function asProviderError(err: unknown): ProviderError {
  if (err instanceof ProviderError) return err;
  return new ProviderError((err as Error)?.message ?? 'engine failure', { retryable: true, code: (err as { code?: string })?.code ?? 'unknown', cause: err });
}
