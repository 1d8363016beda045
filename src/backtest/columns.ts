/**
 * Growable columns of float64 (amortised doubling), so long series cost 8 bytes a value instead of
 * an object per row.
 */
export class GrowableF64 {
  private buf: Float64Array;
  length = 0;

  constructor(initialCapacity = 1024) {
    this.buf = new Float64Array(Math.max(16, initialCapacity));
  }

  push(v: number): void {
    if (this.length === this.buf.length) {
      const next = new Float64Array(this.buf.length * 2);
      next.set(this.buf);
      this.buf = next;
    }
    this.buf[this.length++] = v;
  }

  get(i: number): number {
    return this.buf[i]!;
  }

  /** A view of the filled part (shares memory). */
  view(): Float64Array {
    return this.buf.subarray(0, this.length);
  }
}
