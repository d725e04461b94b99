/**
 * The one wrapper that makes any engine resilient (STYLE.md): retry, reconnect, timestamp offset
 * and failover live here, not in the adapters. It implements the same port, so a live session
 * neither knows nor cares which engine, or which stream of it, produced a result.
 *
 * Why this file is over 300 lines: `ResilientStream` is one state machine (the current stream, the
 * replay ring's covered point, the idle release and the probe all read and change the same few
 * fields from the run loop, `write()` and the timers). The parts that stand alone live beside it:
 * the failover decision (failover.ts, pure), the prober (primary-prober.ts), the options
 * (resilience-options.ts) and the replay ring (replay-ring.ts).
 *
 * How it works, per session:
 * - Every PCM frame written is kept in a replay ring (replay-ring.ts) until a final covers it (capped at
 *   `replayMaxMs`). The shared audio source is never touched by a reconnect: each engine stream is
 *   fed from this ring and then from new writes.
 * - Reconnect before failover. When an open stream fails (retryable error, LimitExceeded included:
 *   mid-stream it is mostly the stream-length limit; an end nobody asked for, e.g. a silent HTTP/2
 *   drop; or the watchdog, below), a new stream of the SAME engine is opened at once and fed from
 *   the first frame not covered by a final; its timestamps are shifted by that frame's session
 *   time, so the timeline stays continuous. Further failures without a final in between back off.
 * - Failover happens only when OPENING fails: a refusal with an outage code (LimitExceeded,
 *   throttling, ServiceUnavailable: a quota refusal shows itself at open), a non-retryable error,
 *   `failoverAfter` consecutive failures, or a spent retry budget switch the session to the fallback.
 * - The watchdog ends and replaces a stream that has produced nothing for `watchdogMs` while at
 *   least a second of audio with speech energy (> -45 dBFS) was written to it (remote engines only:
 *   one that decodes in this process is slow under load, not silent).
 * - Segment ids are prefixed with a stream epoch (unique across streams); a final that ends at or
 *   before the covered position only repeats audio a previous stream already finalised and is
 *   dropped, so no final is duplicated.
 * - While on the fallback, the primary is probed by opening a stream: one probe at a time per
 *   engine wrapper (every `probeIntervalMs`, sessions in turn), and as soon as any stream of the
 *   primary opens (a probe or a new session) every session on the fallback tries it at once. The
 *   fallback is then ended gracefully (its last utterance is finalised) and the primary takes over
 *   from the covered point.
 * - Stretches of session time not transcribed by the primary (fallback text, or nothing at all) are
 *   reported through `onDegraded`, so the repair pass can re-transcribe them from the recording.
 * - Idle release: a stream that has been written no speech (> -45 dBFS) for `idleReleaseMs` is
 *   ended gracefully (its last utterance finalised) and gives its engine slot back; the session goes
 *   on recording. Audio keeps arriving in the ring, trimmed to the last second while it is silence;
 *   the first frame with speech opens a new stream of the same engine, fed from that second before
 *   it, on the same timeline. Engine capacity is small (the offline engine: 10 streams on 2 cores)
 *   and was held by silent sessions until they ended (issue 19).
 * - Opus input (`input: 'ogg-opus'`, TRANSCRIBE_AUDIO=opus): the ring keeps each chunk's Opus
 *   packets instead of PCM frames, and a primary that `acceptsOpus` gets them as they are (nothing
 *   is decoded while it serves). A stream of an engine that takes PCM (the offline fallback) gets
 *   them decoded off the event loop (src/audio/off-thread-decoder.ts), from the replayed packets on,
 *   by a decoder of its own; a stream's end waits for its last decode. Every new stream of the
 *   primary (reconnect, recovery) is a new Ogg stream, headers first. Speech, for the watchdog and
 *   the idle release, is read from the encoder's voice-activity flags ({@link opusSpeech}).
 */
