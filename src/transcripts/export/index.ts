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

/**
 * `<title>-<date>.<format>` (issue 18: a folder of `transcript-<uuid>` files tells a clinician
 * nothing). The title is sanitised to ASCII letters, digits and single hyphens, at most 60
 * characters, so no quote, slash, control character or non-ASCII byte reaches the header or a file
 * system; an empty result reads `transcript`. The date is the recording's, UTC, `YYYY-MM-DD`.
 */
export function exportFilename(t: { title: string; createdAt: string }, format: ExportFormat): string {
  const slug =
    t.title
      .normalize('NFKD')
      .replace(/[\u0300-\u036f]/g, '')
      .replace(/[^A-Za-z0-9]+/g, '-')
      .replace(/^-+|-+$/g, '')
      .slice(0, 60)
      .replace(/-+$/, '') || 'transcript';
  const date = /^\d{4}-\d{2}-\d{2}/.exec(t.createdAt)?.[0] ?? 'undated';
  return `${slug}-${date}.${format}`;
}
