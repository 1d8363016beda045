/**
 * Growable columns of float64, so long series cost 8 bytes a value instead of an object per row.
 *
 * They grow in place: the values live in a resizable ArrayBuffer that reserves address space for
 * up to MAX_VALUES and uses memory only as it fills, so a doubling neither copies the values nor
 * touches fresh pages for the copy (on the virtual machines Tandem is measured on, a first touch
 * of memory costs ~3 ms a MB: a million-bar equity curve grown by copies cost twice its 8 MB).
 * Beyond MAX_VALUES a column moves to a bigger buffer, as a plain doubling would.
 */
const MAX_VALUES = 2 ** 28;

export class GrowableF64 {
  private ab: ArrayBuffer;
  private buf: Float64Array;
  length = 0;

  /**
   * `inPlace`: the values it grows to without a copy (tests make it small). Growing in place costs
   * nothing, so a column pushed to once a bar starts small: its growth then runs in the first bars,
   * before V8 optimises the loop that pushes, instead of undoing that code (and the code it was
   * inlined into) at the first growth thousands of bars later.
   */
  constructor(initialCapacity = 16, inPlace = MAX_VALUES) {
    const capacity = Math.max(16, initialCapacity);
    this.ab = new ArrayBuffer(capacity * 8, { maxByteLength: Math.max(capacity, inPlace) * 8 });
    // A fixed-length view: V8 reads and writes a length-tracking one several times slower.
    this.buf = new Float64Array(this.ab, 0, capacity);
  }

  push(v: number): void {
    if (this.length === this.buf.length) this.grow();
    this.buf[this.length++] = v;
  }

  get(i: number): number {
    return this.buf[i]!;
  }

  /** A view of the filled part (shares memory). */
  view(): Float64Array {
    return this.buf.subarray(0, this.length);
  }

  private grow(): void {
    const capacity = this.buf.length * 2;
    if (capacity * 8 <= this.ab.maxByteLength) this.ab.resize(capacity * 8);
    else {
      const ab = new ArrayBuffer(capacity * 8, { maxByteLength: capacity * 16 });
      new Float64Array(ab).set(this.buf);
      this.ab = ab;
    }
    this.buf = new Float64Array(this.ab, 0, capacity);
  }
}
