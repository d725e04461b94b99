import type { TranscriptionDetail } from '../types.js';
import { segmentText, timecode, versionLine } from './cues.js';

/**
 * Plain text for reading and pasting: a header, then one line per segment with its time range and
 * speaker. Gaps and provisional text are marked in place.
 */
export function toTxt(t: TranscriptionDetail): string {
  const lines = [
    `Transcript ${t.id}`,
    `Title: ${oneLine(t.title) || '(untitled)'}`,
    `Clinician: ${t.clinician.username}`,
    `Created: ${t.createdAt}`,
    `Duration: ${t.durationMs === null ? 'unknown' : timecode(t.durationMs, '.')}`,
    `Specialty: ${t.specialty}  Type: ${t.type}  Status: ${t.status}  Engine: ${t.engine}`,
    versionLine(t),
  ];
  if (t.status === 'failed') lines.push(`Failed: ${oneLine(t.failureReason ?? 'unknown reason')} (the transcript may be incomplete)`);
  if (t.status === 'recording') lines.push('Still recording: the transcript is incomplete.');
  lines.push('');
  for (const seg of t.segments) {
    const speaker = seg.speaker && seg.kind !== 'gap' ? `${oneLine(seg.speaker)}: ` : '';
    lines.push(`[${timecode(seg.startMs, '.')} - ${timecode(seg.endMs, '.')}] ${speaker}${segmentText(seg)}`);
  }
  if (t.segments.length === 0) lines.push('(no speech transcribed)');
  return `${lines.join('\n')}\n`;
}

function oneLine(s: string): string {
  return s.replace(/\s+/g, ' ').trim();
}
