// Over 300 lines on purpose: RecordingWriter is one state machine (spool part → upload queue →
// finish, with retries, the storage-down warning and abort) whose fields every step shares; what
// stands alone is already out: object-store calls and part bodies in multipart.ts, the spool in
// spool.ts, Ogg muxing in ogg-opus.ts, retries in retry.ts.
import { EventEmitter } from 'node:events';
import fs from 'node:fs/promises';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import type { RecordingFormat, RecordingsRepository, UploadedPart } from '../db/recordings-repository.js';
import { AppError } from '../lib/app-error.js';
import type { Logger } from '../lib/logger.js';
import type { Semaphore } from '../lib/semaphore.js';
import type { ObjectStore } from '../storage/object-store.js';
import { abortUpload, completeUpload, createUpload, inspectObject, partBody, uploadPart, type ObjectFacts } from './multipart.js';
import { OggOpusWriter, type OpusPacket, type OpusParams } from '../audio/ogg-opus.js';
import { PermanentError, withRetry, type RetryPolicy } from './retry.js';
import { partFileName, readSpoolPart, SpoolPartWriter } from './spool.js';
import { WAV_HEADER_BYTES } from './wav.js';

/** `warning`: recording while S3 is unreachable (the spool holds the audio; uploads are retried). */
export type WriterState = 'recording' | 'warning' | 'finishing' | 'completed' | 'failed' | 'aborted';

export interface WriterStatus {
  state: WriterState;
  /** Audio received so far, in ms. */
  durationMs: number;
  /** Payload bytes appended (container overhead included for Ogg). */
  bytesAppended: number;
  /** Parts confirmed by S3. */
  partsUploaded: number;
  /** Sealed parts waiting for S3. */
  partsPending: number;
}

export interface FinishResult {
  /**
   * `pending`: S3 is still away after `timeoutMs`; the spool keeps everything and the upload goes on.
   * `empty`: no audio was ever appended; the upload was aborted and nothing is stored.
   */
  state: 'completed' | 'pending' | 'empty';
  objectKey: string;
  contentType: string;
  bytes?: number;
  durationMs?: number;
  sha256?: string;
  /** From finish() being called to the last part(s) being confirmed by S3. */
  stopToLastPartMs?: number;
  /** From finish() being called to CompleteMultipartUpload answering. */
  stopToCompleteMs?: number;
  /** From finish() being called to the metadata being stored (read-back check included). */
  stopToStoredMs?: number;
}

export interface WriterEvents {
  /** S3 is failing; the writer keeps spooling and retrying. Show a warning, not an error. */
  warning: [{ code: 'storage_unavailable'; attempt: number; retryInMs: number }];
  /** S3 answered again after a warning. */
  recovered: [];
  /** Terminal: the recording cannot be saved. */
  failed: [AppError];
  /** The object is complete and its metadata stored. */
  completed: [FinishResult];
}

export interface WriterDeps {
  repo: RecordingsRepository;
  store: ObjectStore;
  logger: Logger;
  partSize: number;
  retry: RetryPolicy;
  fsync: boolean;
  /**
   * Slots for part uploads, shared by every writer of the process: reading a part from the spool,
   * building its body and sending it hold one slot, so parts in memory stay bounded however many
   * recordings stop at once.
   */
  uploads: Semaphore;
  onSettled: () => void;
  /** Called (not awaited) once the row is marked completed. */
  onStored?: () => void;
}

/**
 * One live recording: appends go to a spool file first (durable against a crash of this process
 * before the caller acknowledges the chunk), full parts go to S3 in the background with retries,
 * and `finish()` only has the last part (and, for WAV, the header part) left to send.
 */
