/**
 * A minimal Ogg Opus muxer (RFC 3533 pages, RFC 7845 Opus mapping) and a streaming page checker.
 * We re-mux the Opus packets the decoder demuxes out of MediaRecorder's WebM/Ogg because
 * MediaRecorder's WebM has neither duration nor cues; an Ogg Opus stream with correct granule
 * positions is seekable and its duration is the last granule position (minus pre-skip) / 48 kHz.
 */

import { oggCrc } from './ogg-demuxer.js';

// One Ogg CRC for the demuxer and the muxer: it reads the page's CRC field as zero, so a page is
// checked in place and a page being written needs no zeroing first.
export { oggCrc };

export interface OpusParams {
  channels: number;
  /** Samples at 48 kHz the decoder discards at the start (from the encoder's OpusHead). */
  preSkip: number;
  /** The original input sample rate, informational. */
  inputSampleRate: number;
}

export interface OpusPacket {
  data: Uint8Array;
  /** Duration of this packet in samples at 48 kHz. */
  samples48k: number;
}

const HEADER_TYPE_CONTINUED = 0x01;
const HEADER_TYPE_BOS = 0x02;
const HEADER_TYPE_EOS = 0x04;
const MAX_SEGMENTS = 255;

function page(headerType: number, granule: bigint, serial: number, seq: number, lacing: number[], body: Buffer): Buffer {
  const header = Buffer.alloc(27 + lacing.length);
  header.write('OggS', 0, 'latin1');
  header[4] = 0;
  header[5] = headerType;
  header.writeBigInt64LE(granule, 6);
  header.writeUInt32LE(serial >>> 0, 14);
  header.writeUInt32LE(seq >>> 0, 18);
  header.writeUInt32LE(0, 22);
  header[26] = lacing.length;
  for (let i = 0; i < lacing.length; i++) header[27 + i] = lacing[i]!;
  const out = Buffer.concat([header, body]);
  out.writeUInt32LE(oggCrc(out), 22);
  return out;
}

/** Sets the end-of-stream flag on the page at `offset` of `buf` and fixes its CRC, in place. */
export function markEndOfStream(buf: Buffer, offset: number): void {
  const nSegs = buf[offset + 26]!;
  let len = 27 + nSegs;
  for (let i = 0; i < nSegs; i++) len += buf[offset + 27 + i]!;
  buf[offset + 5] = buf[offset + 5]! | HEADER_TYPE_EOS;
  buf.writeUInt32LE(oggCrc(buf.subarray(offset, offset + len)), offset + 22);
}

/** Returns the offset of the last complete Ogg page in `buf` (which holds whole pages), or -1. */
export function lastPageOffset(buf: Buffer): number {
  let offset = 0;
  let last = -1;
  while (offset + 27 <= buf.length && buf.toString('latin1', offset, offset + 4) === 'OggS') {
    const nSegs = buf[offset + 26]!;
    let len = 27 + nSegs;
    for (let i = 0; i < nSegs; i++) len += buf[offset + 27 + i] ?? 0;
    if (offset + len > buf.length) break;
    last = offset;
    offset += len;
  }
  return last;
}

/**
 * Writes one logical Ogg Opus stream. Stateful: page sequence numbers and the granule position run
 * on across calls, so each call's output can be appended to the previous one.
 */
export class OggOpusWriter {
  private seq = 0;
  private granule: bigint;
  private readonly serial: number;

  constructor(private readonly params: OpusParams, serial: number, resume?: { pageSeq: number; granule: bigint }) {
    this.serial = serial >>> 0;
    this.seq = resume?.pageSeq ?? 0;
    this.granule = resume?.granule ?? 0n;
  }

  /** The granule position after the last packet written (48 kHz samples, pre-skip included). */
  get granulePosition(): bigint {
    return this.granule;
  }

  get pageSequence(): number {
    return this.seq;
  }

  /** The two header pages: OpusHead (BOS) and OpusTags. */
  headers(): Buffer {
    const head = Buffer.alloc(19);
    head.write('OpusHead', 0, 'latin1');
    head[8] = 1;
    head[9] = this.params.channels;
    head.writeUInt16LE(this.params.preSkip, 10);
    head.writeUInt32LE(this.params.inputSampleRate, 12);
    head.writeInt16LE(0, 16);
    head[18] = 0; // mapping family 0: mono or stereo
    const vendor = Buffer.from('arogya-live', 'latin1');
    const tags = Buffer.alloc(8 + 4 + vendor.length + 4);
    tags.write('OpusTags', 0, 'latin1');
    tags.writeUInt32LE(vendor.length, 8);
    vendor.copy(tags, 12);
    tags.writeUInt32LE(0, 12 + vendor.length);
    const p1 = page(HEADER_TYPE_BOS, 0n, this.serial, this.seq++, lacingFor(head.length), head);
    const p2 = page(0, 0n, this.serial, this.seq++, lacingFor(tags.length), tags);
    return Buffer.concat([p1, p2]);
  }

