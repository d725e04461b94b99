/**
 * One live session: its chunk path, timers and end (the class below says how it works).
 *
 * Why this file is over 300 lines: the chunk path (`chunk` → `process` → `store` → `feed` →
 * `writeFrame`, and `gap`) stays whole in one place while it is tuned for the ack latency (#14).
 * What stands alone lives beside it: the deps (live-session-deps.ts), the engine's results
 * (session-results.ts) and the recording's part of the end (session-end.ts).
 */
import type { OpusHeadInfo, OpusPacket } from '../audio/index.js';
import { Framer, InvalidAudioError, LevelMeter, pcmMs } from '../audio/index.js';
import { AppError } from '../lib/app-error.js';
import type { Logger } from '../lib/logger.js';
import { errFields } from '../lib/logger.js';
import type { RecordingWriter } from '../recordings/writer.js';
import type { LiveSessionDeps } from './live-session-deps.js';
import { PartialFilter } from './partial-filter.js';
import { finishRecording } from './session-end.js';
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
  private backlogBytes = 0;
  private queue: Promise<unknown> = Promise.resolve();
  private readonly framer = new Framer();
  private readonly meter = new LevelMeter();
  private framesSinceLevel = 0;
  private readonly partials: PartialFilter;
  private recording?: RecordingWriter;
  private recordingOpening?: Promise<RecordingWriter>;
  private opusHead?: OpusHeadInfo;
  private idleTimer?: NodeJS.Timeout;
  private readonly maxTimer: NodeJS.Timeout;
  private engineFailed?: AppError;
  private readonly consumer: Promise<void>;
  private ending?: Promise<{ durationMs: number }>;
  private endReason?: EndReason;
  private storageWarned = false;
  /** Another task owns the session now (see `ownerTask`). */
  private fenced = false;
  private readonly log: Logger;

  constructor(private readonly d: LiveSessionDeps) {
    this.log = d.logger.child({ sessionId: d.id, transcriptionId: d.transcriptionId });
    if (d.resumeFrom) {
      this.ackSeq = d.resumeFrom.ackSeq;
      this.audioMs = d.resumeFrom.audioMs;
      if (d.resumeFrom.opusHead) this.opusHead = d.resumeFrom.opusHead;
    }
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
    if (d.recordingOpensImmediately) void this.ensureRecording().catch(() => {});
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
    const atMs = Math.round(this.audioMs);
    const silences: Buffer[] = [];
    if (this.d.recordingOpensImmediately && ms > 0) {
      const writer = await this.ensureRecording();
      // Whole 100 ms frames keep the engine framing aligned; a second at a time bounds memory.
      for (let left = Math.round(ms / 100) * 100; left > 0; left -= 1000) {
        const silence = Buffer.alloc(Math.min(left, 1000) * 32);
        await writer.appendPcm(silence);
        this.audioMs += pcmMs(silence.length);
        this.feed(silence);
        silences.push(silence);
      }
    }
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
    if (this.endReason) throw new AppError('session_ended');
    if (seq <= this.ackSeq) return this.ackSeq; // a resend of something we hold
    if (seq !== this.ackSeq + 1) {
      throw new AppError('sequence_gap', undefined, { details: { ackSeq: this.ackSeq } });
    }
    let pcm: Buffer;
    let packets: OpusPacket[];
    try {
      // Opus is decoded in a worker thread (a promise); PCM needs no codec and stays synchronous.
      const out = this.d.decoder.push(data);
      if (out.head) this.opusHead = out.head;
      packets = out.packets;
      pcm = out.pcm instanceof Promise ? await out.pcm : out.pcm;
    } catch (err) {
      if (err instanceof InvalidAudioError) {
        this.log.warn({ seq, reason: err.reason }, 'invalid_audio');
        this.d.sink.error({ code: 'invalid_audio', message: err.message, fatal: true });
        void this.end('error', 'invalid_audio');
        throw err;
      }
      throw err;
    }
    await this.store(pcm, packets);
    this.ackSeq = seq;
    // PCM sessions checkpoint what their WAV holds; Opus sessions the bytes as received (checkpoints.ts).
    this.d.checkpoints?.add(seq, this.d.recordingOpensImmediately ? pcm : data);
    this.audioMs += (pcm.length / 2 / 16_000) * 1000;
    this.armIdleTimer();
    this.feed(pcm);
    await this.engineCatchUp();
    this.d.progress.note(this.d.transcriptionId, this.ackSeq, this.audioMs);
    return this.ackSeq;
  }

  /**
   * Throttles a client that sends faster than the engine decodes: the ack waits while more than
   * MAX_ENGINE_BACKLOG_MS is queued in the engine. The chunk is already stored; only the pace changes.
   */
  private async engineCatchUp(): Promise<void> {
    const backlog = this.d.stream.backlogMs;
    if (!backlog) return;
    while (!this.endReason && !this.engineFailed && backlog.call(this.d.stream) > MAX_ENGINE_BACKLOG_MS) {
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  /** Durable before ack: PCM input stores the received PCM; Opus input its demuxed packets. */
  private async store(pcm: Buffer, packets: OpusPacket[]): Promise<void> {
    if (this.d.recordingOpensImmediately) {
      const writer = await this.ensureRecording();
      // Stored at the client's rate would need the raw bytes; we keep the 16 kHz PCM the
      // recording was opened with (see openRecording in the session manager).
      await writer.appendPcm(pcm);
      return;
    }
    if (packets.length === 0) return;
    if (!this.opusHead) throw new AppError('invalid_audio', 'Opus packets arrived before the OpusHead.');
    const writer = await this.ensureRecording();
    await writer.appendOpus(packets);
  }

  private ensureRecording(): Promise<RecordingWriter> {
    this.recordingOpening ??= this.d.openRecording(this.opusHead).then((w) => {
      this.recording = w;
      w.on('warning', () => {
        if (this.storageWarned) return;
        this.storageWarned = true;
        this.d.sink.error({ code: 'storage_unavailable', message: 'The recording store is unreachable; audio is kept on the server and uploaded when it returns.', fatal: false });
      });
      w.on('recovered', () => {
        this.storageWarned = false;
      });
      w.on('failed', (err) => {
        this.d.sink.error({ code: 'storage_unavailable', message: 'Failed to save audio file.', fatal: false });
        this.log.error({ code: err.code }, 'recording_failed');
      });
      return w;
    });
    this.recordingOpening.catch(() => {
      this.recordingOpening = undefined; // let the next chunk try again
    });
    return this.recordingOpening;
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
    if (this.recording || this.recordingOpening) {
      await this.ensureRecording()
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
      if (tail.length > 0) {
        this.audioMs += (tail.length / 2 / 16_000) * 1000;
        this.feed(tail);
      }
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
      if ((this.recording || this.recordingOpening) && !(await finishRecording(() => this.ensureRecording(), reason, this.d, this.log))) {
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
