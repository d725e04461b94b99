import type { CounterName, MetricsHooks } from '../lib/metrics-hooks.js';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import { WindowSamples } from './window.js';

/** Milliseconds: sub-ms acks on an idle box up to 10 s stalls. */
const ACK_BUCKETS_MS = [1, 2, 5, 10, 15, 20, 25, 30, 40, 50, 75, 100, 250, 500, 1000, 2500, 10_000];
/** Milliseconds: a caption is good under 1 s and useless after ~10 s. */
const CAPTION_BUCKETS_MS = [50, 100, 250, 500, 750, 1000, 1500, 2000, 3000, 5000, 10_000, 30_000];
const LEVEL_BUCKETS_DBFS = [-90, -70, -60, -50, -40, -30, -20, -10, -3, 0];

/** The figures of the periodic `service_metrics` log line (infra/src/monitoring.ts filters on these names). */
export interface MetricsSummary {
  liveSessions: number;
  chunkAckP99Ms: number;
  captionLatencyP95Ms: number;
  engineErrors: number;
  /** Shared dependencies (database, S3, Transcribe) the last health check found down: `/health` says `degraded`. */
  dependenciesDown: number;
}

/**
 * The service's Prometheus metrics, in a registry of its own (built in the composition root, never
 * global). Labels are closed sets (end reasons, error codes, outcomes): never ids, titles or text.
 */
export class ServiceMetrics {
  readonly registry = new Registry();
  private readonly eld: ReturnType<typeof monitorEventLoopDelay>;
  private liveCount: () => number = () => 0;
  private dependenciesDown: () => number = () => 0;
  private readonly ackWindow = new WindowSamples();
  private readonly captionWindow = new WindowSamples();
  private engineErrorsInWindow = 0;

  readonly sessionsStarted: Counter;
  readonly sessionsEnded: Counter<'reason'>;
  readonly audioSeconds: Counter;
  readonly chunkAck: Histogram;
  readonly captionLatency: Histogram;
  readonly partialLatency: Histogram;
  readonly engineReconnects: Counter;
  readonly engineErrors: Counter<'code'>;
  readonly socketErrors: Counter<'event' | 'code'>;
  readonly recordingUploads: Counter<'outcome'>;
  readonly inputLevel: Histogram;

  private readonly prefix: string;

  constructor(options: { prefix?: string } = {}) {
    const p = options.prefix ?? 'arogya_';
    this.prefix = p;
    const registers = [this.registry];
    // 10 ms resolution: cheap, and fine enough for a p99 that matters at ~50 ms.
    this.eld = monitorEventLoopDelay({ resolution: 10 });
    this.eld.enable();
    const self = this;
    new Gauge({
      name: `${p}live_sessions`,
      help: 'Live dictation sessions in this process',
      registers,
      collect() {
        this.set(self.liveCount());
      },
    });
    this.sessionsStarted = new Counter({ name: `${p}sessions_started_total`, help: 'Live sessions started', registers });
    this.sessionsEnded = new Counter({ name: `${p}sessions_ended_total`, help: 'Live sessions ended, by end reason', labelNames: ['reason'], registers });
    this.audioSeconds = new Counter({ name: `${p}audio_seconds_total`, help: 'Seconds of decoded audio fed to the speech engine', registers });
    this.chunkAck = new Histogram({
      name: `${p}chunk_ack_latency_ms`,
      help: 'audio:chunk received to its ack sent (decode, spool write, engine write), ms',
      buckets: ACK_BUCKETS_MS,
      registers,
    });
    this.captionLatency = new Histogram({
      name: `${p}caption_latency_ms`,
      help: 'Audio at a final\'s end written to the engine to the final sent to the client (engine + store + emit), ms',
      buckets: CAPTION_BUCKETS_MS,
      registers,
    });
    this.partialLatency = new Histogram({
      name: `${p}partial_latency_ms`,
      help: 'Audio at a partial\'s end written to the engine to the partial sent to the client, ms',
      buckets: CAPTION_BUCKETS_MS,
      registers,
    });
    this.engineReconnects = new Counter({ name: `${p}engine_reconnects_total`, help: 'Speech engine streams reopened after a failure', registers });
    this.engineErrors = new Counter({ name: `${p}engine_errors_total`, help: 'Speech engine failures, by provider error code', labelNames: ['code'], registers });
    this.socketErrors = new Counter({ name: `${p}socket_errors_total`, help: 'Socket.IO commands answered with an error, by event and code', labelNames: ['event', 'code'], registers });
    this.recordingUploads = new Counter({
      name: `${p}recording_uploads_total`,
      help: 'Recording uploads by outcome (completed, failed, pending after stop, warning while S3 is away)',
      labelNames: ['outcome'],
      registers,
    });
    this.inputLevel = new Histogram({ name: `${p}input_level_dbfs`, help: 'Smoothed input level of live audio, dBFS (sampled 5/s per session)', buckets: LEVEL_BUCKETS_DBFS, registers });
    const eld = this.eld;
    new Gauge({
      name: `${p}event_loop_delay_ms`,
      help: 'Event-loop delay since the previous scrape, ms, by statistic (p50, p99, max)',
      labelNames: ['stat'],
      registers,
      collect() {
        const ms = (ns: number) => (Number.isFinite(ns) ? ns / 1e6 : 0);
        this.set({ stat: 'p50' }, ms(eld.percentile(50)));
        this.set({ stat: 'p99' }, ms(eld.percentile(99)));
        this.set({ stat: 'max' }, ms(eld.max));
        eld.reset();
      },
    });
  }

