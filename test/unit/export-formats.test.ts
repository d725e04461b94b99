import fc from 'fast-check';
import { parser as srtParser, validator as srtValidator } from 'srt-validator';
import { WebVTTParser, type WebVTTNode } from 'webvtt-parser';
import { describe, expect, it } from 'vitest';
import { MAX_LINE, timecode, toCues, wrap } from '../../src/transcripts/export/cues.js';
import { exportFilename } from '../../src/transcripts/export/index.js';
import { toJson } from '../../src/transcripts/export/json.js';
import { toSrt } from '../../src/transcripts/export/srt.js';
import { toTxt } from '../../src/transcripts/export/txt.js';
import { toVtt } from '../../src/transcripts/export/vtt.js';
import type { Segment, TranscriptionDetail } from '../../src/transcripts/types.js';

const LONG =
  'The patient reports intermittent chest tightness radiating to the left arm, worse on exertion and relieved by rest within ten minutes, ' +
  'with no syncope, and a supercalifragilisticexpialidociouslylongunbrokenmedicationname twice daily.';

function seg(over: Partial<Segment> & Pick<Segment, 'startMs' | 'endMs' | 'text'>): Segment {
  return { id: `s${over.startMs}`, speaker: null, kind: 'final', engine: 'local', machineText: over.text, ...over };
}

function detail(segments: Segment[], over: Partial<TranscriptionDetail> = {}): TranscriptionDetail {
  return {
    id: '6f1c2a53-0a7e-4c36-9f5e-2d1b1f0c9a11',
    title: 'Mr Khan chest pain',
    status: 'completed',
    specialty: 'CARDIOLOGY',
    type: 'CONVERSATION',
    engine: 'local',
    clinician: { id: 'c0ffee00-0000-4000-8000-000000000001', username: 'dr.rao' },
    createdAt: '2026-04-01T10:00:00.000000Z',
    endedAt: '2026-04-01T10:05:00.000000Z',
    durationMs: 300_000,
    endReason: 'stopped',
    failureReason: null,
    recording: { available: true, contentType: 'audio/webm', bytes: 1000 },
    version: 1,
    signature: null,
    segments,
    ...over,
  };
}

const sample = detail([
  seg({ startMs: 0, endMs: 2500, text: 'Good morning.', speaker: 'Clinician' }),
  seg({ startMs: 2500, endMs: 40_000, text: LONG, speaker: 'Patient' }),
  seg({ startMs: 40_000, endMs: 45_000, text: '', kind: 'gap' }),
  seg({ startMs: 45_000, endMs: 3_725_123, text: 'BP <140/90> & "stable" --> review', speaker: 'Dr <A> & B' }),
  seg({ startMs: 3_725_123, endMs: 3_726_000, text: 'and then the', kind: 'provisional', speaker: 'Clinician' }),
]);

/** Text content of a parsed WebVTT cue tree, and the voice names in it. */
function flatten(nodes: WebVTTNode[]): { text: string; voices: string[] } {
  let text = '';
  const voices: string[] = [];
  for (const n of nodes) {
    if (n.type === 'text') text += n.value ?? '';
    else if (n.type === 'object') {
      if (n.name === 'v') voices.push(n.value ?? '');
      const inner = flatten(n.children ?? []);
      text += inner.text;
      voices.push(...inner.voices);
    }
  }
  return { text, voices };
}

describe('timecode', () => {
  it('formats hours, minutes, seconds and milliseconds with the right separator', () => {
    expect(timecode(0, ',')).toBe('00:00:00,000');
    expect(timecode(3_725_123, ',')).toBe('01:02:05,123');
    expect(timecode(3_725_123, '.')).toBe('01:02:05.123');
  });
});

describe('wrap', () => {
  it('never exceeds 42 characters and loses no characters', () => {
    fc.assert(
      fc.property(fc.array(fc.string({ minLength: 1, maxLength: 60, unit: fc.constantFrom('a', 'é', 'b', '9', '.') }), { maxLength: 40 }), (words) => {
        const text = words.join(' ');
        const lines = wrap(text);
        for (const l of lines) expect([...l].length).toBeLessThanOrEqual(MAX_LINE);
        expect(lines.join('').replace(/ /g, '')).toBe(text.replace(/ /g, ''));
      }),
    );
  });
});

