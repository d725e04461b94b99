/**
 * The page's Ogg Opus writer (public/lib/ogg-opus-writer.js) against the server's own readers: the
 * demuxer the live path uses (src/audio/ogg-demuxer.ts, which checks every CRC), the decoder that
 * turns the stream into PCM, and the recording's page inspector (granule positions → duration).
 * Real Opus packets come from libopus (ffmpeg) so the decoder has something true to decode.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { OggOpusWriter, concat, oggCrc, opusHead, serialFor } from '../../../public/lib/ogg-opus-writer.js';
import { createDecoder } from '../../../src/audio/decoder.js';
import { OggDemuxer, oggCrc as serverOggCrc } from '../../../src/audio/ogg-demuxer.js';
import { parseOpusHead } from '../../../src/audio/opus-packet.js';
import { OggOpusInspector } from '../../../src/audio/ogg-opus.js';
import { opusPacketSamples48k } from '../../../src/audio/opus-packet.js';
import { encodeOpus, randomChunks, readSharedPcm } from '../../support/audio.js';

const FILE = 'real/1089-134686-0000.wav';
/** What the page writes per chunk: 200 ms of 20 ms packets (recorder-capture.js). */
const PACKETS_PER_PAGE = 10;

let head: Buffer;
let packets: Buffer[];

beforeAll(async () => {
  const demux = new OggDemuxer();
  const all = demux.push(await encodeOpus(FILE, 'ogg'));
  head = all[0]!;
  packets = all.slice(2); // after OpusHead and OpusTags
});

/** The page as recorder-capture.js builds it: headers with the first page, then one page per chunk. */
function writeStream(writer: OggOpusWriter, source: Buffer[]): Uint8Array[] {
  const chunks: Uint8Array[] = [];
  for (let i = 0; i < source.length; i += PACKETS_PER_PAGE) {
    const group = source.slice(i, i + PACKETS_PER_PAGE).map((data) => ({ data, samples48k: opusPacketSamples48k(data) }));
    const last = i + PACKETS_PER_PAGE >= source.length;
    const headers = writer.needsHeaders ? [writer.headers()] : [];
    chunks.push(concat([...headers, writer.page(group, last)]));
  }
  return chunks;
}

/** Every page of `bytes`: its header fields. */
function pages(bytes: Uint8Array): Array<{ flags: number; granule: bigint; serial: number; seq: number; length: number }> {
  const buf = Buffer.from(bytes);
  const out = [];
  for (let pos = 0; pos < buf.length; ) {
    const nseg = buf[pos + 26]!;
    let length = 27 + nseg;
    for (let i = 0; i < nseg; i++) length += buf[pos + 27 + i]!;
    out.push({ flags: buf[pos + 5]!, granule: buf.readBigInt64LE(pos + 6), serial: buf.readUInt32LE(pos + 14), seq: buf.readUInt32LE(pos + 18), length });
    pos += length;
  }
  return out;
}