import { Framer } from '../audio/framer.js';
import { rmsDbfs } from '../audio/level.js';
import { createOpusPacketDecoder, type OpusPacketDecoder } from '../audio/off-thread-decoder.js';
import { pcmMs } from '../audio/pcm.js';
import type { Logger } from '../lib/logger.js';
import { noopMetrics, type MetricsHooks } from '../lib/metrics-hooks.js';
import { asProviderError, classifyStreamEnd, decide, decideFirstOpen, NO_ATTEMPTS, type Attempts, type Phase, type Role } from './failover.js';
import { ProviderError, type OpusStreamHead, type OpusStreamPacket, type StreamOptions, type TranscriptionEngine, type TranscriptionStream, type TranscriptResult } from './port.js';
import { PrimaryProber, type ProbeTarget } from './primary-prober.js';
import { FRAME_EPSILON_MS, ReplayRing, type RingFrame } from './replay-ring.js';
import { DEFAULT_RESILIENCE, IDLE_PRE_ROLL_MS, SPEECH_DBFS, WATCHDOG_MIN_SPEECH_MS, type ResilienceOptions } from './resilience-options.js';
import { ResultQueue } from './result-queue.js';

export { DEFAULT_RESILIENCE, type ResilienceOptions } from './resilience-options.js';

/** A stretch of session time the primary did not transcribe live (fallback text, or none). */
export interface DegradedStretch {
  fromMs: number;
  toMs: number;
}

/**
 * Speech in one chunk's Opus packets, without decoding them (for the watchdog and the idle release
 * of Opus input): a SILK or hybrid packet carries the encoder's voice-activity flag as its first
 * range-coded bit (RFC 6716 §4.2.3; with the range coder's start state it is the top bit of the
 * byte after the TOC). A CELT packet carries none and counts as speech unless it is the 3-byte
 * digital silence (a stream that cannot be judged must never be released while someone speaks).
 * Measured on the shared audio through libopus at 24 and 32 kbit/s (voip and audio, 16 and 48 kHz):
 * the flag was set on 598 of 602 speech packets (> -45 dBFS) and on 4 of 250 packets of -55 dBFS
 * white noise. Packet sizes do not tell them apart: VBR spends the full rate on noise (75 vs 77
 * bytes per 20 ms at 32 kbit/s).
 */
export function opusSpeech(packets: readonly OpusStreamPacket[]): boolean {
  for (const { data } of packets) {
    const toc = data[0];
    if (toc === undefined || data.length <= 1) continue;
    const config = toc >> 3;
    const code = toc & 0x03;
    if (config >= 16) {
      if (data.length > 3) return true; // CELT: no flag
      continue;
    }
    // Code 0 (one frame) and 1 (two of equal size) start the first frame at byte 1.
    if (code > 1 || data[1]! >= 0x80) return true;
  }
  return false;
}

/**
 * Wraps `primary` (and optionally `fallback`) in the resilient stream. The wrapper's `name` is the
 * primary's; each result carries the `engine` that produced it. It `acceptsOpus` when the primary
 * does (a PCM fallback gets the Opus decoded); `decodeOpus` makes the decoder of each stream that
 * needs PCM from Opus input (default: the off-thread decoder).
 */
export function createResilientEngine(
  primary: TranscriptionEngine,
  fallback: TranscriptionEngine | undefined,
  options: Partial<ResilienceOptions>,
  logger: Logger,
  metrics: MetricsHooks = noopMetrics,
  decodeOpus: () => OpusPacketDecoder = createOpusPacketDecoder,
): TranscriptionEngine {
  const opts = { ...DEFAULT_RESILIENCE, ...options };
  const prober = new PrimaryProber(opts.probeIntervalMs);
  return {
    name: primary.name,
    ...(primary.acceptsOpus ? { acceptsOpus: true } : {}),
    async start(so: StreamOptions): Promise<TranscriptionStream> {
      if (so.input === 'ogg-opus' && !primary.acceptsOpus) throw new ProviderError(`${primary.name} takes PCM only`, { retryable: false, code: 'opus_not_enabled' });
      const s = new ResilientStream(primary, fallback, opts, so, logger.child({ sessionId: so.sessionId, component: 'resilient_engine' }), metrics, prober, decodeOpus);
      await s.open();
      return s;
    },
    check: () => primary.check(),
    async close() {
      prober.close();
      await Promise.all([primary.close(), fallback?.close()]);
    },
  };
}