describe('SRT export', () => {
  const srt = toSrt(sample);

  it('passes a strict SRT validator and parses back into numbered cues', () => {
    expect(srtValidator(srt)).toEqual([]);
    const cues = srtParser.parse(srt);
    expect(cues.map((c) => c.sequenceNumber)).toEqual(cues.map((_, i) => i + 1));
    expect(cues[0]).toMatchObject({ time: { start: 0, end: 2500 }, text: 'Clinician: Good morning.' });
    expect(cues.at(-1)).toMatchObject({ time: { start: 3_725_123, end: 3_726_000 }, text: 'Clinician: [provisional] and then the' });
  });

  it('splits long segments into cues of at most two lines of 42 characters with proportional times', () => {
    const cues = srtParser.parse(srt);
    for (const c of cues) {
      const lines = c.text.split('\n');
      expect(lines.length).toBeLessThanOrEqual(2);
      for (const l of lines) expect([...l].length).toBeLessThanOrEqual(42);
    }
    const patient = cues.filter((c) => c.time.start >= 2500 && c.time.end <= 40_000);
    expect(patient.length).toBeGreaterThan(2);
    expect(patient[0]!.time.start).toBe(2500);
    expect(patient.at(-1)!.time.end).toBe(40_000);
    for (let i = 1; i < patient.length; i += 1) expect(patient[i]!.time.start).toBe(patient[i - 1]!.time.end);
    // Every character of the segment is there, in order (the over-long word is cut at 42).
    expect(patient.map((c) => c.text.replace(/\s/g, '')).join('')).toBe(`Patient: ${LONG}`.replace(/\s/g, ''));
  });

  it('marks gaps instead of dropping them, and keeps "-->" out of cue text', () => {
    const cues = srtParser.parse(srt);
    expect(cues.find((c) => c.time.start === 40_000)?.text).toBe('[no audio received]');
    expect(srt.split('\n').filter((l) => l.includes('-->')).every((l) => /^\d{2}:\d{2}:\d{2},\d{3} --> \d{2}:\d{2}:\d{2},\d{3}$/.test(l))).toBe(true);
  });

  it('stays valid for any segments, overlapping or zero-length included', () => {
    fc.assert(
      fc.property(
        fc.array(
          fc.record({ startMs: fc.nat(100_000), len: fc.nat(20_000), text: fc.string({ maxLength: 200 }), speaker: fc.option(fc.string({ maxLength: 20 })) }),
          { maxLength: 15 },
        ),
        (raw) => {
          const segs = raw
            .map((r, i) => seg({ startMs: r.startMs, endMs: r.startMs + r.len, text: r.text, speaker: r.speaker, id: String(i) }))
            .sort((a, b) => a.startMs - b.startMs);
          const out = toSrt(detail(segs));
          if (out === '') return;
          expect(srtValidator(out)).toEqual([]);
        },
      ),
      { numRuns: Number(process.env.EXPORT_FUZZ_RUNS ?? 200) },
    );
  });
});

describe('WebVTT export', () => {
  const vtt = toVtt(sample);
  const parsed = new WebVTTParser().parse(vtt, 'metadata');

  it('passes the W3C webvtt-parser without errors', () => {
    expect(vtt.startsWith('WEBVTT\n\n')).toBe(true);
    expect(parsed.errors).toEqual([]);
    expect(parsed.cues.length).toBe(srtParser.parse(toSrt(sample)).length);
  });

  it('uses voice spans for speakers and escapes markup in text and speaker names', () => {
    const first = flatten(parsed.cues[0]!.tree.children);
    expect(first).toEqual({ text: 'Good morning.', voices: ['Clinician'] });
    const bp = parsed.cues.find((c) => c.startTime === 45)!;
    expect(bp.text).toContain('&lt;140/90&gt; &amp;');
    expect(flatten(bp.tree.children).voices).toEqual(['Dr A B']);
    expect(bp.endTime).toBeCloseTo(3725.123, 3);
    const gap = parsed.cues.find((c) => c.startTime === 40)!;
    expect(flatten(gap.tree.children)).toEqual({ text: '[no audio received]', voices: [] });
  });

  it('keeps cue payload lines within 42 characters and two lines', () => {
    for (const cue of parsed.cues) {
      const lines = cue.text.replace(/^<v [^>]*>/, '').replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&amp;/g, '&').split('\n');
      expect(lines.length).toBeLessThanOrEqual(2);
      for (const l of lines) expect([...l].length).toBeLessThanOrEqual(42);
    }
  });

  it('stays valid when a speaker label ends in a dash (the voice tag must not form -->)', () => {
    const vtt = toVtt(detail([seg({ startMs: 0, endMs: 900, text: '!', speaker: '--', id: '0' })]));
    expect(new WebVTTParser().parse(vtt, 'metadata').errors).toEqual([]);
    expect(vtt).not.toMatch(/<v [^>]*-->/);
  });

  it('stays valid for arbitrary text', () => {
    fc.assert(
      fc.property(fc.array(fc.record({ text: fc.string({ maxLength: 120 }), speaker: fc.option(fc.string({ maxLength: 20 })) }), { maxLength: 8 }), (raw) => {
        const segs = raw.map((r, i) => seg({ startMs: i * 1000, endMs: i * 1000 + 900, text: r.text, speaker: r.speaker, id: String(i) }));
        expect(new WebVTTParser().parse(toVtt(detail(segs)), 'metadata').errors).toEqual([]);
      }),
      { numRuns: Number(process.env.EXPORT_FUZZ_RUNS ?? 200) },
    );
  });
});