describe('page Ogg Opus writer', () => {
  it('writes a stream the server demuxes back into the same packets, whatever the chunking, every CRC checked', () => {
    const writer = new OggOpusWriter({ serial: serialFor('s-1'), head });
    const stream = concat(writeStream(writer, packets));
    const demux = new OggDemuxer();
    const out = randomChunks(Buffer.from(stream), 7, 3000).flatMap((c) => demux.push(c));
    expect(parseOpusHead(out[0]!)).toMatchObject({ channels: 1, preSkip: parseOpusHead(head).preSkip });
    expect(out[1]!.toString('latin1', 0, 8)).toBe('OpusTags');
    expect(out.slice(2).map((p) => p.toString('hex'))).toEqual(packets.map((p) => p.toString('hex')));
  });

  it('numbers pages from 0, flags the first as beginning and the last as end of stream, and gives each audio page the granule of its last sample', () => {
    const writer = new OggOpusWriter({ serial: 1234, head });
    const all = pages(concat(writeStream(writer, packets)));
    expect(all.map((p) => p.seq)).toEqual(all.map((_, i) => i));
    expect(all.every((p) => p.serial === 1234)).toBe(true);
    expect(all.map((p) => p.flags)).toEqual([0x02, ...Array<number>(all.length - 2).fill(0), 0x04]);
    expect(all.slice(0, 2).map((p) => p.granule)).toEqual([0n, 0n]);
    let expected = 0n;
    for (const [i, p] of all.slice(2).entries()) {
      for (const packet of packets.slice(i * PACKETS_PER_PAGE, (i + 1) * PACKETS_PER_PAGE)) expected += BigInt(opusPacketSamples48k(packet));
      expect(p.granule).toBe(expected);
    }
    expect(writer.granule).toBe(expected);
  });

  it('plays for as long as the speech it carries: the recording inspector and the live decoder agree with the WAV within 30 ms', async () => {
    const wavMs = (readSharedPcm(FILE).length / 2 / 16000) * 1000;
    const stream = Buffer.from(concat(writeStream(new OggOpusWriter({ serial: 99, head }), packets)));
    const inspector = new OggOpusInspector();
    inspector.push(stream);
    expect(inspector.eos).toBe(true);
    expect(Math.abs(inspector.end() - wavMs)).toBeLessThan(30);

    const decoder = await createDecoder({ encoding: 'ogg_opus' });
    const pcm = Buffer.concat([decoder.push(stream).pcm, decoder.end()]);
    expect(Math.abs((pcm.length / 2 / 16000) * 1000 - wavMs)).toBeLessThan(30);
  });

  it('computes the CRC the server computes, and a flipped byte fails the server demuxer', () => {
    const chunks = writeStream(new OggOpusWriter({ serial: 5, head }), packets.slice(0, 30));
    const stream = Buffer.from(concat(chunks));
    let pos = 0;
    for (const { length } of pages(stream)) {
      const p = stream.subarray(pos, pos + length);
      pos += length;
      const copy = Buffer.from(p);
      const crc = copy.readUInt32LE(22);
      copy.writeUInt32LE(0, 22);
      expect(oggCrc(copy)).toBe(crc);
      expect(serverOggCrc(p)).toBe(crc);
    }
    expect(pos).toBe(stream.length);
    const broken = Buffer.from(concat(chunks));
    broken[pages(stream)[0]!.length + 40]! ^= 0x10; // inside OpusTags
    expect(() => new OggDemuxer().push(broken)).toThrow(expect.objectContaining({ reason: 'bad Ogg page CRC' }));
  });

  it('laces packets of 255 bytes and more (a 255-byte packet ends with a 0 lacing value) and refuses a page over 255 segments', () => {
    const big = [254, 255, 256, 510, 1000].map((n) => ({ data: new Uint8Array(n).fill(n & 0xff), samples48k: 960 }));
    const writer = new OggOpusWriter({ serial: 8, head });
    const stream = concat([writer.headers(), writer.page(big)]);
    const out = new OggDemuxer().push(Buffer.from(stream)).slice(2);
    expect(out.map((p) => p.length)).toEqual([254, 255, 256, 510, 1000]);
    const lacing = Buffer.from(stream).subarray(pages(stream)[0]!.length + pages(stream)[1]!.length);
    expect([...lacing.subarray(27, 27 + lacing[26]!)]).toEqual([254, 255, 0, 255, 1, 255, 255, 0, 255, 255, 255, 235]);
    expect(() => writer.page([{ data: new Uint8Array(255 * 255), samples48k: 960 }])).toThrow(RangeError);
  });

  it('continues a stream after a reload from the session id and the next chunk seq alone, and the server reads on without new headers', () => {
    const serial = serialFor('3f1c2a9e-session');
    const before = writeStream(new OggOpusWriter({ serial, head }), packets.slice(0, 40)).slice(0, 3); // chunks 0..2 sent before the reload
    const nextSeq = 3;
    const after = new OggOpusWriter({ serial: serialFor('3f1c2a9e-session'), head, pageSeq: nextSeq + 2, granule: 123_456n });
    expect(after.needsHeaders).toBe(false);
    const more = [after.page(packets.slice(40, 50).map((data) => ({ data, samples48k: 960 })))];
    expect(pages(more[0]!)[0]).toMatchObject({ seq: 5, serial, granule: 123_456n + 9600n });

    const demux = new OggDemuxer();
    const out = [...before, ...more].flatMap((c) => demux.push(Buffer.from(c)));
    expect(out.slice(2).map((p) => p.toString('hex'))).toEqual([...packets.slice(0, 30), ...packets.slice(40, 50)].map((p) => p.toString('hex')));
    expect(() => after.headers()).toThrow(/already begun/);
  });

  it('writes an OpusHead the server parses', () => {
    expect(parseOpusHead(Buffer.from(opusHead({ channels: 1, preSkip: 312, inputSampleRate: 16000 })))).toMatchObject({
      channels: 1,
      preSkip: 312,
      inputSampleRate: 16000,
      outputGain: 0,
      channelMappingFamily: 0,
    });
  });
});
