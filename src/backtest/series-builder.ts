/**
 * One symbol's bars as a bar file is read (CSV or Parquet), in float64 columns, and the finished,
 * time-sorted series the backtester takes.
 *
 * Why its own module: both readers fill it, and for a large file the columns are most of the
 * reading's cost in memory. They grow by doubling, but a reader that can estimate the final count
 * (the CSV reader does, from the file's size) reserves it once, so each column's pages are touched
 * once instead of by every doubling's copy; reserving more than is used costs address space only,
 * and finishSeries gives back a large excess.
 */
import { UserError } from '../util/errors.ts';

/** Bars as columns, by index. */
export interface BarColumns {
  time: Float64Array;
  open: Float64Array;
  high: Float64Array;
  low: Float64Array;
  close: Float64Array;
  volume: Float64Array;
}

/** One symbol's bars, ascending by time, no duplicate times. */
export interface BarSeries extends BarColumns {
  symbol: string;
  length: number;
}

const INITIAL_CAPACITY = 1024;

/** One symbol's bars as they are read (any order), with the line or row each came from. */
export class SeriesBuilder {
  length = 0;
  time: Float64Array = new Float64Array(INITIAL_CAPACITY);
  open: Float64Array = new Float64Array(INITIAL_CAPACITY);
  high: Float64Array = new Float64Array(INITIAL_CAPACITY);
  low: Float64Array = new Float64Array(INITIAL_CAPACITY);
  close: Float64Array = new Float64Array(INITIAL_CAPACITY);
  volume: Float64Array = new Float64Array(INITIAL_CAPACITY);
  /** The file's line (CSV) or row (Parquet) of each bar, for the duplicate error. */
  line: Uint32Array = new Uint32Array(INITIAL_CAPACITY);
  /** Whether the bars came in ascending time order so far (then no sort is needed). */
  sorted = true;
  /**
   * Keep time, open and close only (a run whose strategy reads no other field: BarStreamOptions.fields):
   * high, low and volume are not written, so their columns' memory is never touched, and the
   * finished series holds NaN for them.
   */
  pricesOnly = false;
  constructor(readonly symbol: string) {}

  get capacity(): number {
    return this.time.length;
  }

  /** One bar, from `line` (the file's line or row). */
  add(t: number, open: number, high: number, low: number, close: number, volume: number, line: number): void {
    const i = this.length;
    if (i === this.time.length) this.resize(i * 2);
    if (i > 0 && t <= this.time[i - 1]!) this.sorted = false;
    this.time[i] = t;
    this.open[i] = open;
    this.close[i] = close;
    if (!this.pricesOnly) {
      this.high[i] = high;
      this.low[i] = low;
      this.volume[i] = volume;
    }
    this.line[i] = line;
    this.length = i + 1;
  }

  /**
   * One bar from a row of float64 values: its time at row[timeAt], open, high, low, close and
   * volume at row[numsAt..numsAt+4]. The readers' hot loops call this one: it takes indexes, where
   * `add` takes six doubles that a call not inlined would box.
   */
  addRow(row: Float64Array, timeAt: number, numsAt: number, line: number): void {
    const i = this.length;
    if (i === this.time.length) this.resize(i * 2);
    const t = row[timeAt]!;
    if (i > 0 && t <= this.time[i - 1]!) this.sorted = false;
    this.time[i] = t;
    this.open[i] = row[numsAt]!;
    this.close[i] = row[numsAt + 3]!;
    if (!this.pricesOnly) {
      this.high[i] = row[numsAt + 1]!;
      this.low[i] = row[numsAt + 2]!;
      this.volume[i] = row[numsAt + 4]!;
    }
    this.line[i] = line;
    this.length = i + 1;
  }

  /**
   * Another builder's bars after these (a later part of the same file, read by another thread),
   * their lines shifted by `lineOffset` (the lines of the parts before theirs).
   */
  append(other: SeriesBuilder, lineOffset: number): void {
    const n = this.length;
    const m = other.length;
    if (m === 0) return;
    this.reserve(n + m);
    this.sorted = this.sorted && other.sorted && (n === 0 || other.time[0]! > this.time[n - 1]!);
    this.time.set(other.time.subarray(0, m), n);
    this.open.set(other.open.subarray(0, m), n);
    this.close.set(other.close.subarray(0, m), n);
    if (!this.pricesOnly) {
      this.high.set(other.high.subarray(0, m), n);
      this.low.set(other.low.subarray(0, m), n);
      this.volume.set(other.volume.subarray(0, m), n);
    }
    for (let i = 0; i < m; i++) this.line[n + i] = other.line[i]! + lineOffset;
    this.length = n + m;
  }

  /** Room for `bars` bars in all, made now in one step. */
  reserve(bars: number): void {
    if (bars > this.time.length) this.resize(Math.ceil(bars));
  }

