// @ts-check
// Ogg Opus pages in the browser (RFC 3533 pages, RFC 7845 Opus mapping), for the Opus packets that
// WebCodecs' AudioEncoder produces: the page sends them as the API's `ogg_opus`. One logical stream:
// an OpusHead page (beginning of stream), an OpusTags page, then audio pages with granule positions
// (48 kHz samples, pre-skip included) and Ogg's CRC-32. The server demuxes them with
// src/audio/ogg-demuxer.ts (test/unit/public/ogg-opus-writer.test.ts checks the two agree).
//
// The stream can be continued by a later page (after a tab reload) from the session id and the next
// chunk seq alone: the serial is a hash of the session id, and each chunk is exactly one audio page,
// so chunk `seq` is page `seq + 2` (recorder-capture.js).

/** CRC-32 of Ogg: polynomial 0x04c11db7, not reflected, initial value 0, no final xor. */
const CRC_TABLE = (() => {
  const t = new Uint32Array(256);
  for (let i = 0; i < 256; i++) {
    let r = i << 24;
    for (let j = 0; j < 8; j++) r = r & 0x80000000 ? (r << 1) ^ 0x04c11db7 : r << 1;
    t[i] = r >>> 0;
  }
  return t;
})();

/**
 * Ogg's CRC-32 over `bytes` (a page with its CRC field zeroed).
 * @param {Uint8Array} bytes
 * @returns {number}
 */
export function oggCrc(bytes) {
  let crc = 0;
  for (let i = 0; i < bytes.length; i++) crc = ((crc << 8) ^ /** @type {number} */ (CRC_TABLE[((crc >>> 24) ^ /** @type {number} */ (bytes[i])) & 0xff])) >>> 0;
  return crc >>> 0;
}

const BOS = 0x02;
const EOS = 0x04;
/** A page holds at most 255 lacing values (RFC 3533 §6). */
const MAX_SEGMENTS = 255;

/**
 * A stable 32-bit stream serial for a session (FNV-1a of its id), so a reloaded page continues the
 * same logical stream the server is demuxing.
 * @param {string} sessionId
 * @returns {number}
 */
export function serialFor(sessionId) {
  let h = 0x811c9dc5;
  for (let i = 0; i < sessionId.length; i++) h = Math.imul(h ^ sessionId.charCodeAt(i), 0x01000193);
  return h >>> 0;
}

/**
 * An OpusHead identification header (RFC 7845 §5.1), mono or stereo, channel mapping family 0.
 * @param {{ channels: number, preSkip: number, inputSampleRate: number }} p
 * @returns {Uint8Array}
 */
export function opusHead({ channels, preSkip, inputSampleRate }) {
  const head = new Uint8Array(19);
  const view = new DataView(head.buffer);
  head.set([0x4f, 0x70, 0x75, 0x73, 0x48, 0x65, 0x61, 0x64]); // "OpusHead"
  head[8] = 1; // version
  head[9] = channels;
  view.setUint16(10, preSkip, true);
  view.setUint32(12, inputSampleRate, true);
  view.setInt16(16, 0, true); // output gain
  head[18] = 0; // mapping family 0: mono or stereo
  return head;
}

/** An OpusTags comment header: the vendor string and no comments (RFC 7845 §5.2). */
function opusTags() {
  const vendor = new TextEncoder().encode('arogya-live page');
  const tags = new Uint8Array(8 + 4 + vendor.length + 4);
  const view = new DataView(tags.buffer);
  tags.set(new TextEncoder().encode('OpusTags'));
  view.setUint32(8, vendor.length, true);
  tags.set(vendor, 12);
  view.setUint32(12 + vendor.length, 0, true);
  return tags;
}

/**
 * One Ogg page holding whole packets.
 * @param {{ flags: number, granule: bigint, serial: number, seq: number, packets: Uint8Array[] }} p
 * @returns {Uint8Array}
 */
