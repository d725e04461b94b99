import { describe, expect, it } from 'vitest';
import { InvalidAudioError } from '../../../src/audio/errors.js';
import { WebmDemuxer } from '../../../src/audio/webm-demuxer.js';

/** EBML element: id bytes as written (marker included), size as a minimal vint, body. */
function el(id: number, body: Buffer | number[]): Buffer {
  const b = Buffer.isBuffer(body) ? body : Buffer.from(body);
  return Buffer.concat([idBytes(id), size(b.length), b]);
}

function idBytes(id: number): Buffer {
  const n = id > 0xffffff ? 4 : id > 0xffff ? 3 : id > 0xff ? 2 : 1;
  const b = Buffer.alloc(n);
  b.writeUIntBE(id, 0, n);
  return b;
}

function size(n: number): Buffer {
  for (let len = 1; len <= 8; len++) {
    if (n < 2 ** (7 * len) - 1) {
      const b = Buffer.alloc(len);
      let v = n;
      for (let i = len - 1; i >= 0; i--) {
        b[i] = v % 256;
        v = Math.floor(v / 256);
      }
      b[0] = b[0]! | (0x80 >> (len - 1));
      return b;
    }
  }
  throw new Error('too big');
}

/** A master element of unknown size (how MediaRecorder writes Segment and Cluster). */
const open = (id: number) => Buffer.concat([idBytes(id), Buffer.from([0x01, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff])]);

const EBML = el(0x1a45dfa3, el(0x4282, Buffer.from('webm')));
const OPUS_HEAD = Buffer.concat([Buffer.from('OpusHead', 'latin1'), Buffer.from([1, 1, 0x38, 0x01, 0x80, 0xbb, 0, 0, 0, 0, 0])]);

function trackEntry(number: number, codec: string, priv?: Buffer): Buffer {
  return el(0xae, Buffer.concat([el(0xd7, number > 255 ? [number >> 8, number & 0xff] : [number]), el(0x86, Buffer.from(codec, 'latin1')), ...(priv ? [el(0x63a2, priv)] : [])]));
}

const simpleBlock = (track: number, frame: Buffer, flags = 0x80) => el(0xa3, Buffer.concat([size(track), Buffer.from([0, 0, flags]), frame]));
const frames = [Buffer.from([0xfc, 1, 2, 3]), Buffer.from([0xfc, 4]), Buffer.alloc(300, 9), Buffer.from([0xfc, 5, 6])];

function webm(tracks: Buffer[], clusterBody: Buffer[]): Buffer {
  return Buffer.concat([EBML, open(0x18538067), el(0x1654ae6b, Buffer.concat(tracks)), open(0x1f43b675), el(0xe7, [0]), ...clusterBody]);
}

const standard = webm([trackEntry(1, 'A_OPUS', OPUS_HEAD)], [
  simpleBlock(1, frames[0]!),
  simpleBlock(1, frames[1]!),
  open(0x1f43b675),
  el(0xe7, [0x03, 0xe8]),
  simpleBlock(1, frames[2]!),
  el(0xa0, Buffer.concat([el(0xa1, Buffer.concat([size(1), Buffer.from([0, 0, 0]), frames[3]!])), el(0x9b, [20])])),
]);

