import type { TranscriptionDetail } from '../types.js';

/** Every field of the detail view, versioned so consumers can tell future shapes apart. */
export function toJson(t: TranscriptionDetail): string {
  return `${JSON.stringify({ format: 'arogya-live.transcript', version: 1, ...t }, null, 2)}\n`;
}
