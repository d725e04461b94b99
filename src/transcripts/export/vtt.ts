import type { TranscriptionDetail } from '../types.js';
import { cleanSpeaker, timecode, toCues, versionLine } from './cues.js';

/** Cue text escaping per the WebVTT spec (also makes `-->` impossible in a payload). */
function escapeVtt(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

/**
 * A speaker as a voice-span annotation: escaped, and never ending in `-`, which the closing `>`
 * would turn into the forbidden `-->` (a speaker label of "--" made the whole file invalid).
 */
function voiceName(speaker: string): string {
  const name = escapeVtt(cleanSpeaker(speaker));
  return name.endsWith('-') ? `${name} ` : name;
}

/**
 * WebVTT: `WEBVTT` header, `HH:MM:SS.mmm --> HH:MM:SS.mmm`, cue ids, `<v Speaker>` voice spans,
 * lines of at most 42 characters (before escaping), at most two per cue, after a NOTE with the
 * version and signature.
 */
export function toVtt(t: TranscriptionDetail): string {
  // A NOTE block (ignored by players) says which version this is and whether it is signed.
  const out = ['WEBVTT\n', `NOTE ${escapeVtt(versionLine(t)).replace(/-->/g, '→')}\n`];
  toCues(t.segments, false).forEach((cue, i) => {
    const voice = cue.speaker && cue.kind !== 'gap' ? `<v ${voiceName(cue.speaker)}>` : '';
    const lines = cue.lines.map(escapeVtt);
    out.push(`${i + 1}\n${timecode(cue.startMs, '.')} --> ${timecode(cue.endMs, '.')}\n${voice}${lines.join('\n')}\n`);
  });
  return out.join('\n');
}
