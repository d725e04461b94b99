import { InvalidAudioError } from './errors.js';

const CRC_TABLE = (() => {
  const t = new Uint32Array(256);
  for (let i = 0; i < 256; i++) {
    let r = i << 24;
    for (let j = 0; j < 8; j++) r = r & 0x80000000 ? (r << 1) ^ 0x04c11db7 : r << 1;
    t[i] = r >>> 0;
  }
  return t;
})();

/** Ogg's CRC-32 (polynomial 0x04c11db7, no reflection), over a page with its CRC field zeroed. */
export function oggCrc(page: Uint8Array): number {
  let crc = 0;
  for (let i = 0; i < page.length; i++) {
    const b = i >= 22 && i < 26 ? 0 : page[i]!;
    crc = ((crc << 8) ^ CRC_TABLE[((crc >>> 24) ^ b) & 0xff]!) >>> 0;
  }
  return crc >>> 0;
}

/**
 * Incremental Ogg demuxer for a single logical stream (what MediaRecorder writes): feed bytes in any
 * chunking, get whole packets back. Checks every page's capture pattern and CRC, so bytes that are
 * not Ogg fail fast with {@link InvalidAudioError}.
 */
export class OggDemuxer {
  private pending: Buffer = Buffer.alloc(0);
  private partial: Buffer[] = [];
  private serial: number | undefined;

  /** Returns the packets completed by this chunk. */
  push(chunk: Buffer): Buffer[] {
    this.pending = this.pending.length === 0 ? chunk : Buffer.concat([this.pending, chunk]);
    const packets: Buffer[] = [];
    let pos = 0;
    const buf = this.pending;
    for (;;) {
      if (buf.length - pos < 27) break;
      if (buf.readUInt32BE(pos) !== 0x4f676753) throw new InvalidAudioError('bad Ogg capture pattern');
      if (buf[pos + 4] !== 0) throw new InvalidAudioError('unsupported Ogg version');
      const nseg = buf[pos + 26]!;
      if (buf.length - pos < 27 + nseg) break;
      let bodyLen = 0;
      for (let i = 0; i < nseg; i++) bodyLen += buf[pos + 27 + i]!;
      const pageLen = 27 + nseg + bodyLen;
      if (buf.length - pos < pageLen) break;
      const page = buf.subarray(pos, pos + pageLen);
      if (oggCrc(page) !== page.readUInt32LE(22)) throw new InvalidAudioError('bad Ogg page CRC');
      const serial = page.readUInt32LE(14);
      if (this.serial === undefined) {
        if ((page[5]! & 0x02) === 0) throw new InvalidAudioError('Ogg stream does not begin with a BOS page');
        this.serial = serial;
      }
      // Chained or multiplexed streams: only the first logical stream is audio we understand.
      if (serial === this.serial) {
        if ((page[5]! & 0x01) === 0 && this.partial.length > 0) this.partial = [];
        let off = 27 + nseg;
        for (let i = 0; i < nseg; i++) {
          const lace = page[27 + i]!;
          this.partial.push(page.subarray(off, off + lace));
          off += lace;
          if (lace < 255) {
            packets.push(Buffer.concat(this.partial));
            this.partial = [];
          }
        }
      }
      pos += pageLen;
    }
    this.pending = pos === buf.length ? Buffer.alloc(0) : Buffer.from(buf.subarray(pos));
    if (this.pending.length > 70_000) throw new InvalidAudioError('Ogg page too large');
    return packets;
  }

  /** A page cut short by the end of the stream is dropped: what was whole is kept. */
  end(): void {
    this.pending = Buffer.alloc(0);
    this.partial = [];
  }
}
