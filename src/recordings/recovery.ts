import fs from 'node:fs/promises';
import path from 'node:path';
import type { RecordingRow, RecordingsRepository, UploadedPart } from '../db/recordings-repository.js';
import type { Logger } from '../lib/logger.js';
import type { Semaphore } from '../lib/semaphore.js';
import type { ObjectStore } from '../storage/object-store.js';
import { abortUpload, completeUpload, createUpload, inspectObject, objectExists, partBody, storedPayloadBytes, uploadPart } from './multipart.js';
import { isRetryableStorageError, withRetry, type RetryPolicy } from './retry.js';
import { listSpoolParts, partFileName, readSpoolPart, SpoolCorruptError } from './spool.js';

export interface RecoveryOutcome {
  recordingId: string;
  transcriptionId: string;
  /** `deferred`: S3 or the database stayed unreachable; the row is left for the next run. */
  outcome: 'completed' | 'failed' | 'aborted' | 'deferred';
  reason?: string;
  bytes?: number;
  durationMs?: number;
}

interface Deps {
  repo: RecordingsRepository;
  store: ObjectStore;
  spoolDir: string;
  logger: Logger;
  retry: RetryPolicy;
  /** The process's part-upload slots, shared with the live writers. */
  uploads: Semaphore;
}

class Unrecoverable extends Error {}

const RECOVERED = 'recovered after the server stopped unexpectedly';
const RECOVERED_WITHOUT_SPOOL = 'recovered after the server stopped unexpectedly, from uploaded parts only: the spool was not on this host, audio after the last uploaded part is missing';

/**
 * Finishes one recording a dead process left behind. The database's `parts` list is the journal
 * of parts S3 confirmed (written before their spool file is deleted), so the object is parts
 * 1..N where each part is either still spooled (re-uploaded; re-uploading a part number replaces
 * it) or journalled. A torn record at the very end of the last spool file is the chunk being
 * written when the process died, never acknowledged, and is dropped. Any other damage, or a part
 * found nowhere, makes the recording `failed` with the reason, and its upload is aborted.
 */