  /** Where the live-session gauge reads from (the session manager, built after the registry). */
  setLiveSessions(count: () => number): void {
    this.liveCount = count;
  }

  /** Where the count of shared dependencies down reads from (the health monitor). */
  setDependenciesDown(count: () => number): void {
    this.dependenciesDown = count;
  }

  observeChunkAck(ms: number): void {
    this.chunkAck.observe(ms);
    this.ackWindow.add(ms);
  }

  observeCaption(ms: number): void {
    this.captionLatency.observe(ms);
    this.captionWindow.add(ms);
  }

  engineError(code: string): void {
    this.engineErrors.inc({ code: safeLabel(code) });
    this.engineErrorsInWindow += 1;
  }

  socketError(event: string, code: string): void {
    this.socketErrors.inc({ event: safeLabel(event), code: safeLabel(code) });
  }

  /** Figures since the previous call (the window of the periodic log line); resets the window. */
  takeSummary(): MetricsSummary {
    const s = {
      liveSessions: this.liveCount(),
      chunkAckP99Ms: round1(this.ackWindow.percentile(99)),
      captionLatencyP95Ms: round1(this.captionWindow.percentile(95)),
      engineErrors: this.engineErrorsInWindow,
      dependenciesDown: this.dependenciesDown(),
    };
    this.ackWindow.clear();
    this.captionWindow.clear();
    this.engineErrorsInWindow = 0;
    return s;
  }

  /** Prometheus text exposition. */
  render(): Promise<string> {
    return this.registry.metrics();
  }

  get contentType(): string {
    return this.registry.contentType;
  }

  close(): void {
    this.eld.disable();
  }

  /**
   * The domain's counter hooks (engine retries, failovers, resumes, gaps) as Prometheus counters,
   * `arogya_<name>`, created on first use with the label names of that use.
   */
  hooks(): MetricsHooks {
    const made = new Map<string, Counter<string>>();
    return {
      inc: (name, labels = {}, value = 1) => {
        let c = made.get(name);
        if (!c) {
          c = new Counter({ name: `${this.prefix}${name}`, help: COUNTER_HELP[name], labelNames: Object.keys(labels), registers: [this.registry] });
          made.set(name, c);
        }
        c.inc(labels, value);
        if (name === 'engine_retries_total') this.engineReconnects.inc();
      },
    };
  }
}

const COUNTER_HELP: Record<CounterName, string> = {
  engine_stream_failures_total: 'Engine streams that failed or ended before the end of audio, by engine and code',
  engine_retries_total: 'Engine streams reopened after a failure, by engine',
  engine_failovers_total: 'Sessions switched from the primary to the fallback engine',
  engine_recoveries_total: 'Sessions switched back to the primary engine',
  engine_duplicate_finals_dropped_total: 'Finals of a replacement stream dropped as already covered',
  engine_watchdog_replaced_total: 'Engine streams the watchdog replaced (speech written, no result), by engine',
  engine_idle_releases_total: 'Engine streams ended after ENGINE_IDLE_RELEASE_MS without speech (slot given back until speech resumes), by engine',
  engine_gave_up_total: 'Sessions whose engine gave up (retry budget spent, no fallback)',
  engine_replay_dropped_ms_total: 'Milliseconds of buffered audio dropped from the replay ring',
  engine_opus_decode_failures_total: 'Chunks of Opus input that did not decode for an engine that takes PCM (the fallback of a passthrough session)',
  session_resumes_total: 'Live sessions resumed, by where (local or cross_task)',
  session_grace_expired_total: 'Live sessions ended because no socket came back within the grace period',
  audio_gap_ms_total: 'Milliseconds of audio clients declared lost',
};

/** Label values come from closed sets; this keeps an unexpected value from carrying free text. */
export function safeLabel(value: string): string {
  return /^[a-z0-9_:.-]{1,48}$/i.test(value) ? value : 'other';
}

const round1 = (n: number) => Math.round(n * 10) / 10;
