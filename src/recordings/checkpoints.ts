import { randomUUID } from 'node:crypto';
import { EventEmitter } from 'node:events';
import { DeleteObjectCommand, GetObjectCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import type pg from 'pg';
import type { Logger } from '../lib/logger.js';
import type { ObjectStore } from '../storage/s3.js';
import { withRetry, type RetryPolicy } from './retry.js';

/**
 * Durable checkpoints (docs/recordings.md): the multipart recording only reaches S3 in 5 MiB parts
 * (164 s of 16 kHz PCM; a WAV's part 1 only at stop), so on its own a task's spool is the only copy
 * of minutes of acknowledged audio. Every `intervalMs` (default 5 s) of a live session, the audio
 * that arrived since the last checkpoint goes to S3 as one small object and one row here; `durableSeq`
 * is the last chunk a checkpoint covers, with every earlier one. The task that continues a session
 * after a crash rebuilds it from these objects plus what the browser resends from `durableSeq + 1`.
 *
 * `pcm` checkpoints hold the 16 kHz PCM appended to the WAV recording (declared gaps' silence
 * included); `wire` checkpoints hold Opus chunks as received (WebM or Ogg, the container header in
 * the first), because only the same bytes rebuild the demuxer's state at a chunk boundary.
 */
export type CheckpointKind = 'pcm' | 'wire';

export interface CheckpointRow {
  firstSeq: number;
  lastSeq: number;
  kind: CheckpointKind;
  objectKey: string;
  bytes: number;
}

/** SQL for `recording_checkpoints`. */
export function checkpointsRepository(db: pg.Pool) {
  return {
    async insert(transcriptionId: string, c: CheckpointRow): Promise<void> {
      await db.query(
        `INSERT INTO recording_checkpoints (transcription_id, first_seq, last_seq, kind, object_key, bytes)
         VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (transcription_id, first_seq) DO NOTHING`,
        [transcriptionId, c.firstSeq, c.lastSeq, c.kind, c.objectKey, c.bytes],
      );
    },
    async list(transcriptionId: string): Promise<CheckpointRow[]> {
      const { rows } = await db.query<{ first_seq: string; last_seq: string; kind: CheckpointKind; object_key: string; bytes: number }>(
        'SELECT first_seq, last_seq, kind, object_key, bytes FROM recording_checkpoints WHERE transcription_id = $1 ORDER BY first_seq',
        [transcriptionId],
      );
      return rows.map((r) => ({ firstSeq: Number(r.first_seq), lastSeq: Number(r.last_seq), kind: r.kind, objectKey: r.object_key, bytes: r.bytes }));
    },
    async remove(transcriptionId: string, firstSeq: number): Promise<void> {
      await db.query('DELETE FROM recording_checkpoints WHERE transcription_id = $1 AND first_seq = $2', [transcriptionId, firstSeq]);
    },
  };
}
export type CheckpointsRepository = ReturnType<typeof checkpointsRepository>;

export interface CheckpointDeps {
  store: ObjectStore;
  repo: CheckpointsRepository;
  logger: Logger;
  retry: RetryPolicy;
  /** Longest time a chunk waits for its checkpoint to start (default 5000 ms). */
  intervalMs: number;
}

/**
 * The checkpoints of one live session. `add` is synchronous and cheap (the chunk is kept in memory
 * until its checkpoint is stored); checkpoints are written one at a time, in order.
 */
export class CheckpointWriter extends EventEmitter<{ durable: [lastSeq: number] }> {
  private pending: Buffer[] = [];
  private pendingBytes = 0;
  private pendingLastSeq: number;
  /** When the oldest pending chunk arrived (ms, performance.now()). */
  private oldestAt = 0;
  private timer: NodeJS.Timeout | undefined;
  private writing: Promise<void> | undefined;
  private readonly abort = new AbortController();
  private readonly log: Logger;
  /** The last seq stored in a checkpoint, with every earlier one. */
  durableSeq: number;

  constructor(
    readonly transcriptionId: string,
    readonly kind: CheckpointKind,
    /** The seq the session's durable audio already reaches (-1 for a new session). */
    fromSeq: number,
    private readonly d: CheckpointDeps,
  ) {
    super();
    this.durableSeq = fromSeq;
    this.pendingLastSeq = fromSeq;
    this.log = d.logger.child({ transcriptionId });
  }

  /** Chunks up to `seq` are in the recording; `bytes` is their audio (empty for an Opus gap). */
  add(seq: number, bytes: Buffer): void {
    if (seq <= this.pendingLastSeq || this.abort.signal.aborted) return;
    if (this.pending.length === 0 && this.pendingLastSeq === this.durableSeq) this.oldestAt = performance.now();
    this.pendingLastSeq = seq;
    if (bytes.length > 0) {
      this.pending.push(bytes);
      this.pendingBytes += bytes.length;
    }
    this.schedule();
  }

  /** Writes what is pending now and resolves once everything added so far is durable. */
  async flush(): Promise<void> {
    clearTimeout(this.timer);
    this.timer = undefined;
    while (this.writing) await this.writing;
    if (this.pendingLastSeq > this.durableSeq) await this.write();
  }

  /** Stops: pending chunks are dropped (the session's end stores the recording) and retries end. */
  close(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    this.abort.abort();
  }

  private schedule(): void {
    if (this.timer || this.writing) return;
    const wait = Math.max(0, this.oldestAt + this.d.intervalMs - performance.now());
    this.timer = setTimeout(() => {
      this.timer = undefined;
      void this.write();
    }, wait);
  }

  private write(): Promise<void> {
    const firstSeq = this.durableSeq + 1;
    const lastSeq = this.pendingLastSeq;
    const body = Buffer.concat(this.pending, this.pendingBytes);
    this.pending = [];
    this.pendingBytes = 0;
    // Chunks added while this one is written go into the next; they cannot have arrived earlier.
    this.oldestAt = performance.now();
    const row: CheckpointRow = { firstSeq, lastSeq, kind: this.kind, objectKey: `${this.d.store.prefix}checkpoints/${randomUUID()}`, bytes: body.length };
    const retry = <T>(fn: () => Promise<T>) =>
      withRetry(fn, this.d.retry, { signal: this.abort.signal, onRetry: (err, attempt) => this.log.warn({ err, attempt }, 'checkpoint storage call failed; retrying') });
    this.writing = (async () => {
      try {
        await retry(() =>
          this.d.store.client.send(
            new PutObjectCommand({ Bucket: this.d.store.bucket, Key: row.objectKey, Body: body, ContentLength: body.length, ContentType: 'application/octet-stream', ...this.d.store.sseParams() }),
          ),
        );
        await retry(() => this.d.repo.insert(this.transcriptionId, row));
        this.durableSeq = lastSeq;
        this.emit('durable', lastSeq);
      } catch (err) {
        if (!this.abort.signal.aborted) this.log.error({ err }, 'checkpoint could not be stored');
        // The chunks stay un-durable: the client keeps them, and the next checkpoint starts after
        // the last stored one, so nothing is skipped.
        this.close();
      } finally {
        this.writing = undefined;
        if (!this.abort.signal.aborted && this.pendingLastSeq > this.durableSeq) this.schedule();
      }
    })();
    return this.writing;
  }
}

/**
 * The durable audio of a transcription: its checkpoints from seq 0 that follow each other without
 * a hole (a session ended at shutdown can leave a hole after its last checkpoint; what follows it is
 * not used), and the seq they reach.
 */
export async function durableChain(repo: CheckpointsRepository, transcriptionId: string): Promise<{ rows: CheckpointRow[]; lastSeq: number }> {
  const rows: CheckpointRow[] = [];
  let lastSeq = -1;
  for (const r of await repo.list(transcriptionId)) {
    if (r.firstSeq !== lastSeq + 1) break;
    rows.push(r);
    lastSeq = r.lastSeq;
  }
  return { rows, lastSeq };
}

/** The bytes of checkpoint objects `rows`, in order, as one buffer. */
export async function readCheckpoints(store: ObjectStore, rows: readonly CheckpointRow[], retry: RetryPolicy): Promise<Buffer> {
  const out: Buffer[] = [];
  for (const r of rows) {
    const bytes = await withRetry(async () => {
      const res = await store.client.send(new GetObjectCommand({ Bucket: store.bucket, Key: r.objectKey }));
      return Buffer.from(await (res.Body as { transformToByteArray(): Promise<Uint8Array> }).transformToByteArray());
    }, retry);
    if (bytes.length !== r.bytes) throw new Error(`checkpoint from seq ${r.firstSeq} has ${bytes.length} bytes, expected ${r.bytes}`);
    out.push(bytes);
  }
  return Buffer.concat(out);
}

/**
 * Deletes every checkpoint of a transcription whose recording is stored (object first, row after,
 * as for superseded parts). Never throws: what is left is retried by nobody but the bucket's
 * lifecycle rule on the `checkpoints/` prefix; it only costs storage.
 */
export async function deleteCheckpoints(
  deps: { store: ObjectStore; repo: CheckpointsRepository; logger: Logger; retry: RetryPolicy },
  transcriptionId: string,
): Promise<number> {
  let done = 0;
  try {
    for (const r of await deps.repo.list(transcriptionId)) {
      await withRetry(() => deps.store.client.send(new DeleteObjectCommand({ Bucket: deps.store.bucket, Key: r.objectKey })), { ...deps.retry, maxAttempts: Math.min(deps.retry.maxAttempts, 5) });
      await deps.repo.remove(transcriptionId, r.firstSeq);
      done++;
    }
  } catch (err) {
    deps.logger.warn({ transcriptionId, errName: (err as Error).name }, 'recording checkpoints not deleted');
  }
  return done;
}
