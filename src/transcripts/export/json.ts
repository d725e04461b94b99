import type { TranscriptionDetail } from '../types.js';

/**
 * Every field of the detail view: the transcription's `version` and `signature`, and per segment the
 * current `text` beside the engine's `machineText`. `formatVersion` tells future shapes apart (2:
 * `version` became the transcription's version when review came; it was the format's in 1).
 */
export function toJson(t: TranscriptionDetail): string {
  return `${JSON.stringify({ format: 'arogya-live.transcript', formatVersion: 2, ...t }, null, 2)}\n`;
}
