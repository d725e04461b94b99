import { OpusDecoder } from 'opus-decoder';
import { InvalidAudioError, UnsupportedAudioFormatError } from './errors.js';
import { OggDemuxer } from './ogg-demuxer.js';
import { type OpusHeadInfo, opusPacketSamples48k, parseOpusHead } from './opus-packet.js';
import { createResampler, SUPPORTED_PCM_RATES, TARGET_RATE } from './resampler.js';
import { WebmDemuxer } from './webm-demuxer.js';

export type AudioEncoding = 'pcm_s16le' | 'webm_opus' | 'ogg_opus';
export type { OpusHeadInfo };

export interface DecoderOptions {
  encoding: AudioEncoding;
  /** Only for `pcm_s16le`; default 16000. One of {@link SUPPORTED_PCM_RATES}. */
  sampleRate?: number;
  /** Only 1 is accepted (API.md). */
  channels?: number;
  /**
   * webm/ogg, live decoder only (off-thread-decoder.ts): false demuxes without decoding (`pcm` is
   * then always empty): for an engine that takes the Opus packets themselves. Default true.
   */
  decode?: boolean;
}

/** One demuxed Opus audio packet, with its duration in 48 kHz samples. */
export interface OpusPacket {
  data: Buffer;
  samples48k: number;
}

/**
 * What one pushed chunk produced. `P` is `Buffer` for the in-thread decoder; the live decoder's
 * Opus PCM is a promise (decoded in a worker thread).
 */
export interface DecodedChunk<P = Buffer> {
  /** The 16 kHz mono s16le PCM the chunk completed (possibly empty). */
  pcm: P;
  /** webm/ogg: the audio packets the chunk completed, in order (views: do not change them). Empty for PCM. */
  packets: OpusPacket[];
  /** webm/ogg: the stream's OpusHead, in the result of the chunk that completed it (once per stream). */
  head?: OpusHeadInfo;
}

/** Turns one session's input bytes into 16 kHz mono s16le PCM. Not safe to share between sessions. */
export interface AudioDecoder {
  readonly encoding: AudioEncoding;
  /**
   * Feeds the next chunk (any boundaries). Returns the PCM, Opus packets and OpusHead it completed.
   * Throws {@link InvalidAudioError}; after that the decoder is unusable, and what was returned before stands.
   * The chunk is not changed afterwards by the caller: 16 kHz PCM may come back as a view of it.
   */
  push(chunk: Buffer): DecodedChunk;
  /** End of input: returns the remaining PCM and frees the decoder. Idempotent. */
  end(): Buffer;
}

/**
 * Throws {@link UnsupportedAudioFormatError} unless `createDecoder` would accept these options; after
 * it, `opts` has a known encoding and is mono.
 */
export function assertSupportedFormat<T extends { encoding: string; sampleRate?: number | undefined; channels?: number | undefined }>(
  opts: T,
): asserts opts is T & { encoding: AudioEncoding; channels?: 1 | undefined } {
  if (!['pcm_s16le', 'webm_opus', 'ogg_opus'].includes(opts.encoding)) {
    throw new UnsupportedAudioFormatError('unknown encoding');
  }
  if (opts.channels !== undefined && opts.channels !== 1) throw new UnsupportedAudioFormatError('only mono is accepted');
  if (opts.encoding === 'pcm_s16le' && opts.sampleRate !== undefined) {
    if (!(SUPPORTED_PCM_RATES as readonly number[]).includes(opts.sampleRate)) {
      throw new UnsupportedAudioFormatError('unsupported PCM sample rate');
    }
  }
}

/**
 * Creates a decoder; resolves once the Opus WASM module is ready (first call compiles it, ~10 ms).
 * Rejects with {@link UnsupportedAudioFormatError}.
 */
export async function createDecoder(opts: DecoderOptions): Promise<AudioDecoder> {
  assertSupportedFormat(opts);
  if (opts.encoding === 'pcm_s16le') return createPcmDecoder(opts.sampleRate ?? TARGET_RATE);
  const opus = new OpusDecoder({ sampleRate: TARGET_RATE, channels: 1 });
  await opus.ready;
  return createOpusDecoder(opts, opus);
}

/** True when `b` spans at least 90 % of its ArrayBuffer (keeping it keeps little else alive). */
export function ownsMemory(b: Buffer): boolean {
  return b.length >= 0.9 * b.buffer.byteLength;
}

function int16ToBuffer(samples: Int16Array): Buffer {
  return Buffer.from(samples.buffer, samples.byteOffset, samples.byteLength);
}

/** PCM input has no packets: one shared empty list (never written to). */
const NO_PACKETS: OpusPacket[] = [];