interface Inner {
  stream: TranscriptionStream;
  engine: TranscriptionEngine;
  role: Role;
  epoch: number;
  /** Session ms of the first sample this stream received. */
  baseMs: number;
  /** We asked this stream to end (session end or switch back). */
  ending: boolean;
  /** Why we cut it off (the watchdog), if we did. */
  failure?: ProviderError;
  /** Wall clock of its last result (or its start), and speech written to it since, for the watchdog. */
  heardAt: number;
  speechMs: number;
  /** Ended by the idle release, at this session ms (what it had been written). */
  releasedAtMs?: number;
  /** It takes the Opus input as it is (`writeOpus`); otherwise Opus frames are decoded for it. */
  opus: boolean;
  /** Opus input decoded for a PCM stream: its decoder, the decodes in order, the 100 ms framing. */
  decoding?: { decoder: OpusPacketDecoder; chain: Promise<void>; framer: Framer };
}
class ResilientStream implements TranscriptionStream, ProbeTarget {
  private readonly out = new ResultQueue<TranscriptResult>();
  private readonly ring: ReplayRing;
  private coveredMs: number;
  private inner?: Inner;
  /** The inner stream takes writes (false while reconnecting or switching). */
  private live = false;
  private epoch = 0;
  /** Failure counters for {@link decide}. */
  private attempts: Attempts = NO_ATTEMPTS;
  private ending = false;
  private aborted = false;
  private probing = false;
  private probed?: TranscriptionStream;
  /** The role of the last stream attached: failover/recovery notices fire on a change. */
  private serving?: Role;
  /** Session ms from which the primary has not transcribed (open stretch), if any. */
  private degradedFrom?: number;
  private loop?: Promise<void>;
  /** Wall clock of the last speech written (or of the current stream's start), for the idle release. */
  private spokeAt = Date.now();
  private idleTimer?: NodeJS.Timeout;
  /** Released for idleness and waiting for speech: resolves the wait. */
  private wakeIdle?: () => void;
  /** Speech arrived while the released stream was still finishing. */
  private speechSinceRelease = false;

  constructor(
    private readonly primary: TranscriptionEngine,
    private readonly fallback: TranscriptionEngine | undefined,
    private readonly o: ResilienceOptions,
    private readonly so: StreamOptions,
    private readonly log: Logger,
    private readonly metrics: MetricsHooks,
    private readonly prober: PrimaryProber,
    private readonly decodeOpus: () => OpusPacketDecoder,
  ) {
    this.ring = new ReplayRing(so.offsetMs ?? 0);
    this.coveredMs = this.ring.writtenMs;
  }

  /** Opens the first stream: the primary, or the fallback when the primary refuses with an outage. */
  async open(): Promise<void> {
    try {
      this.inner = this.attach(await this.primary.start(this.innerOptions(this.primary)), this.primary, 'primary');
      this.prober.primaryUp();
    } catch (err) {
      const pe = asProviderError(err);
      this.metrics.inc('engine_stream_failures_total', { engine: this.primary.name, code: pe.code ?? 'unknown' });
      if (decideFirstOpen(pe, this.fallback !== undefined).action === 'give_up' || !this.fallback) throw err;
      this.degradedFrom = this.ring.writtenMs;
      this.inner = this.attach(await this.fallback.start(this.innerOptions(this.fallback)), this.fallback, 'fallback');
    }
    this.live = true;
    this.loop = this.run();
  }

  [Symbol.asyncIterator](): AsyncIterator<TranscriptResult> {
    return this.out[Symbol.asyncIterator]();
  }

  /** Keeps `frame` itself in the replay ring: the port's contract says the caller never changes it. */
  write(frame: Buffer): void {
    if (this.ending || this.aborted || frame.length === 0) return;
    const speech = (this.o.watchdogMs > 0 || this.o.idleReleaseMs > 0) && rmsDbfs(frame) > SPEECH_DBFS;
    this.ring.push(frame, speech);
    this.capRing();
    this.noteSpeech(speech);
    const inner = this.inner;
    if (this.live && inner) {
      inner.stream.write(frame);
      if (speech) inner.speechMs += pcmMs(frame.length);
      this.watchdog(inner);
    }
  }

  /** Opus input: keeps the packets themselves in the replay ring (the caller never changes them). */
  writeOpus(packets: readonly OpusStreamPacket[], head: OpusStreamHead): void {
    if (this.ending || this.aborted || packets.length === 0) return;
    let samples = 0;
    for (const p of packets) samples += p.samples48k;
    const speech = opusSpeech(packets);
    const frame = this.ring.pushOpus(packets, head, samples / 48, speech);
    this.capRing();
    this.noteSpeech(speech);
    const inner = this.inner;
    if (this.live && inner) {
      this.send(inner, frame);
      if (speech) inner.speechMs += frame.ms;
      this.watchdog(inner);
    }
  }

