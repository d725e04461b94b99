import { describe, expect, it } from 'vitest';
import { InvalidAudioError } from '../../../src/audio/errors.js';
import { OggDemuxer, oggCrc } from '../../../src/audio/ogg-demuxer.js';
import { OggOpusWriter, oggCrc as referenceCrc } from '../../../src/audio/ogg-opus.js';

/** Byte offsets of the pages of a well-formed Ogg stream. */
function pageOffsets(buf: Buffer): number[] {
  const out: number[] = [];
  for (let pos = 0; pos < buf.length; ) {
    out.push(pos);
    const n = buf[pos + 26]!;
    let len = 27 + n;
    for (let i = 0; i < n; i++) len += buf[pos + 27 + i]!;
    pos += len;
  }
  return out;
}

/** Recomputes the CRC of the page at `at` after an edit (with the independent muxer's CRC). */
function fixCrc(buf: Buffer, at: number): void {
  const end = pageOffsets(buf).find((o) => o > at) ?? buf.length;
  buf.writeUInt32LE(0, at + 22);
  buf.writeUInt32LE(referenceCrc(buf.subarray(at, end)), at + 22);
}

const packet = (n: number, fill: number) => Buffer.alloc(n, fill);
// 255 and 510 bytes end in a 0 lacing value; 70 000 bytes need a second page.
const PACKETS = [packet(1, 1), packet(254, 2), packet(255, 3), packet(256, 4), packet(510, 5), packet(70_000, 6), packet(3, 7)];

function stream(serial = 7): { bytes: Buffer; expected: Buffer[] } {
  const w = new OggOpusWriter({ channels: 1, preSkip: 312, inputSampleRate: 48_000 }, serial);
  const headers = w.headers();
  const bytes = Buffer.concat([headers, w.packets(PACKETS.map((data) => ({ data, samples48k: 960 })))]);
  const [h1, h2] = pageOffsets(headers);
  return { bytes, expected: [headers.subarray(h1! + 28, h2), headers.subarray(h2! + 28), ...PACKETS] };
}

function demuxInChunks(bytes: Buffer, size: (i: number) => number): Buffer[] {
  const d = new OggDemuxer();
  const out: Buffer[] = [];
  for (let at = 0, i = 0; at < bytes.length; i++) {
    const n = size(i);
    out.push(...d.push(bytes.subarray(at, at + n)));
    at += n;
  }
  return out;
}

function reason(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(InvalidAudioError);
    return (err as InvalidAudioError).reason;
  }
  throw new Error('did not throw');
}

describe('oggCrc', () => {
  it('is the Ogg CRC-32 (check value of "123456789") and skips the CRC field of a page', () => {
    expect(oggCrc(Buffer.from('123456789'))).toBe(0x89a1897f);
    const { bytes } = stream();
    const first = bytes.subarray(0, pageOffsets(bytes)[1]);
    expect(oggCrc(first)).toBe(first.readUInt32LE(22));
    const copy = Buffer.from(first);
    copy.writeUInt32LE(0xdeadbeef, 22);
    expect(oggCrc(copy)).toBe(first.readUInt32LE(22));
  });
});