export class RecordingWriter extends EventEmitter<WriterEvents> {
  private stateValue: Exclude<WriterState, 'warning'> = 'recording';
  /** True between a failed storage call and the next successful one. */
  private storageDown = false;
  private current: SpoolPartWriter | undefined;
  private currentBodyBytes = 0;
  private partNumber = 0;
  private readonly queue: number[] = [];
  private readonly uploaded = new Map<number, UploadedPart>();
  private uploadId: string | null = null;
  private uploading: Promise<void> | undefined;
  private chain: Promise<unknown> = Promise.resolve();
  private readonly abortController = new AbortController();
  private bytesAppended = 0;
  private samples48k = 0n;
  private preSkip: number;
  private pcmBytes = 0;
  private ogg: OggOpusWriter | undefined;
  private fatal: AppError | undefined;
  private readonly log: Logger;

  constructor(
    readonly recordingId: string,
    readonly transcriptionId: string,
    readonly objectKey: string,
    readonly format: RecordingFormat,
    readonly contentType: string,
    private readonly spoolDir: string,
    private readonly deps: WriterDeps,
    opus?: OpusParams,
  ) {
    super();
    this.log = deps.logger.child({ recordingId, transcriptionId });
    this.preSkip = opus?.preSkip ?? 0;
    if (format.container === 'ogg' && opus) this.ogg = new OggOpusWriter(opus, Number.parseInt(recordingId.slice(0, 8), 16));
    // 'failed' is an ordinary event (not 'error'), so a writer without listeners never throws from emit.
  }

  /**
   * Creates the first spool part and writes the container's leading bytes (Ogg header pages, when
   * the OpusHead is known), and starts the upload. The part is created here, at the open, not by the
   * first append: a live session opens its recording before its start is acknowledged, and 100 files
   * created by the first chunks of 100 sessions that started together held their acks (BENCHMARKS.md).
   */
  async start(): Promise<void> {
    if (this.ogg) await this.appendPayload(this.ogg.headers());
    else await this.spooling(() => this.rollPart());
    this.kickUploads();
  }

  /**
   * An Ogg recording opened before its stream's OpusHead was known (a live session opens it at
   * `session:start`; the head comes with the first audio): writes the Ogg header pages now, before
   * any packet. A head after the first is ignored (the stream has one). Rejects with
   * `unsupported_audio_format` for a head the Ogg mapping cannot hold, `storage_unavailable` like
   * {@link appendOpus}.
   */
  setOpusHead(opus: OpusParams): Promise<void> {
    if (this.format.container !== 'ogg') return Promise.reject(new AppError('invalid_payload', 'This recording takes PCM.'));
    if (this.ogg) return Promise.resolve();
    if (!isSupportedOpusHead(opus)) return Promise.reject(new AppError('unsupported_audio_format', 'Only mono or stereo Opus is supported.'));
    const ogg = new OggOpusWriter(opus, Number.parseInt(this.recordingId.slice(0, 8), 16));
    this.ogg = ogg;
    this.preSkip = opus.preSkip;
    return this.serialised(() => this.appendPayload(ogg.headers()));
  }

  status(): WriterStatus {
    const durationMs =
      this.format.container === 'wav'
        ? Math.round((this.pcmBytes * 1000) / (2 * (this.format.sampleRate ?? 16000)))
        : Number(((this.samples48k - BigInt(this.preSkip)) * 1000n) / 48000n);
    return {
      state: this.stateValue === 'recording' && this.storageDown ? 'warning' : this.stateValue,
      durationMs,
      bytesAppended: this.bytesAppended,
      partsUploaded: this.uploaded.size,
      partsPending: this.queue.length,
    };
  }

  /**
   * Appends 16-bit little-endian mono PCM at the sample rate given to `open`. Resolves when the
   * bytes are in the spool; only then may the chunk be acknowledged. Rejects with
   * `storage_unavailable` when the spool cannot be written (the chunk must not be acknowledged).
   */
  appendPcm(pcm: Buffer): Promise<void> {
    if (this.format.container !== 'wav') return Promise.reject(new AppError('invalid_payload', 'This recording takes Opus packets.'));
    if (pcm.length % 2 !== 0) return Promise.reject(new AppError('invalid_audio', 'PCM chunks must hold whole 16-bit samples.'));
    return this.serialised(async () => {
      await this.appendPayload(pcm);
      this.pcmBytes += pcm.length;
    });
  }

