import type { PhiEntity } from '../../transcription/port.js';

/** What a redacted view puts in place of a span: `[NAME]`, `[DATE]`, `[PHONE]`, `[ID]`, or `[PHI]`. */
export type PhiType = 'NAME' | 'DATE' | 'PHONE' | 'ID' | 'PHI';

/** A stretch of a text that identifies a patient: character offsets [start, end). */
export interface PhiSpan {
  start: number;
  end: number;
  type: PhiType;
}

const MONTHS = 'jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?|sep(?:t(?:ember)?)?|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?';
const ORD = '(?:st|nd|rd|th)?';
const DIGIT_WORD = '(?:zero|oh|o|one|two|three|four|five|six|seven|eight|nine|double|triple)';

/**
 * The rules, most specific first. Offline speech comes out in words ("five five five one two…"), so
 * digits spelled out count like digits.
 */
const RULES: Array<{ type: PhiType; re: RegExp }> = [
  // Record numbers: a label and an identifier with digits ("MRN 483920", "NHS number 943 476 5919").
  { type: 'ID', re: /\b(?:mrn|medical record(?: number)?|record number|hospital number|nhs(?: number)?|patient id|id number)\b[\s:#.-]*(?:no\.?\s*)?(?:[a-z]{0,3}[\d][\d\s-]{2,}[\d]|[a-z]{0,3}\d{3,})/giu },
  // Phone numbers: 9+ digits with the usual separators, or 7+ spelled digits in a row.
  { type: 'PHONE', re: /(?:\+\d{1,3}[\s.-]?)?(?:\(\d{2,5}\)[\s.-]?)?\d[\d\s.-]{7,}\d/gu },
  { type: 'PHONE', re: new RegExp(`\\b${DIGIT_WORD}(?:[\\s,-]+${DIGIT_WORD}){6,}\\b`, 'giu') },
  // Dates: 12/03/2026, 2026-03-12, 12 March 2026, March 12th, the 3rd of May.
  { type: 'DATE', re: /\b\d{1,4}[/.-]\d{1,2}[/.-]\d{1,4}\b/gu },
  { type: 'DATE', re: new RegExp(`\\b(?:the\\s+)?\\d{1,2}${ORD}(?:\\s+of)?\\s+(?:${MONTHS})\\b\\.?(?:,?\\s+\\d{2,4})?`, 'giu') },
  { type: 'DATE', re: new RegExp(`\\b(?:${MONTHS})\\.?\\s+(?:the\\s+)?\\d{1,2}${ORD}\\b(?:,?\\s+\\d{4})?`, 'giu') },
  // Standalone record-like numbers: 6+ digits in one token.
  { type: 'ID', re: /\b[a-z]{0,3}\d{6,}\b/giu },
];

/** Honorifics: the word after one, in the text, is a name. */
const HONORIFIC = /\b(?:[Mm]rs?|[Mm]s|[Mm]iss|[Mm]x|[Dd]r|[Mm]aster)\.?\s+([A-Z][\p{L}'-]+)/gu;
/** Title words that are not names (titles are usually "Mrs Gupta knee follow-up"). */
const TITLE_STOP = new Set(
  'mr mrs ms miss mx dr master visit review consultation consult clinic follow-up follow up followup dictation letter note notes annual check checkup appointment new patient referral discharge summary pain knee chest back head ward round call telephone phone video the and of for with to a an in on at re'.split(
    ' ',
  ),
);

/** Names the clinician typed in the session title: its capitalised words that are not title vocabulary. */
export function namesFromTitle(title: string): string[] {
  const names = new Set<string>();
  for (const raw of title.split(/[\s,;:()/]+/)) {
    const w = raw.replace(/^[^\p{L}]+|[^\p{L}]+$/gu, '');
    if (w.length < 2 || !/^\p{Lu}/u.test(w) || TITLE_STOP.has(w.toLowerCase())) continue;
    names.add(w);
  }
  return [...names];
}

function escapeRe(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/** Classifies a stretch the engine called PHI by the same rules; a name when it looks like one. */
function classify(content: string, names: readonly string[]): PhiType {
  for (const r of RULES) {
    r.re.lastIndex = 0;
    if (r.re.test(content)) return r.type;
  }
  if (names.some((n) => content.toLowerCase().includes(n.toLowerCase())) || /^\p{Lu}/u.test(content)) return 'NAME';
  return 'PHI';
}

/**
 * Every PHI stretch of `text`, merged where they overlap: rule matches (dates, phone numbers, record
 * numbers), the names typed in the title and after an honorific, and the engine's PHI entities
 * (Transcribe Medical) found again in the current text.
 */
export function findPhi(text: string, ctx: { names?: readonly string[]; entities?: readonly PhiEntity[] | null } = {}): PhiSpan[] {
  const names = ctx.names ?? [];
  const spans: PhiSpan[] = [];
  for (const r of RULES) {
    r.re.lastIndex = 0;
    for (const m of text.matchAll(r.re)) {
      if (r.type === 'PHONE' && m[0].replace(/\D/g, '').length < 9 && /\d/.test(m[0])) continue;
      spans.push({ start: m.index, end: m.index + m[0].trimEnd().length, type: r.type });
    }
  }
  for (const m of text.matchAll(HONORIFIC)) {
    const start = m.index + m[0].length - m[1]!.length;
    spans.push({ start, end: start + m[1]!.length, type: 'NAME' });
  }
  for (const n of names) {
    for (const m of text.matchAll(new RegExp(`(?<![\\p{L}\\p{N}])${escapeRe(n)}(?:'s)?(?![\\p{L}\\p{N}])`, 'giu'))) spans.push({ start: m.index, end: m.index + m[0].length, type: 'NAME' });
  }
  for (const e of ctx.entities ?? []) {
    if (!e.content.trim()) continue;
    const type = classify(e.content, names);
    for (const m of text.matchAll(new RegExp(`(?<![\\p{L}\\p{N}])${escapeRe(e.content.trim())}(?![\\p{L}\\p{N}])`, 'giu'))) spans.push({ start: m.index, end: m.index + m[0].length, type });
  }
  return merge(spans);
}

function merge(spans: PhiSpan[]): PhiSpan[] {
  spans.sort((a, b) => a.start - b.start || b.end - a.end);
  const out: PhiSpan[] = [];
  for (const s of spans) {
    const last = out[out.length - 1];
    if (last && s.start <= last.end) last.end = Math.max(last.end, s.end);
    else out.push({ ...s });
  }
  return out;
}

/** `text` with every span replaced by its label, e.g. "seen on [DATE], call [PHONE]". */
export function redact(text: string, spans: readonly PhiSpan[]): string {
  let out = '';
  let at = 0;
  for (const s of spans) {
    out += `${text.slice(at, s.start)}[${s.type}]`;
    at = s.end;
  }
  return out + text.slice(at);
}
