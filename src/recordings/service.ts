import { randomUUID } from 'node:crypto';
import path from 'node:path';
import type { Readable } from 'node:stream';
import type pg from 'pg';
import { checkpointsRepository, type CheckpointKind } from '../db/checkpoints-repository.js';
import { recordingsRepository, type RecordingFormat } from '../db/recordings-repository.js';
import { AppError } from '../lib/app-error.js';
import type { Logger } from '../lib/logger.js';
import { errFields } from '../lib/logger.js';
import { Semaphore } from '../lib/semaphore.js';
import { readObject, type ObjectStore } from '../storage/object-store.js';
import { CheckpointWriter, deleteCheckpoints, durableChain, readCheckpoints, sweepCheckpoints } from './checkpoints.js';
import { abortUpload, contentTypeFor } from './multipart.js';
import type { OpusParams } from '../audio/ogg-opus.js';
import { parseRange } from './range.js';
import { recoverRecording, type RecoveryOutcome } from './recovery.js';
import { DEFAULT_RETRY, type RetryPolicy } from './retry.js';
import { makeSpoolDir } from './spool.js';
import { supersedeEarlierParts } from './supersede.js';
import { WAV_HEADER_BYTES } from './wav.js';
import { isSupportedOpusHead, RecordingWriter } from './writer.js';

export const MIN_PART_SIZE = 5 * 1024 * 1024;

export interface RecordingServiceOptions {
  db: pg.Pool;
  store: ObjectStore;
  /** Folder for spool files, normally `${DATA_DIR}/spool`; created with mode 0700. */
  spoolDir: string;
  logger: Logger;
  /** Bytes per multipart part; at least 5 MiB (S3's minimum for all but the last part). */
  partSize?: number;
  /** Backoff for S3 calls of live recordings (default 250 ms doubling to 10 s, never giving up). */
  retry?: Partial<RetryPolicy>;
  /**
   * fdatasync every appended chunk. Off by default: the page cache already survives the death of
   * the process, and a host crash loses the task's local disk on ECS/Fargate anyway.
   */
  fsync?: boolean;
  /**
   * Part uploads (spool read, body, UploadPart) in flight at once across every recording of this
   * service, crash recovery included; the rest wait in arrival order (default 16). Bounds the
   * memory that part bodies take when many recordings stop together.
   */
  uploadConcurrency?: number;
  /**
   * Longest wait of an acknowledged chunk for its durable checkpoint (default 5000 ms; see
   * checkpoints.ts). Bounds how far `durableSeq` trails `ackSeq`.
   */
  checkpointIntervalMs?: number;
}

export const DEFAULT_UPLOAD_CONCURRENCY = 16;

export type OpenOptions = (
  | { transcriptionId: string; encoding: 'pcm_s16le'; sampleRate: number }
  /** Without `opusHead` the Ogg headers wait for `writer.setOpusHead` (a live session's first audio). */
  | { transcriptionId: string; encoding: 'webm_opus' | 'ogg_opus'; opusHead?: OpusParams }
) & { /** > 0 when a session continues on another task (docs/resilience.md). */ partIndex?: number };

/**
 * A completed recording opened for reading: all of it (`full`), the one byte range asked for
 * (`partial`), or nothing when that range starts past its end (`unsatisfiable`).
 */
export type AudioRead =
  | { kind: 'unsatisfiable'; contentType: string; /** Size of the whole recording. */ totalBytes: number }
  | {
      kind: 'full' | 'partial';
      contentType: string;
      /** Size of the whole recording. */
      totalBytes: number;
      /** First and last byte of `body` in the recording. */
      start: number;
      end: number;
      /** The bytes; the caller must consume or destroy it. */
      body: Readable;
    };

export interface RecoveryOptions {
  /** This process's task id; rows it owned in a previous life are taken at once. */
  taskId: string;
  /** Rows of other owners are taken only after this long without audio (default 2 min). */
  graceMs?: number;
  /** Backoff for recovery's S3 calls (default: 5 attempts); what still fails stays for the next run. */
  retry?: Partial<RetryPolicy>;
}

/**
 * Recordings: streamed multipart upload with a local spool, crash recovery, and playback reads.
 * The session domain calls `open` at session start, `append*` before acknowledging each chunk,
 * `finish` at stop, and `recoverUnfinished` once at start-up.
 */
