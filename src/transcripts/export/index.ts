import type { TranscriptionDetail } from '../types.js';
import { toJson } from './json.js';
import { toSrt } from './srt.js';
import { toTxt } from './txt.js';
import { toVtt } from './vtt.js';

export const EXPORT_FORMATS = {
  txt: { contentType: 'text/plain; charset=utf-8', render: toTxt },
  srt: { contentType: 'application/x-subrip; charset=utf-8', render: toSrt },
  vtt: { contentType: 'text/vtt; charset=utf-8', render: toVtt },
  json: { contentType: 'application/json; charset=utf-8', render: toJson },
} as const satisfies Record<string, { contentType: string; render: (t: TranscriptionDetail) => string }>;

export type ExportFormat = keyof typeof EXPORT_FORMATS;

/** `transcript-<id>.<format>`: identifiers only, never the title or any other patient data. */
export function exportFilename(id: string, format: ExportFormat): string {
  return `transcript-${id}.${format}`;
}
