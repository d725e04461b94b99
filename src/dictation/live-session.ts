/**
 * One live session: its chunk path, timers and end (the class below says how it works).
 *
 * Why this file is over 300 lines: the chunk path (`chunk` → `process` → `recording.append` → ack,
 * then `hear` → `feed` → `writeFrame`; and `gap`) and the end it must drain (`finish`, `abandon`)
 * share the queue, the ordered feed and the ledger, and stay whole in one place. What stands alone
 * lives beside it: the recording and its format (session-recording.ts), the deps
 * (live-session-deps.ts), the engine's results (session-results.ts) and the recording's part of the
 * end (session-end.ts).
 */
import type { DecodedChunk, OpusHeadInfo } from '../audio/index.js';
import { Framer, InvalidAudioError, LevelMeter, pcmMs } from '../audio/index.js';
import { AppError } from '../lib/app-error.js';
import type { Logger } from '../lib/logger.js';
import { errFields } from '../lib/logger.js';
import type { LiveSessionDeps } from './live-session-deps.js';
import { PartialFilter } from './partial-filter.js';
import { finishRecording } from './session-end.js';
import { SessionRecording } from './session-recording.js';
import { consumeResults } from './session-results.js';
import type { EndReason, SessionProblem } from './types.js';

export type { LiveSessionDeps, LiveSessionLimits } from './live-session-deps.js';

/** Longest gap a client may declare in one `audio:gap` (filled with silence in a PCM recording). */
export const MAX_GAP_MS = 10 * 60 * 1000;

const MAX_ENGINE_BACKLOG_MS = 3000;
// One level update a second per session: the page meters its own microphone locally; this is for
// other clients and the metrics. At 5/s it was 400 of the ~1,200 socket messages a second at 100 sessions.
const LEVEL_EVERY_FRAMES = 10;

/**
 * One live dictation: audio chunks in (ordered by `seq`, stored durably before they are
 * acknowledged), PCM frames to the engine, partial/final results out, segments stored as finals
 * arrive. All chunk work runs through one queue, so a stop waits for every chunk before it.
 */
export class LiveSession {
  readonly startedAt = Date.now();
  ackSeq = -1;
  audioMs = 0;
  /** Opus passthrough: the stream's OpusHead and the 48 kHz samples of its packets so far (pre-skip included). */
  private opusHead?: OpusHeadInfo;
  private opusSamples = 0;
  private backlogBytes = 0;
  private queue: Promise<unknown> = Promise.resolve();
  private readonly framer = new Framer();
  private readonly meter = new LevelMeter();
  private framesSinceLevel = 0;
  private readonly partials: PartialFilter;
  private readonly recording: SessionRecording;
  /** The engine's feed of decoded chunks not yet heard, in chunk order (see `hear`). */
  private feeding?: Promise<void>;
  /** The stream did not decode: the session is ending with invalid_audio. */
  private audioInvalid?: InvalidAudioError;
  private idleTimer?: NodeJS.Timeout;
  private readonly maxTimer: NodeJS.Timeout;
  private engineFailed?: AppError;
  private readonly consumer: Promise<void>;
  private ending?: Promise<{ durationMs: number }>;
  private endReason?: EndReason;
  /** Another task owns the session now (see `ownerTask`). */
  private fenced = false;
  private readonly log: Logger;
  /**
   * Settles (never rejects) once the recording's first open is over, opened or failed: the start
   * is acknowledged after it, so its work (row, spool, upload) is not still running on the event
   * loop while the first chunks of this and the other sessions that started with it wait for acks.
   * A failed open is retried at the first chunk, which is not acknowledged until it succeeds.
   */
  readonly recordingOpened: Promise<void>;

