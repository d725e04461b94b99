import { InvalidAudioError } from './errors.js';

/** What a recording needs from the stream's OpusHead to write its own Ogg Opus file. */
export interface OpusHeadInfo {
  channels: number;
  /** Samples at 48 kHz to discard at the start. */
  preSkip: number;
  /** The encoder's input rate (informational). */
  inputSampleRate: number;
  /** Q7.8 dB. */
  outputGain: number;
  channelMappingFamily: number;
  /** The OpusHead packet as received (19+ bytes), ready to be the first packet of an Ogg stream. */
  raw: Buffer;
}

/** Parses an `OpusHead` identification header (RFC 7845 §5.1). */
export function parseOpusHead(buf: Buffer): OpusHeadInfo {
  if (buf.length < 19 || buf.toString('latin1', 0, 8) !== 'OpusHead') {
    throw new InvalidAudioError('missing OpusHead');
  }
  const version = buf.readUInt8(8);
  if (version >> 4 !== 0) throw new InvalidAudioError('unsupported OpusHead version');
  const channels = buf.readUInt8(9);
  const channelMappingFamily = buf.readUInt8(18);
  if (channels < 1 || (channelMappingFamily === 0 && channels > 2)) {
    throw new InvalidAudioError('bad OpusHead channel count');
  }
  if (channelMappingFamily !== 0) throw new InvalidAudioError('unsupported Opus channel mapping');
  return {
    channels,
    preSkip: buf.readUInt16LE(10),
    inputSampleRate: buf.readUInt32LE(12),
    outputGain: buf.readInt16LE(16),
    channelMappingFamily,
    raw: Buffer.from(buf),
  };
}

/**
 * Duration of one Opus packet in 48 kHz samples, from its TOC byte (RFC 6716 §3.1).
 * Throws {@link InvalidAudioError} for a malformed packet.
 */
export function opusPacketSamples48k(packet: Uint8Array): number {
  const toc = packet[0];
  if (toc === undefined) throw new InvalidAudioError('empty Opus packet');
  const config = toc >> 3;
  let frameSamples: number;
  if (config < 12) frameSamples = [480, 960, 1920, 2880][config & 3]!; // SILK 10/20/40/60 ms
  else if (config < 16) frameSamples = (config & 1) === 0 ? 480 : 960; // hybrid 10/20 ms
  else frameSamples = [120, 240, 480, 960][config & 3]!; // CELT 2.5/5/10/20 ms
  let frames: number;
  switch (toc & 3) {
    case 0:
      frames = 1;
      break;
    case 1:
    case 2:
      frames = 2;
      break;
    default: {
      const count = packet[1];
      if (count === undefined) throw new InvalidAudioError('truncated Opus packet');
      frames = count & 0x3f;
      if (frames === 0) throw new InvalidAudioError('bad Opus frame count');
    }
  }
  const total = frames * frameSamples;
  if (total > 5760) throw new InvalidAudioError('Opus packet longer than 120 ms');
  return total;
}
