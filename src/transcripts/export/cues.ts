import type { Segment, TranscriptionDetail } from '../types.js';

/** Subtitle line length limit (BBC/Netflix guidance; the issue asks for ≤ 42 where split). */
export const MAX_LINE = 42;
/** At most two lines on screen per cue. */
export const MAX_LINES = 2;

export interface Cue {
  startMs: number;
  endMs: number;
  lines: string[];
  speaker: string | null;
  kind: Segment['kind'];
}

/** `HH:MM:SS<sep>mmm`, hours at least two digits. */
export function timecode(ms: number, sep: ',' | '.'): string {
  const total = Math.max(0, Math.round(ms));
  const h = Math.floor(total / 3_600_000);
  const m = Math.floor((total % 3_600_000) / 60_000);
  const s = Math.floor((total % 60_000) / 1000);
  const milli = total % 1000;
  return `${String(h).padStart(2, '0')}:${String(m).padStart(2, '0')}:${String(s).padStart(2, '0')}${sep}${String(milli).padStart(3, '0')}`;
}

/** What a segment says on screen: gaps and provisional text are marked, never dropped. */
export function segmentText(seg: Segment): string {
  const text = seg.text.replace(/\s+/g, ' ').trim();
  if (seg.kind === 'gap') return text ? `[no audio received] ${text}` : '[no audio received]';
  if (seg.kind === 'provisional') return `[provisional] ${text}`.trim();
  return text;
}

/**
 * Greedy word wrap to lines of at most `max` characters (code points); a word longer than `max`
 * is cut into pieces.
 */
export function wrap(text: string, max = MAX_LINE): string[] {
  const lines: string[] = [];
  let line = '';
  for (const word of text.split(' ').filter(Boolean)) {
    const chars = [...word];
    if (chars.length > max) {
      if (line) lines.push(line);
      line = '';
      for (let i = 0; i < chars.length; i += max) {
        const piece = chars.slice(i, i + max).join('');
        if (piece.length && [...piece].length === max) lines.push(piece);
        else line = piece;
      }
      continue;
    }
    const candidate = line ? `${line} ${word}` : word;
    if ([...candidate].length <= max) line = candidate;
    else {
      lines.push(line);
      line = word;
    }
  }
  if (line) lines.push(line);
  return lines;
}

/**
 * Turns segments into cues of at most {@link MAX_LINES} lines of at most {@link MAX_LINE}
 * characters. A long segment becomes several cues whose times divide the segment in proportion to
 * their characters. Every cue lasts at least 1 ms.
 * @param prefixSpeaker put `Speaker: ` in the text (SRT has no voice markup; WebVTT uses `<v>`).
 */
export function toCues(segments: readonly Segment[], prefixSpeaker: boolean): Cue[] {
  const cues: Cue[] = [];
  for (const seg of segments) {
    let text = segmentText(seg);
    if (!text) continue; // an empty final says nothing; gaps and provisional parts always have text
    if (prefixSpeaker && seg.speaker && seg.kind !== 'gap') text = `${cleanSpeaker(seg.speaker)}: ${text}`;
    const lines = wrap(text);
    const groups: string[][] = [];
    for (let i = 0; i < lines.length; i += MAX_LINES) groups.push(lines.slice(i, i + MAX_LINES));
    const weights = groups.map((g) => g.reduce((n, l) => n + [...l].length, 0));
    const total = weights.reduce((a, b) => a + b, 0) || 1;
    const span = seg.endMs - seg.startMs;
    let acc = 0;
    groups.forEach((g, i) => {
      const start = seg.startMs + Math.round((span * acc) / total);
      acc += weights[i] ?? 0;
      const end = i === groups.length - 1 ? seg.endMs : seg.startMs + Math.round((span * acc) / total);
      cues.push({ startMs: start, endMs: Math.max(end, start + 1), lines: g, speaker: seg.speaker, kind: seg.kind });
    });
  }
  return cues;
}

/** Speaker labels are free text from engines: one line, no markup characters. */
export function cleanSpeaker(speaker: string): string {
  return speaker.replace(/[\r\n<>&]+/g, ' ').replace(/-->/g, '→').replace(/\s+/g, ' ').trim().slice(0, 40);
}

/**
 * One line saying which version an export is and whether it is signed, e.g.
 * `Version 4, signed by dr.rao at 2026-04-01T10:00:00.000000Z` or `Version 2, not signed (in_review)`.
 */
export function versionLine(t: TranscriptionDetail): string {
  if (t.signature) return `Version ${t.version}, signed by ${t.signature.signedBy.username} at ${t.signature.signedAt}`;
  return `Version ${t.version}, not signed (${t.status})`;
}