function demux(bytes: Buffer, chunk = bytes.length): { packets: Buffer[]; d: WebmDemuxer } {
  const d = new WebmDemuxer();
  const packets: Buffer[] = [];
  for (let at = 0; at < bytes.length; at += chunk) packets.push(...d.push(bytes.subarray(at, at + chunk)));
  return { packets, d };
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

describe('WebmDemuxer', () => {
  it('returns exactly the Opus frames of SimpleBlocks and Blocks, and the OpusHead from CodecPrivate, however the bytes are cut', () => {
    for (const chunk of [standard.length, 1, 7, 100]) {
      const { packets, d } = demux(standard, chunk);
      expect(packets).toEqual(frames);
      expect(d.opusHead).toEqual(OPUS_HEAD);
    }
  });

  it('gives a block once it is complete, and nothing before', () => {
    const d = new WebmDemuxer();
    const end = standard.indexOf(frames[0]!) + frames[0]!.length;
    expect(d.push(standard.subarray(0, end - 1))).toEqual([]);
    expect(d.push(standard.subarray(end - 1, end))).toEqual([frames[0]]);
  });

  it('takes the first Opus track, skips blocks of other declared tracks, and strips NULs from the codec id', () => {
    const bytes = webm([trackEntry(1, 'V_VP8'), trackEntry(300, 'A_OPUS\0\0', OPUS_HEAD), trackEntry(3, 'A_OPUS', Buffer.from('other'))], [
      simpleBlock(1, Buffer.from([1, 1, 1])),
      simpleBlock(300, frames[0]!),
      simpleBlock(3, Buffer.from([3, 3, 3])),
      simpleBlock(300, frames[1]!),
    ]);
    const { packets, d } = demux(bytes);
    expect(packets).toEqual([frames[0], frames[1]]);
    expect(d.opusHead).toEqual(OPUS_HEAD);
  });

  it('skips an empty frame', () => {
    expect(demux(webm([trackEntry(1, 'A_OPUS', OPUS_HEAD)], [simpleBlock(1, Buffer.alloc(0)), simpleBlock(1, frames[0]!)])).packets).toEqual([frames[0]]);
  });

  it('refuses bytes that are not WebM, naming why', () => {
    expect(reason(() => new WebmDemuxer().push(el(0x1f43b675, [0])))).toBe('not a WebM stream');
    expect(reason(() => new WebmDemuxer().push(Buffer.from([0x00, 0x81, 0])))).toBe('bad EBML variable-length integer');
    expect(reason(() => new WebmDemuxer().push(Buffer.from([0x08, 0, 0, 0, 0, 0x81, 0])))).toBe('bad EBML element id');
    expect(reason(() => demux(Buffer.concat([standard, el(0x4282, [1])])))).toBe('unexpected WebM element');
    expect(reason(() => demux(Buffer.concat([standard, open(0xa3)])))).toBe('unknown-size EBML element');
  });

  it('refuses a block before any Opus track, for an undeclared track, laced, or cut short', () => {
    expect(reason(() => demux(webm([trackEntry(1, 'V_VP8')], [simpleBlock(1, frames[0]!)])))).toBe('WebM has no Opus audio track');
    const opus = [trackEntry(1, 'A_OPUS', OPUS_HEAD)];
    expect(reason(() => demux(webm(opus, [simpleBlock(2, frames[0]!)])))).toBe('WebM block for an undeclared track');
    expect(reason(() => demux(webm(opus, [simpleBlock(1, frames[0]!, 0x82)])))).toBe('laced WebM blocks are not supported');
    expect(reason(() => demux(webm(opus, [simpleBlock(1, frames[0]!, 0x84)])))).toBe('laced WebM blocks are not supported');
    expect(reason(() => demux(webm(opus, [el(0xa3, [0x81, 0])])))).toBe('truncated WebM block');
    // Track number, timecode and flags, no frame: whole, so not truncated.
    expect(demux(webm(opus, [el(0xa3, [0x81, 0, 0, 0x80])])).packets).toEqual([]);
  });

  it('refuses an element over 8 MiB as soon as its header arrives, and waits for one of exactly 8 MiB', () => {
    const prefix = demux(standard).d;
    const header = (n: number) => Buffer.concat([idBytes(0xa3), size(n)]);
    expect(reason(() => prefix.push(header(8 * 1024 * 1024 + 1)))).toBe('EBML element too large');
    const d = demux(standard).d;
    expect(d.push(header(8 * 1024 * 1024))).toEqual([]);
    expect(d.push(Buffer.concat([Buffer.from([0x81, 0, 0, 0x80]), Buffer.alloc(8 * 1024 * 1024 - 4, 1)]))).toHaveLength(1);
  });

  it('after end() forgets a block cut short, so the next bytes start clean', () => {
    const { d } = demux(standard);
    const block = simpleBlock(1, frames[0]!);
    expect(d.push(block.subarray(0, 3))).toEqual([]);
    d.end();
    expect(d.push(simpleBlock(1, frames[1]!))).toEqual([frames[1]]);
  });
});