  /**
   * Pages holding exactly these packets (the last page is closed, so the output is a whole
   * number of pages). A packet longer than a page continues on the next page.
   *
   * One allocation for all of them: the pages are laid out first (segment counts and body sizes,
   * numbers only), then headers, lacing and packet bytes are written into one buffer. This runs
   * twice for every Opus chunk (the recording and the Transcribe stream); building each page from
   * per-segment views and concatenations made two Buffer objects per packet and three per page.
   */
  packets(packets: readonly OpusPacket[]): Buffer {
    // Pass 1: the pages' segment counts, body sizes, granules and continuation flags.
    const layout: Array<{ segments: number; body: number; granule: bigint; continued: boolean }> = [];
    let segments = 0;
    let body = 0;
    let completedOnPage = false;
    let continued = false;
    let granule = this.granule;
    const close = (midPacket: boolean) => {
      layout.push({ segments, body, granule: completedOnPage ? granule : -1n, continued });
      segments = 0;
      body = 0;
      completedOnPage = false;
      continued = midPacket;
    };
    for (const p of packets) {
      let rest = p.data.length;
      // Lacing: 255 for every full segment, then the remainder (0 when the length is a multiple of 255).
      for (let first = true; ; first = false) {
        if (segments === MAX_SEGMENTS) close(!first);
        const take = Math.min(255, rest);
        segments++;
        body += take;
        rest -= take;
        if (take < 255) break;
      }
      granule += BigInt(p.samples48k);
      completedOnPage = true;
    }
    if (segments > 0) close(false);
    // Pass 2: write them.
    let total = 0;
    for (const l of layout) total += 27 + l.segments + l.body;
    const out = Buffer.allocUnsafe(total);
    let pos = 0;
    let packet = 0;
    let offset = 0; // into packets[packet].data
    for (const l of layout) {
      const start = pos;
      out.write('OggS', pos, 'latin1');
      out[pos + 4] = 0;
      out[pos + 5] = l.continued ? HEADER_TYPE_CONTINUED : 0;
      out.writeBigInt64LE(l.granule, pos + 6);
      out.writeUInt32LE(this.serial, pos + 14);
      out.writeUInt32LE(this.seq++ >>> 0, pos + 18);
      out.writeUInt32LE(0, pos + 22);
      out[pos + 26] = l.segments;
      let lace = pos + 27;
      pos = lace + l.segments;
      for (let n = 0; n < l.segments; n++) {
        const data = packets[packet]!.data;
        const take = Math.min(255, data.length - offset);
        out[lace++] = take;
        if (offset === 0 && take === data.length) out.set(data, pos);
        else out.set(data.subarray(offset, offset + take), pos);
        pos += take;
        offset += take;
        if (take < 255) {
          packet++;
          offset = 0;
        }
      }
      out.writeUInt32LE(oggCrc(out.subarray(start, pos)), start + 22);
    }
    this.granule = granule;
    return out;
  }
}

function lacingFor(length: number): number[] {
  const out: number[] = [];
  let rest = length;
  while (rest >= 255) {
    out.push(255);
    rest -= 255;
  }
  out.push(rest);
  return out;
}

/**
 * Checks an Ogg Opus stream fed in arbitrary slices: every page's capture pattern and CRC, and
 * reports the OpusHead pre-skip and the last granule position. Throws on the first bad page.
 */
export class OggOpusInspector {
  private pending: Buffer = Buffer.alloc(0);
  private offset = 0;
  preSkip: number | undefined;
  lastGranule = -1n;
  pages = 0;
  eos = false;

  push(chunk: Buffer): void {
    this.pending = this.pending.length === 0 ? chunk : Buffer.concat([this.pending, chunk]);
    let pos = 0;
    for (;;) {
      if (this.pending.length - pos < 27) break;
      if (this.pending.toString('latin1', pos, pos + 4) !== 'OggS') throw new Error(`no Ogg page at byte ${this.offset + pos}`);
      const nSegs = this.pending[pos + 26]!;
      if (this.pending.length - pos < 27 + nSegs) break;
      let len = 27 + nSegs;
      for (let i = 0; i < nSegs; i++) len += this.pending[pos + 27 + i]!;
      if (this.pending.length - pos < len) break;
      const pg = this.pending.subarray(pos, pos + len);
      if (oggCrc(pg) !== pg.readUInt32LE(22)) throw new Error(`Ogg page CRC mismatch at byte ${this.offset + pos}`);
      if (this.pages === 0) {
        const body = pg.subarray(27 + nSegs);
        if (body.toString('latin1', 0, 8) !== 'OpusHead') throw new Error('first Ogg page is not OpusHead');
        this.preSkip = body.readUInt16LE(10);
      }
      const granule = pg.readBigInt64LE(6);
      if (granule !== -1n) this.lastGranule = granule;
      if (pg[5]! & HEADER_TYPE_EOS) this.eos = true;
      this.pages++;
      pos += len;
    }
    this.offset += pos;
    this.pending = this.pending.subarray(pos);
  }

  /** Duration in ms; throws when the stream ended inside a page or had no OpusHead. */
  end(): number {
    if (this.pending.length > 0) throw new Error(`Ogg stream ends inside a page at byte ${this.offset}`);
    if (this.preSkip === undefined) throw new Error('Ogg stream has no OpusHead');
    const samples = this.lastGranule - BigInt(this.preSkip);
    return samples > 0n ? Number((samples * 1000n) / 48000n) : 0;
  }
}