function page({ flags, granule, serial, seq, packets }) {
  /** @type {number[]} */
  const lacing = [];
  for (const packet of packets) {
    // A packet is a run of 255s ended by a value under 255 (0 when its length is a multiple of 255).
    for (let left = packet.length; ; left -= 255) {
      lacing.push(Math.min(left, 255));
      if (left < 255) break;
    }
  }
  if (lacing.length > MAX_SEGMENTS) throw new RangeError('packets too large for one Ogg page');
  const bodyLength = packets.reduce((n, p) => n + p.length, 0);
  const out = new Uint8Array(27 + lacing.length + bodyLength);
  const view = new DataView(out.buffer);
  out.set([0x4f, 0x67, 0x67, 0x53]); // "OggS"
  out[4] = 0; // version
  out[5] = flags;
  view.setBigInt64(6, granule, true);
  view.setUint32(14, serial, true);
  view.setUint32(18, seq, true);
  out[26] = lacing.length;
  out.set(lacing, 27);
  let off = 27 + lacing.length;
  for (const packet of packets) {
    out.set(packet, off);
    off += packet.length;
  }
  view.setUint32(22, oggCrc(out), true);
  return out;
}

/**
 * @typedef {object} OpusPacket
 * @property {Uint8Array} data one Opus packet as the encoder produced it
 * @property {number} samples48k its duration in samples at 48 kHz (960 for 20 ms)
 */

/**
 * Writes one logical Ogg Opus stream, page by page. Stateful: the page sequence number and the
 * granule position run on from page to page.
 */
export class OggOpusWriter {
  /**
   * @param {{ serial: number, head: Uint8Array, pageSeq?: number, granule?: bigint }} p `head` is the
   *   OpusHead packet; `pageSeq` and `granule` continue a stream whose headers were already written
   *   (by this page before a reload); without them the stream starts at page 0 with its headers
   */
  constructor({ serial, head, pageSeq = 0, granule }) {
    this.serial = serial >>> 0;
    this.head = head;
    this.pageSeq = pageSeq;
    /** The granule position after the last packet written: 48 kHz samples, pre-skip included. */
    this.granule = granule ?? 0n;
  }

  /** Whether the two header pages are still to be written (a new stream at page 0). */
  get needsHeaders() {
    return this.pageSeq === 0;
  }

  /**
   * The OpusHead page (beginning of stream) and the OpusTags page, both with granule position 0.
   * @returns {Uint8Array}
   * @throws {Error} when the stream has already begun
   */
  headers() {
    if (!this.needsHeaders) throw new Error('Ogg stream already begun');
    const head = page({ flags: BOS, granule: 0n, serial: this.serial, seq: this.pageSeq++, packets: [this.head] });
    const tags = page({ flags: 0, granule: 0n, serial: this.serial, seq: this.pageSeq++, packets: [opusTags()] });
    return concat([head, tags]);
  }

  /**
   * One audio page holding `packets` whole; its granule position is that of the last sample they end
   * on (RFC 7845 §4). `last` marks the end of the stream.
   * @param {OpusPacket[]} packets
   * @param {boolean} [last]
   * @returns {Uint8Array}
   * @throws {RangeError} when the packets need more than 255 lacing values
   */
  page(packets, last = false) {
    if (this.needsHeaders) throw new Error('Ogg headers not written');
    const granule = packets.reduce((g, p) => g + BigInt(p.samples48k), this.granule);
    const out = page({ flags: last ? EOS : 0, granule, serial: this.serial, seq: this.pageSeq, packets: packets.map((p) => p.data) });
    this.pageSeq++;
    this.granule = granule;
    return out;
  }
}

/**
 * @param {Uint8Array[]} parts
 * @returns {Uint8Array}
 */
export function concat(parts) {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let off = 0;
  for (const p of parts) {
    out.set(p, off);
    off += p.length;
  }
  return out;
}