export function createRecordingService(options: RecordingServiceOptions) {
  const partSize = options.partSize ?? MIN_PART_SIZE;
  if (partSize < MIN_PART_SIZE) throw new RangeError('partSize must be at least 5 MiB');
  const retry: RetryPolicy = { ...DEFAULT_RETRY, ...options.retry };
  const uploads = new Semaphore(options.uploadConcurrency ?? DEFAULT_UPLOAD_CONCURRENCY);
  const repo = recordingsRepository(options.db);
  const log = options.logger.child({ component: 'recordings' });
  const live = new Map<string, RecordingWriter>();
  const checkpoints = checkpointsRepository(options.db);
  const checkpointDeps = { store: options.store, repo: checkpoints, logger: log, retry };

  return {
    /**
     * Starts a recording for a transcription row that already exists. Never waits for S3: the
     * multipart upload is created in the background. Throws `storage_unavailable` if the spool or
     * the database cannot be written.
     */
    async open(o: OpenOptions): Promise<RecordingWriter> {
      if (o.encoding === 'pcm_s16le' && !(Number.isInteger(o.sampleRate) && o.sampleRate >= 8000 && o.sampleRate <= 192_000)) {
        throw new AppError('unsupported_audio_format', 'The PCM sample rate must be an integer from 8000 to 192000.');
      }
      if (o.encoding !== 'pcm_s16le' && o.opusHead && !isSupportedOpusHead(o.opusHead)) {
        throw new AppError('unsupported_audio_format', 'Only mono or stereo Opus is supported.');
      }
      const format: RecordingFormat = o.encoding === 'pcm_s16le' ? { container: 'wav', sampleRate: o.sampleRate } : { container: 'ogg' };
      const contentType = contentTypeFor(format);
      // Random: never derived from patient, user or session data.
      const objectKey = `${options.store.prefix}${randomUUID()}.${format.container}`;
      const row = await repo.insert({ transcriptionId: o.transcriptionId, objectKey, contentType, format, ...(o.partIndex ? { partIndex: o.partIndex } : {}) });
      const dir = path.join(options.spoolDir, row.id);
      try {
        await makeSpoolDir(options.spoolDir);
        await makeSpoolDir(dir);
      } catch (err) {
        await repo.setState(row.id, 'failed', 'spool folder could not be created');
        throw new AppError('storage_unavailable', 'The recording could not be started.', { cause: err });
      }
      const writer = new RecordingWriter(
        row.id,
        o.transcriptionId,
        objectKey,
        format,
        contentType,
        dir,
        {
          repo,
          store: options.store,
          logger: log,
          partSize,
          retry,
          fsync: options.fsync ?? false,
          uploads,
          onSettled: () => live.delete(row.id),
          // A continuation's part holds the whole recording: the earlier parts' objects go once it is stored.
          ...(o.partIndex ? { onStored: () => void supersedeEarlierParts(row.id, { repo, store: options.store, logger: log, retry }) } : {}),
        },
        o.encoding === 'pcm_s16le' ? undefined : o.opusHead,
      );
      live.set(row.id, writer);
      await writer.start();
      return writer;
    },

    /**
     * At start-up: completes (or, when impossible, fails with a reason) every unfinished
     * recording no live process owns (see `findOrphans` for the rule), from the spool under
     * `spoolDir` and the parts already confirmed by S3. One bad recording never stops the others.
     * Then deletes the objects of earlier parts that a completed later part supersedes and that are
     * still stored (a part just recovered, or a deletion that failed): see `supersedeEarlierParts`.
     */
    async recoverUnfinished(o: RecoveryOptions): Promise<RecoveryOutcome[]> {
      const policy: RetryPolicy = { ...DEFAULT_RETRY, maxAttempts: 5, ...o.retry };
      const rows = await repo.findOrphans(o.taskId, o.graceMs ?? 120_000);
      const outcomes: RecoveryOutcome[] = [];
      for (const row of rows) {
        if (live.has(row.id)) continue;
        outcomes.push(await recoverRecording(row, { repo, store: options.store, spoolDir: options.spoolDir, logger: log, retry: policy, uploads }));
      }
      // Parts just recovered, and parts whose deletion failed in a live process or was cut short.
      const pending = await repo.findPendingSupersessions().catch((err: unknown) => {
        log.warn({ err: errFields(err) }, 'recording_supersessions_lookup_failed');
        return [];
      });
      // One attempt each, and none after the first failure (S3 is likely down): a start-up must not
      // wait out retries for what the next start-up can finish.
      for (const p of pending) {
        const r = await supersedeEarlierParts(p.id, { repo, store: options.store, logger: log, retry: { ...policy, maxAttempts: 1 } });
        if (r.failed > 0) break;
      }
      return outcomes;
    },

    /**
     * Opens a completed recording for reading. `range` is one byte range in RFC 7233 form
     * (`bytes=a-b`, `bytes=a-`, `bytes=-n`; anything else reads the whole). Throws `not_found` when
     * there is no completed recording, `storage_unavailable` when the store fails.
     */
    async openAudio(transcriptionId: string, range?: string): Promise<AudioRead> {
      const row = await repo.findByTranscription(transcriptionId);
      if (!row || row.uploadState !== 'completed') throw new AppError('not_found');
      const total = row.bytes;
      const r = parseRange(range, total);
      if (r.kind === 'unsatisfiable') return { kind: 'unsatisfiable', contentType: row.contentType, totalBytes: total };
      const start = r.kind === 'partial' ? r.start : 0;
      const end = r.kind === 'partial' ? r.end : total - 1;
      try {
        const body = await options.store.get(row.objectKey, r.kind === 'partial' ? { start, end } : undefined);
        return { kind: r.kind, contentType: row.contentType, totalBytes: total, start, end, body };
      } catch (err) {
        throw new AppError('storage_unavailable', undefined, { cause: err, retryable: true });
      }
    },

    /**
     * The PCM samples of a transcription's completed WAV recording (to continue it in a new part).
     * Throws `not_found` when there is no completed WAV recording, `storage_unavailable` when S3 fails.
     */
    async readCompletedPcm(transcriptionId: string): Promise<Buffer> {
      const row = await repo.findByTranscription(transcriptionId);
      if (!row || row.uploadState !== 'completed' || row.format.container !== 'wav') throw new AppError('not_found');
      try {
        return (await readObject(options.store, row.objectKey)).subarray(WAV_HEADER_BYTES);
      } catch (err) {
        throw new AppError('storage_unavailable', undefined, { cause: err, retryable: true });
      }
    },

    /**
     * The durable checkpoints of a live session whose durable audio reaches `fromSeq` (-1: new),
     * written only while `ownerTask` owns it. The session calls `add(seq, audio)` after each chunk is
     * in its recording.
     */
    checkpoints(transcriptionId: string, kind: CheckpointKind, fromSeq: number, ownerTask?: string): CheckpointWriter {
      return new CheckpointWriter(transcriptionId, kind, fromSeq, { ...checkpointDeps, intervalMs: options.checkpointIntervalMs ?? 5000, ...(ownerTask ? { ownerTask } : {}) });
    },

    /**
     * What is durable of a session whose task died: the audio of its unbroken checkpoints from seq 0
     * and the seq they reach (-1 and empty when there are none). Throws `storage_unavailable`
     * (retryable) when S3 or the database fails.
     */
    async readDurable(transcriptionId: string): Promise<{ lastSeq: number; kind: CheckpointKind | undefined; bytes: Buffer }> {
      try {
        const chain = await durableChain(checkpoints, transcriptionId);
        // A few attempts: the client is waiting for its resume, and retries it.
        const bytes = await readCheckpoints(options.store, chain.rows, { ...retry, maxAttempts: 3 });
        return { lastSeq: chain.lastSeq, kind: chain.rows[0]?.kind, bytes };
      } catch (err) {
        throw new AppError('storage_unavailable', 'The durable audio could not be read; try again.', { cause: err, retryable: true });
      }
    },

    /**
     * The session's recording is stored for good: its checkpoints go (best effort, never throws),
     * unless a task other than `ownerTask` owns the session now.
     */
    dropCheckpoints(transcriptionId: string, ownerTask?: string): Promise<number> {
      return deleteCheckpoints(checkpointDeps, transcriptionId, ownerTask);
    },

    /**
     * Deletes the checkpoints a crash left behind: rows (and objects) of sessions settled for good,
     * and objects no row names that are older than `minObjectAgeMs` (default a day). Throws when S3
     * or the database fails (the next sweep retries).
     */
    sweepCheckpoints(o: { resumeGraceMs: number; minObjectAgeMs?: number }): Promise<{ rows: number; objects: number }> {
      return sweepCheckpoints(checkpointDeps, o);
    },

    /**
     * Another task continues a session whose task died: the dead task's unfinished recording parts
     * are marked `aborted` and their multipart uploads aborted (best effort).
     */
    async abandonUnfinished(transcriptionId: string): Promise<void> {
      const parts = await repo.abandonUnfinished(transcriptionId, 'the task stopped unexpectedly; the session continued on another task from its durable checkpoints');
      for (const p of parts) {
        if (p.uploadId) await abortUpload(options.store, p.objectKey, p.uploadId).catch((err: unknown) => log.warn({ err: errFields(err) }, 'multipart_abort_failed'));
      }
    },

    /** Live writers of this process. */
    get liveCount(): number {
      return live.size;
    },

    /** Shutdown: stops background retries; spools stay for `recoverUnfinished`. */
    close(): void {
      for (const w of live.values()) w.detach();
      live.clear();
    },
  };
}

export type RecordingService = ReturnType<typeof createRecordingService>;
export type { RecordingWriter };
