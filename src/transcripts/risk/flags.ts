import type { Word } from '../../transcription/port.js';
import { DRUG_NAMES } from './drug-names.js';

/**
 * Why a word deserves a second look in review:
 * - `low_confidence`: the engine's confidence is under {@link LOW_CONFIDENCE};
 * - `fallback`: the segment came from the fallback engine (the offline one, while Transcribe was out);
 * - `dose`: a number with a unit, or a unit beside a number ("25 mg", "2 tablets", "5mg");
 * - `frequency`: how often ("twice daily", "bid", "q8h", "prn");
 * - `laterality`: left, right, bilateral;
 * - `negation`: no, not, denies, without… (a dropped "no" inverts a finding);
 * - `drug`: a name from the curated list (drug-names.ts).
 */
export type WordFlag = 'low_confidence' | 'fallback' | 'dose' | 'frequency' | 'laterality' | 'negation' | 'drug';

/** One word of a segment's current text as the review page shows it. */
export interface Token {
  text: string;
  flags?: WordFlag[];
  /** From the engine's word, when the text is still the engine's (not edited). */
  startMs?: number;
  endMs?: number;
  confidence?: number;
}

/**
 * Transcribe Medical's confidences for clearly spoken words sit above 0.9; below 0.6 about a third of
 * words are wrong in our clinical-synth runs, so that is where a reviewer should look first.
 */
export const LOW_CONFIDENCE = 0.6;

const UNITS = new Set([
  'mg', 'mcg', 'µg', 'ug', 'g', 'gram', 'grams', 'kg', 'ml', 'millilitre', 'millilitres', 'milliliter', 'milliliters', 'l', 'litre',
  'litres', 'liter', 'liters', 'milligram', 'milligrams', 'microgram', 'micrograms', 'unit', 'units', 'iu', 'mmol', 'meq', 'cc',
  'tablet', 'tablets', 'tab', 'tabs', 'capsule', 'capsules', 'caps', 'puff', 'puffs', 'drop', 'drops', 'spray', 'sprays',
  'patch', 'patches', 'sachet', 'sachets', 'ampoule', 'ampoules', 'vial', 'vials', 'percent', '%', 'mmhg', 'bpm', 'mls',
]);
const NUMBER_WORDS = new Set([
  'zero', 'half', 'one', 'two', 'three', 'four', 'five', 'six', 'seven', 'eight', 'nine', 'ten', 'eleven', 'twelve',
  'thirteen', 'fourteen', 'fifteen', 'sixteen', 'seventeen', 'eighteen', 'nineteen', 'twenty', 'thirty', 'forty', 'fifty',
  'sixty', 'seventy', 'eighty', 'ninety', 'hundred', 'thousand', 'point',
]);
const FREQUENCY = new Set([
  'daily', 'twice', 'thrice', 'once', 'nightly', 'weekly', 'monthly', 'hourly', 'bid', 'tid', 'qid', 'qds', 'tds', 'bd',
  'od', 'qd', 'prn', 'qhs', 'stat', 'mane', 'nocte', 'fortnightly',
]);
const LATERALITY = new Set(['left', 'right', 'bilateral', 'bilaterally', 'unilateral', 'ipsilateral', 'contralateral']);
const NEGATION = new Set([
  'no', 'not', 'nor', 'never', 'none', 'neither', 'without', 'denies', 'denied', 'deny', 'negative', 'absent', 'nil',
  "don't", "doesn't", "didn't", "isn't", "wasn't", "hasn't", "haven't", "hadn't", "can't", "cannot", "won't", "aren't", "weren't",
]);

/** Lower case, without surrounding punctuation; "b.i.d." → "bid"; curly apostrophes straightened. */
export function normalise(word: string): string {
  let w = word.toLowerCase().replace(/[\u2018\u2019]/g, "'").replace(/^[^\p{L}\p{N}%µ]+|[^\p{L}\p{N}%µ']+$/gu, '');
  if (/^([a-z]\.)+[a-z]$/.test(w)) w = w.replace(/\./g, '');
  return w.replace(/'$/, '');
}

const isNumber = (w: string) => /^\d+([.,]\d+)?$/.test(w) || NUMBER_WORDS.has(w);
const numberWithUnit = (w: string) => /^\d+([.,]\d+)?(mg|mcg|µg|ug|g|kg|ml|l|iu|mmol|units?|%)$/.test(w);

/** The risk flags of each word of `words` (already split), judged with its neighbours. */
export function riskFlags(words: readonly string[]): WordFlag[][] {
  const norm = words.map(normalise);
  return norm.map((w, i) => {
    const flags: WordFlag[] = [];
    const prev = norm[i - 1] ?? '';
    const next = norm[i + 1] ?? '';
    if (numberWithUnit(w) || (isNumber(w) && (UNITS.has(next) || isNumber(next) && UNITS.has(norm[i + 2] ?? ''))) || (UNITS.has(w) && (isNumber(prev) || numberWithUnit(prev)))) {
      flags.push('dose');
    }
    if (FREQUENCY.has(w) || /^q\d+(-\d+)?h$/.test(w) || (w === 'times' && isNumber(prev)) || (w === 'day' && (prev === 'a' || prev === 'per'))) flags.push('frequency');
    if (LATERALITY.has(w)) flags.push('laterality');
    if (NEGATION.has(w) || w.endsWith("n't")) flags.push('negation');
    if (DRUG_NAMES.has(w)) flags.push('drug');
    return flags;
  });
}

/**
 * A segment's current text as tokens with their flags. While the text is still the engine's, each
 * token takes the timing and confidence of the engine's word it matches (in order, ignoring case and
 * punctuation); once edited, the reviewer's words have no engine timing and no confidence.
 */
export function tokenize(seg: { text: string; machineText: string; words?: readonly Word[] | null; fallback: boolean }): { tokens: Token[]; flagged: number } {
  const parts = seg.text.split(/\s+/).filter(Boolean);
  const risk = riskFlags(parts);
  const words = seg.text === seg.machineText ? (seg.words ?? []) : [];
  let wi = 0;
  let flagged = 0;
  const tokens = parts.map((text, i) => {
    const token: Token = { text };
    const flags: WordFlag[] = [...(risk[i] ?? [])];
    const n = normalise(text);
    // Find this token's engine word a few words ahead at most (punctuation items are not words).
    for (let k = wi; k < Math.min(words.length, wi + 3); k++) {
      if (normalise(words[k]!.text) === n) {
        const w = words[k]!;
        token.startMs = w.startMs;
        token.endMs = w.endMs;
        if (w.confidence !== undefined) {
          token.confidence = w.confidence;
          if (w.confidence < LOW_CONFIDENCE) flags.unshift('low_confidence');
        }
        wi = k + 1;
        break;
      }
    }
    if (seg.fallback && seg.text === seg.machineText) flags.push('fallback');
    if (flags.length) {
      token.flags = flags;
      flagged++;
    }
    return token;
  });
  return { tokens, flagged };
}
