import { beforeEach, describe, expect, it, vi } from 'vitest';
import { SUPPORTED_PCM_RATES, TARGET_RATE } from '../../../src/audio/resampler.js';

// The filter tables are designed once per rate and cached in the module: a fresh module per test
// designs them again, so a mutated design (npm run test:mutation) is what the test sees.
let createResampler: typeof import('../../../src/audio/resampler.js').createResampler;
beforeEach(async () => {
  vi.resetModules();
  ({ createResampler } = await import('../../../src/audio/resampler.js'));
});

/** Deterministic speech-like input: two tones plus a little pseudo-random noise. */
function signal(rate: number, samples: number, seed = 1): Int16Array {
  const out = new Int16Array(samples);
  let s = seed;
  for (let i = 0; i < samples; i++) {
    s = (s * 1103515245 + 12345) >>> 0;
    const noise = ((s >>> 16) / 65536 - 0.5) * 2000;
    out[i] = Math.round(8000 * Math.sin((2 * Math.PI * 440 * i) / rate) + 4000 * Math.sin((2 * Math.PI * 3100 * i) / rate) + noise);
  }
  return out;
}

function concat(parts: Int16Array[]): Int16Array {
  const out = new Int16Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

function oneShot(rate: number, input: Int16Array): Int16Array {
  const r = createResampler(rate);
  return concat([r.push(input), r.end()]);
}

function chunked(rate: number, input: Int16Array, sizes: (i: number) => number): Int16Array {
  const r = createResampler(rate);
  const parts: Int16Array[] = [];
  for (let at = 0, i = 0; at < input.length; i++) {
    const n = Math.max(1, sizes(i));
    parts.push(r.push(input.subarray(at, at + n)));
    at += n;
  }
  parts.push(r.end());
  return concat(parts);
}

function rmsDb(x: Int16Array, from: number, to: number, ref: number): number {
  let s = 0;
  for (let i = from; i < to; i++) s += x[i]! * x[i]!;
  return 20 * Math.log10(Math.sqrt(s / (to - from)) / ref);
}

function tone(rate: number, freq: number, samples: number, amp = 16000): Int16Array {
  return Int16Array.from({ length: samples }, (_, i) => Math.round(amp * Math.sin((2 * Math.PI * freq * i) / rate)));
}

describe('createResampler', () => {
  it('passes 16 kHz through as the same samples and has no tail', () => {
    const r = createResampler(16_000);
    const x = signal(16_000, 1000);
    expect(r.push(x)).toBe(x);
    expect(r.end()).toHaveLength(0);
  });

  it.each(SUPPORTED_PCM_RATES.filter((r) => r !== TARGET_RATE))('gives %i Hz input exactly round(n · 16000 / rate) samples, for short and odd lengths', (rate) => {
    for (const n of [0, 1, 2, 3, 7, 160, 441, 1001, rate / 10 + 3]) {
      expect(oneShot(rate, signal(rate, n)).length, `n=${n}`).toBe(Math.round((n * TARGET_RATE) / rate));
    }
  });

  it.each([8000, 11025, 22050, 44100, 48000])('gives %i Hz input in chunks of any size exactly the one-shot output, sample for sample', (rate) => {
    const input = signal(rate, Math.round(rate * 0.2) + 13);
    const whole = oneShot(rate, input);
    // 1-sample chunks, 10 ms chunks and an irregular pattern that cuts anywhere.
    for (const sizes of [() => 1, () => rate / 100, (i: number) => [1, 37, 480, 2, 999, 5][i % 6]!]) {
      const parts = chunked(rate, input, sizes);
      expect(parts.length).toBe(whole.length);
      expect(Buffer.from(parts.buffer).equals(Buffer.from(whole.buffer))).toBe(true);
    }
  });

  it('from 48 kHz makes output i as soon as input 3i + 67 (its window\'s last tap) has come, not a sample later, in 1-sample pushes', () => {
    // 48 → 16 kHz: one output per 3 inputs, a window of 134 taps (67 each side).
    const r = createResampler(48_000);
    const input = signal(48_000, 1200, 3);
    let produced = 0;
    for (let c = 1; c <= input.length; c++) {
      produced += r.push(input.subarray(c - 1, c)).length;
      expect(produced, `after ${c} samples`).toBe(Math.max(0, Math.ceil((c - 67) / 3)));
      // Holds the input the next output still needs: never the whole stream.
      expect(r.retained, `after ${c} samples`).toBeLessThanOrEqual(133);
    }
    expect(produced + r.end().length).toBe(400);
  });

  it.each(SUPPORTED_PCM_RATES.filter((r) => r !== TARGET_RATE))('from %i Hz keeps fewer input samples than its filter is wide (134 taps at most), chunk after chunk', (rate) => {
    const r = createResampler(rate);
    const sizes = [1, 441, 7, 4800, 160, 3];
    let most = 0;
    for (let i = 0, at = 0; at < rate * 2; i++) {
      const n = sizes[i % sizes.length]!;
      r.push(signal(rate, n, i));
      at += n;
      most = Math.max(most, r.retained);
    }
    expect(most).toBeLessThan(134);
    expect(most).toBeGreaterThan(0);
  });

  it('passes 16 kHz through without holding anything back', () => {
    const r = createResampler(16_000);
    r.push(signal(16_000, 480));
    expect(r.retained).toBe(0);
  });

  it('gives the same output when empty pushes come between chunks, and nothing for no input at all', () => {
    const input = signal(44_100, 4410 + 17);
    const r = createResampler(44_100);
    const parts = [r.push(new Int16Array(0)), r.push(input.subarray(0, 2000)), r.push(new Int16Array(0)), r.push(new Int16Array(0)), r.push(input.subarray(2000)), r.end()];
    expect([...concat(parts)]).toEqual([...oneShot(44_100, input)]);
    const empty = createResampler(44_100);
    expect(empty.push(new Int16Array(0))).toHaveLength(0);
    expect(empty.end()).toHaveLength(0);
  });

  it('returns what each chunk can produce, lagging the input by no more than the filter half-width', () => {
    const r = createResampler(48_000);
    let produced = 0;
    let consumed = 0;
    for (let i = 0; i < 50; i++) {
      consumed += 4800;
      produced += r.push(signal(48_000, 4800, i)).length;
      // All outputs whose window lies inside the input so far: at most ~half/3 behind, never ahead.
      expect(produced).toBeLessThanOrEqual(consumed / 3);
      expect(produced).toBeGreaterThan(consumed / 3 - 100);
    }
    expect(produced + r.end().length).toBe(consumed / 3);
  });

  it('is zero-phase: an impulse at input instant 3k comes out centred on output sample k, symmetric', () => {
    const input = new Int16Array(3000);
    input[1500] = 30000;
    const out = oneShot(48_000, input);
    expect(out).toHaveLength(1000);
    let peak = 0;
    for (let i = 0; i < out.length; i++) if (out[i]! > out[peak]!) peak = i;
    expect(peak).toBe(500);
    // A 48 → 16 kHz low-pass at 0.9 × 8 kHz: the centre tap is 2 · fc = 0.3 of the impulse.
    expect(out[500]).toBeGreaterThan(8500);
    expect(out[500]).toBeLessThan(9500);
    const asymmetric = Array.from({ length: 60 }, (_, j) => j).filter((j) => Math.abs(out[500 - j]! - out[500 + j]!) > 1);
    expect(asymmetric).toEqual([]);
    // The window has finite length: far from the impulse the output is exactly silent.
    expect(out.subarray(0, 400).every((v) => v === 0)).toBe(true);
    expect(out.subarray(600).every((v) => v === 0)).toBe(true);
  });

  it.each([8000, 11025, 22050, 44100, 48000])('keeps DC at unity gain from %i Hz (every phase of the polyphase table)', (rate) => {
    const out = oneShot(rate, new Int16Array(rate / 4).fill(12_345));
    // Away from the edges (where the input is padded with silence) every sample is the input level.
    expect(out.subarray(64, out.length - 64).filter((v) => v !== 12_345)).toEqual(new Int16Array(0));
    // At the first output the window reaches back before sample 0, into silence.
    expect(out[0]).toBeGreaterThan(12_345 * 0.6);
    expect(out[0]).toBeLessThan(12_345 * 0.96);
  });

  it.each([8000, 11025, 22050, 32000, 44100, 48000])('keeps 1 kHz and 3 kHz tones from %i Hz at their level within 0.05 dB', (rate) => {
    for (const freq of [1000, 3000]) {
      const out = oneShot(rate, tone(rate, freq, rate / 4));
      expect(Math.abs(rmsDb(out, 400, 3600, 16000 / Math.SQRT2)), `${freq} Hz`).toBeLessThan(0.05);
    }
  });

  it.each([22_050, 24_000, 44_100, 48_000])('from %i Hz passes 6.5 kHz within 0.1 dB and keeps 8.5 kHz (would alias) below -60 dB', (rate) => {
    expect(Math.abs(rmsDb(oneShot(rate, tone(rate, 6500, rate / 4)), 400, 3600, 16000 / Math.SQRT2))).toBeLessThan(0.1);
    expect(rmsDb(oneShot(rate, tone(rate, 8500, rate / 4)), 400, 3600, 16000 / Math.SQRT2)).toBeLessThan(-60);
    // The transition band sits between 7 and 8 kHz: 7.5 kHz is already well down.
    const mid = rmsDb(oneShot(rate, tone(rate, 7500, rate / 4)), 400, 3600, 16000 / Math.SQRT2);
    expect(mid).toBeLessThan(-12);
    expect(mid).toBeGreaterThan(-22);
  });

  it('clamps overshoot at full scale instead of wrapping around', () => {
    // A full-scale square wave rings past ±32767 after low-pass filtering (Gibbs).
    const input = Int16Array.from({ length: 24_000 }, (_, i) => (Math.floor(i / 480) % 2 === 0 ? 32767 : -32768));
    const out = oneShot(48_000, input);
    expect(Math.max(...out)).toBe(32767);
    expect(Math.min(...out)).toBe(-32768);
    // Within each half period (after the transition) the signal keeps its sign: no wrap-around.
    const wrapped: number[] = [];
    for (let period = 1; (period + 1) * 160 <= out.length; period++) {
      const sign = period % 2 === 0 ? 1 : -1;
      for (let i = period * 160 + 20; i < period * 160 + 140; i++) if (Math.sign(out[i]!) !== sign) wrapped.push(i);
    }
    expect(wrapped).toEqual([]);
  });

  it('resamples 30 s of 48 kHz in 100 ms chunks exactly as at once, in linear time (buffer trimmed as it goes)', () => {
    const input = signal(48_000, 48_000 * 30, 7);
    let started = performance.now();
    const whole = oneShot(48_000, input);
    const oneShotMs = performance.now() - started;
    started = performance.now();
    const parts = chunked(48_000, input, () => 4800);
    const chunkedMs = performance.now() - started;
    expect(parts.length).toBe(16_000 * 30);
    expect(Buffer.from(parts.buffer).equals(Buffer.from(whole.buffer))).toBe(true);
    // Bounded memory, measured: after each 100 ms chunk exactly the 132 samples the next output
    // reads before its own (3 · 1600k − 66 … 4800k − 1), wherever the stream is.
    const r = createResampler(48_000);
    const retained = new Set<number>();
    for (let at = 0; at < input.length; at += 4800) {
      r.push(input.subarray(at, at + 4800));
      retained.add(r.retained);
    }
    expect([...retained]).toEqual([132]);
    // The same filtering work either way: ~0.2 s each on a laptop. Keeping the whole input in the
    // buffer (quadratic copying) made the chunked run take ~18 s (~25 s on a loaded 2-core machine).
    expect(chunkedMs).toBeLessThan(3 * oneShotMs + 1000);
  });
});
