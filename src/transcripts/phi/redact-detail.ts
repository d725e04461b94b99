import type { PhiEntity, Word } from '../../transcription/port.js';
import { tokenize } from '../risk/flags.js';
import type { Segment, TranscriptionDetail } from '../types.js';
import { findPhi, namesFromTitle, redact, type PhiSpan } from './phi.js';

/** What PHI finding needs beyond the detail view: the engine's words and PHI entities per segment. */
export interface SegmentEvidence {
  words: Word[] | null;
  phi: PhiEntity[] | null;
}

/**
 * The detail view with every PHI stretch replaced by its label: title, speaker labels, text and
 * machine text. Tokens are rebuilt from the redacted text (no word timings: they would point at the
 * very words that were taken out). `redacted: true` tells the page and the export.
 */
export function redactDetail(t: TranscriptionDetail, evidence: ReadonlyMap<string, SegmentEvidence>): TranscriptionDetail & { redacted: true } {
  const names = namesFromTitle(t.title);
  const scrub = (s: string, entities?: PhiEntity[] | null) => redact(s, findPhi(s, { names, entities }));
  const segments: Segment[] = t.segments.map((seg) => {
    const entities = evidence.get(seg.id)?.phi ?? null;
    const text = scrub(seg.text, entities);
    const machineText = scrub(seg.machineText, entities);
    const out: Segment = { ...seg, text, machineText, speaker: seg.speaker === null ? null : scrub(seg.speaker) };
    if (seg.tokens) {
      const { tokens, flagged } = tokenize({ text, machineText: text, words: null, fallback: seg.engine !== t.engine });
      out.tokens = tokens;
      out.flagged = flagged;
    }
    return out;
  });
  return { ...t, title: scrub(t.title), segments, redacted: true };
}

/** A stretch of the recording to replace with a tone, in ms. */
export interface TimeSpan {
  startMs: number;
  endMs: number;
}

/** Silence around a word boundary is not exact: a little either side keeps the first and last phoneme out. */
const PAD_MS = 120;

/**
 * Where PHI is spoken in the recording: the PHI stretches of each segment's machine text (what was
 * heard), placed with the engine's word timings, or, without them, in proportion to their position in
 * the segment; plus the engine's own PHI entity times. Merged and padded.
 */
export function phiTimeSpans(t: TranscriptionDetail, evidence: ReadonlyMap<string, SegmentEvidence>): TimeSpan[] {
  const names = namesFromTitle(t.title);
  const spans: TimeSpan[] = [];
  for (const seg of t.segments) {
    const ev = evidence.get(seg.id);
    for (const e of ev?.phi ?? []) spans.push({ startMs: e.startMs, endMs: e.endMs });
    // Both texts: what the engine heard, and what the reviewer says was said (a corrected name).
    for (const text of new Set([seg.machineText, seg.text])) {
      const found = findPhi(text, { names, entities: ev?.phi ?? null });
      if (!found.length) continue;
      const timed = text === seg.machineText ? tokenize({ text, machineText: text, words: ev?.words ?? null, fallback: false }).tokens : null;
      for (const s of found) spans.push(locate(seg, text, s, timed));
    }
  }
  return mergeTimes(spans.map((s) => ({ startMs: Math.max(0, s.startMs - PAD_MS), endMs: s.endMs + PAD_MS })));
}

/** The time of a character span: from the timed tokens it covers, else by its share of the characters. */
function locate(seg: Segment, text: string, s: PhiSpan, timed: ReturnType<typeof tokenize>['tokens'] | null): TimeSpan {
  if (timed) {
    let at = 0;
    let start: number | undefined;
    let end: number | undefined;
    let all = true;
    for (const tk of timed) {
      const from = text.indexOf(tk.text, at);
      const to = from + tk.text.length;
      at = to;
      if (to <= s.start || from >= s.end) continue;
      if (tk.startMs === undefined || tk.endMs === undefined) all = false;
      else {
        start = Math.min(start ?? Infinity, tk.startMs);
        end = Math.max(end ?? -Infinity, tk.endMs);
      }
    }
    if (all && start !== undefined && end !== undefined) return { startMs: start, endMs: end };
  }
  const span = seg.endMs - seg.startMs;
  const n = Math.max(1, text.length);
  // Without word times the estimate is rough: widen it by a word either side (~400 ms at 150 wpm).
  return { startMs: seg.startMs + Math.floor((span * s.start) / n) - 400, endMs: seg.startMs + Math.ceil((span * s.end) / n) + 400 };
}

function mergeTimes(spans: TimeSpan[]): TimeSpan[] {
  spans.sort((a, b) => a.startMs - b.startMs);
  const out: TimeSpan[] = [];
  for (const s of spans) {
    const last = out[out.length - 1];
    if (last && s.startMs <= last.endMs) last.endMs = Math.max(last.endMs, s.endMs);
    else out.push({ startMs: Math.max(0, s.startMs), endMs: s.endMs });
  }
  return out;
}

/** The tone that replaces PHI: 1 kHz at -12 dBFS, a sound everyone recognises as a bleep. */
export const TONE_HZ = 1000;
export const TONE_AMPLITUDE = 8192;

/** 16-bit mono PCM with every span replaced by the tone (in place on a copy). */
export function bleep(pcm: Buffer, sampleRate: number, spans: readonly TimeSpan[]): Buffer {
  const out = Buffer.from(pcm);
  const samples = Math.floor(out.length / 2);
  for (const s of spans) {
    const from = Math.max(0, Math.floor((s.startMs * sampleRate) / 1000));
    const to = Math.min(samples, Math.ceil((s.endMs * sampleRate) / 1000));
    for (let i = from; i < to; i++) out.writeInt16LE(Math.round(TONE_AMPLITUDE * Math.sin((2 * Math.PI * TONE_HZ * i) / sampleRate)), i * 2);
  }
  return out;
}
