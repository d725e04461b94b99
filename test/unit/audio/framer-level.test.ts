import { describe, expect, it } from 'vitest';
import { FRAME_BYTES, Framer, LevelMeter, rmsDbfs, SILENCE_DBFS } from '../../../src/audio/index.js';
import { randomChunks, readSharedPcm } from '../../support/audio.js';

describe('Framer', () => {
  it('cuts PCM in random chunks into 3200-byte frames and flushes the partial tail', () => {
    // Cut to a length that is not a whole number of frames.
    const input = readSharedPcm('real/jfk.wav').subarray(0, 100 * FRAME_BYTES + 1234);
    const framer = new Framer();
    const frames = randomChunks(input, 11, 9000).flatMap((c) => framer.push(c));
    const tail = framer.flush();
    expect(frames.every((f) => f.length === FRAME_BYTES)).toBe(true);
    expect(frames.length).toBe(Math.floor(input.length / FRAME_BYTES));
    expect(tail?.length).toBe(input.length % FRAME_BYTES);
    expect(Buffer.concat([...frames, tail ?? Buffer.alloc(0)]).equals(input)).toBe(true);
    expect(framer.flush()).toBeUndefined();
  });
});

describe('level meter', () => {
  it('reports a full-scale-sine RMS as -3 dBFS and silence as the floor', () => {
    const sine = Buffer.alloc(FRAME_BYTES);
    for (let i = 0; i < 1600; i++) sine.writeInt16LE(Math.round(32767 * Math.sin((2 * Math.PI * 500 * i) / 16000)), i * 2);
    expect(rmsDbfs(sine)).toBeCloseTo(-3.01, 1);
    expect(rmsDbfs(Buffer.alloc(FRAME_BYTES))).toBe(SILENCE_DBFS);
  });

  it('smooths with instant attack and a bounded release', () => {
    const loud = Buffer.alloc(FRAME_BYTES, 0x40); // constant 0x4040 ≈ -6 dBFS
    const meter = new LevelMeter(3);
    const a = meter.update(loud);
    expect(a.smoothedDb).toBe(a.rmsDb);
    const b = meter.update(Buffer.alloc(FRAME_BYTES));
    expect(b.rmsDb).toBe(SILENCE_DBFS);
    expect(b.smoothedDb).toBeCloseTo(a.rmsDb - 3, 6);
  });
});
