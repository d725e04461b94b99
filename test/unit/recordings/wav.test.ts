import { describe, expect, it } from 'vitest';
import { parseWavHeader, WAV_HEADER_BYTES, wavHeader } from '../../../src/recordings/wav.js';

describe('wavHeader', () => {
  it('writes the canonical 44-byte header, byte for byte (16 kHz mono, 1 s)', () => {
    expect(WAV_HEADER_BYTES).toBe(44);
    expect(wavHeader(16_000, 32_000).toString('hex')).toBe(
      '52494646' + '247d0000' + '57415645' + '666d7420' + '10000000' + '0100' + '0100' + '803e0000' + '007d0000' + '0200' + '1000' + '64617461' + '007d0000',
    );
  });

  it('states byte rate and block align for two channels', () => {
    const h = wavHeader(48_000, 192_000, 2);
    expect(h.readUInt16LE(22)).toBe(2);
    expect(h.readUInt32LE(28)).toBe(192_000);
    expect(h.readUInt16LE(32)).toBe(4);
    expect(parseWavHeader(h)).toEqual({ sampleRate: 48_000, dataBytes: 192_000, durationMs: 1000 });
  });
});

describe('parseWavHeader', () => {
  it('rounds the duration to the nearest millisecond', () => {
    expect(parseWavHeader(wavHeader(16_000, 48)).durationMs).toBe(2); // 1.5 ms
    expect(parseWavHeader(wavHeader(16_000, 46)).durationMs).toBe(1); // 1.44 ms
    expect(parseWavHeader(wavHeader(16_000, 0))).toEqual({ sampleRate: 16_000, dataBytes: 0, durationMs: 0 });
  });

  it('refuses anything but our own header', () => {
    const good = wavHeader(16_000, 320);
    expect(() => parseWavHeader(good.subarray(0, 43))).toThrow('not a canonical WAV header');
    for (const [at, text] of [[0, 'RIFX'], [8, 'AVI '], [36, 'LIST']] as const) {
      const bad = Buffer.from(good);
      bad.write(text, at, 'latin1');
      expect(() => parseWavHeader(bad), text).toThrow('not a canonical WAV header');
    }
  });
});
