import { describe, expect, it } from 'vitest';
import { FRAME_BYTES, FRAME_SAMPLES, Framer } from '../../../src/audio/framer.js';
import { PCM_BYTES_PER_MS, pcmMs } from '../../../src/audio/pcm.js';

const bytes = (n: number, from = 0) => Buffer.from(Array.from({ length: n }, (_, i) => (from + i) % 251));

describe('Framer', () => {
  it('makes 100 ms frames at 16 kHz s16le: 1600 samples, 3200 bytes', () => {
    expect(FRAME_SAMPLES).toBe(1600);
    expect(FRAME_BYTES).toBe(3200);
    const f = new Framer();
    expect(f.push(bytes(3199))).toEqual([]);
    const [frame, ...rest] = f.push(bytes(1, 3199));
    expect(rest).toEqual([]);
    expect(frame).toEqual(bytes(3200));
  });

  it('cuts any chunking into the same frames, in order, and keeps the remainder for the next push', () => {
    const input = bytes(45);
    const f = new Framer(10);
    const out = [f.push(input.subarray(0, 3)), f.push(input.subarray(3, 3)), f.push(input.subarray(3, 25)), f.push(input.subarray(25, 40)), f.push(input.subarray(40))];
    expect(out.map((fr) => fr.length)).toEqual([0, 0, 2, 2, 0]);
    expect(Buffer.concat(out.flat())).toEqual(input.subarray(0, 40));
    expect(f.flush()).toEqual(input.subarray(40, 44)); // 5 bytes left: the odd byte is not a sample
    expect(f.flush()).toBeUndefined();
  });

  it('hands out views of the buffer it was given, not copies, and joins a remainder to the next push in a new buffer', () => {
    const f = new Framer(4);
    const chunk = bytes(6);
    const frames = f.push(chunk);
    expect(frames).toEqual([bytes(4)]);
    // The same memory as the input (no copy per frame on the hot path): a change shows through.
    chunk[0] = 99;
    expect(frames[0]![0]).toBe(99);
    // The remainder [4, 5] is joined to the next input in new memory: the frames it makes do not
    // change with either input.
    const next = Buffer.from([7, 8, 9, 10, 11, 12]);
    const joined = f.push(next);
    expect(joined).toEqual([Buffer.from([4, 5, 7, 8]), Buffer.from([9, 10, 11, 12])]);
    next[0] = 0;
    expect(joined[0]).toEqual(Buffer.from([4, 5, 7, 8]));
  });

  it('flushes nothing for an empty or one-byte remainder, and starts clean after a flush', () => {
    const f = new Framer(4);
    expect(f.flush()).toBeUndefined();
    f.push(Buffer.from([1]));
    expect(f.flush()).toBeUndefined();
    f.push(Buffer.from([1, 2, 3]));
    const tail = f.flush();
    expect(tail).toEqual(Buffer.from([1, 2]));
    expect(f.push(Buffer.from([5, 6, 7, 8]))).toEqual([Buffer.from([5, 6, 7, 8])]);
  });
});

describe('pcmMs', () => {
  it('converts bytes of 16 kHz s16le to milliseconds: a frame is 100 ms, one sample 1/16 ms', () => {
    expect(pcmMs(FRAME_BYTES)).toBe(100);
    expect(pcmMs(2)).toBe(0.0625);
    expect(pcmMs(0)).toBe(0);
    expect(PCM_BYTES_PER_MS).toBe(32);
  });
});
