import { describe, expect, it } from 'vitest';
import { cleanSpeaker, segmentText, timecode, toCues, versionLine, wrap } from '../../../src/transcripts/export/cues.js';
import { EXPORT_FORMATS, exportFilename } from '../../../src/transcripts/export/index.js';
import { toJson } from '../../../src/transcripts/export/json.js';
import { toSrt } from '../../../src/transcripts/export/srt.js';
import { toTxt } from '../../../src/transcripts/export/txt.js';
import { toVtt } from '../../../src/transcripts/export/vtt.js';
import type { Segment, TranscriptionDetail } from '../../../src/transcripts/types.js';

function seg(over: Partial<Segment> & Pick<Segment, 'startMs' | 'endMs' | 'text'>): Segment {
  return { id: `s${over.startMs}`, machineText: over.text, speaker: null, kind: 'final', engine: 'local', ...over } as Segment;
}

function detail(segments: Segment[], over: Partial<TranscriptionDetail> = {}): TranscriptionDetail {
  return {
    id: 'b1c2',
    title: 'Follow-up\n visit',
    status: 'completed',
    specialty: 'CARDIOLOGY',
    type: 'DICTATION',
    engine: 'aws',
    clinician: { id: 'c1', username: 'dr.rao' },
    createdAt: '2026-04-01T10:00:00.000000Z',
    endedAt: '2026-04-01T10:01:00.000000Z',
    durationMs: 61_500,
    endReason: 'stopped',
    failureReason: null,
    recording: { available: true, contentType: 'audio/ogg', bytes: 10 },
    version: 3,
    signature: null,
    segments,
    ...over,
  } as TranscriptionDetail;
}

// Ten 9-letter words wrap to lines of 39, 39 and 19 characters: cues of 78 and 19 characters.
const TEN = 'aaaaaaaaa bbbbbbbbb ccccccccc ddddddddd eeeeeeeee fffffffff ggggggggg hhhhhhhhh iiiiiiiii jjjjjjjjj';

const segments = [
  seg({ startMs: 0, endMs: 1500, text: '  Good   morning. ', speaker: 'Dr <Rao>' }),
  seg({ startMs: 1000, endMs: 11_000, text: TEN }),
  seg({ startMs: 11_000, endMs: 11_000, text: 'mm', speaker: 'Patient' }),
  seg({ startMs: 12_000, endMs: 14_000, text: '', kind: 'gap', speaker: 'Patient' }),
  seg({ startMs: 14_000, endMs: 15_000, text: '', kind: 'final' }),
  seg({ startMs: 15_000, endMs: 16_000, text: 'and --> then', kind: 'provisional', speaker: 'Patient' }),
];

describe('TXT export, exact output', () => {
  it('writes the header, the version line and one line per segment for a completed transcript (no failure line)', () => {
    expect(toTxt(detail(segments))).toBe(
      [
        'Transcript b1c2',
        'Title: Follow-up visit',
        'Clinician: dr.rao',
        'Created: 2026-04-01T10:00:00.000000Z',
        'Duration: 00:01:01.500',
        'Specialty: CARDIOLOGY  Type: DICTATION  Status: completed  Engine: aws',
        'Version 3, not signed (completed)',
        '',
        '[00:00:00.000 - 00:00:01.500] Dr <Rao>: Good morning.',
        `[00:00:01.000 - 00:00:11.000] ${TEN}`,
        '[00:00:11.000 - 00:00:11.000] Patient: mm',
        '[00:00:12.000 - 00:00:14.000] [no audio received]',
        '[00:00:14.000 - 00:00:15.000] ',
        '[00:00:15.000 - 00:00:16.000] Patient: [provisional] and --> then',
        '',
      ].join('\n'),
    );
  });

  it('says why a transcript is incomplete only when it is: failed, still recording', () => {
    const header = (t: TranscriptionDetail) => toTxt(t).split('\n\n')[0]!.split('\n').slice(6);
    expect(header(detail([], { status: 'failed', failureReason: ' engine\ngone ' }))).toEqual(['Version 3, not signed (failed)', 'Failed: engine gone (the transcript may be incomplete)']);
    expect(header(detail([], { status: 'failed', failureReason: null }))).toEqual(['Version 3, not signed (failed)', 'Failed: unknown reason (the transcript may be incomplete)']);
    expect(header(detail([], { status: 'recording' }))).toEqual(['Version 3, not signed (recording)', 'Still recording: the transcript is incomplete.']);
    for (const status of ['completed', 'in_review', 'signed'] as const) expect(header(detail([], { status }))).toHaveLength(1);
  });

  it('marks an untitled transcript, an unknown duration and an empty one', () => {
    const text = toTxt(detail([], { title: '  ', durationMs: null }));
    expect(text).toContain('\nTitle: (untitled)\n');
    expect(text).toContain('\nDuration: unknown\n');
    expect(text.endsWith('\n\n(no speech transcribed)\n')).toBe(true);
  });

  it('names the signer in the version line of a signed transcript', () => {
    const signed = detail([], { status: 'signed', version: 5, signature: { signedBy: { id: 'c9', username: 'dr.iyer' }, signedAt: '2026-04-02T08:00:00.000000Z', version: 5 } });
    expect(versionLine(signed)).toBe('Version 5, signed by dr.iyer at 2026-04-02T08:00:00.000000Z');
    expect(toTxt(signed).split('\n')[6]).toBe('Version 5, signed by dr.iyer at 2026-04-02T08:00:00.000000Z');
  });
});

