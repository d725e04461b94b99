import { describe, expect, it } from 'vitest';
import { OggDemuxer, oggCrc as independentCrc } from '../../../src/audio/ogg-demuxer.js';
import { lastPageOffset, markEndOfStream, OggOpusInspector, OggOpusWriter, oggCrc } from '../../../src/audio/ogg-opus.js';
import { opusPacketSamples48k } from '../../../src/audio/opus-packet.js';

interface Page {
  offset: number;
  flags: number;
  granule: bigint;
  serial: number;
  seq: number;
  lacing: number[];
  body: Buffer;
}

/** Parses whole pages, checking each CRC with the demuxer's independent implementation. */
function pages(buf: Buffer): Page[] {
  const out: Page[] = [];
  for (let pos = 0; pos < buf.length; ) {
    expect(buf.toString('latin1', pos, pos + 4)).toBe('OggS');
    expect(buf[pos + 4]).toBe(0);
    const n = buf[pos + 26]!;
    const lacing = [...buf.subarray(pos + 27, pos + 27 + n)];
    const len = 27 + n + lacing.reduce((a, b) => a + b, 0);
    const page = buf.subarray(pos, pos + len);
    expect(independentCrc(page), `CRC of page at ${pos}`).toBe(page.readUInt32LE(22));
    out.push({ offset: pos, flags: page[5]!, granule: page.readBigInt64LE(6), serial: page.readUInt32LE(14), seq: page.readUInt32LE(18), lacing, body: page.subarray(27 + n) });
    pos += len;
  }
  return out;
}

const params = { channels: 2, preSkip: 3840, inputSampleRate: 44_100 };
const pkt = (n: number, fill = n % 251) => ({ data: Buffer.alloc(n, fill), samples48k: 960 });

describe('OggOpusWriter', () => {
  it('writes the OpusHead (BOS) and OpusTags pages byte for byte', () => {
    const w = new OggOpusWriter(params, 0x01020304);
    const [head, tags, ...rest] = pages(w.headers());
    expect(rest).toEqual([]);
    expect(head).toMatchObject({ offset: 0, flags: 0x02, granule: 0n, serial: 0x01020304, seq: 0, lacing: [19] });
    expect(head!.body.toString('hex')).toBe(`${Buffer.from('OpusHead').toString('hex')}0102000f44ac0000000000`);
    expect(tags).toMatchObject({ flags: 0, granule: 0n, seq: 1, lacing: [27] });
    expect(tags!.body.toString('hex')).toBe(`${Buffer.from('OpusTags').toString('hex')}0b000000${Buffer.from('arogya-live').toString('hex')}00000000`);
    expect(w.pageSequence).toBe(2);
    expect(w.granulePosition).toBe(0n);
  });

  it('laces packets exactly (0 after a multiple of 255) and gives the page the granule of its last packet', () => {
    const w = new OggOpusWriter(params, 7);
    w.headers();
    const out = w.packets([pkt(10), pkt(255), pkt(510), { data: Buffer.alloc(1, 1), samples48k: 120 }]);
    const [page, ...rest] = pages(out);
    expect(rest).toEqual([]);
    expect(page).toMatchObject({ flags: 0, granule: 960n * 3n + 120n, seq: 2, lacing: [10, 255, 0, 255, 255, 0, 1] });
    expect(page!.body).toEqual(Buffer.concat([Buffer.alloc(10, 10), Buffer.alloc(255, 4), Buffer.alloc(510, 8), Buffer.alloc(1, 1)]));
    expect(w.granulePosition).toBe(3000n);
    expect(w.packets([])).toEqual(Buffer.alloc(0));
    expect(w.pageSequence).toBe(3);
  });

  it('continues a long packet on a new page: 255 segments per page, continued flag, granule -1 where nothing ends', () => {
    const w = new OggOpusWriter(params, 7);
    w.headers();
    // 255 × 255 = 65 025 bytes fill one page's segments exactly; the terminating 0 goes on the next.
    const out = w.packets([pkt(65_025, 1), pkt(70_000, 2)]);
    const ps = pages(out);
    expect(ps.map((p) => [p.flags, p.granule, p.seq, p.lacing.length])).toEqual([
      [0, -1n, 2, 255],
      [1, 960n, 3, 255], // the 0 ending packet 1, then 254 segments of packet 2
      [1, 1920n, 4, 21], // rest of packet 2: 70 000 - 254 × 255 = 5230 = 20 × 255 + 130
    ]);
    expect(ps[2]!.lacing.at(-1)).toBe(130);
    const got = new OggDemuxer().push(Buffer.concat([new OggOpusWriter(params, 7).headers(), out]));
    expect(got).toHaveLength(4);
    expect(got[2]!.equals(Buffer.alloc(65_025, 1)) && got[3]!.equals(Buffer.alloc(70_000, 2))).toBe(true);
  });

  it('gives granule -1 to a middle page of a packet over two pages long, after a page where a packet ended', () => {
    const w = new OggOpusWriter(params, 7);
    w.headers();
    // Packet 1 ends on the first page; packet 2 (2 × 65 025 bytes) then fills two pages where nothing ends.
    const out = w.packets([pkt(64_770, 1), pkt(130_050, 2)]);
    expect(pages(out).map((p) => [p.flags, p.granule, p.lacing.length])).toEqual([
      [0, 960n, 255], // 254 × 255 + the 0 ending packet 1 (64 770 = 254 × 255)
      // Packet 2 begins here: not flagged as continued (RFC 3533), though the page before is full.
      // With the flag, libogg drops the page's first packet; the writer set it until 2026-11-30.
      [0, -1n, 255],
      [1, -1n, 255],
      [1, 1920n, 1], // the 0 ending packet 2 (130 050 = 510 × 255)
    ]);
  });

  it('runs page sequence and granule on across calls and from a resume point', () => {
    const w = new OggOpusWriter(params, -1, { pageSeq: 40, granule: 96_000n });
    const ps = pages(Buffer.concat([w.packets([pkt(5)]), w.packets([pkt(6), pkt(7)])]));
    expect(ps.map((p) => [p.seq, p.granule, p.serial])).toEqual([
      [40, 96_960n, 0xffffffff],
      [41, 98_880n, 0xffffffff],
    ]);
  });
});

