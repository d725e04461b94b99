import { describe, expect, it } from 'vitest';
import { parseWav } from '../../../src/audio/wav.js';

function chunk(id: string, body: Buffer): Buffer {
  const h = Buffer.alloc(8);
  h.write(id, 0, 'latin1');
  h.writeUInt32LE(body.length, 4);
  // RIFF pads odd chunks to an even length.
  return Buffer.concat([h, body, body.length % 2 ? Buffer.alloc(1) : Buffer.alloc(0)]);
}

function fmt(format: number, channels: number, rate: number, bits: number): Buffer {
  const b = Buffer.alloc(16);
  b.writeUInt16LE(format, 0);
  b.writeUInt16LE(channels, 2);
  b.writeUInt32LE(rate, 4);
  b.writeUInt32LE((rate * channels * bits) / 8, 8);
  b.writeUInt16LE((channels * bits) / 8, 12);
  b.writeUInt16LE(bits, 14);
  return b;
}

function riff(...chunks: Buffer[]): Buffer {
  const body = Buffer.concat([Buffer.from('WAVE', 'latin1'), ...chunks]);
  const h = Buffer.alloc(8);
  h.write('RIFF', 0, 'latin1');
  h.writeUInt32LE(body.length, 4);
  return Buffer.concat([h, body]);
}

const data = Buffer.from([1, 2, 3, 4, 5, 6, 7, 8]);

describe('parseWav', () => {
  it('returns the rate, channels and exactly the data bytes', () => {
    const wav = parseWav(riff(chunk('fmt ', fmt(1, 2, 44_100, 16)), chunk('data', data), chunk('LIST', Buffer.alloc(10))));
    expect(wav).toEqual({ sampleRate: 44_100, channels: 2, data });
  });

  it('skips other chunks before the data, odd-sized ones with their pad byte', () => {
    const wav = parseWav(riff(chunk('LIST', Buffer.alloc(3, 9)), chunk('fmt ', fmt(1, 1, 16_000, 16)), chunk('fact', Buffer.alloc(5)), chunk('data', data)));
    expect(wav).toEqual({ sampleRate: 16_000, channels: 1, data });
  });

  it('accepts WAVE_FORMAT_EXTENSIBLE 16-bit', () => {
    expect(parseWav(riff(chunk('fmt ', fmt(0xfffe, 1, 48_000, 16)), chunk('data', data))).sampleRate).toBe(48_000);
  });

  it('refuses anything but 16-bit PCM with a data chunk', () => {
    expect(() => parseWav(riff(chunk('fmt ', fmt(1, 1, 16_000, 8)), chunk('data', data)))).toThrow('only 16-bit PCM WAV');
    expect(() => parseWav(riff(chunk('fmt ', fmt(3, 1, 16_000, 16)), chunk('data', data)))).toThrow('only 16-bit PCM WAV');
    expect(() => parseWav(riff(chunk('data', data), chunk('fmt ', fmt(1, 1, 16_000, 16))))).toThrow('only 16-bit PCM WAV');
    expect(() => parseWav(riff(chunk('fmt ', fmt(1, 1, 16_000, 16))))).toThrow('WAV has no data chunk');
    const notRiff = riff(chunk('fmt ', fmt(1, 1, 16_000, 16)), chunk('data', data));
    notRiff.write('RIFX', 0, 'latin1');
    expect(() => parseWav(notRiff)).toThrow('not a WAV file');
    const notWave = riff(chunk('fmt ', fmt(1, 1, 16_000, 16)), chunk('data', data));
    notWave.write('AVI ', 8, 'latin1');
    expect(() => parseWav(notWave)).toThrow('not a WAV file');
  });

  it('stops at a chunk header cut short instead of reading past the end', () => {
    const wav = riff(chunk('fmt ', fmt(1, 1, 16_000, 16)));
    expect(() => parseWav(Buffer.concat([wav, Buffer.from('data', 'latin1')]))).toThrow('WAV has no data chunk');
  });
});