describe('TXT export', () => {
  it('has a header and one timestamped, speaker-labelled line per segment, gaps and provisional text marked', () => {
    const lines = toTxt(detail(sample.segments, { status: 'failed', failureReason: 'transcriber_unavailable' })).split('\n');
    expect(lines[0]).toBe(`Transcript ${sample.id}`);
    expect(lines).toContain('Failed: transcriber_unavailable (the transcript may be incomplete)');
    const body = lines.filter((l) => l.startsWith('['));
    expect(body).toHaveLength(5);
    expect(body[0]).toBe('[00:00:00.000 - 00:00:02.500] Clinician: Good morning.');
    expect(body[2]).toBe('[00:00:40.000 - 00:00:45.000] [no audio received]');
    expect(body[4]).toBe('[01:02:05.123 - 01:02:06.000] Clinician: [provisional] and then the');
  });
});

describe('JSON export', () => {
  it('carries every field of the transcript', () => {
    expect(JSON.parse(toJson(sample))).toEqual({ format: 'arogya-live.transcript', formatVersion: 2, ...sample });
  });

  it('carries the version, the signature and each segment\'s machine text beside the edited text', () => {
    const signed = detail([seg({ startMs: 0, endMs: 1000, text: 'Metoprolol 25 mg twice daily.', machineText: 'met a pro lol 25 mg twice daily' })], {
      status: 'signed',
      version: 4,
      signature: { signedBy: { id: 'c0ffee00-0000-4000-8000-000000000002', username: 'rev.iyer' }, signedAt: '2026-04-02T09:00:00.000000Z', version: 4 },
    });
    const json = JSON.parse(toJson(signed));
    expect(json).toMatchObject({ version: 4, status: 'signed', signature: { signedBy: { username: 'rev.iyer' }, version: 4 } });
    expect(json.segments[0]).toMatchObject({ text: 'Metoprolol 25 mg twice daily.', machineText: 'met a pro lol 25 mg twice daily' });
    expect(toTxt(signed)).toContain('Version 4, signed by rev.iyer at 2026-04-02T09:00:00.000000Z');
    const vtt = toVtt(signed);
    expect(vtt).toContain('NOTE Version 4, signed by rev.iyer');
    expect(new WebVTTParser().parse(vtt, 'metadata').errors).toEqual([]);
    expect(toTxt(detail([], { version: 2, status: 'in_review' }))).toContain('Version 2, not signed (in_review)');
  });
});

describe('cues', () => {
  it('gives every cue a positive duration even for a zero-length segment', () => {
    const cues = toCues([seg({ startMs: 5000, endMs: 5000, text: LONG })], false);
    expect(cues.length).toBeGreaterThan(1);
    for (const c of cues) expect(c.endMs).toBeGreaterThan(c.startMs);
  });
});

describe('exportFilename', () => {
  it('is the sanitised title and the recording date', () => {
    expect(exportFilename(sample, 'srt')).toBe('Mr-Khan-chest-pain-2026-04-01.srt');
    expect(exportFilename({ title: ' Ünïcode "quotes"/..\\\r\nroom 3; ', createdAt: '2026-04-01T23:59:00.000000Z' }, 'txt')).toBe('Unicode-quotes-room-3-2026-04-01.txt');
    expect(exportFilename({ title: '', createdAt: '2026-04-01T10:00:00Z' }, 'json')).toBe('transcript-2026-04-01.json');
    expect(exportFilename({ title: '病歴', createdAt: '2026-04-01T10:00:00Z' }, 'vtt')).toBe('transcript-2026-04-01.vtt');
    expect(exportFilename({ title: 'x'.repeat(300), createdAt: '2026-04-01T10:00:00Z' }, 'txt')).toBe(`${'x'.repeat(60)}-2026-04-01.txt`);
  });
  it('never carries a character that could break the header or a path', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 200 }), (title) => {
        expect(exportFilename({ title, createdAt: '2026-04-01T10:00:00Z' }, 'txt')).toMatch(/^[A-Za-z0-9]+(-[A-Za-z0-9]+)*\.txt$/);
      }),
    );
  });
});
