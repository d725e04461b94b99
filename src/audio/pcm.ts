/** Bytes per millisecond of the service's internal audio: 16 kHz mono s16le (16 samples × 2 bytes). */
export const PCM_BYTES_PER_MS = 32;

/** Duration in ms of `bytes` of 16 kHz mono s16le PCM (fractional for a partial millisecond). */
export function pcmMs(bytes: number): number {
  return bytes / PCM_BYTES_PER_MS;
}