describe('markEndOfStream and lastPageOffset', () => {
  it('finds the last whole page and sets its EOS flag with a valid CRC, leaving the others alone', () => {
    const w = new OggOpusWriter(params, 9);
    const buf = Buffer.concat([w.headers(), w.packets([pkt(100)]), w.packets([pkt(300)])]);
    const before = pages(buf);
    const last = lastPageOffset(buf);
    expect(last).toBe(before[3]!.offset);
    markEndOfStream(buf, last);
    const after = pages(buf);
    expect(after.map((p) => p.flags)).toEqual([0x02, 0, 0, 0x04]);
    expect(after[3]!.body).toEqual(before[3]!.body);
    expect(lastPageOffset(buf.subarray(0, buf.length - 1))).toBe(before[2]!.offset);
    expect(lastPageOffset(buf.subarray(0, 26))).toBe(-1);
    expect(lastPageOffset(Buffer.alloc(0))).toBe(-1);
    expect(lastPageOffset(Buffer.alloc(100))).toBe(-1);
  });
});

describe('OggOpusInspector', () => {
  const stream = () => {
    const w = new OggOpusWriter({ channels: 1, preSkip: 312, inputSampleRate: 48_000 }, 5);
    const buf = Buffer.concat([w.headers(), w.packets([pkt(100), pkt(100)]), w.packets([pkt(70_000)])]);
    markEndOfStream(buf, lastPageOffset(buf));
    return buf;
  };

  it('reports pre-skip, pages, last granule, EOS and the duration, however the bytes are cut', () => {
    const buf = stream();
    // One byte at a time through the first pages, then larger slices (each push re-joins what is pending).
    for (const size of [() => buf.length, (at: number) => (at < 1500 ? 1 : 4000), () => 1000]) {
      const i = new OggOpusInspector();
      for (let at = 0, n = size(0); at < buf.length; at += n, n = size(at)) i.push(buf.subarray(at, at + n));
      expect([i.preSkip, i.pages, i.lastGranule, i.eos]).toEqual([312, 5, 2880n, true]);
      expect(i.end()).toBe(Math.floor(((2880 - 312) * 1000) / 48000)); // 53 ms
    }
  });

  it('keeps the last real granule across a page where no packet ends, and says 0 ms for a stream shorter than its pre-skip', () => {
    const w = new OggOpusWriter({ channels: 1, preSkip: 3840, inputSampleRate: 48_000 }, 5);
    const i = new OggOpusInspector();
    i.push(Buffer.concat([w.headers(), w.packets([pkt(10)]), w.packets([pkt(70_000)]).subarray(0, 27 + 255 + 255 * 255)]));
    expect(i.lastGranule).toBe(960n);
    expect(i.eos).toBe(false);
    expect(i.end()).toBe(0);
  });

  it('names the byte where the stream goes wrong', () => {
    const buf = stream();
    const second = pages(buf)[1]!.offset;
    const flipped = Buffer.from(buf);
    flipped[second + 40] = flipped[second + 40]! ^ 0x10;
    const i = new OggOpusInspector();
    i.push(flipped.subarray(0, second));
    expect(() => i.push(flipped.subarray(second))).toThrow(`Ogg page CRC mismatch at byte ${second}`);
    const junk = Buffer.concat([buf.subarray(0, second), Buffer.alloc(30, 0x41)]);
    expect(() => new OggOpusInspector().push(junk)).toThrow(`no Ogg page at byte ${second}`);
    const cut = new OggOpusInspector();
    cut.push(buf.subarray(0, second + 30));
    expect(() => cut.end()).toThrow(`Ogg stream ends inside a page at byte ${second}`);
    const tagsFirst = new OggOpusInspector();
    expect(() => tagsFirst.push(buf.subarray(second))).toThrow('first Ogg page is not OpusHead');
    expect(() => new OggOpusInspector().end()).toThrow('Ogg stream has no OpusHead');
  });
});

describe('oggCrc (recordings)', () => {
  it('agrees with the demuxer CRC on real pages and on the standard check value', () => {
    expect(oggCrc(Buffer.from('123456789'))).toBe(0x89a1897f);
    const buf = new OggOpusWriter(params, 1).headers();
    const first = Buffer.from(buf.subarray(0, 47));
    const stored = first.readUInt32LE(22);
    first.writeUInt32LE(0, 22);
    expect(oggCrc(first)).toBe(stored);
    expect(oggCrc(first)).toBe(independentCrc(first));
  });
});
