import { describe, expect, it } from 'vitest';
import { LevelMeter, rmsDbfs, SILENCE_DBFS } from '../../../src/audio/level.js';

function pcm(samples: number[]): Buffer {
  const b = Buffer.alloc(samples.length * 2);
  samples.forEach((v, i) => b.writeInt16LE(v, i * 2));
  return b;
}

const constant = (v: number, n = 1600) => pcm(Array.from({ length: n }, () => v));

describe('rmsDbfs', () => {
  it('gives exact levels: full-scale square 0 dBFS, half scale -6.02 dBFS, one LSB -90.31 dBFS', () => {
    expect(rmsDbfs(pcm(Array.from({ length: 1600 }, (_, i) => (i % 2 ? 32767 : -32768))))).toBeCloseTo(0, 3);
    expect(rmsDbfs(constant(16384))).toBeCloseTo(-6.0206, 4);
    expect(rmsDbfs(constant(-16384))).toBeCloseTo(-6.0206, 4);
    expect(rmsDbfs(pcm([1]))).toBeCloseTo(-90.309, 3);
    // Mean of squares, not of values: +a and -a do not cancel.
    expect(rmsDbfs(pcm([8192, -8192, 8192, -8192]))).toBeCloseTo(-12.0412, 4);
    // Averaged over every sample: one loud sample in four is 6 dB under it.
    expect(rmsDbfs(pcm([16384, 0, 0, 0]))).toBeCloseTo(-12.0412, 4);
  });

  it('floors silence, near-silence and empty input at SILENCE_DBFS', () => {
    expect(SILENCE_DBFS).toBe(-100);
    expect(rmsDbfs(Buffer.alloc(0))).toBe(SILENCE_DBFS);
    expect(rmsDbfs(Buffer.alloc(1, 0x7f))).toBe(SILENCE_DBFS);
    expect(rmsDbfs(constant(0))).toBe(SILENCE_DBFS);
    // 1 LSB in 1600 samples is -122 dBFS: floored.
    expect(rmsDbfs(pcm([1, ...new Array(1599).fill(0)]))).toBe(SILENCE_DBFS);
  });

  it('ignores a trailing odd byte and reads an unaligned buffer the same as an aligned one', () => {
    expect(rmsDbfs(Buffer.concat([constant(16384, 3), Buffer.from([0x7f])]))).toBeCloseTo(-6.0206, 4);
    const samples = Array.from({ length: 1600 }, (_, i) => Math.round(20000 * Math.sin(i / 7)));
    const aligned = pcm(samples);
    const unaligned = Buffer.alloc(aligned.length + 1).subarray(1);
    aligned.copy(unaligned);
    expect(unaligned.byteOffset % 2).toBe(1);
    expect(rmsDbfs(unaligned)).toBe(rmsDbfs(aligned));
    expect(rmsDbfs(aligned)).toBeCloseTo(20 * Math.log10(20000 / 32768 / Math.SQRT2), 1);
  });
});

describe('LevelMeter', () => {
  it('rises at once and falls by 3 dB per frame by default, never below the frame level', () => {
    const m = new LevelMeter();
    const loud = constant(16384); // -6.02 dBFS
    const quiet = constant(2048); // -24.08 dBFS
    expect(m.update(quiet).smoothedDb).toBeCloseTo(-24.082, 3);
    const a = m.update(loud);
    expect(a).toEqual({ rmsDb: a.rmsDb, smoothedDb: a.rmsDb });
    const fall = [1, 2, 3, 4, 5, 6, 7].map(() => m.update(quiet));
    expect(fall.map((l) => Number(l.smoothedDb.toFixed(3)))).toEqual([-9.021, -12.021, -15.021, -18.021, -21.021, -24.021, -24.082]);
    expect(fall.every((l) => Math.abs(l.rmsDb - -24.082) < 0.001)).toBe(true);
    // A frame as loud as the smoothed level keeps it.
    expect(m.update(quiet).smoothedDb).toBeCloseTo(-24.082, 3);
  });

  it('uses the release it is given', () => {
    const m = new LevelMeter(10);
    m.update(constant(16384));
    expect(m.update(Buffer.alloc(3200)).smoothedDb).toBeCloseTo(-16.021, 3);
    expect(m.update(Buffer.alloc(3200)).smoothedDb).toBeCloseTo(-26.021, 3);
  });

  it('starts from silence', () => {
    expect(new LevelMeter().update(Buffer.alloc(3200))).toEqual({ rmsDb: SILENCE_DBFS, smoothedDb: SILENCE_DBFS });
  });
});