  /** What a written frame tells the idle release: speech wakes a released stream, silence trims its ring. */
  private noteSpeech(speech: boolean): void {
    if (speech) {
      this.spokeAt = Date.now();
      if (this.released) {
        this.speechSinceRelease = true;
        this.wakeIdle?.();
      }
    } else if (this.released && !this.speechSinceRelease && !this.inner) this.trimSilence();
  }

  /** One ring frame to a stream: as it is, or (Opus to a PCM engine) decoded, in order, off-thread. */
  private send(inner: Inner, f: RingFrame): void {
    if (f.pcm) {
      inner.stream.write(f.pcm);
      return;
    }
    if (inner.opus) {
      inner.stream.writeOpus!(f.opus.packets, f.opus.head);
      return;
    }
    const d = (inner.decoding ??= { decoder: this.decodeOpus(), chain: Promise.resolve(), framer: new Framer() });
    const pending = d.decoder.decode(f.opus.packets.map((p) => p.data));
    d.chain = d.chain
      .then(() => pending)
      .then((pcm) => {
        if (this.aborted) return;
        for (const frame of d.framer.push(pcm)) inner.stream.write(frame);
      })
      .catch((err: unknown) => {
        // Packets the recording took are decodable; a failure here loses this chunk's text only.
        this.metrics.inc('engine_opus_decode_failures_total');
        this.log.warn({ engine: inner.engine.name, code: (err as { code?: string })?.code ?? 'unknown' }, 'engine_opus_decode_failed');
      });
  }

  /** Ends a stream once the Opus decoded for it (if any) is written. */
  private endInner(inner: Inner): Promise<void> {
    const d = inner.decoding;
    if (!d) return inner.stream.end();
    return d.chain.then(() => {
      const rest = d.framer.flush();
      if (rest && !this.aborted) inner.stream.write(rest);
      return inner.stream.end();
    });
  }

  /** Frees a finished stream's Opus decoder (once its decodes are done). */
  private freeDecoder(inner: Inner): void {
    const d = inner.decoding;
    if (!d) return;
    inner.decoding = undefined;
    void d.chain.finally(() => d.decoder.close());
  }

  /** The current inner stream's queue (the offline engine's), so the session can pace acks. */
  backlogMs(): number {
    return this.inner?.stream.backlogMs?.() ?? 0;
  }

  /** Waits on the current inner stream's backlog; a stream replaced meanwhile is waited on in turn. */
  async whenBacklogBelow(ms: number): Promise<void> {
    for (;;) {
      const inner = this.inner;
      if (!inner?.stream.whenBacklogBelow || this.ending || this.aborted) return;
      await inner.stream.whenBacklogBelow(ms);
      if (this.inner === inner) return;
    }
  }

  async end(): Promise<void> {
    if (!this.ending && !this.aborted) {
      this.ending = true;
      this.stopIdleTimer();
      this.wakeIdle?.();
      this.prober.remove(this);
      if (this.live && this.inner && !this.inner.ending) {
        this.inner.ending = true;
        this.endInner(this.inner).catch(() => {}); // a failure shows in the pump, which retries
      }
    }
    await this.out.settled();
  }

  abort(reason?: Error): void {
    if (this.aborted) return;
    this.aborted = true;
    this.stopIdleTimer();
    this.wakeIdle?.();
    this.prober.remove(this);
    this.inner?.stream.abort(reason);
    if (this.inner) this.freeDecoder(this.inner);
    this.probed?.abort(reason);
    this.out.abort();
    this.wakeSleep?.();
  }

  /** The options of a stream of `engine`: Opus input goes as Opus only to an engine that takes it. */
  private innerOptions(engine: TranscriptionEngine): StreamOptions {
    const { onStatus: _s, offsetMs: _o, segmentPrefix: _p, onDegraded: _d, input: _i, ...rest } = this.so;
    return this.so.input === 'ogg-opus' && engine.acceptsOpus ? { ...rest, input: 'ogg-opus' } : rest;
  }