  constructor(private readonly d: LiveSessionDeps) {
    this.log = d.logger.child({ sessionId: d.id, transcriptionId: d.transcriptionId });
    if (d.resumeFrom) {
      this.ackSeq = d.resumeFrom.ackSeq;
      this.audioMs = d.resumeFrom.audioMs;
    }
    this.recording = new SessionRecording({
      encoding: d.decoder.encoding,
      open: d.openRecording,
      ...(d.resumeFrom?.previous ? { previous: d.resumeFrom.previous } : {}),
      notify: (p) => d.sink.error(p),
      log: this.log,
    });
    this.partials = new PartialFilter((r) => d.sink.partial({ segmentId: r.segmentId, text: r.text, startMs: r.startMs, endMs: r.endMs }));
    // The words the dead task's engine had not finalised are heard again (the engine's offset is
    // where this audio starts); the recording already holds it.
    if (d.resumeFrom?.enginePrefill) this.feed(d.resumeFrom.enginePrefill);
    this.consumer = consumeResults(
      { ...d, partials: this.partials, log: this.log },
      (failure) => {
        this.engineFailed = failure;
      },
    );
    this.armIdleTimer();
    this.maxTimer = setTimeout(() => void this.end('max_duration'), d.limits.maxSessionMs);
    // Opened at session:start, not at the first chunk (#15): 100 Opus sessions used to open their
    // rows, spools and uploads in the same second as their first acks. A failure is retried then.
    this.recordingOpened = this.recording.open().then(
      () => undefined,
      () => undefined,
    );
    d.checkpoints?.once('fenced', () => {
      this.fenced = true;
      void this.end('server_shutdown');
    });
  }

  get id(): string {
    return this.d.id;
  }
  get transcriptionId(): string {
    return this.d.transcriptionId;
  }
  get userId(): string {
    return this.d.userId;
  }
  /** The highest seq whose audio, with every earlier chunk's, survives the loss of this task. */
  get durableSeq(): number | undefined {
    return this.d.checkpoints?.durableSeq;
  }
  get ended(): boolean {
    return this.ending !== undefined;
  }

  /** Tells the session's clients something non-audio (e.g. shutdown ahead). */
  notify(p: SessionProblem): void {
    this.d.sink.error(p);
  }

  /**
   * Takes chunk `seq`. Resolves with the new ackSeq once the chunk is stored durably (duplicates
   * resolve at once). Rejects with `sequence_gap`, `audio_too_large`, `audio_backlog_exceeded`,
   * `session_ended`, `invalid_audio` (fatal: the session ends, keeping what was received) or
   * `storage_unavailable` (the chunk is not acknowledged; the client resends it).
   */
  chunk(seq: number, data: Buffer): Promise<number> {
    if (this.ending) return Promise.reject(new AppError('session_ended'));
    if (data.length > this.d.limits.maxChunkBytes) return Promise.reject(new AppError('audio_too_large'));
    if (this.backlogBytes + data.length > this.d.limits.maxBacklogBytes) return Promise.reject(new AppError('audio_backlog_exceeded', undefined, { retryable: true }));
    this.backlogBytes += data.length;
    const work = this.queue.then(() => this.process(seq, data)).finally(() => {
      this.backlogBytes -= data.length;
    });
    this.queue = work.catch(() => {});
    return work;
  }

  /**
   * The client declares chunks `fromSeq..toSeq` (`durationMs` of audio) lost for good: they are
   * marked as a `gap` segment and in the recording's `gaps`, and the ledger moves past them. For PCM
   * the recording and the engine get that much silence, so playback and transcript stay in step.
   * Resolves with the new ackSeq; `sequence_gap` unless `fromSeq` is `ackSeq + 1`.
   */
  gap(fromSeq: number, toSeq: number, durationMs: number): Promise<number> {
    if (this.ending) return Promise.reject(new AppError('session_ended'));
    const work = this.queue.then(() => this.processGap(fromSeq, toSeq, durationMs));
    this.queue = work.catch(() => {});
    return work;
  }

  private async processGap(fromSeq: number, toSeq: number, durationMs: number): Promise<number> {
    if (this.endReason) throw new AppError('session_ended');
    if (toSeq <= this.ackSeq) return this.ackSeq; // already declared or received
    if (fromSeq !== this.ackSeq + 1) throw new AppError('sequence_gap', undefined, { details: { ackSeq: this.ackSeq } });
    const ms = Math.max(0, Math.min(MAX_GAP_MS, Math.round(durationMs)));
    await this.feeding; // the gap starts where the audio heard so far ends
    const atMs = Math.round(this.audioMs);
    // PCM: the recording and the engine get the silence (whole 100 ms frames keep the engine framing aligned).
    const silences = await this.recording.silence(ms);
    for (const silence of silences) this.hear(silence);
    await this.d.repo.markGap({ transcriptionId: this.d.transcriptionId, fromSeq, toSeq, atMs, durationMs: ms, engine: this.d.engineName });
    this.ackSeq = toSeq;
    // The silence is the recording's audio for these seqs (an Opus gap has none).
    this.d.checkpoints?.add(toSeq, Buffer.concat(silences));
    this.armIdleTimer();
    this.log.warn({ fromSeq, toSeq, durationMs: ms }, 'audio_gap_declared');
    this.d.observer?.inc('audio_gap_ms_total', {}, ms);
    // A declared gap moves the ledger past audio that never arrived: written before the ack.
    this.d.progress.note(this.d.transcriptionId, this.ackSeq, this.audioMs);
    await this.d.progress.flush();
    return this.ackSeq;
  }