  /** Columns of `capacity` bars holding the bars so far. */
  resize(capacity: number): void {
    const n = this.length;
    const f64 = (a: Float64Array): Float64Array => {
      const b = new Float64Array(capacity);
      b.set(a.subarray(0, n));
      return b;
    };
    this.time = f64(this.time);
    this.open = f64(this.open);
    this.high = f64(this.high);
    this.low = f64(this.low);
    this.close = f64(this.close);
    this.volume = f64(this.volume);
    const line = new Uint32Array(capacity);
    line.set(this.line.subarray(0, n));
    this.line = line;
  }
}

/**
 * A builder's bars sorted by time; a second bar at the same time is a UserError worded by
 * `duplicate` (the lines or rows of both, the time in ISO 8601).
 */
export function finishSeries(b: SeriesBuilder, duplicate: (first: number, second: number, iso: string) => string): BarSeries {
  const n = b.length;
  // Reserved well beyond what came: give the excess back (a copy of the bars).
  if (b.capacity > 1024 && b.capacity > n * 1.5) b.resize(n);
  // Columns not kept (pricesOnly) are neither read nor sorted: NaN, as fields not read (never the
  // zeros of memory not written).
  const kept = b.pricesOnly ? [b.time, b.open, null, null, b.close, null] : [b.time, b.open, b.high, b.low, b.close, b.volume];
  let cols = kept.map((c) => c?.subarray(0, n) ?? null);
  let line = b.line.subarray(0, n);
  // Already in order (the usual case): the builder's columns themselves, no copy.
  if (!b.sorted) {
    const time = cols[0]!;
    const order = new Uint32Array(n);
    for (let i = 0; i < n; i++) order[i] = i;
    // Stable sort by time so a duplicate is reported with its first line.
    order.sort((i, j) => time[i]! - time[j]! || i - j);
    cols = cols.map((c) => {
      if (c === null) return null;
      const o = new Float64Array(n);
      for (let i = 0; i < n; i++) o[i] = c[order[i]!]!;
      return o;
    });
    const byOrder = new Uint32Array(n);
    for (let i = 0; i < n; i++) byOrder[i] = line[order[i]!]!;
    line = byOrder;
  }
  const [t, open, high, low, close, volume] = cols.map((c) => c ?? new Float64Array(n).fill(Number.NaN)) as [Float64Array, Float64Array, Float64Array, Float64Array, Float64Array, Float64Array];
  for (let i = 1; i < n; i++) {
    if (t[i] === t[i - 1]) {
      const a = Math.min(line[i]!, line[i - 1]!);
      const z = Math.max(line[i]!, line[i - 1]!);
      throw new UserError(duplicate(a, z, new Date(t[i]!).toISOString()), 'TANDEM_FILE_INVALID');
    }
  }
  return { symbol: b.symbol, length: n, time: t, open, high, low, close, volume };
}

/** One symbol's columns in memory another thread can read: growable SharedArrayBuffers, empty at first. */
export interface SharedColumns {
  time: SharedArrayBuffer;
  open: SharedArrayBuffer;
  high: SharedArrayBuffer;
  low: SharedArrayBuffer;
  close: SharedArrayBuffer;
  volume: SharedArrayBuffer;
  line: SharedArrayBuffer;
}

const F64_COLUMNS = ['time', 'open', 'high', 'low', 'close', 'volume'] as const;

/** Columns for at most `maxBars` bars: address space reserved, memory used only as they fill. */
export function sharedColumns(maxBars: number): SharedColumns {
  const f64 = () => new SharedArrayBuffer(0, { maxByteLength: maxBars * 8 });
  return { time: f64(), open: f64(), high: f64(), low: f64(), close: f64(), volume: f64(), line: new SharedArrayBuffer(0, { maxByteLength: maxBars * 4 }) };
}

/**
 * A builder whose columns live in SharedColumns: they grow in place (no copy at a doubling) and
 * another thread reads the bars written so far. Its arrays are fixed-length views, made again at
 * each growth: V8 runs loops over a length-tracking view of a growable buffer several times slower.
 */
export class SharedSeriesBuilder extends SeriesBuilder {
  constructor(symbol: string, readonly shared: SharedColumns, length = 0, sorted = true, pricesOnly = false) {
    super(symbol);
    this.pricesOnly = pricesOnly;
    this.resize(Math.max(length, shared.line.byteLength / 4));
    this.length = length;
    this.sorted = sorted;
  }

  /** Grows the columns to `capacity` bars (never shrinks them: shared memory cannot give pages back). */
  override resize(capacity: number): void {
    const max = this.shared.line.maxByteLength / 4;
    const have = this.shared.line.byteLength / 4;
    const cap = Math.max(have, Math.min(max, Math.max(Math.ceil(capacity), INITIAL_CAPACITY)));
    // Cannot happen: the columns are made for more bars than the file's bytes can hold.
    if (cap <= this.length && capacity > this.length) throw new Error(`${this.symbol}: more bars than the ${max} its shared columns were made for`);
    if (cap * 4 > this.shared.line.byteLength) {
      for (const c of F64_COLUMNS) this.shared[c].grow(cap * 8);
      this.shared.line.grow(cap * 4);
    }
    for (const c of F64_COLUMNS) this[c] = new Float64Array(this.shared[c], 0, cap);
    this.line = new Uint32Array(this.shared.line, 0, cap);
  }
}