  /**
   * Appends the Opus packets demuxed from one received chunk, in order, as whole Ogg pages.
   * Same durability contract as {@link appendPcm}.
   */
  appendOpus(packets: readonly OpusPacket[]): Promise<void> {
    if (this.format.container !== 'ogg') return Promise.reject(new AppError('invalid_payload', 'This recording takes PCM.'));
    if (packets.length === 0) return Promise.resolve();
    const ogg = this.ogg;
    if (!ogg) return Promise.reject(new AppError('invalid_audio', 'Opus packets arrived before the OpusHead.'));
    if (packets.some((p) => p.data.length === 0 || !Number.isInteger(p.samples48k) || p.samples48k <= 0 || p.samples48k > 5760)) {
      return Promise.reject(new AppError('invalid_audio', 'An Opus packet is empty or has an impossible duration.'));
    }
    return this.serialised(async () => {
      // Page sequence and granule advance only if the append succeeds: a failed append leaves
      // the writer failed anyway.
      await this.appendPayload(ogg.packets(packets));
      this.samples48k = ogg.granulePosition;
    });
  }

  /** One packet: `appendOpus([{ data, samples48k }])`. */
  appendOpusPacket(data: Uint8Array, samples48k: number): Promise<void> {
    return this.appendOpus([{ data, samples48k }]);
  }

  /**
   * Ends the recording: sends what is left, completes the multipart upload, reads the object back
   * and stores bytes/duration/sha256 with upload_state `completed`, then deletes the spool.
   * With `timeoutMs`, resolves `{ state: 'pending' }` if S3 is still away by then; the work
   * continues in the background (and `recoverUnfinished` at the next start finishes it if this
   * process dies first). Rejects with `storage_unavailable` only if the recording cannot be saved.
   */
  async finish(options: { timeoutMs?: number } = {}): Promise<FinishResult> {
    const t0 = performance.now();
    await this.serialised(async () => {
      if (this.current) await this.current.close();
      this.current = undefined;
      this.stateValue = 'finishing';
    });
    const work = this.completeAll(t0);
    work.catch(() => undefined);
    if (options.timeoutMs === undefined) return work;
    const cancelTimer = new AbortController();
    const timer = sleep(options.timeoutMs, 'timeout' as const, { signal: cancelTimer.signal }).catch(() => 'timeout' as const);
    const winner = await Promise.race([work, timer]).finally(() => cancelTimer.abort());
    if (winner === 'timeout') {
      this.log.warn('recording_upload_continues');
      return { state: 'pending', objectKey: this.objectKey, contentType: this.contentType };
    }
    return winner;
  }

  /** Discards the recording: aborts the multipart upload and deletes the spool. */
  async abort(reason: string): Promise<void> {
    await this.serialised(async () => {
      if (this.current) await this.current.close();
      this.current = undefined;
    }).catch(() => undefined);
    this.abortController.abort();
    await this.uploading;
    if (this.uploadId) {
      await abortUpload(this.deps.store, this.objectKey, this.uploadId).catch((err: unknown) => this.log.warn({ err }, 'multipart_abort_failed'));
    }
    await this.deps.repo.setState(this.recordingId, 'aborted', reason);
    await fs.rm(this.spoolDir, { recursive: true, force: true });
    this.stateValue = 'aborted';
    this.deps.onSettled();
  }

  /** Stops retrying (server shutdown); the spool stays for recovery. */
  detach(): void {
    this.abortController.abort();
  }

