import type { TranscriptionStatus } from './types.js';

/**
 * Why a session ended, in the words the pages use (API.md `endReason`): `stopped` (the clinician
 * pressed Stop), `client_gone` (the page never came back within RESUME_GRACE_MS), `idle_timeout`,
 * `max_duration`, `server_shutdown` (ended at a deploy and not continued), `failed` (the session
 * failed, or an error ended it), `repaired` (left open by a crashed task and closed by the start-up
 * repair pass, or finalised from its durable checkpoints by another task when the page did not come
 * back). Null while it is still recording.
 */
export type EndReasonView = 'stopped' | 'client_gone' | 'idle_timeout' | 'max_duration' | 'server_shutdown' | 'failed' | 'repaired';

// failure_reason values a live session writes when an error ends it (live-session.ts); any other
// reason on a row ended by 'error' was written by a later start-up closing a dead task's session
// (dictation-repo closeInterrupted: 'interrupted'; recordings recovery: its note) or by another task
// finalising it from its checkpoints (abandoned-sessions.ts FINALISED_NOTE).
const LIVE_FAILURES = new Set(['invalid_audio', 'transcriber_unavailable', 'recording_not_saved']);

/** Derives the view's end reason from the stored status, end_reason and failure_reason columns. */
export function endReasonOf(status: TranscriptionStatus, endReason: string | null, failureReason: string | null): EndReasonView | null {
  if (status === 'recording') return null;
  if (status === 'failed') return 'failed';
  if (endReason === 'error') {
    if (failureReason === 'client_gone') return 'client_gone';
    return failureReason && !LIVE_FAILURES.has(failureReason) ? 'repaired' : 'failed';
  }
  if (endReason === 'stopped' || endReason === 'idle_timeout' || endReason === 'max_duration' || endReason === 'server_shutdown') return endReason;
  return endReason === null ? null : 'failed';
}