describe('SRT export, exact output', () => {
  it('numbers cues, prefixes speakers, splits long segments with proportional times and shifts overlaps', () => {
    expect(toSrt(detail(segments))).toBe(
      [
        '1\n00:00:00,000 --> 00:00:01,500\nDr Rao: Good morning.\n',
        // Overlapping the previous cue by 500 ms: shifted to start where it ended.
        '2\n00:00:01,500 --> 00:00:09,041\naaaaaaaaa bbbbbbbbb ccccccccc ddddddddd\neeeeeeeee fffffffff ggggggggg hhhhhhhhh\n',
        // 1000 + 10 000 × 78 / 97 = 9041: the first cue gets 78 of the 97 characters' time.
        '3\n00:00:09,041 --> 00:00:11,000\niiiiiiiii jjjjjjjjj\n',
        // A zero-length segment still lasts 1 ms.
        '4\n00:00:11,000 --> 00:00:11,001\nPatient: mm\n',
        '5\n00:00:12,000 --> 00:00:14,000\n[no audio received]\n',
        '6\n00:00:15,000 --> 00:00:16,000\nPatient: [provisional] and -> then\n',
      ].join('\n'),
    );
  });

  it('is empty without segments', () => {
    expect(toSrt(detail([]))).toBe('');
  });
});

describe('WebVTT export, exact output', () => {
  it('writes the header, a NOTE with the version, voice spans and escaped text', () => {
    expect(toVtt(detail(segments))).toBe(
      [
        'WEBVTT\n',
        'NOTE Version 3, not signed (completed)\n',
        '1\n00:00:00.000 --> 00:00:01.500\n<v Dr Rao>Good morning.\n',
        '2\n00:00:01.000 --> 00:00:09.041\naaaaaaaaa bbbbbbbbb ccccccccc ddddddddd\neeeeeeeee fffffffff ggggggggg hhhhhhhhh\n',
        '3\n00:00:09.041 --> 00:00:11.000\niiiiiiiii jjjjjjjjj\n',
        '4\n00:00:11.000 --> 00:00:11.001\n<v Patient>mm\n',
        '5\n00:00:12.000 --> 00:00:14.000\n[no audio received]\n',
        '6\n00:00:15.000 --> 00:00:16.000\n<v Patient>[provisional] and --&gt; then\n',
      ].join('\n'),
    );
  });

  it('escapes & < > in text and speaker, and keeps a dash-ending speaker from forming -->', () => {
    const vtt = toVtt(detail([seg({ startMs: 0, endMs: 1000, text: 'a<b & c>d', speaker: 'x--' })]));
    expect(vtt.split('\n').slice(4).join('\n')).toBe('1\n00:00:00.000 --> 00:00:01.000\n<v x-- >a&lt;b &amp; c&gt;d\n');
    const signer = detail([], { signature: { signedBy: { id: 'c', username: 'a-->b&' }, signedAt: 't', version: 3 } });
    expect(toVtt(signer)).toBe('WEBVTT\n\nNOTE Version 3, signed by a--&gt;b&amp; at t\n');
    expect(toVtt(detail([], { signature: { signedBy: { id: 'c', username: 'a-->b' }, signedAt: 't', version: 3 } }))).not.toContain('-->');
  });
});

