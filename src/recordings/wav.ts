/** Canonical 44-byte RIFF/WAVE header for 16-bit little-endian mono PCM. */
export const WAV_HEADER_BYTES = 44;

export function wavHeader(sampleRate: number, dataBytes: number, channels = 1): Buffer {
  const h = Buffer.alloc(WAV_HEADER_BYTES);
  const blockAlign = channels * 2;
  h.write('RIFF', 0, 'latin1');
  h.writeUInt32LE(36 + dataBytes, 4);
  h.write('WAVE', 8, 'latin1');
  h.write('fmt ', 12, 'latin1');
  h.writeUInt32LE(16, 16);
  h.writeUInt16LE(1, 20); // PCM
  h.writeUInt16LE(channels, 22);
  h.writeUInt32LE(sampleRate, 24);
  h.writeUInt32LE(sampleRate * blockAlign, 28);
  h.writeUInt16LE(blockAlign, 32);
  h.writeUInt16LE(16, 34);
  h.write('data', 36, 'latin1');
  h.writeUInt32LE(dataBytes, 40);
  return h;
}

/** Parses our own header; returns the duration in ms the header claims and the data size. */
export function parseWavHeader(h: Buffer): { sampleRate: number; dataBytes: number; durationMs: number } {
  if (h.length < WAV_HEADER_BYTES || h.toString('latin1', 0, 4) !== 'RIFF' || h.toString('latin1', 8, 12) !== 'WAVE' || h.toString('latin1', 36, 40) !== 'data') {
    throw new Error('not a canonical WAV header');
  }
  const sampleRate = h.readUInt32LE(24);
  const byteRate = h.readUInt32LE(28);
  const dataBytes = h.readUInt32LE(40);
  return { sampleRate, dataBytes, durationMs: Math.round((dataBytes * 1000) / byteRate) };
}
