import { z } from 'zod';
import type { VocabularyTerm } from '../transcription/port.js';

/** Most terms in one specialty's vocabulary (Transcribe allows a 50 KB table; see MAX_TABLE_BYTES). */
export const MAX_TERMS = 1000;
/** Transcribe's limit on a custom vocabulary file. */
export const MAX_TABLE_BYTES = 50 * 1024;

/**
 * One term as an admin enters it, in the rules of Transcribe's table format: the phrase has no
 * spaces (hyphens join words: `Heberden-nodes`), sounds-like is syllables joined by hyphens
 * (`teer-zeh-pa-tide`), display-as is free text without tabs or line breaks.
 */
export const vocabularyTermSchema = z
  .object({
    phrase: z.string().regex(/^[\p{L}\p{M}\p{N}'.]+(?:-[\p{L}\p{M}\p{N}'.]+)*$/u).max(256),
    soundsLike: z.string().regex(/^[\p{L}]+(?:-[\p{L}]+)*$/u).max(256).optional(),
    displayAs: z.string().trim().min(1).max(256).regex(/^[^\t\r\n]+$/).optional(),
  })
  .strict();

export const vocabularyTermsSchema = z
  .array(vocabularyTermSchema)
  .max(MAX_TERMS)
  .refine((terms) => new Set(terms.map((t) => t.phrase.toLowerCase())).size === terms.length, { message: 'duplicate phrase' })
  .refine((terms) => Buffer.byteLength(vocabularyTable(terms)) <= MAX_TABLE_BYTES, { message: 'vocabulary larger than 50 KB' });

/**
 * The terms as Transcribe's table-format vocabulary file: a header line `Phrase SoundsLike IPA
 * DisplayAs`, then one line per term, fields separated by tabs (IPA left empty: sounds-like and IPA
 * are exclusive and admins write sounds-like). UTF-8, `\n` line ends.
 */
export function vocabularyTable(terms: readonly VocabularyTerm[]): string {
  const lines = ['Phrase\tSoundsLike\tIPA\tDisplayAs'];
  for (const t of terms) lines.push([t.phrase, t.soundsLike ?? '', '', t.displayAs ?? ''].join('\t'));
  return `${lines.join('\n')}\n`;
}