describe('cue building blocks', () => {
  it('timecode rounds to the millisecond, clamps below zero and grows past 99 hours', () => {
    expect(timecode(1.4, '.')).toBe('00:00:00.001');
    expect(timecode(1.5, ',')).toBe('00:00:00,002');
    expect(timecode(-5, ',')).toBe('00:00:00,000');
    expect(timecode(3_599_999, '.')).toBe('00:59:59.999');
    expect(timecode(86_399_999, '.')).toBe('23:59:59.999');
    expect(timecode(360_000_000 + 61_001, ',')).toBe('100:01:01,001');
  });

  it('wrap fills lines greedily to exactly 42, cuts an over-long word into 42-character pieces and keeps the rest', () => {
    const w42 = 'x'.repeat(42);
    expect(wrap(`${w42} a`)).toEqual([w42, 'a']);
    expect(wrap(`${'y'.repeat(20)} ${'z'.repeat(21)}`)).toEqual([`${'y'.repeat(20)} ${'z'.repeat(21)}`]);
    expect(wrap(`${'y'.repeat(20)} ${'z'.repeat(22)}`)).toEqual(['y'.repeat(20), 'z'.repeat(22)]);
    expect(wrap(`ab ${'q'.repeat(90)} cd`)).toEqual(['ab', 'q'.repeat(42), 'q'.repeat(42), 'qqqqqq cd']);
    expect(wrap(`${'q'.repeat(84)} cd`)).toEqual(['q'.repeat(42), 'q'.repeat(42), 'cd']);
    expect(wrap('é'.repeat(43))).toEqual(['é'.repeat(42), 'é']);
    expect(wrap('  a   b  ')).toEqual(['a b']);
    expect(wrap('')).toEqual([]);
    expect(wrap('one two three', 7)).toEqual(['one two', 'three']);
  });

  it('segmentText collapses spaces and marks gaps and provisional text', () => {
    expect(segmentText(seg({ startMs: 0, endMs: 1, text: ' a \n b ' }))).toBe('a b');
    expect(segmentText(seg({ startMs: 0, endMs: 1, text: ' lost ', kind: 'gap' }))).toBe('[no audio received] lost');
    expect(segmentText(seg({ startMs: 0, endMs: 1, text: '', kind: 'gap' }))).toBe('[no audio received]');
    expect(segmentText(seg({ startMs: 0, endMs: 1, text: '  ', kind: 'provisional' }))).toBe('[provisional]');
  });

  it('cleanSpeaker makes a label one plain line of at most 40 characters', () => {
    expect(cleanSpeaker(' Dr\r\n<b>Rao</b> & co ')).toBe('Dr b Rao /b co');
    expect(cleanSpeaker('a-->b')).toBe('a-- b');
    expect(cleanSpeaker('s'.repeat(50))).toBe('s'.repeat(40));
  });

  it('toCues keeps speaker and kind on every cue, gives a gap no speaker prefix and every cue at least 1 ms', () => {
    const cues = toCues([seg({ startMs: 0, endMs: 0, text: TEN, speaker: 'Pat' }), seg({ startMs: 5, endMs: 9, text: '', kind: 'gap', speaker: 'Pat' })], true);
    expect(cues.map((c) => [c.startMs, c.endMs, c.speaker, c.kind, c.lines[0]])).toEqual([
      [0, 1, 'Pat', 'final', 'Pat: aaaaaaaaa bbbbbbbbb ccccccccc'],
      [0, 1, 'Pat', 'final', 'hhhhhhhhh iiiiiiiii jjjjjjjjj'],
      [5, 9, 'Pat', 'gap', '[no audio received]'],
    ]);
  });
});

describe('export formats', () => {
  it('have their content types and renderers, and file names made of the title and the date only', () => {
    expect(Object.fromEntries(Object.entries(EXPORT_FORMATS).map(([k, v]) => [k, v.contentType]))).toEqual({
      txt: 'text/plain; charset=utf-8',
      srt: 'application/x-subrip; charset=utf-8',
      vtt: 'text/vtt; charset=utf-8',
      json: 'application/json; charset=utf-8',
    });
    const t = detail(segments);
    expect(EXPORT_FORMATS.txt.render(t)).toBe(toTxt(t));
    expect(EXPORT_FORMATS.srt.render(t)).toBe(toSrt(t));
    expect(EXPORT_FORMATS.vtt.render(t)).toBe(toVtt(t));
    expect(EXPORT_FORMATS.json.render(t)).toBe(toJson(t));
    expect(exportFilename(t, 'vtt')).toBe('Follow-up-visit-2026-04-01.vtt');
    expect(exportFilename({ title: ' Ünïcödé / "title"!! ', createdAt: '2026-12-31T23:59:59Z' }, 'txt')).toBe('Unicode-title-2026-12-31.txt');
    expect(exportFilename({ title: `${'a'.repeat(59)} b`, createdAt: 'x' }, 'srt')).toBe(`${'a'.repeat(59)}-undated.srt`);
    expect(exportFilename({ title: '¿?', createdAt: '2026-01-02' }, 'json')).toBe('transcript-2026-01-02.json');
  });

  it('JSON starts with its format and format version, two-space indented, newline-terminated', () => {
    const json = toJson(detail([]));
    expect(json.startsWith('{\n  "format": "arogya-live.transcript",\n  "formatVersion": 2,\n  "id": "b1c2",')).toBe(true);
    expect(json.endsWith('}\n')).toBe(true);
  });
});