  private async process(seq: number, data: Buffer): Promise<number> {
    if (this.endReason || this.audioInvalid) throw new AppError('session_ended');
    if (seq <= this.ackSeq) return this.ackSeq; // a resend of something we hold
    if (seq !== this.ackSeq + 1) {
      throw new AppError('sequence_gap', undefined, { details: { ackSeq: this.ackSeq } });
    }
    let decoded: DecodedChunk<Buffer | Promise<Buffer>>;
    try {
      // Demuxing and PCM are synchronous; Opus PCM is a promise (decoded in a worker thread).
      decoded = this.d.decoder.push(data);
    } catch (err) {
      throw this.invalidAudio(err, seq);
    }
    // Handled in `hear`, which a chunk the recording refused never reaches.
    if (decoded.pcm instanceof Promise) decoded.pcm.catch(() => {});
    // Durable before ack: the chunk's PCM (WAV) or Opus packets (Ogg) are in the recording's spool.
    const checkpoint = await this.recording.append(data, decoded);
    this.ackSeq = seq;
    this.d.checkpoints?.add(seq, checkpoint);
    this.armIdleTimer();
    // Opus is acknowledged without waiting for its decoding: the engine hears it once decoded.
    if (this.d.opusPassthrough) this.passOpus(decoded);
    else this.hear(decoded.pcm);
    await this.engineCatchUp();
    this.d.progress.note(this.d.transcriptionId, this.ackSeq, this.audioMs);
    return this.ackSeq;
  }

  /**
   * The engine hears each chunk's PCM in chunk order: PCM at once (no promise on that path), Opus
   * once the worker decoded it and every earlier chunk was heard. A chunk that does not decode ends
   * the session with invalid_audio (its packets are stored and acknowledged; nothing after it is heard).
   */
  private hear(pcm: Buffer | Promise<Buffer>): void {
    if (!(pcm instanceof Promise) && !this.feeding) return this.account(pcm);
    const next = (this.feeding ?? Promise.resolve())
      .then(() => pcm)
      .then(
        (b) => {
          if (this.audioInvalid) return;
          this.account(b);
          this.d.progress.note(this.d.transcriptionId, this.ackSeq, this.audioMs);
        },
        (err: unknown) => void this.invalidAudio(err),
      );
    this.feeding = next;
    void next.then(() => {
      if (this.feeding === next) this.feeding = undefined;
    });
  }

  /** Opus to the engine as it arrived: session time from the packets, after the pre-skip (as decoding would). */
  private passOpus({ packets, head }: DecodedChunk<unknown>): void {
    if (head) this.opusHead = head;
    if (packets.length === 0 || !this.opusHead) return;
    let samples = 0;
    for (const p of packets) samples += p.samples48k;
    this.opusSamples += samples;
    this.audioMs = Math.max(0, this.opusSamples - this.opusHead.preSkip) / 48;
    if (!this.engineFailed) this.d.stream.writeOpus!(packets, this.opusHead);
  }

  private account(pcm: Buffer): void {
    this.audioMs += pcmMs(pcm.length);
    this.feed(pcm);
  }

  /** Undecodable input ends the session (fatal `invalid_audio`, keeping what was stored); returns `err`. */
  private invalidAudio(err: unknown, seq?: number): unknown {
    if (!(err instanceof InvalidAudioError) || this.audioInvalid) return err;
    this.audioInvalid = err;
    this.log.warn({ ...(seq !== undefined ? { seq } : {}), reason: err.reason }, 'invalid_audio');
    this.d.sink.error({ code: 'invalid_audio', message: err.message, fatal: true });
    void this.end('error', 'invalid_audio');
    return err;
  }

  /**
   * Throttles a client that sends faster than the engine decodes: the ack waits while more than
   * MAX_ENGINE_BACKLOG_MS is queued in the engine (until it is not, or the engine's results end).
   * The chunk is already stored; only the pace changes. No promise while under the limit (the hot path).
   */
  private async engineCatchUp(): Promise<void> {
    const s = this.d.stream;
    if (this.engineFailed || !s.whenBacklogBelow || !((s.backlogMs?.() ?? 0) > MAX_ENGINE_BACKLOG_MS)) return;
    await Promise.race([s.whenBacklogBelow(MAX_ENGINE_BACKLOG_MS), this.consumer]);
  }

