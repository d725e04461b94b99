/** 100 ms at 16 kHz mono s16le. */
export const FRAME_SAMPLES = 1600;
export const FRAME_BYTES = FRAME_SAMPLES * 2;

/** Cuts a PCM byte stream into fixed frames (default 100 ms) whatever the input boundaries. */
export class Framer {
  private buf: Buffer = Buffer.alloc(0);
  constructor(private readonly frameBytes = FRAME_BYTES) {}

  /**
   * Returns every whole frame now available. Frames are views, not copies: of `pcm`, or of one new
   * buffer when an earlier remainder had to be joined to it; the remainder is kept as a view too.
   * So `pcm` must not be changed afterwards (the live path hands over a buffer it owns: the decoder's
   * output). Copying here, and again in the stream and the engine adapter, was three copies of every
   * byte on the hot path (BENCHMARKS.md).
   */
  push(pcm: Buffer): Buffer[] {
    if (pcm.length === 0) return [];
    const data = this.buf.length === 0 ? pcm : Buffer.concat([this.buf, pcm]);
    const frames: Buffer[] = [];
    let pos = 0;
    for (; data.length - pos >= this.frameBytes; pos += this.frameBytes) {
      frames.push(data.subarray(pos, pos + this.frameBytes));
    }
    this.buf = data.subarray(pos);
    return frames;
  }

  /** The final partial frame (even length, possibly shorter than a frame), or undefined if none. */
  flush(): Buffer | undefined {
    const rest = this.buf;
    this.buf = Buffer.alloc(0);
    const even = rest.subarray(0, rest.length - (rest.length % 2));
    return even.length > 0 ? Buffer.from(even) : undefined;
  }
}
