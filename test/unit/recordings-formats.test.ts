import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { OggOpusInspector, OggOpusWriter, oggCrc } from '../../src/audio/ogg-opus.js';
import { InvalidAudioError } from '../../src/audio/errors.js';
import { opusPacketSamples48k } from '../../src/audio/opus-packet.js';
import { parseRange } from '../../src/recordings/range.js';
import { readSpoolPart, SpoolCorruptError, SpoolPartWriter } from '../../src/recordings/spool.js';
import { parseWavHeader, wavHeader } from '../../src/recordings/wav.js';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'arogya-unit-spool-'));
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

describe('Ogg Opus muxer', () => {
  it('uses the Ogg CRC-32 (poly 0x04c11db7, init 0, no reflection): check value of "123456789"', () => {
    expect(oggCrc(Buffer.from('123456789'))).toBe(0x89a1897f);
  });

  it('round-trips through the page checker: granule positions, pre-skip, packets longer than a page', () => {
    const w = new OggOpusWriter({ channels: 1, preSkip: 312, inputSampleRate: 16000 }, 7);
    const inspector = new OggOpusInspector();
    inspector.push(w.headers());
    // 70 000 bytes > 255 * 255: the packet continues on a second page.
    const out = w.packets([{ data: Buffer.alloc(70_000, 1), samples48k: 960 }, { data: Buffer.alloc(510, 2), samples48k: 960 }]);
    const pageCount = out.toString('latin1').split('OggS').length - 1;
    expect(pageCount).toBe(2);
    expect(out[5]).toBe(0); // first data page: fresh packet, not continued
    const second = out.indexOf('OggS', 1);
    expect(out[second + 5]).toBe(1); // continued
    expect(out.readBigInt64LE(6)).toBe(-1n); // nothing completes on the first page
    // Feed in awkward slices to exercise the streaming parser.
    for (let i = 0; i < out.length; i += 333) inspector.push(out.subarray(i, i + 333));
    expect(inspector.lastGranule).toBe(1920n);
    expect(inspector.end()).toBe(Math.floor(((1920 - 312) * 1000) / 48000));
  });

  it('the page checker rejects a damaged page', () => {
    const w = new OggOpusWriter({ channels: 1, preSkip: 0, inputSampleRate: 48000 }, 1);
    const bytes = Buffer.concat([w.headers(), w.packets([{ data: Buffer.alloc(100, 3), samples48k: 960 }])]);
    const at = bytes.length - 5;
    bytes.writeUInt8(bytes.readUInt8(at) ^ 0xff, at);
    expect(() => new OggOpusInspector().push(bytes)).toThrow(/CRC mismatch/);
  });
});

describe('Opus packet duration from the TOC byte (RFC 6716 §3.1)', () => {
  it.each([
    [[0xf8, 0xff, 0xfe], 960], // CELT FB 20 ms, one frame (the classic silence packet)
    [[0x78], 960], // hybrid FB 20 ms
    [[0x00], 480], // SILK NB 10 ms
    [[0x18], 2880], // SILK NB 60 ms
    [[0xf9], 1920], // CELT 20 ms, two equal frames
    [[0xfb, 0x03], 2880], // CELT 20 ms, code 3, three frames
    [[0x83, 0x02], 240], // CELT NB 2.5 ms, code 3, two frames
  ])('%j → %i samples', (bytes, samples) => {
    expect(opusPacketSamples48k(Uint8Array.from(bytes))).toBe(samples);
  });

  it('rejects empty and over-long packets', () => {
    expect(() => opusPacketSamples48k(new Uint8Array())).toThrow(InvalidAudioError);
    expect(() => opusPacketSamples48k(Uint8Array.from([0xfb, 0x07]))).toThrow(InvalidAudioError); // 7 × 20 ms > 120 ms
  });
});

describe('WAV header', () => {
  it('states the data size and duration', () => {
    const h = wavHeader(16000, 32000 * 90);
    expect(parseWavHeader(h)).toEqual({ sampleRate: 16000, dataBytes: 32000 * 90, durationMs: 90_000 });
    expect(h.readUInt32LE(4)).toBe(36 + 32000 * 90);
  });
});

describe('Range header (RFC 7233, one range)', () => {
  it.each([
    [undefined, { kind: 'full' }],
    ['bytes=0-99', { kind: 'partial', start: 0, end: 99 }],
    ['bytes=500-', { kind: 'partial', start: 500, end: 999 }],
    ['bytes=-100', { kind: 'partial', start: 900, end: 999 }],
    ['bytes=-5000', { kind: 'partial', start: 0, end: 999 }],
    ['bytes=990-5000', { kind: 'partial', start: 990, end: 999 }],
    ['bytes=1000-', { kind: 'unsatisfiable' }],
    ['bytes=-0', { kind: 'unsatisfiable' }],
    ['bytes=5-1', { kind: 'full' }],
    ['bytes=0-1,5-6', { kind: 'full' }],
    ['items=0-1', { kind: 'full' }],
  ])('%s → %j', (header, expected) => {
    expect(parseRange(header, 1000)).toEqual(expected);
  });
});

describe('spool part files', () => {
  it('reads back what was appended, drops a torn tail, and refuses a damaged record', async () => {
    const w = await SpoolPartWriter.create(dir, 1, false);
    await w.append(Buffer.alloc(1000, 1));
    await w.append(Buffer.alloc(2000, 2));
    await w.close();
    const file = path.join(dir, 'part-00001.spool');
    expect((await readSpoolPart(file)).payload.equals(Buffer.concat([Buffer.alloc(1000, 1), Buffer.alloc(2000, 2)]))).toBe(true);

    fs.truncateSync(file, fs.statSync(file).size - 700); // the process died inside the second write
    const torn = await readSpoolPart(file);
    expect(torn.payload.equals(Buffer.alloc(1000, 1))).toBe(true);
    expect(torn.tornBytes).toBe(12 + 2000 - 700);

    const fd = fs.openSync(file, 'r+');
    fs.writeSync(fd, Buffer.from([0xaa]), 0, 1, 500);
    fs.closeSync(fd);
    await expect(readSpoolPart(file)).rejects.toBeInstanceOf(SpoolCorruptError);
  });
});