  /** Feeds a new stream the uncovered audio and makes it current. */
  private attach(stream: TranscriptionStream, engine: TranscriptionEngine, role: Role): Inner {
    const baseMs = this.ring.startMs;
    const opus = this.so.input === 'ogg-opus' && engine.acceptsOpus === true;
    const inner: Inner = { stream, engine, role, epoch: this.epoch++, baseMs, ending: false, heardAt: Date.now(), speechMs: 0, opus };
    for (const f of this.ring) {
      this.send(inner, f);
      if (f.speech) inner.speechMs += f.ms;
    }
    if (this.ending) {
      inner.ending = true;
      this.endInner(inner).catch(() => {});
    }
    if (role === 'primary') {
      this.prober.remove(this);
      this.closeDegraded(baseMs);
      if (this.serving === 'fallback') {
        this.metrics.inc('engine_recoveries_total', { engine: this.primary.name });
        this.log.info({ engine: this.primary.name }, 'engine_recovered');
        this.so.onStatus?.({ kind: 'recovered', engine: this.primary.name });
      }
    } else {
      if (this.serving !== 'fallback') this.announceFailover();
      if (!this.ending) this.prober.add(this);
    }
    this.serving = role;
    this.released = false;
    this.speechSinceRelease = false;
    this.spokeAt = Date.now();
    this.armIdleTimer();
    return inner;
  }

  private async run(): Promise<void> {
    /** What to open next, or why to stop (the last failure). */
    let next: { role: Role; delayMs: number } | ProviderError | undefined;
    /** The next open follows an idle release, not a failure (not counted as a retry). */
    let afterIdle = false;
    for (;;) {
      if (this.inner) {
        const inner = this.inner;
        const err = await this.pump(inner);
        this.freeDecoder(inner);
        if (this.aborted) return;
        this.live = false;
        this.inner = undefined;
        const end = classifyStreamEnd({ error: err, probed: this.probed !== undefined, idleReleased: inner.releasedAtMs !== undefined, endAsked: inner.ending, cutOff: inner.failure });
        if (end.kind === 'switch_to_primary') {
          // The primary answered a probe and the fallback finished its last utterance: switch back.
          const stream = this.probed!;
          this.probed = undefined;
          this.inner = this.attach(stream, this.primary, 'primary');
          this.live = true;
          this.attempts = { ...this.attempts, consecutive: 0 };
          continue;
        }
        if (end.kind === 'idle') {
          // Released for idleness and finished cleanly: everything it was written is transcribed.
          this.coveredMs = Math.max(this.coveredMs, inner.releasedAtMs!);
          this.trimRing();
          if (!this.speechSinceRelease) this.trimSilence();
          if (!(await this.waitForSpeech())) {
            if (this.aborted) return;
            // The session ended in silence: nothing is left to transcribe.
            this.finish();
            return;
          }
          next = { role: inner.role, delayMs: 0 };
          this.attempts = { ...this.attempts, consecutive: 0 };
          afterIdle = true;
        } else if (end.kind === 'finished') {
          this.finish();
          return;
        } else {
          const pe = end.error;
          this.metrics.inc('engine_stream_failures_total', { engine: inner.engine.name, code: pe.code ?? 'unknown' });
          this.log.warn({ engine: inner.engine.name, code: pe.code, retryable: pe.retryable }, 'engine_stream_failed');
          if (inner.role === 'primary') this.degradedFrom ??= this.coveredMs;
          next = this.nextAfter(inner.role, pe, end.phase);
        }
      }
      if (next === undefined) return; // unreachable: the first stream is opened by open()
      if (next instanceof Error) {
        this.prober.remove(this);
        this.closeDegraded(this.ring.writtenMs);
        this.metrics.inc('engine_gave_up_total', { engine: this.primary.name });
        this.log.warn({ code: next.code, retries: this.attempts.retries }, 'engine_gave_up');
        this.out.fail(next);
        return;
      }
      await this.sleep(next.delayMs);
      if (this.aborted) return;
      const engine = next.role === 'primary' ? this.primary : this.fallback!;
      const retry = !afterIdle;
      afterIdle = false;
      try {
        const stream = await engine.start(this.innerOptions(engine));
        if (this.aborted) {
          stream.abort();
          return;
        }
        this.inner = this.attach(stream, engine, next.role);
        this.live = true;
        if (retry) this.metrics.inc('engine_retries_total', { engine: engine.name });
        if (next.role === 'primary') this.prober.primaryUp(this);
      } catch (e) {
        const pe = asProviderError(e);
        this.metrics.inc('engine_stream_failures_total', { engine: engine.name, code: pe.code ?? 'unknown' });
        this.log.warn({ engine: engine.name, code: pe.code, retryable: pe.retryable }, 'engine_start_failed');
        if (next.role === 'primary') this.degradedFrom ??= this.coveredMs;
        next = this.nextAfter(next.role, pe, 'open');
      }
    }
  }

