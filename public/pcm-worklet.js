// @ts-check
// AudioWorklet: microphone audio at the context's rate → 16 kHz mono 16-bit PCM in 100 ms frames,
// with the frame's RMS level in dBFS. Runs on the audio thread; posts transferable buffers.
const TARGET_RATE = 16000;
const FRAME = 1600; // 100 ms at 16 kHz

class PcmDownsampler extends AudioWorkletProcessor {
  constructor() {
    super();
    this.ratio = sampleRate / TARGET_RATE;
    this.acc = 0; // sum of input samples in the current output window
    this.accN = 0; // how many were summed
    this.pos = 0; // fractional position inside the window
    this.frame = new Int16Array(FRAME);
    this.filled = 0;
    this.sumSquares = 0;
  }

  /**
   * @param {Float32Array[][]} inputs one input, its channels, 128 samples each
   * @returns {boolean} true: keep the processor alive
   */
  process(inputs) {
    const input = inputs[0];
    const first = input?.[0];
    if (!input || !first) return true;
    const channels = input.length;
    const length = first.length;
    for (let i = 0; i < length; i++) {
      let s = 0;
      for (const channel of input) s += channel[i] ?? 0;
      s /= channels;
      // Box-filter decimation: average every input sample that falls in one output period.
      this.acc += s;
      this.accN += 1;
      this.pos += 1;
      if (this.pos >= this.ratio) {
        this.pos -= this.ratio;
        const v = Math.max(-1, Math.min(1, this.acc / this.accN));
        this.acc = 0;
        this.accN = 0;
        this.sumSquares += v * v;
        this.frame[this.filled++] = v < 0 ? v * 0x8000 : v * 0x7fff;
        if (this.filled === FRAME) {
          const rms = Math.sqrt(this.sumSquares / FRAME);
          const dbfs = rms > 0 ? 20 * Math.log10(rms) : -100;
          this.port.postMessage({ pcm: this.frame.buffer, dbfs }, [this.frame.buffer]);
          this.frame = new Int16Array(FRAME);
          this.filled = 0;
          this.sumSquares = 0;
        }
      }
    }
    return true;
  }
}

registerProcessor('pcm-downsampler', PcmDownsampler);
