import { describe, expect, it } from 'vitest';
import { parsePayload } from '../../src/realtime/payloads.js';

/** The AppError a parser throws, as `{ code, message }`. */
function refusal(parse: () => unknown): { code: string; message: string } {
  try {
    parse();
  } catch (err) {
    const { code, message } = err as { code: string; message: string };
    return { code, message };
  }
  throw new Error('expected the parser to throw');
}

describe('parsePayload (the edge: raw event payloads to the typed input the domain takes)', () => {
  it('session:start: applies the defaults, keeps the format, drops unknown fields', () => {
    expect(parsePayload['session:start']({ audio: { encoding: 'pcm_s16le', sampleRate: 48000 }, extra: 1 })).toEqual({
      specialty: 'PRIMARYCARE',
      type: 'CONVERSATION',
      audio: { encoding: 'pcm_s16le', sampleRate: 48000 },
    });
    expect(parsePayload['session:start']({ title: 'Visit', specialty: 'CARDIOLOGY', type: 'DICTATION', audio: { encoding: 'webm_opus', channels: 1 } })).toEqual({
      title: 'Visit',
      specialty: 'CARDIOLOGY',
      type: 'DICTATION',
      audio: { encoding: 'webm_opus', channels: 1 },
    });
  });

  it.each([
    ['no payload', undefined, 'Invalid or missing: (payload).'],
    ['a string', 'start please', 'Invalid or missing: (payload).'],
    ['no audio', {}, 'Invalid or missing: audio.'],
    ['a wrong specialty and type', { specialty: 'DENTISTRY', type: 'CHAT', audio: { encoding: 'pcm_s16le' } }, 'Invalid or missing: specialty, type.'],
    ['a title of 201 characters', { title: 'x'.repeat(201), audio: { encoding: 'pcm_s16le' } }, 'Invalid or missing: title.'],
    ['a NUL in the title', { title: 'a\u0000b', audio: { encoding: 'pcm_s16le' } }, 'Invalid or missing: title.'],
    ['an encoding of 33 characters', { audio: { encoding: 'e'.repeat(33) } }, 'Invalid or missing: audio.encoding.'],
    ['a fractional rate', { audio: { encoding: 'pcm_s16le', sampleRate: 16000.5 } }, 'Invalid or missing: audio.sampleRate.'],
  ])('session:start with %s is invalid_payload naming the fields', (_name, raw, message) => {
    expect(refusal(() => parsePayload['session:start'](raw))).toEqual({ code: 'invalid_payload', message });
  });

  it.each([
    ['an unknown encoding', { audio: { encoding: 'mp3' } }],
    ['stereo', { audio: { encoding: 'pcm_s16le', channels: 2 } }],
    ['PCM at an odd rate', { audio: { encoding: 'pcm_s16le', sampleRate: 12345 } }],
  ])('session:start with %s is unsupported_audio_format', (_name, raw) => {
    expect(refusal(() => parsePayload['session:start'](raw)).code).toBe('unsupported_audio_format');
  });

  it('audio:chunk: the same bytes as a Buffer, whether a Buffer, an ArrayBuffer or a view into a larger buffer', () => {
    const bytes = Buffer.from([1, 2, 3, 4, 5, 6]);
    const buf = parsePayload['audio:chunk']({ sessionId: 's', seq: 0, data: bytes });
    expect(buf.data).toBe(bytes);
    const ab = parsePayload['audio:chunk']({ sessionId: 's', seq: 1, data: new Uint8Array(bytes).buffer });
    expect(Buffer.isBuffer(ab.data) && [...ab.data]).toEqual([1, 2, 3, 4, 5, 6]);
    const view = parsePayload['audio:chunk']({ sessionId: 's', seq: 2, data: new Uint8Array(bytes.buffer, bytes.byteOffset + 2, 3) });
    expect(Buffer.isBuffer(view.data) && [...view.data]).toEqual([3, 4, 5]);
    expect(view).toMatchObject({ sessionId: 's', seq: 2 });
  });

  it.each([
    ['audio:chunk', { sessionId: 'x', seq: 'one', data: Buffer.alloc(1) }, 'audio:chunk needs {sessionId, seq, data} with binary data.'],
    ['audio:chunk', { sessionId: 'x', seq: 0, data: 'text' }, 'audio:chunk needs {sessionId, seq, data} with binary data.'],
    ['audio:chunk', { sessionId: 'x', seq: -1, data: Buffer.alloc(1) }, 'audio:chunk needs {sessionId, seq, data} with binary data.'],
    ['audio:chunk', { sessionId: 'x'.repeat(65), seq: 0, data: Buffer.alloc(1) }, 'audio:chunk needs {sessionId, seq, data} with binary data.'],
    ['audio:chunk', null, 'audio:chunk needs {sessionId, seq, data} with binary data.'],
    ['session:stop', { nope: 1 }, 'session:stop needs {sessionId}.'],
    ['session:resume', 42, 'session:resume needs {sessionId, lastSeq}.'],
    ['session:resume', { sessionId: 's', lastSeq: -2 }, 'session:resume needs {sessionId, lastSeq}.'],
    ['audio:gap', { sessionId: 's', fromSeq: 5, toSeq: 4, durationMs: 100 }, 'audio:gap needs {sessionId, fromSeq, toSeq, durationMs}.'],
    ['audio:gap', { sessionId: 's', fromSeq: 0, toSeq: 0, durationMs: 24 * 60 * 60 * 1000 + 1 }, 'audio:gap needs {sessionId, fromSeq, toSeq, durationMs}.'],
  ] as const)('%s %j is invalid_payload with its fixed message', (event, raw, message) => {
    expect(refusal(() => parsePayload[event](raw))).toEqual({ code: 'invalid_payload', message });
  });

  it('stop, resume, gap and list: the typed payload, unknown fields dropped', () => {
    expect(parsePayload['session:stop']({ sessionId: 's', x: 1 })).toEqual({ sessionId: 's' });
    expect(parsePayload['session:resume']({ sessionId: 's', lastSeq: -1 })).toEqual({ sessionId: 's', lastSeq: -1 });
    expect(parsePayload['session:resume']({ sessionId: 's' })).toEqual({ sessionId: 's' });
    expect(parsePayload['audio:gap']({ sessionId: 's', fromSeq: 3, toSeq: 3, durationMs: 0 })).toEqual({ sessionId: 's', fromSeq: 3, toSeq: 3, durationMs: 0 });
    expect(parsePayload['session:list']({ anything: true })).toEqual({});
    expect(parsePayload['session:list'](undefined)).toEqual({});
  });
});