  /** The results are complete: closes the output after reporting any open degraded stretch. */
  private finish(): void {
    this.prober.remove(this);
    this.closeDegraded(this.ring.writtenMs);
    this.out.close();
  }

  /** Asks {@link decide} what follows `pe` and keeps its counters: the engine to open next, or the error to give up with. */
  private nextAfter(role: Role, pe: ProviderError, phase: Phase): { role: Role; delayMs: number } | ProviderError {
    const failure = { role, phase, retryable: pe.retryable, ...(pe.code === undefined ? {} : { code: pe.code }) };
    const { decision, attempts } = decide(failure, this.attempts, { hasFallback: this.fallback !== undefined, ending: this.ending, now: Date.now() }, this.o);
    this.attempts = attempts;
    return decision.action === 'give_up' ? pe : decision;
  }

  private announceFailover(): void {
    if (!this.fallback) return;
    this.metrics.inc('engine_failovers_total', { from: this.primary.name, to: this.fallback.name });
    this.log.warn({ from: this.primary.name, to: this.fallback.name }, 'engine_failover');
    this.so.onStatus?.({ kind: 'failover', from: this.primary.name, to: this.fallback.name });
  }

  /** Reports the open degraded stretch as ending at `toMs` (where the primary took over, or the end). */
  private closeDegraded(toMs: number): void {
    const fromMs = this.degradedFrom;
    if (fromMs === undefined) return;
    this.degradedFrom = undefined;
    if (toMs - fromMs <= FRAME_EPSILON_MS) return;
    this.log.info({ fromMs: Math.round(fromMs), toMs: Math.round(toMs) }, 'engine_degraded_stretch');
    this.so.onDegraded?.({ fromMs: Math.round(fromMs), toMs: Math.round(toMs) });
  }

  /** Tries the primary while on the fallback (called by the prober); true when a stream of it opened. */
  async probe(): Promise<boolean> {
    if (this.ending || this.aborted || this.released || this.inner?.role !== 'fallback' || this.probed || this.probing) return false;
    this.probing = true;
    let stream: TranscriptionStream;
    try {
      stream = await this.primary.start(this.innerOptions(this.primary));
    } catch (err) {
      this.log.info({ code: asProviderError(err).code }, 'engine_probe_failed');
      return false;
    } finally {
      this.probing = false;
    }
    const inner = this.inner;
    if (this.ending || this.aborted || inner?.role !== 'fallback' || this.probed) {
      stream.abort();
      return true;
    }
    // New audio waits in the ring while the fallback finalises what it heard; the pump then
    // returns and run() hands the ring (from the covered point) to the primary.
    this.prober.remove(this);
    this.probed = stream;
    this.live = false;
    inner.ending = true;
    this.endInner(inner).catch(() => {});
    return true;
  }

  /** Released for idleness (see the header) and not yet reopened. */
  private released = false;

  private armIdleTimer(): void {
    this.stopIdleTimer();
    if (this.o.idleReleaseMs <= 0 || this.ending || this.aborted) return;
    this.idleTimer = setTimeout(() => this.checkIdle(), Math.max(0, this.spokeAt + this.o.idleReleaseMs - Date.now()));
    this.idleTimer.unref?.();
  }

  private stopIdleTimer(): void {
    if (this.idleTimer) clearTimeout(this.idleTimer);
    this.idleTimer = undefined;
  }

