import type { RecordingsRepository } from '../db/recordings-repository.js';
import type { Logger } from '../lib/logger.js';
import { errFields } from '../lib/logger.js';
import type { ObjectStore } from '../storage/object-store.js';
import { withRetry, type RetryPolicy } from './retry.js';

/** Attempts per deletion; what still fails stays `completed` for the next start-up to retry. */
export const SUPERSEDE_MAX_ATTEMPTS = 5;

/**
 * Once recording `recordingId` is completed, deletes the S3 objects of its transcription's earlier
 * completed parts (a continuation's part holds the whole recording, docs/resilience.md) and marks
 * their rows `superseded`. The object goes first, the row after: a crash in between leaves a
 * `completed` row whose delete is repeated (deleting a missing key succeeds). Never throws: a part
 * that cannot be deleted is logged and left `completed`. Returns how many parts were superseded and
 * how many could not be.
 */
export async function supersedeEarlierParts(
  recordingId: string,
  deps: { repo: RecordingsRepository; store: ObjectStore; logger: Logger; retry: RetryPolicy },
): Promise<{ done: number; failed: number }> {
  const policy: RetryPolicy = { ...deps.retry, maxAttempts: Math.min(deps.retry.maxAttempts, SUPERSEDE_MAX_ATTEMPTS) };
  let done = 0;
  let failed = 0;
  let earlier: Array<{ id: string; objectKey: string }>;
  try {
    earlier = await deps.repo.findSupersededBy(recordingId);
  } catch (err) {
    deps.logger.warn({ recordingId, err: errFields(err) }, 'superseded_parts_lookup_failed');
    return { done, failed: 1 };
  }
  for (const part of earlier) {
    try {
      await withRetry(() => deps.store.delete(part.objectKey), policy);
      await deps.repo.markSuperseded(part.id);
      done++;
    } catch (err) {
      failed++;
      // Ids only: the object key is random, but the rest of an S3 error has no business in the log.
      deps.logger.warn({ recordingId: part.id, supersededBy: recordingId, err: errFields(err) }, 'superseded_part_delete_failed');
    }
  }
  if (done > 0) deps.logger.info({ recordingId, superseded: done }, 'superseded_parts_deleted');
  return { done, failed };
}