  private feed(pcm: Buffer): void {
    for (const frame of this.framer.push(pcm)) this.writeFrame(frame);
  }

  private writeFrame(frame: Buffer): void {
    if (!this.engineFailed) this.d.stream.write(frame);
    const level = this.meter.update(frame);
    if (++this.framesSinceLevel >= LEVEL_EVERY_FRAMES) {
      this.framesSinceLevel = 0;
      this.d.sink.level({ dbfs: Math.round(level.smoothedDb * 10) / 10 });
    }
  }

  /**
   * The end of a session another task has claimed (this task was presumed dead and woke up): no
   * more writes to the shared record. The engine stream is cut, this task's recording part is
   * aborted (the claimer marked it `aborted` and holds the audio in its own part, from the durable
   * checkpoints plus what the client resent), the checkpoints and the transcription row are left to
   * the new owner. A client still attached here is told to move, as at a shutdown.
   */
  private async abandon(): Promise<{ durationMs: number }> {
    this.fenced = true;
    this.d.checkpoints?.close();
    this.d.stream.abort();
    await this.consumer;
    if (this.recording.started) {
      await this.recording
        .open()
        .then((w) => w.abort('another task took the session over'))
        .catch(() => {});
    }
    this.log.warn({ ackSeq: this.ackSeq }, 'session_fenced');
    this.d.sink.error({ code: 'server_shutdown', message: 'The session continues on another server.', fatal: false });
    this.d.sink.ended({ reason: 'server_shutdown' });
    return { durationMs: Math.round(this.audioMs) };
  }

  private armIdleTimer(): void {
    if (this.idleTimer) clearTimeout(this.idleTimer);
    this.idleTimer = setTimeout(() => void this.end('idle_timeout'), this.d.limits.idleTimeoutMs);
  }

  /**
   * Ends the session: waits for queued chunks, flushes the decoder, waits for the engine's last
   * final (stored), finishes the recording and the transcription row, then emits `session:ended`.
   * Idempotent: later calls get the same result.
   */
  end(reason: EndReason, failure?: string): Promise<{ durationMs: number }> {
    this.ending ??= this.finish(reason, failure);
    return this.ending;
  }

  private async finish(reason: EndReason, failure?: string): Promise<{ durationMs: number }> {
    clearTimeout(this.maxTimer);
    if (this.idleTimer) clearTimeout(this.idleTimer);
    await this.queue;
    await this.feeding;
    this.endReason = reason;
    let failureReason = failure;
    try {
      if (this.fenced || (this.d.ownerTask && !(await this.d.repo.ownedBy(this.d.transcriptionId, this.d.ownerTask).catch(() => true)))) return await this.abandon();
      let tail: Buffer = Buffer.alloc(0);
      try {
        tail = this.d.decoder.end();
      } catch {
        /* a broken stream's tail is lost; what was acknowledged is already stored */
      }
      if (tail.length > 0) this.account(tail);
      const last = this.framer.flush();
      if (last) this.writeFrame(last);

      if (!this.engineFailed) {
        await this.d.stream.end().catch((err: unknown) => {
          this.log.warn({ err: errFields(err) }, 'engine_end_failed');
        });
      } else {
        this.d.stream.abort();
      }
      await this.consumer;
      if (this.engineFailed) failureReason ??= 'transcriber_unavailable';

      let status: 'completed' | 'failed' = 'completed';
      if (this.recording.started && !(await finishRecording(() => this.recording.open(), reason, this.d, this.log))) {
        status = 'failed';
        failureReason = 'recording_not_saved';
      }
      const durationMs = Math.round(this.audioMs);
      this.d.progress.forget(this.d.transcriptionId); // the final row says it all
      if (!(await this.d.repo.finish(this.d.transcriptionId, { status, endReason: reason, durationMs, ackSeq: this.ackSeq, failureReason }, this.d.ownerTask))) {
        // Claimed by another task while this one was ending (see abandon): that task's row stands.
        this.log.warn({ reason }, 'session_fenced');
      }
      this.log.info({ reason, durationMs, status }, 'session_ended');
      this.d.sink.ended({ reason });
      return { durationMs };
    } finally {
      this.d.progress.forget(this.d.transcriptionId);
      this.d.checkpoints?.close();
      this.partials.close();
      this.d.onClosed();
    }
  }
}
