/**
 * Raw samples of one reporting window, for exact percentiles in the periodic log line. Bounded:
 * past `capacity` it keeps a uniform reservoir sample, so memory stays fixed under any load.
 */
export class WindowSamples {
  private readonly values: Float64Array;
  private n = 0;
  private seen = 0;

  constructor(private readonly capacity = 65_536) {
    this.values = new Float64Array(capacity);
  }

  add(v: number): void {
    this.seen += 1;
    if (this.n < this.capacity) {
      this.values[this.n++] = v;
      return;
    }
    const j = Math.floor(Math.random() * this.seen);
    if (j < this.capacity) this.values[j] = v;
  }

  /** Nearest-rank percentile; 0 when empty. */
  percentile(p: number): number {
    if (this.n === 0) return 0;
    const sorted = this.values.slice(0, this.n).sort();
    const rank = Math.min(this.n - 1, Math.max(0, Math.ceil((p / 100) * this.n) - 1));
    return sorted[rank]!;
  }

  clear(): void {
    this.n = 0;
    this.seen = 0;
  }
}