function createPcmDecoder(rate: number): AudioDecoder {
  const resampler = createResampler(rate);
  let carry: Buffer | undefined; // an odd trailing byte (a sample split across chunks)
  let ended = false;
  const convert = (data: Buffer): Buffer => {
    if (data.length === 0) return Buffer.alloc(0);
    // 16 kHz input is already what the engine takes: no per-sample work (the hot path), and no
    // copy of a chunk that has its memory to itself (a Socket.IO binary attachment: its ws frame,
    // about 1 % more). A small view of a larger buffer is copied, or keeping it would keep the rest.
    if (rate === TARGET_RATE) return ownsMemory(data) ? data : Buffer.from(data);
    const samples = new Int16Array(data.length / 2);
    for (let i = 0; i < samples.length; i++) samples[i] = data.readInt16LE(i * 2);
    return int16ToBuffer(resampler.push(samples));
  };
  return {
    encoding: 'pcm_s16le',
    push(chunk) {
      if (ended) throw new Error('decoder already ended');
      let data = carry ? Buffer.concat([carry, chunk]) : chunk;
      carry = undefined;
      if (data.length % 2 === 1) {
        carry = Buffer.from(data.subarray(data.length - 1));
        data = data.subarray(0, data.length - 1);
      }
      return { pcm: convert(data), packets: NO_PACKETS };
    },
    end() {
      if (ended) return Buffer.alloc(0);
      ended = true;
      return int16ToBuffer(resampler.end());
    },
  };
}

function createOpusDecoder(opts: DecoderOptions, opus: OpusDecoder<16000>): AudioDecoder {
  let skip16k = 0;
  let ended = false;
  let failed = false;
  let head: OpusHeadInfo | undefined;

  const source = opusPacketSource(opts.encoding, (h) => {
    skip16k = Math.round(h.preSkip / 3);
    head = h;
  });

  const decodePacket = (packet: Buffer, out: Int16Array[]): void => {
    const res = opus.decodeFrame(packet);
    if (res.errors.length > 0) throw new InvalidAudioError('Opus packet does not decode');
    const ch = res.channelData[0];
    if (!ch) return;
    let start = 0;
    if (skip16k > 0) {
      start = Math.min(skip16k, res.samplesDecoded);
      skip16k -= start;
    }
    const pcm = new Int16Array(res.samplesDecoded - start);
    for (let i = 0; i < pcm.length; i++) {
      const v = ch[start + i]! * 32768;
      pcm[i] = v < -32768 ? -32768 : v > 32767 ? 32767 : Math.round(v);
    }
    out.push(pcm);
  };

  return {
    encoding: opts.encoding,
    push(chunk) {
      if (ended || failed) throw new Error('decoder is closed');
      try {
        const out: Int16Array[] = [];
        const packets: OpusPacket[] = [];
        for (const packet of source.push(chunk)) {
          packets.push({ data: packet, samples48k: opusPacketSamples48k(packet) });
          decodePacket(packet, out);
        }
        const total = out.reduce((n, a) => n + a.length, 0);
        const buf = Buffer.alloc(total * 2);
        let off = 0;
        for (const a of out) {
          buf.set(new Uint8Array(a.buffer, a.byteOffset, a.byteLength), off);
          off += a.byteLength;
        }
        const result: DecodedChunk = { pcm: buf, packets };
        if (head) result.head = head;
        head = undefined;
        return result;
      } catch (err) {
        failed = true;
        opus.free();
        if (err instanceof InvalidAudioError) throw err;
        throw new InvalidAudioError('undecodable Opus stream', err);
      }
    },
    end() {
      if (!ended) {
        ended = true;
        source.end();
        if (!failed) opus.free();
      }
      return Buffer.alloc(0);
    },
  };
}

/**
 * The audio packets of a WebM or Ogg Opus stream, chunk by chunk: the Ogg ID and comment header
 * packets are consumed, and `onHead` gets the parsed OpusHead (Ogg's first packet, or the WebM track's
 * CodecPrivate) before the first audio packet. Shared by the in-thread and the worker-backed decoders.
 * Throws {@link InvalidAudioError} for a missing OpusTags or OpusHead.
 */
export function opusPacketSource(encoding: AudioEncoding, onHead: (head: OpusHeadInfo) => void): { push(chunk: Buffer): Buffer[]; end(): void } {
  const demux = encoding === 'webm_opus' ? new WebmDemuxer() : new OggDemuxer();
  let oggHeadersLeft = encoding === 'ogg_opus' ? 2 : 0;
  let haveHead = false;
  const setHead = (raw: Buffer): void => {
    onHead(parseOpusHead(raw));
    haveHead = true;
  };
  return {
    push(chunk) {
      const audio: Buffer[] = [];
      for (const packet of demux.push(chunk)) {
        if (oggHeadersLeft > 0) {
          if (oggHeadersLeft === 2) setHead(packet);
          else if (packet.toString('latin1', 0, 8) !== 'OpusTags') throw new InvalidAudioError('missing OpusTags');
          oggHeadersLeft--;
          continue;
        }
        if (!haveHead) {
          const fromTrack = demux instanceof WebmDemuxer ? demux.opusHead : undefined;
          if (!fromTrack) throw new InvalidAudioError('Opus track has no OpusHead');
          setHead(fromTrack);
        }
        audio.push(packet);
      }
      return audio;
    },
    end: () => demux.end(),
  };
}
