/**
 * Streaming band-limited resampler to 16 kHz: a Kaiser-windowed sinc evaluated at each output
 * instant (polyphase table, one row per fractional position). Zero-phase, so output sample n lines up
 * with input time n·in/16000 and the total length is round(inputSamples · 16000 / inRate).
 */

export const TARGET_RATE = 16_000;
/** Input rates accepted for `pcm_s16le`; the polyphase table stays small for these. */
export const SUPPORTED_PCM_RATES = [8000, 11025, 12000, 16000, 22050, 24000, 32000, 44100, 48000] as const;

interface Table {
  /** Output step numerator (input samples per output = m / l). */
  l: number;
  m: number;
  /** Taps per output sample; the window spans input offsets [-half+1, half]. */
  half: number;
  /** l rows of 2·half coefficients. */
  coeffs: Float32Array;
}

const tables = new Map<number, Table>();

function gcd(a: number, b: number): number {
  while (b) [a, b] = [b, a % b];
  return a;
}

function besselI0(x: number): number {
  let sum = 1;
  let term = 1;
  for (let k = 1; k < 50; k++) {
    term *= (x / (2 * k)) ** 2;
    sum += term;
    if (term < 1e-12 * sum) break;
  }
  return sum;
}

/** The filter of `inRate`, designed on first use (~1 ms) and kept for the process. */
function tableFor(inRate: number): Table {
  return tables.get(inRate) ?? design(inRate);
}

function design(inRate: number): Table {
  const g = gcd(inRate, TARGET_RATE);
  const l = TARGET_RATE / g;
  const m = inRate / g;
  // Cut-off in cycles per input sample: 90 % of the lower Nyquist leaves room for the transition band.
  const fc = 0.5 * Math.min(1, l / m) * 0.9;
  // Enough taps for ~60 dB stop-band at this transition width.
  const half = Math.max(8, Math.ceil(4 / (fc * 2 * 0.1) / 2));
  const beta = 6;
  const i0b = besselI0(beta);
  const coeffs = new Float32Array(l * 2 * half);
  for (let p = 0; p < l; p++) {
    const frac = p / l;
    let sum = 0;
    for (let k = 0; k < 2 * half; k++) {
      const j = k - half + 1;
      const x = j - frac;
      const arg = 2 * fc * x;
      const sinc = arg === 0 ? 1 : Math.sin(Math.PI * arg) / (Math.PI * arg);
      const r = x / half;
      const win = Math.abs(r) >= 1 ? 0 : besselI0(beta * Math.sqrt(1 - r * r)) / i0b;
      const v = 2 * fc * sinc * win;
      coeffs[p * 2 * half + k] = v;
      sum += v;
    }
    // Unity gain at DC for every phase, so no ripple from the fractional position.
    for (let k = 0; k < 2 * half; k++) coeffs[p * 2 * half + k]! /= sum;
  }
  const t: Table = { l, m, half, coeffs };
  tables.set(inRate, t);
  return t;
}

export interface Resampler {
  /** Takes Int16 input samples, returns the 16 kHz samples that can be produced so far. */
  push(input: Int16Array): Int16Array;
  /** Produces the tail (zero-padded past the end). */
  end(): Int16Array;
  /**
   * Input samples held for outputs still to come: fewer than the filter's width (133 at most at
   * 48 kHz, 134 taps) however long the stream. Keeping the whole input made 30 s of 48 kHz audio
   * in 100 ms chunks take 18 s instead of 0.19 s (quadratic copying).
   */
  readonly retained: number;
}

/** A pass-through for 16 kHz input, else a streaming polyphase resampler. */
export function createResampler(inRate: number): Resampler {
  if (inRate === TARGET_RATE) return { push: (x) => x, end: () => new Int16Array(0), retained: 0 };
  const { l, m, half, coeffs } = tableFor(inRate);
  const width = 2 * half;
  // buf[0] is absolute input index `bufStart`; starts with `half` zeros of history before sample 0.
  let buf = new Float32Array(half);
  let bufStart = -half;
  let inCount = 0;
  let outIndex = 0;

  const produce = (limit: number): Int16Array => {
    // Output i reads input up to floor(i·m/l) + half, so every i with i·m < (end − half)·l can be
    // made now: ceil((end − half)·l / m) of them (exact: both sides are integers below 2^53).
    const end = bufStart + buf.length;
    const stop = Math.min(limit, Math.ceil(((end - half) * l) / m));
    const out = new Int16Array(Math.max(0, stop - outIndex));
    for (let n = 0; outIndex < stop; n++, outIndex++) {
      const num = outIndex * m;
      const base = Math.floor(num / l);
      const row = (num - base * l) * width;
      const off = base - half + 1 - bufStart;
      let acc = 0;
      // Stryker disable next-line all: the multiply-accumulate runs ~130 times per output sample; instrumented it is too slow to test 30 s of audio, and any change to it breaks every exact-output test.
      for (let k = 0; k < width; k++) acc += buf[off + k]! * coeffs[row + k]!;
      // Int16Array would wrap an overshoot (Gibbs ringing at full scale) around to the other sign.
      out[n] = Math.max(-32768, Math.min(32767, Math.round(acc)));
    }
    // The next output reads from floor(outIndex·m/l) − half + 1: nothing before it is needed again.
    // A view (no copy): the next append copies what is left anyway.
    const drop = Math.floor((outIndex * m) / l) - half + 1 - bufStart;
    buf = buf.subarray(drop);
    bufStart += drop;
    return out;
  };

  const append = (x: ArrayLike<number>): void => {
    const next = new Float32Array(buf.length + x.length);
    next.set(buf);
    next.set(x, buf.length);
    buf = next;
  };

  return {
    push(input) {
      append(input);
      inCount += input.length;
      return produce(Number.POSITIVE_INFINITY);
    },
    end() {
      // The last output, round(inCount·l/m) − 1, reads up to floor(that·m/l) + half < inCount + half.
      append(new Float32Array(half));
      return produce(Math.round((inCount * l) / m));
    },
    get retained() {
      return buf.length;
    },
  };
}