  /** Ends the current stream gracefully when no speech was written to it for `idleReleaseMs`. */
  private checkIdle(): void {
    this.idleTimer = undefined;
    const inner = this.inner;
    // Not live: reconnecting or switching; attach() arms the timer again.
    if (!inner || !this.live || inner.ending || this.ending || this.aborted) return;
    const silentMs = Date.now() - this.spokeAt;
    if (silentMs < this.o.idleReleaseMs) return this.armIdleTimer();
    inner.releasedAtMs = this.ring.writtenMs;
    inner.ending = true;
    this.released = true;
    this.live = false;
    this.prober.remove(this);
    this.metrics.inc('engine_idle_releases_total', { engine: inner.engine.name });
    this.log.info({ engine: inner.engine.name, silentMs }, 'engine_stream_idle_released');
    this.endInner(inner).catch(() => {}); // a failure shows in the pump, which reconnects
  }

  /** Resolves true when speech arrives after an idle release; false when the session ends first. */
  private waitForSpeech(): Promise<boolean> {
    if (this.speechSinceRelease || this.ending || this.aborted) return Promise.resolve(this.speechSinceRelease && !this.aborted);
    return new Promise((resolve) => {
      this.wakeIdle = () => {
        this.wakeIdle = undefined;
        resolve(this.speechSinceRelease && !this.aborted);
      };
    });
  }

  /** While released and silent: only the last {@link IDLE_PRE_ROLL_MS} of audio is kept for the reopen. */
  private trimSilence(): void {
    this.ring.keepLast(IDLE_PRE_ROLL_MS);
  }

  /** Ends and replaces a stream that hears speech but says nothing (see the header). */
  private watchdog(inner: Inner): void {
    if (this.o.watchdogMs <= 0 || inner.ending || inner.failure || inner.speechMs < WATCHDOG_MIN_SPEECH_MS) return;
    // An engine that decodes in this process (it reports a backlog: the offline one) is slow when
    // the CPU is short, not dead, and replacing it would replay the whole ring into it: exempt.
    // Measured: a CPU-starved offline fallback said nothing for 10 s with a 4 s backlog; the
    // replacement's replay then held the session's acks until the client gave up.
    if (inner.stream.backlogMs) return;
    if (Date.now() - inner.heardAt < this.o.watchdogMs) return;
    inner.failure = new ProviderError(`no result for ${this.o.watchdogMs} ms of speech`, { retryable: true, code: 'stream_stalled' });
    this.metrics.inc('engine_watchdog_replaced_total', { engine: inner.engine.name });
    this.log.warn({ engine: inner.engine.name, speechMs: Math.round(inner.speechMs) }, 'engine_stream_stalled');
    this.live = false;
    inner.stream.abort(inner.failure);
  }

  /** Forwards one stream's results with session timestamps; resolves with its failure, if any. */
  private async pump(inner: Inner): Promise<unknown> {
    const prefix = `${this.so.segmentPrefix ?? ''}e${inner.epoch}-`;
    try {
      for await (const r of inner.stream) {
        if (this.aborted) return undefined;
        inner.heardAt = Date.now();
        inner.speechMs = 0;
        const startMs = r.startMs + inner.baseMs;
        const endMs = r.endMs + inner.baseMs;
        const mapped: TranscriptResult = { ...r, segmentId: prefix + r.segmentId, startMs, endMs, engine: inner.engine.name };
        // Word and PHI times move onto the session timeline with their result.
        if (r.words) mapped.words = r.words.map((w) => ({ ...w, startMs: w.startMs + inner.baseMs, endMs: w.endMs + inner.baseMs }));
        if (r.phi) mapped.phi = r.phi.map((p) => ({ ...p, startMs: p.startMs + inner.baseMs, endMs: p.endMs + inner.baseMs }));
        if (r.kind === 'final') {
          if (endMs <= this.coveredMs + FRAME_EPSILON_MS && inner.epoch > 0 && r.text.trim() !== '') {
            this.metrics.inc('engine_duplicate_finals_dropped_total');
            continue;
          }
          this.out.push(mapped);
          this.coveredMs = Math.max(this.coveredMs, endMs);
          this.attempts = { ...this.attempts, consecutive: 0 };
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
    this.ring.dropCovered(this.coveredMs);
  }

  private capRing(): void {
    const dropped = this.ring.keepLast(this.o.replayMaxMs);
    if (dropped > 0) this.metrics.inc('engine_replay_dropped_ms_total', {}, dropped);
  }

  private wakeSleep?: () => void;

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
