import { describe, expect, it } from 'vitest';
import { InvalidAudioError } from '../../../src/audio/errors.js';
import { opusPacketSamples48k, parseOpusHead } from '../../../src/audio/opus-packet.js';

/** RFC 6716 §3.1 table: frame length of each of the 32 configurations, in 2.5 ms units (120 samples at 48 kHz). */
const FRAME_UNITS = [
  ...[4, 8, 16, 24, 4, 8, 16, 24, 4, 8, 16, 24], // SILK NB/MB/WB 10/20/40/60 ms
  ...[4, 8, 4, 8], // hybrid SWB/FB 10/20 ms
  ...[1, 2, 4, 8, 1, 2, 4, 8, 1, 2, 4, 8, 1, 2, 4, 8], // CELT NB/WB/SWB/FB 2.5/5/10/20 ms
];

function head(over: { version?: number; channels?: number; preSkip?: number; rate?: number; gain?: number; family?: number; length?: number } = {}): Buffer {
  const b = Buffer.alloc(over.length ?? 19);
  b.write('OpusHead', 0, 'latin1');
  b[8] = over.version ?? 1;
  b[9] = over.channels ?? 1;
  b.writeUInt16LE(over.preSkip ?? 312, 10);
  b.writeUInt32LE(over.rate ?? 48_000, 12);
  b.writeInt16LE(over.gain ?? 0, 16);
  b[18] = over.family ?? 0;
  return b;
}

function reason(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(InvalidAudioError);
    expect(err).toMatchObject({ code: 'invalid_audio' });
    return (err as InvalidAudioError).reason;
  }
  throw new Error('did not throw');
}

describe('opusPacketSamples48k (RFC 6716 §3.1)', () => {
  it('gives every configuration its frame length for one-frame packets (code 0)', () => {
    for (let config = 0; config < 32; config++) {
      expect(opusPacketSamples48k(Uint8Array.of(config << 3)), `config ${config}`).toBe(FRAME_UNITS[config]! * 120);
      // The stereo flag (bit 2) does not change the duration.
      expect(opusPacketSamples48k(Uint8Array.of((config << 3) | 4)), `config ${config} stereo`).toBe(FRAME_UNITS[config]! * 120);
    }
  });

  it('counts two frames for codes 1 and 2, and the frame count byte for code 3', () => {
    expect(opusPacketSamples48k(Uint8Array.of((1 << 3) | 1))).toBe(1920); // SILK 20 ms × 2
    expect(opusPacketSamples48k(Uint8Array.of((1 << 3) | 2))).toBe(1920);
    expect(opusPacketSamples48k(Uint8Array.of((31 << 3) | 3, 6))).toBe(5760); // CELT 20 ms × 6 = 120 ms, the maximum
    expect(opusPacketSamples48k(Uint8Array.of((16 << 3) | 3, 48))).toBe(5760); // 2.5 ms × 48
    // Only the low 6 bits count frames (the top bits are VBR and padding flags).
    expect(opusPacketSamples48k(Uint8Array.of((31 << 3) | 3, 0xc0 | 2))).toBe(1920);
    expect(opusPacketSamples48k(Uint8Array.of((3 << 3) | 1))).toBe(5760); // SILK 60 ms × 2
  });

  it('rejects an empty packet, a code 3 packet without its count byte, zero frames and more than 120 ms', () => {
    expect(reason(() => opusPacketSamples48k(new Uint8Array(0)))).toBe('empty Opus packet');
    expect(reason(() => opusPacketSamples48k(Uint8Array.of((31 << 3) | 3)))).toBe('truncated Opus packet');
    expect(reason(() => opusPacketSamples48k(Uint8Array.of((31 << 3) | 3, 0xc0)))).toBe('bad Opus frame count');
    expect(reason(() => opusPacketSamples48k(Uint8Array.of((31 << 3) | 3, 7)))).toBe('Opus packet longer than 120 ms');
    expect(reason(() => opusPacketSamples48k(Uint8Array.of((16 << 3) | 3, 49)))).toBe('Opus packet longer than 120 ms');
    expect(reason(() => opusPacketSamples48k(Uint8Array.of((3 << 3) | 3, 3)))).toBe('Opus packet longer than 120 ms');
  });
});

describe('parseOpusHead (RFC 7845 §5.1)', () => {
  it('reads every field, the output gain signed, and keeps its own copy of the packet', () => {
    const buf = head({ channels: 2, preSkip: 3840, rate: 44_100, gain: -256 });
    const info = parseOpusHead(buf);
    expect(info).toEqual({ channels: 2, preSkip: 3840, inputSampleRate: 44_100, outputGain: -256, channelMappingFamily: 0, raw: buf });
    buf[9] = 7;
    expect(info.raw[9]).toBe(2);
  });

  it('accepts minor versions (low nibble) and a longer packet', () => {
    expect(parseOpusHead(head({ version: 0x0f })).channels).toBe(1);
    expect(parseOpusHead(head({ length: 21 })).raw).toHaveLength(21);
  });

  it('refuses what it cannot decode, naming why', () => {
    expect(reason(() => parseOpusHead(head().subarray(0, 18)))).toBe('missing OpusHead');
    const bad = head();
    bad.write('OpusTags', 0, 'latin1');
    expect(reason(() => parseOpusHead(bad))).toBe('missing OpusHead');
    expect(reason(() => parseOpusHead(head({ version: 0x10 })))).toBe('unsupported OpusHead version');
    expect(reason(() => parseOpusHead(head({ channels: 0 })))).toBe('bad OpusHead channel count');
    expect(reason(() => parseOpusHead(head({ channels: 3 })))).toBe('bad OpusHead channel count');
    expect(reason(() => parseOpusHead(head({ channels: 3, family: 1 })))).toBe('unsupported Opus channel mapping');
    expect(reason(() => parseOpusHead(head({ channels: 1, family: 255 })))).toBe('unsupported Opus channel mapping');
  });
});
