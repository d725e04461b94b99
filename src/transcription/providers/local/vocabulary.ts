import type { VocabularyTerm } from '../../port.js';

/** A custom-vocabulary term as the offline decoder takes it. */
export interface DictionaryEntry {
  /** The dictionary word: the phrase in lower case (hyphens join its words, as in Transcribe's table). */
  word: string;
  /** Phones from the dictionary, or undefined when a piece of its pronunciation is not in it. */
  phones: string | undefined;
  /** What the transcript shows for it. */
  display: string;
}

/** What loading a vocabulary into one decoder did (reported per stream). */
export interface VocabularyReport {
  /** Words added to the dictionary and the language model. */
  added: string[];
  /** Words the dictionary already had (only their display form applies). */
  known: string[];
  /** Words with a pronunciation piece the dictionary does not have (not added). */
  skipped: string[];
}

/**
 * PocketSphinx 5prealpha has no grapheme-to-phoneme model, so a new word's pronunciation is built
 * from the dictionary: each piece of its sounds-like (syllables split at hyphens and spaces, e.g.
 * `teer-zep-a-tide` → teer, zep, a, tide), or of the phrase itself when no sounds-like is given,
 * is looked up and the phones joined. A piece the dictionary lacks makes the term unusable offline.
 */
export function dictionaryEntry(term: VocabularyTerm, lookup: (word: string) => string | undefined): DictionaryEntry {
  const word = term.phrase.toLowerCase();
  const display = term.displayAs ?? term.phrase.replace(/-/g, ' ');
  const pieces = (term.soundsLike ?? term.phrase).toLowerCase().split(/[\s-]+/).filter(Boolean);
  const phones: string[] = [];
  for (const piece of pieces) {
    const p = lookup(piece);
    if (p === undefined) return { word, phones: undefined, display };
    phones.push(p);
  }
  return { word, phones: phones.length ? phones.join(' ') : undefined, display };
}

/** Dictionary word → display form, for the words of a hypothesis (a term's word is its phrase in lower case). */
export function displayWords(text: string, display: ReadonlyMap<string, string>): string {
  if (display.size === 0 || text === '') return text;
  return text
    .split(' ')
    .map((w) => display.get(w) ?? w)
    .join(' ');
}