export async function recoverRecording(row: RecordingRow & { transcriptionStatus: string }, deps: Deps): Promise<RecoveryOutcome> {
  const log = deps.logger.child({ recordingId: row.id, transcriptionId: row.transcriptionId });
  const base = { recordingId: row.id, transcriptionId: row.transcriptionId };
  const dir = path.join(deps.spoolDir, row.id);
  const retry = <T>(fn: () => Promise<T>) => withRetry(fn, deps.retry, { onRetry: (err, attempt) => log.warn({ err, attempt }, 'recovery_storage_retry') });
  let uploadId = row.uploadId;
  try {
    // A crash after CompleteMultipartUpload answered but before the row was updated.
    if (uploadId && row.uploadState === 'completing' && (await retry(() => objectExists(deps.store, row.objectKey)))) {
      return await finishStored(row, deps, dir, base, retry, RECOVERED);
    }

    // Part number → payload bytes. Every part is checked here, before anything is uploaded, but
    // only its size is kept: each is read again under an upload slot, so a long recording is never
    // held in memory whole.
    const spooled = new Map<number, number>();
    // The folder is made at open; without it (another host's spool) only the uploaded parts exist.
    const spoolPresent = await fs.stat(dir).then(() => true, () => false);
    const spoolNumbers = await listSpoolParts(dir);
    const lastSpooled = spoolNumbers.at(-1);
    const readSpooled = (n: number) => readCheckedPart(dir, n, n === lastSpooled);
    for (const n of spoolNumbers) {
      const read = await readSpooled(n);
      if (read.tornBytes > 0) log.info({ tornBytes: read.tornBytes }, 'spool_torn_tail_dropped');
      if (read.payload.length > 0) spooled.set(n, read.payload.length);
    }
    const journalled = new Map<number, UploadedPart>(row.parts.map((p) => [p.n, p]));
    const last = Math.max(0, ...spooled.keys(), ...journalled.keys());
    for (let n = 1; n <= last; n++) {
      if (!spooled.has(n) && !journalled.has(n)) throw new Unrecoverable(`part ${n} is neither spooled nor confirmed by the store`);
    }
    let wavDataBytes = 0;
    for (let n = 1; n <= last; n++) {
      wavDataBytes += spooled.get(n) ?? storedPayloadBytes(row.format, journalled.get(n)!);
    }
    if (last === 0 || (row.format.container === 'wav' && wavDataBytes === 0)) {
      if (uploadId) await abortUpload(deps.store, row.objectKey, uploadId).catch((err: unknown) => log.warn({ err }, 'multipart_abort_failed'));
      await deps.repo.setState(row.id, 'aborted', 'no audio was received');
      await deps.repo.endCrashedTranscription(row.transcriptionId, { status: 'completed', reason: 'server stopped unexpectedly; no audio had been received', durationMs: 0 });
      await fs.rm(dir, { recursive: true, force: true });
      return { ...base, outcome: 'aborted', reason: 'no audio was received' };
    }

    if (!uploadId) {
      const created = await retry(() => createUpload(deps.store, row.objectKey, row.contentType));
      await deps.repo.setUploadId(row.id, created);
      uploadId = created;
    }
    await deps.repo.setState(row.id, 'completing');
    const id = uploadId;
    for (const [n, bytes] of spooled) {
      // One slot per part, around its (short: recovery gives up after a few attempts) retries, so a
      // read error stays out of the retry loop exactly as in the check above.
      const part = await deps.uploads.run(async () => {
        const { payload } = await readSpooled(n);
        if (payload.length !== bytes) throw new Unrecoverable(`spool part ${n} changed during recovery`);
        const body = partBody(row.format, n, payload, { isLast: n === last, wavDataBytes });
        return retry(() => uploadPart(deps.store, row.objectKey, id, n, body));
      });
      await deps.repo.addPart(row.id, part);
      journalled.set(n, part);
    }
    await retry(() => completeUpload(deps.store, row.objectKey, id, [...journalled.values()]));
    return await finishStored(row, deps, dir, base, retry, spoolPresent ? RECOVERED : RECOVERED_WITHOUT_SPOOL);
  } catch (err) {
    if (!(err instanceof Unrecoverable) && isRetryableStorageError(err)) {
      log.warn({ err }, 'recording_recovery_deferred');
      return { ...base, outcome: 'deferred', reason: 'storage unavailable' };
    }
    const reason = err instanceof Unrecoverable ? err.message : `recovery failed: ${(err as Error).message}`;
    log.error({ err }, 'recording_recovery_failed');
    if (uploadId) await abortUpload(deps.store, row.objectKey, uploadId).catch((e: unknown) => log.warn({ err: e }, 'multipart_abort_failed'));
    await deps.repo.setState(row.id, 'failed', reason);
    await deps.repo.endCrashedTranscription(row.transcriptionId, { status: 'failed', reason: `recording could not be recovered: ${reason}`, durationMs: null });
    // The spool is kept: it is evidence, and the only copy of what it holds.
    return { ...base, outcome: 'failed', reason };
  }
}

/**
 * Reads spool part `n` of `dir`. Throws {@link Unrecoverable} for damage: a record that does not
 * check out, or a torn record anywhere but at the end of the last spooled part.
 */
async function readCheckedPart(dir: string, n: number, isLastSpooled: boolean): Promise<{ payload: Buffer; tornBytes: number }> {
  let read;
  try {
    read = await readSpoolPart(path.join(dir, partFileName(n)));
  } catch (err) {
    if (err instanceof SpoolCorruptError) throw new Unrecoverable(`spool corrupt: ${err.message}`);
    throw err;
  }
  if (read.tornBytes > 0 && !isLastSpooled) throw new Unrecoverable(`spool corrupt: part ${n} ends inside a record`);
  return read;
}

async function finishStored(
  row: RecordingRow,
  deps: Deps,
  dir: string,
  base: { recordingId: string; transcriptionId: string },
  retry: <T>(fn: () => Promise<T>) => Promise<T>,
  note: string,
): Promise<RecoveryOutcome> {
  const facts = await retry(() => inspectObject(deps.store, row.objectKey, row.format));
  await deps.repo.markCompleted(row.id, { ...facts, note });
  await deps.repo.endCrashedTranscription(row.transcriptionId, { status: 'completed', reason: note, durationMs: facts.durationMs });
  await fs.rm(dir, { recursive: true, force: true });
  return { ...base, outcome: 'completed', reason: note, bytes: facts.bytes, durationMs: facts.durationMs };
}
