/**
 * The last `capacity` transformed prices of both legs, in a fixed ring (no growth with the number
 * of bars). Feeds the cointegration gate and is what a saved state carries to rebuild the rolling
 * hedge after a restart.
 */
export class PriceHistory {
  private readonly xs: Float64Array;
  private readonly ys: Float64Array;
  private next = 0;
  private filled = 0;

  constructor(readonly capacity: number) {
    this.xs = new Float64Array(capacity);
    this.ys = new Float64Array(capacity);
  }

  push(px: number, py: number): void {
    this.xs[this.next] = px;
    this.ys[this.next] = py;
    this.next = (this.next + 1) % this.capacity;
    if (this.filled < this.capacity) this.filled++;
  }

  get length(): number {
    return this.filled;
  }

  /** The last `n` points (n <= length), oldest first, as fresh arrays. */
  last(n: number): { x: Float64Array; y: Float64Array } {
    if (n > this.filled) throw new Error(`PriceHistory.last(${n}) with only ${this.filled} points`);
    const x = new Float64Array(n);
    const y = new Float64Array(n);
    let i = (this.next - n + this.capacity) % this.capacity;
    for (let k = 0; k < n; k++) {
      x[k] = this.xs[i]!;
      y[k] = this.ys[i]!;
      i = i + 1 === this.capacity ? 0 : i + 1;
    }
    return { x, y };
  }

  toJSON(): { x: number[]; y: number[] } {
    const { x, y } = this.last(this.filled);
    return { x: Array.from(x), y: Array.from(y) };
  }
}
