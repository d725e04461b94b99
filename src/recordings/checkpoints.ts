import { randomUUID } from 'node:crypto';
import { EventEmitter } from 'node:events';
import type { CheckpointKind, CheckpointRow, CheckpointsRepository } from '../db/checkpoints-repository.js';
import type { Logger } from '../lib/logger.js';
import { errFields } from '../lib/logger.js';
import { readObject, type ObjectStore } from '../storage/object-store.js';
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
 *
 * The rows' SQL is in db/checkpoints-repository.ts.
 */

export interface CheckpointDeps {
  store: ObjectStore;
  repo: CheckpointsRepository;
  logger: Logger;
  retry: RetryPolicy;
  /** Longest time a chunk waits for its checkpoint to start (default 5000 ms). */
  intervalMs: number;
  /** The task that owns the live session: rows are written only while it does. */
  ownerTask?: string;
}

/**
 * The checkpoints of one live session. `add` is synchronous and cheap (the chunk is kept in memory
 * until its checkpoint is stored); checkpoints are written one at a time, in order.
 */
/**
 * Events: `durable` (a checkpoint is stored), `fenced` (another task owns the session now: this
 * writer stopped, and the session must stop writing too).
 */
export class CheckpointWriter extends EventEmitter<{ durable: [lastSeq: number]; fenced: [] }> {
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
  /**
   * The wait before the first checkpoint: between half the interval and all of it, fixed by the
   * transcription's id. Sessions that start in the same second (a task taking over another's, a
   * clinic's morning) would otherwise write their checkpoints in the same few milliseconds of every
   * interval: at 100 sessions, 100 PutObjects and 100 INSERTs at once, a 200-300 ms stall of the
   * event loop every 5 s (BENCHMARKS.md). Later checkpoints keep the phase this one sets.
   */
  private firstWait: number;

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
    this.firstWait = Math.round(d.intervalMs * (0.5 + 0.5 * phaseOf(transcriptionId)));
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
    const wait = Math.max(0, this.oldestAt + this.firstWait - performance.now());
    this.firstWait = this.d.intervalMs;
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
      withRetry(fn, this.d.retry, { signal: this.abort.signal, onRetry: (err, attempt) => this.log.warn({ err, attempt }, 'checkpoint_storage_retry') });
    this.writing = (async () => {
      try {
        await retry(() =>
          this.d.store.put(row.objectKey, body, 'application/octet-stream'),
        );
        if (!(await retry(() => this.d.repo.insert(this.transcriptionId, row, this.d.ownerTask)))) {
          this.log.warn({ firstSeq, lastSeq }, 'checkpoint_fenced');
          this.close();
          // Not in any chain: the object goes now (else the orphan sweep takes it).
          await this.d.store.delete(row.objectKey).catch(() => {});
          this.emit('fenced');
          return;
        }
        this.durableSeq = lastSeq;
        this.emit('durable', lastSeq);
      } catch (err) {
        if (!this.abort.signal.aborted) this.log.error({ err }, 'checkpoint_store_failed');
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

/** A number in [0, 1) taken from an id's characters (FNV-1a): the same id gives the same phase. */
export function phaseOf(id: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < id.length; i++) h = Math.imul(h ^ id.charCodeAt(i), 0x01000193);
  return (h >>> 0) / 2 ** 32;
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
    const bytes = await withRetry(() => readObject(store, r.objectKey), retry);
    if (bytes.length !== r.bytes) throw new Error(`checkpoint from seq ${r.firstSeq} has ${bytes.length} bytes, expected ${r.bytes}`);
    out.push(bytes);
  }
  return Buffer.concat(out);
}

/**
 * Deletes every checkpoint of a transcription whose recording is stored for good: the rows first
 * (in one statement, and only while the session is owned by `ownerTask` or by no task: a zombie
 * task whose recording completed late must not delete the chain of the task that took the session
 * over), then their objects. A crash between the two leaves objects no row names, which the orphan
 * sweep deletes (`sweepCheckpoints`); a row never names a deleted object. Never throws. Returns how
 * many objects were deleted.
 */
export async function deleteCheckpoints(
  deps: { store: ObjectStore; repo: CheckpointsRepository; logger: Logger; retry: RetryPolicy },
  transcriptionId: string,
  ownerTask?: string,
): Promise<number> {
  let done = 0;
  try {
    const keys = await deps.repo.removeAll(transcriptionId, ownerTask);
    for (const key of keys) {
      await withRetry(() => deps.store.delete(key), { ...deps.retry, maxAttempts: Math.min(deps.retry.maxAttempts, 5) });
      done++;
    }
  } catch (err) {
    deps.logger.warn({ transcriptionId, err: errFields(err) }, 'recording_checkpoints_delete_failed');
  }
  return done;
}

/**
 * The sweep of checkpoints a crash left behind (docs/recordings.md, "Orphaned checkpoints"): a task
 * that dies between storing a recording and deleting its checkpoints leaves rows and objects; one
 * that dies between a checkpoint's PutObject and its row, or between a row's deletion and its
 * object's, leaves an object no row names (as does a transcription deleted with its rows). Rows of
 * settled sessions are deleted (`removeSettled`), then their objects; then every object under
 * `<prefix>checkpoints/` older than `minObjectAgeMs` that no row names. The age guard keeps an
 * object whose row is still being written (the writer retries its INSERT while the database is
 * away); a day is far beyond any such retry. Idempotent: tasks may sweep at the same time.
 */
export async function sweepCheckpoints(
  deps: { store: ObjectStore; repo: CheckpointsRepository; logger: Logger; retry: RetryPolicy },
  o: { resumeGraceMs: number; minObjectAgeMs?: number },
): Promise<{ rows: number; objects: number }> {
  const retry: RetryPolicy = { ...deps.retry, maxAttempts: Math.min(deps.retry.maxAttempts, 3) };
  const del = (key: string) => withRetry(() => deps.store.delete(key), retry);
  const keys = await deps.repo.removeSettled(o.resumeGraceMs);
  let objects = 0;
  for (const key of keys) {
    await del(key);
    objects++;
  }
  const before = Date.now() - (o.minObjectAgeMs ?? 24 * 3600_000);
  let token: string | undefined;
  do {
    const page = await withRetry(() => deps.store.list(`${deps.store.prefix}checkpoints/`, token), retry);
    const old = page.objects.filter((o) => o.lastModified.getTime() <= before).map((o) => o.key);
    const named = await deps.repo.named(old);
    for (const key of old) {
      if (named.has(key)) continue;
      await del(key);
      objects++;
    }
    token = page.next;
  } while (token);
  if (keys.length > 0 || objects > 0) deps.logger.info({ rows: keys.length, objects }, 'checkpoint_sweep_done');
  return { rows: keys.length, objects };
}
