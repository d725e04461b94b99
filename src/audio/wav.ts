/** Minimal RIFF/WAVE reader for 16-bit PCM files (test audio, benchmarks). */
export interface Wav {
  sampleRate: number;
  channels: number;
  /** Interleaved s16le sample bytes. */
  data: Buffer;
}

/** Throws on anything but 16-bit PCM WAV. */
export function parseWav(buf: Buffer): Wav {
  if (buf.toString('latin1', 0, 4) !== 'RIFF' || buf.toString('latin1', 8, 12) !== 'WAVE') {
    throw new Error('not a WAV file');
  }
  let pos = 12;
  let fmt: { channels: number; sampleRate: number; bits: number; format: number } | undefined;
  while (pos + 8 <= buf.length) {
    const id = buf.toString('latin1', pos, pos + 4);
    const size = buf.readUInt32LE(pos + 4);
    const body = buf.subarray(pos + 8, pos + 8 + size);
    if (id === 'fmt ') {
      fmt = { format: body.readUInt16LE(0), channels: body.readUInt16LE(2), sampleRate: body.readUInt32LE(4), bits: body.readUInt16LE(14) };
    } else if (id === 'data') {
      if (!fmt || (fmt.format !== 1 && fmt.format !== 0xfffe) || fmt.bits !== 16) throw new Error('only 16-bit PCM WAV');
      return { sampleRate: fmt.sampleRate, channels: fmt.channels, data: Buffer.from(body) };
    }
    pos += 8 + size + (size % 2);
  }
  throw new Error('WAV has no data chunk');
}
