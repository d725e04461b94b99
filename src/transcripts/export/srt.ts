import type { TranscriptionDetail } from '../types.js';
import { timecode, toCues } from './cues.js';

/**
 * SubRip: 1-based cue numbers, `HH:MM:SS,mmm --> HH:MM:SS,mmm`, at most two lines of at most 42
 * characters, a blank line after each cue, CRLF-free. SRT has no overlap semantics most players
 * agree on, so a cue never starts before the previous one ended (overlapping speech is shifted).
 */
export function toSrt(t: TranscriptionDetail): string {
  const out: string[] = [];
  let prevEnd = 0;
  toCues(t.segments, true).forEach((cue, i) => {
    const start = Math.max(cue.startMs, prevEnd);
    const end = Math.max(cue.endMs, start + 1);
    prevEnd = end;
    // "-->" inside text would read as a timing line to lenient parsers.
    const lines = cue.lines.map((l) => l.replace(/-->/g, '->'));
    out.push(`${i + 1}\n${timecode(start, ',')} --> ${timecode(end, ',')}\n${lines.join('\n')}\n`);
  });
  return out.join('\n');
}