  private serialised<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.chain.then(() => {
      if (this.fatal) throw this.fatal;
      return fn();
    });
    this.chain = run.catch(() => undefined);
    return run;
  }

  private async appendPayload(payload: Buffer): Promise<void> {
    if (this.stateValue !== 'recording') throw new AppError('session_ended', 'The recording is no longer open.');
    await this.spooling(async () => {
      // Parts are sealed lazily, at the next append, so the part being filled always holds the
      // latest audio (finish then has exactly one data part to send).
      if (!this.current || this.currentBodyBytes >= this.deps.partSize) await this.rollPart();
      await this.current!.append(payload);
    });
    this.currentBodyBytes += payload.length;
    this.bytesAppended += payload.length;
  }

  /** Runs spool work; a failure fails the recording with `storage_unavailable`. */
  private async spooling(work: () => Promise<void>): Promise<void> {
    try {
      await work();
    } catch (err) {
      throw this.failWith(new AppError('storage_unavailable', 'The recording could not be written to local storage.', { cause: err }));
    }
  }

  private async rollPart(): Promise<void> {
    if (this.current) {
      await this.current.close();
      // WAV: part 1 carries the header, whose sizes are known only at the end; it stays spooled.
      if (!(this.format.container === 'wav' && this.current.partNumber === 1)) {
        this.queue.push(this.current.partNumber);
        this.kickUploads();
      }
    }
    this.partNumber++;
    this.current = await SpoolPartWriter.create(this.spoolDir, this.partNumber, this.deps.fsync);
    this.currentBodyBytes = this.format.container === 'wav' && this.partNumber === 1 ? WAV_HEADER_BYTES : 0;
  }

  private kickUploads(): void {
    if (this.uploading || this.abortController.signal.aborted) return;
    this.uploading = this.drainQueue()
      .catch((err: unknown) => {
        if (!this.abortController.signal.aborted) this.failWith(new AppError('storage_unavailable', 'The recording cannot be saved.', { cause: err }));
      })
      .finally(() => {
        this.uploading = undefined;
        if (this.queue.length > 0 && !this.fatal) this.kickUploads();
      });
  }

  private async drainQueue(): Promise<void> {
    await this.ensureUpload();
    while (this.queue.length > 0 && !this.abortController.signal.aborted) {
      const n = this.queue[0]!;
      await this.sendPart(n, { isLast: false, wavDataBytes: 0 });
      this.queue.shift();
    }
  }

  private async ensureUpload(): Promise<string> {
    if (this.uploadId) return this.uploadId;
    const uploadId = await this.retry(() => createUpload(this.deps.store, this.objectKey, this.contentType));
    await this.retry(() => this.deps.repo.setUploadId(this.recordingId, uploadId));
    this.uploadId = uploadId;
    return uploadId;
  }

  private async sendPart(n: number, o: { isLast: boolean; wavDataBytes: number }): Promise<void> {
    const uploadId = await this.ensureUpload();
    const file = path.join(this.spoolDir, partFileName(n));
    // One upload slot per attempt, not around the retries: a part waiting out a backoff holds
    // neither a slot nor its bytes (during an outage every writer would otherwise keep a part in
    // memory), and the slot is never held while waiting for anything but this one request.
    const part = await this.retry(() =>
      this.deps.uploads.run(async () => uploadPart(this.deps.store, this.objectKey, uploadId, n, await this.readPartBody(file, n, o)), this.abortController.signal),
    );
    // Journal the confirmed part before deleting its only local copy.
    await this.retry(() => this.deps.repo.addPart(this.recordingId, part));
    this.uploaded.set(n, part);
    await fs.rm(file, { force: true });
  }

  /** The bytes of part `n` from the spool. Throws non-retryable errors: a spool that cannot be read will not heal. */
  private async readPartBody(file: string, n: number, o: { isLast: boolean; wavDataBytes: number }): Promise<Buffer> {
    let read;
    try {
      read = await readSpoolPart(file);
    } catch (err) {
      if (err instanceof PermanentError) throw err;
      throw new PermanentError(`spool part ${n} could not be read`, { cause: err });
    }
    if (read.tornBytes > 0) throw new PermanentError(`spool part ${n} has a torn record`);
    return partBody(this.format, n, read.payload, o);
  }

  private async completeAll(t0: number): Promise<FinishResult> {
    try {
      await this.retry(() => this.deps.repo.setState(this.recordingId, 'completing'));
      while (this.uploading) await this.uploading;
      if (this.fatal) throw this.fatal;
      await this.drainQueue();
      const last = this.partNumber;
      if (last === 0 || (this.format.container === 'wav' && this.pcmBytes === 0)) return await this.discardEmpty();
      const wavDataBytes = this.pcmBytes;
      const finals = this.format.container === 'wav' && last > 1 ? [1, last] : [last];
      await Promise.all(finals.map((n) => this.sendPart(n, { isLast: n === last, wavDataBytes })));
      const stopToLastPartMs = performance.now() - t0;
      const uploadId = await this.ensureUpload();
      const parts = [...this.uploaded.values()];
      await this.retry(() => completeUpload(this.deps.store, this.objectKey, uploadId, parts));
      const stopToCompleteMs = performance.now() - t0;
      const facts: ObjectFacts = await this.retry(() => inspectObject(this.deps.store, this.objectKey, this.format));
      await this.retry(() => this.deps.repo.markCompleted(this.recordingId, { ...facts, note: null }));
      this.deps.onStored?.();
      await fs.rm(this.spoolDir, { recursive: true, force: true });
      this.stateValue = 'completed';
      const result: FinishResult = {
        state: 'completed',
        objectKey: this.objectKey,
        contentType: this.contentType,
        ...facts,
        stopToLastPartMs,
        stopToCompleteMs,
        stopToStoredMs: performance.now() - t0,
      };
      this.log.info({ bytes: facts.bytes, durationMs: facts.durationMs, stopToCompleteMs: Math.round(stopToCompleteMs) }, 'recording_stored');
      this.emit('completed', result);
      this.deps.onSettled();
      return result;
    } catch (err) {
      if (this.fatal) throw this.fatal;
      if (this.abortController.signal.aborted) {
        throw new AppError('storage_unavailable', 'The recording upload was interrupted; it will be recovered at the next start.', { cause: err, retryable: true });
      }
      throw this.failWith(err instanceof AppError ? err : new AppError('storage_unavailable', 'The recording cannot be saved.', { cause: err }));
    }
  }

  private async discardEmpty(): Promise<FinishResult> {
    if (this.uploadId) {
      await abortUpload(this.deps.store, this.objectKey, this.uploadId).catch((err: unknown) => this.log.warn({ err }, 'multipart_abort_failed'));
    }
    await this.retry(() => this.deps.repo.setState(this.recordingId, 'aborted', 'no audio was received'));
    await fs.rm(this.spoolDir, { recursive: true, force: true });
    this.stateValue = 'aborted';
    this.deps.onSettled();
    return { state: 'empty', objectKey: this.objectKey, contentType: this.contentType };
  }

  private failWith(err: AppError): AppError {
    if (this.fatal) return this.fatal;
    this.fatal = err;
    this.stateValue = 'failed';
    this.abortController.abort();
    // The spool stays: it is the only copy; the row says why.
    this.deps.repo.setState(this.recordingId, 'failed', err.message).catch((e: unknown) => this.log.error({ err: e }, 'recording_failure_not_saved'));
    this.log.error({ err: err.cause ?? err }, 'recording_failed');
    this.emit('failed', err);
    this.deps.onSettled();
    return err;
  }

  private retry<T>(fn: () => Promise<T>): Promise<T> {
    return withRetry(fn, this.deps.retry, {
      signal: this.abortController.signal,
      onRetry: (err, attempt, waitMs) => {
        this.log.warn({ err, attempt, waitMs }, 'recording_storage_retry');
        if (!this.storageDown) {
          this.storageDown = true;
          this.emit('warning', { code: 'storage_unavailable', attempt, retryInMs: waitMs });
        }
      },
    }).then((value) => {
      if (this.storageDown) {
        this.storageDown = false;
        this.emit('recovered');
      }
      return value;
    });
  }
}

/** An OpusHead the Ogg mapping family 0 holds: mono or stereo, a 16-bit pre-skip. */
export function isSupportedOpusHead(o: OpusParams): boolean {
  return o.channels >= 1 && o.channels <= 2 && o.preSkip >= 0 && o.preSkip <= 0xffff;
}
