import type { TranscriptionDetail } from '../types.js';

/**
 * Every field of the detail view: the transcription's `version` and `signature`, and per segment the
 * current `text` beside the engine's `machineText`. The review tokens (flags, word timings) are the
 * page's working view, derived from those, and are left out. `formatVersion` tells future shapes apart
 * (2: `version` became the transcription's version when review came; it was the format's in 1).
 */
export function toJson(t: TranscriptionDetail): string {
  const segments = t.segments.map(({ tokens: _t, flagged: _f, ...s }) => s);
  return `${JSON.stringify({ format: 'arogya-live.transcript', formatVersion: 2, ...t, segments }, null, 2)}\n`;
}