describe('OggDemuxer', () => {
  it('returns exactly the packets written, the OpusHead and OpusTags first, however the bytes are cut', () => {
    const { bytes, expected } = stream();
    expect(expected[0]!.toString('latin1', 0, 8)).toBe('OpusHead');
    // One byte at a time through the header pages and small packets (each push re-joins what is pending, so not through 70 kB).
    for (const size of [() => bytes.length, (i: number) => (i < 1500 ? 1 : 4000), (i: number) => [5, 4000, 26, 300, 1][i % 5]!]) {
      const got = demuxInChunks(bytes, size);
      expect(got.map((p) => p.length)).toEqual(expected.map((p) => p.length));
      expect(got.every((p, i) => p.equals(expected[i]!))).toBe(true);
    }
  });

  it('waits for the rest of a page cut anywhere in its header or lacing table after whole pages of the same chunk', () => {
    const { bytes, expected } = stream();
    const third = pageOffsets(bytes)[2]!;
    const lacingEnd = third + 27 + bytes[third + 26]!;
    for (let cut = third + 1; cut <= lacingEnd + 1; cut++) {
      const got = demuxInChunks(bytes, (i) => (i === 0 ? cut : bytes.length));
      expect(got.map((p) => p.length), `cut at ${cut}`).toEqual(expected.map((p) => p.length));
    }
  });

  it('gives each packet as soon as its page is complete, and nothing for a partial page', () => {
    const { bytes, expected } = stream();
    const [, second] = pageOffsets(bytes);
    const d = new OggDemuxer();
    expect(d.push(bytes.subarray(0, second! - 1))).toEqual([]);
    const got = d.push(bytes.subarray(second! - 1, second!));
    expect(got).toHaveLength(1);
    expect(got[0]!.equals(expected[0]!)).toBe(true);
  });

  it('rejects one flipped byte anywhere in a page (CRC), in the capture pattern, or a new version', () => {
    const { bytes } = stream();
    for (const at of [5, 30, 46, bytes.length - 1, pageOffsets(bytes)[2]! + 100]) {
      const bad = Buffer.from(bytes);
      bad[at] = bad[at]! ^ 0x01;
      expect(reason(() => demuxInChunks(bad, () => 1000)), `byte ${at}`).toBe('bad Ogg page CRC');
    }
    const capture = Buffer.from(bytes);
    capture[pageOffsets(bytes)[1]! + 1] = 0x68; // "Oh" instead of "Og" at the second page
    expect(reason(() => demuxInChunks(capture, () => 100_000))).toBe('bad Ogg capture pattern');
    const version = Buffer.from(bytes);
    version[4] = 1;
    expect(reason(() => demuxInChunks(version, () => 100_000))).toBe('unsupported Ogg version');
    expect(reason(() => new OggDemuxer().push(Buffer.alloc(27)))).toBe('bad Ogg capture pattern');
  });

  it('rejects a stream whose first page is not a beginning-of-stream page', () => {
    const { bytes } = stream();
    const bad = Buffer.from(bytes);
    bad[5] = 0;
    fixCrc(bad, 0);
    expect(reason(() => new OggDemuxer().push(bad))).toBe('Ogg stream does not begin with a BOS page');
  });

  it('keeps only the first logical stream when another is multiplexed in', () => {
    const a = stream(7);
    const b = stream(9);
    const pa = pageOffsets(a.bytes);
    const pb = pageOffsets(b.bytes);
    const page = (buf: Buffer, offs: number[], i: number) => buf.subarray(offs[i], offs[i + 1]);
    const mixed = [page(a.bytes, pa, 0)];
    for (let i = 0; i < Math.max(pa.length, pb.length); i++) {
      if (i < pb.length) mixed.push(page(b.bytes, pb, i));
      if (i > 0 && i < pa.length) mixed.push(page(a.bytes, pa, i));
    }
    const got = new OggDemuxer().push(Buffer.concat(mixed));
    expect(got.map((p) => p.length)).toEqual(a.expected.map((p) => p.length));
  });

  it('drops a packet whose continuation page never came instead of gluing it to the next one', () => {
    const w = new OggOpusWriter({ channels: 1, preSkip: 0, inputSampleRate: 48_000 }, 3);
    const headers = w.headers();
    const long = w.packets([{ data: packet(70_000, 1), samples48k: 960 }]);
    const next = w.packets([{ data: packet(10, 2), samples48k: 960 }]);
    const firstHalf = long.subarray(0, pageOffsets(long)[1]);
    const got = new OggDemuxer().push(Buffer.concat([headers, firstHalf, next]));
    expect(got.map((p) => p.length)).toEqual([19, 27, 10]);
  });

  it('after end() forgets a page cut short, so the next bytes start clean', () => {
    const { bytes, expected } = stream();
    const offs = pageOffsets(bytes);
    const d = new OggDemuxer();
    expect(d.push(bytes.subarray(0, offs[1]! + 10))).toHaveLength(1);
    d.end();
    const got = d.push(bytes.subarray(offs[2]));
    expect(got.map((p) => p.length)).toEqual(expected.slice(2).map((p) => p.length));
  });
});
