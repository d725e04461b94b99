import { toAppError } from '../lib/app-error.js';
import type { Logger } from '../lib/logger.js';
import type { RecordingWriter } from '../recordings/writer.js';
import type { LiveSessionDeps } from './live-session-deps.js';
import type { EndReason } from './types.js';

/**
 * The recording's part of a live session's end (live-session.ts): the checkpoints flushed (at a
 * shutdown) or left to be deleted once the recording is stored, then the upload finished. Resolves
 * false when the recording could not be saved (the row is then marked `recording_not_saved`).
 */
export async function finishRecording(
  open: () => Promise<RecordingWriter>,
  reason: EndReason,
  d: Pick<LiveSessionDeps, 'checkpoints' | 'onStoredForGood'>,
  log: Logger,
): Promise<boolean> {
  try {
    const writer = await open();
    // At shutdown another task continues from the completed object: give S3 longer.
    // At shutdown another task continues the session: its checkpoints must reach ackSeq, or a
    // crash of that task would find a hole after them. Otherwise the recording supersedes them.
    if (reason === 'server_shutdown' && d.checkpoints) {
      const flushed = d.checkpoints.flush();
      await Promise.race([flushed, new Promise((r) => setTimeout(r, 5000).unref())]);
    }
    d.checkpoints?.close();
    if (reason !== 'server_shutdown' && d.onStoredForGood) {
      const done = d.onStoredForGood;
      writer.once('completed', () => done());
    }
    const result = await writer.finish({ timeoutMs: reason === 'server_shutdown' ? 10_000 : 1000 });
    if (result.state === 'pending') log.warn('recording_upload_pending');
    return true;
  } catch (err) {
    log.error({ code: toAppError(err).code }, 'recording_finish_failed');
    return false;
  }
}
