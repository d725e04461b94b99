// @ts-check
// What a transcription's state means, in one place for the list and the transcript page: a
// session cut short or left empty is never shown as "Completed".
import { h } from './dom.js';
import { fmtSpan } from './format.js';
import { settings } from './settings.js';

/**
 * A list item or a transcript, as GET /api/transcriptions[/:id] sends them.
 * @typedef {Pick<import('../../src/transcripts/types.js').TranscriptionSummary, 'status' | 'durationMs' | 'endReason'> & { failureReason?: string | null }} StatusInput
 */

// Below this a session holds no usable speech (a double-click, a refused start).
const EMPTY_MS = 1000;

/**
 * `{ key, label, sentence }` for a transcription (list item or detail): `key` picks the badge
 * colour, `label` is the badge text, `sentence` says what happened and what was kept.
 * @param {StatusInput} t
 * @returns {{ key: string, label: string, sentence: string }}
 */
export function describeStatus(t) {
  const dur = t.durationMs ?? 0;
  if (t.status === 'recording') return { key: 'recording', label: 'Recording', sentence: 'This session is still recording; the transcript is incomplete.' };
  if (t.status === 'failed') return { key: 'failed', label: 'Failed', sentence: `This session failed${t.failureReason ? ` (${t.failureReason})` : ''}; the transcript may be incomplete.` };
  if (t.status === 'signed' || t.status === 'in_review') return { key: t.status, label: t.status === 'signed' ? 'Signed' : 'In review', sentence: '' };
  if (dur < EMPTY_MS) return { key: 'empty', label: 'No audio', sentence: 'This session holds no audio (shorter than a second): nothing was recorded.' };
  switch (t.endReason) {
    case 'client_gone':
      return { key: 'cut', label: 'Cut short: connection lost', sentence: 'The recording page lost its connection and did not come back in time; the audio received until then is saved, anything after it is not.' };
    case 'idle_timeout':
      return { key: 'cut', label: 'Ended: no audio', sentence: `The server ended this session after ${settings.idleTimeoutMs ? fmtSpan(settings.idleTimeoutMs) : 'a long time'} without audio; everything received is saved.` };
    case 'max_duration':
      return { key: 'cut', label: 'Ended: maximum length', sentence: 'This session reached its maximum length and the server ended it; everything received is saved.' };
    case 'server_shutdown':
      return { key: 'cut', label: 'Ended: server restart', sentence: 'The server restarted during this session and it was not continued; the audio received until then is saved.' };
    case 'repaired':
      return { key: 'cut', label: 'Repaired after a crash', sentence: `The server stopped unexpectedly during this session; it was closed and repaired at the next start${t.failureReason ? ` (${t.failureReason})` : ''}. The transcript may be incomplete.` };
    case 'failed':
      return { key: 'failed', label: 'Ended by an error', sentence: `An error ended this session${t.failureReason ? ` (${t.failureReason})` : ''}; the audio received until then is saved.` };
    default:
      return { key: 'completed', label: 'Completed', sentence: '' };
  }
}

/** @param {StatusInput} t */
export function statusBadge(t) {
  const s = describeStatus(t);
  return h('span', { class: `badge status-${s.key}`, text: s.label });
}
