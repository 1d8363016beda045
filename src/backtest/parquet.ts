/**
 * Bar files in Apache Parquet: the same table as the CSV bar file (docs/strategy.md), one row per
 * bar per symbol, as typed columns: `time` (INT64 TIMESTAMP_MILLIS, UTC; also read: other
 * timestamp units, INT64/DOUBLE epoch milliseconds, or ISO 8601 strings), `symbol` (string),
 * `open`, `high`, `low`, `close`, `volume` (DOUBLE; any numeric type is read). Other columns are
 * ignored. Parquet stores numbers as binary, so reading skips text parsing altogether, and files are
 * a fraction of the CSV's size; pandas, polars, DuckDB and Spark read and write them.
 *
 * The same rules as CSV apply to every row (positive prices, volume >= 0, a symbol, no second bar
 * at a time), and a bad value is a UserError naming the file, the row (1-based, as a viewer shows
 * it) and the column.
 *
 * The rows are read one row group at a time (readParquetRows), each group's rows put in the
 * builders before the next is decoded, so that a reader in another thread, given builders in shared
 * memory, can publish each group's bars as it goes; a part of a file is a run of row groups
 * (parquetRowGroups). The loader reads them all the same way.
 *
 * Library: hyparquet and hyparquet-writer (pure JavaScript, no native code, no dependencies beyond
 * each other; see the README's Dependencies section). Loaded only when a Parquet file is used.
 */
import { closeSync, openSync, readSync } from 'node:fs';
import { writeFile, type FileHandle } from 'node:fs/promises';
import type * as hyparquetModule from 'hyparquet';
import type { AsyncBuffer, FileMetaData } from 'hyparquet';
import { UserError } from '../util/errors.ts';
import { CSV_COLUMNS, openDataFile, parseTime, type LoadCsvOptions } from './csv.ts';
import { finishSeries, SeriesBuilder, type BarSeries } from './series-builder.ts';
import { int64Times, type TimeUnit } from './parquet-int64.ts';

const MAGIC = 'PAR1';

/**
 * A decoded page of one column (numbers, times as epoch ms, or symbol cells) holding the file's rows
 * [start, end) to be read; data[0] is row `base` (a page can begin before the rows read).
 */
interface Page {
  start: number;
  end: number;
  base: number;
  data: ArrayLike<unknown>;
}
const NUMERIC = ['open', 'high', 'low', 'close', 'volume'] as const;
/** The rows of the first row group read between two onRows calls (see readParquetRows). */
const FIRST_GROUP_SLICE = 8192;
/** Room reserved beyond a symbol's projected bar count (unused room costs address space only; see series-builder.ts). */
const RESERVE_MARGIN = 1.1;

/** Whether the file starts with Parquet's magic bytes (the format is told by content, not by name). */
export async function isParquetFile(file: string): Promise<boolean> {
  const { fh } = await openDataFile(file);
  try {
    return await startsAsParquet(fh);
  } finally {
    await fh.close();
  }
}

/** Whether a file starts with Parquet's magic bytes, read synchronously (bar-stream.ts's threads started ahead, before anything else loads). */
export function startsAsParquetSync(file: string): boolean {
  const fd = openSync(file, 'r');
  try {
    const head = Buffer.alloc(4);
    return readSync(fd, head, 0, 4, 0) === 4 && head.toString('latin1') === MAGIC;
  } finally {
    closeSync(fd);
  }
}

/** Whether an open file starts with Parquet's magic bytes. */
export async function startsAsParquet(fh: FileHandle): Promise<boolean> {
  const head = Buffer.alloc(4);
  const { bytesRead } = await fh.read(head, 0, 4, 0);
  return bytesRead === 4 && head.toString('latin1') === MAGIC;
}

/** A column's values as numbers (timestamps already converted to epoch ms by the parsers below). */
function toNumber(v: unknown): number {
  if (typeof v === 'number') return v;
  if (typeof v === 'bigint') return Number(v);
  if (v instanceof Date) return v.getTime();
  return NaN;
}

/** Loads a Parquet bar file into the same series as loadBarsCsv. */
export async function loadBarsParquet(file: string, opts: LoadCsvOptions = {}): Promise<Map<string, BarSeries>> {
  const { fh, size } = await openDataFile(file);
  let builders: Map<string, SeriesBuilder>;
  try {
    builders = await readParquetRows(file, fh, size, { symbols: opts.symbols, onProgress: opts.onProgress });
  } finally {
    await fh.close();
  }
  return finishParquetBars(file, builders);
}

/** Each symbol's bars sorted by time; a second bar at a time is a UserError naming both rows. */
export function finishParquetBars(file: string, builders: Map<string, SeriesBuilder>): Map<string, BarSeries> {
  const out = new Map<string, BarSeries>();
  for (const [name, b] of builders) {
    out.set(name, finishSeries(b, (first, second, iso) => `${file}: row ${second}: a second bar for ${name} at ${iso} (the first is row ${first})`));
  }
  return out;
}

/** A file's row count and its row groups' rows (absolute, 0-based, end exclusive). */
export interface ParquetRowGroups {
  rows: number;
  groups: { rowStart: number; rowEnd: number }[];
}

/**
 * The row groups of a Parquet bar file, from its metadata: the parts a reader can read apart
 * (readParquetRows over a run of them); empty ones left out. Throws the loader's UserErrors for a
 * file that is not Parquet or lacks a bar column.
 */
export async function parquetRowGroups(file: string): Promise<ParquetRowGroups> {
  const { fh, size } = await openDataFile(file);
  try {
    const { metadata } = await parquetFooter(file, fh, size);
    // Rows beyond the file's count (metadata at odds with itself) are not read: left out here too.
    const rows = Number(metadata.num_rows);
    const groups = rowGroupRanges(metadata)
      .map((g) => ({ rowStart: g.rowStart, rowEnd: Math.min(g.rowEnd, rows) }))
      .filter((g) => g.rowEnd > g.rowStart);
    return { rows, groups };
  } finally {
    await fh.close();
  }
}

export interface ParquetRowsOptions {
  /** Keep only these symbols (others are still validated). Default: all. */
  symbols?: readonly string[] | undefined;
  /** The first row to read (0-based; default 0) and the row after the last (default: the file's rows). */
  rowStart?: number | undefined;
  rowEnd?: number | undefined;
  /** The builder of a kept symbol met for the first time (default: a SeriesBuilder). */
  newBuilder?: ((symbol: string) => SeriesBuilder) | undefined;
  /**
   * Called after each row group's rows are in the builders, with the rows read so far (from
   * rowStart); in the first group also after every FIRST_GROUP_SLICE rows.
   */
  onRows?: ((rowsDone: number) => void) | undefined;
  /** Called with bytes read and the file size (once, when the rows are read). */
  onProgress?: ((bytesRead: number, totalBytes: number) => void) | undefined;
  /** Read every row group through hyparquet's general reader, none through parquet-pages.ts (tests compare the two). */
  generalReader?: boolean | undefined;
}

type Hyparquet = typeof hyparquetModule;

/** The rows of each row group, absolute. */
function rowGroupRanges(metadata: FileMetaData): { rowStart: number; rowEnd: number }[] {
  let at = 0;
  return metadata.row_groups.map((g) => {
    const rowStart = at;
    at += Number(g.num_rows);
    return { rowStart, rowEnd: at };
  });
}

/**
 * The file's metadata, read through `source` (the parts the reader asks for, read from the file
 * straight into their own memory), and its columns by lower-case name; UserErrors for a file that
 * is not Parquet or lacks a bar column.
 */
async function parquetFooter(file: string, fh: FileHandle, size: number): Promise<{ hyparquet: Hyparquet; source: AsyncBuffer; metadata: FileMetaData; lower: Map<string, string> }> {
  const hyparquet = await import('hyparquet');
  const source: AsyncBuffer = {
    byteLength: size,
    slice: async (start: number, end?: number): Promise<ArrayBuffer> => {
      const to = Math.min(end ?? size, size);
      const part = Buffer.allocUnsafeSlow(Math.max(0, to - start));
      for (let got = 0; got < part.length; ) {
        const { bytesRead } = await fh.read(part, got, part.length - got, start + got);
        if (bytesRead === 0) break;
        got += bytesRead;
      }
      return part.buffer as ArrayBuffer;
    },
  };
  let metadata;
  try {
    metadata = await hyparquet.parquetMetadataAsync(source);
  } catch (err) {
    throw new UserError(`${file}: not a readable Parquet file (${(err as Error).message}). Fix: write it with a Parquet library (pandas: df.to_parquet), or give a CSV bar file.`, 'TANDEM_FILE_INVALID');
  }
  const names = metadata.schema.slice(1).map((s) => s.name);
  const lower = new Map(names.map((n) => [n.toLowerCase(), n]));
  const missing = CSV_COLUMNS.filter((c) => !lower.has(c));
  if (missing.length) {
    throw new UserError(`${file}: the Parquet file lacks column(s) ${missing.map((c) => `'${c}'`).join(', ')} (it has ${names.join(', ')}); expected columns ${CSV_COLUMNS.join(', ')}`, 'TANDEM_FILE_INVALID');
  }
  // Row groups short of the rows the file says it has: the rows after them are missing.
  const groups = rowGroupRanges(metadata);
  const inGroups = groups.length ? groups[groups.length - 1]!.rowEnd : 0;
  if (inGroups < Number(metadata.num_rows)) {
    throw new UserError(`${file}: cannot read the Parquet data (column '${lower.get('time')!}': rows ${inGroups + 1} to ${Number(metadata.num_rows)} missing). Fix: check that the file is complete and uses plain column types.`, 'TANDEM_FILE_INVALID');
  }
  return { hyparquet, source, metadata, lower };
}

/** The builders a reading fills, by symbol in order of first sight, and the symbol of the row last read. */
class BuilderSink {
  readonly builders = new Map<string, SeriesBuilder>();
  /** The symbol cell of the row last read and its builder (null: not kept), across row groups. */
  lastSym: unknown = undefined;
  lastBuilder: SeriesBuilder | null = null;
  // The last few distinct symbol values and their builders, so rows alternating between the legs
  // cost an identity check rather than a trim and two lookups a row.
  private readonly recent: { sym: unknown; builder: SeriesBuilder | null }[] = [];
  private nextSlot = 0;

  constructor(
    private readonly keep: ReadonlySet<string> | null,
    private readonly newBuilder: (symbol: string) => SeriesBuilder,
  ) {}

  /** The builder of a row's symbol value (null: not kept; undefined: not a symbol). */
  builderOf(sym: unknown): SeriesBuilder | null | undefined {
    for (const r of this.recent) if (r.sym === sym) return r.builder;
    if (typeof sym !== 'string' || sym.trim() === '') return undefined;
    const name = sym.trim();
    let b: SeriesBuilder | null = null;
    if (!this.keep || this.keep.has(name)) {
      b = this.builders.get(name) ?? null;
      if (!b) this.builders.set(name, (b = this.newBuilder(name)));
    }
    if (this.recent.length < 8) this.recent.push({ sym, builder: b });
    else this.recent[this.nextSlot++ % 8] = { sym, builder: b };
    return b;
  }
}

/**
 * Each kept symbol's bars in a row group's symbol pages (its builder made at its first row); an
 * invalid symbol stops the count (the walk reports it).
 */
function countBars(sink: BuilderSink, symbolPages: Page[]): Map<SeriesBuilder, number> {
  // Rows by symbol value in small arrays: the legs' rows usually alternate, so a Map updated at
  // every change of symbol cost more than the rest of the count.
  const syms: unknown[] = [];
  const builders: (SeriesBuilder | null)[] = [];
  const rows: number[] = [];
  let j = -1;
  count: for (const pg of symbolPages) {
    const symbol = pg.data;
    const end = pg.end - pg.base;
    for (let k = pg.start - pg.base; k < end; k++) {
      const sym = symbol[k];
      if (j < 0 || sym !== syms[j]) {
        j = syms.indexOf(sym);
        if (j < 0) {
          const b = sink.builderOf(sym);
          if (b === undefined) break count;
          j = syms.push(sym) - 1;
          builders.push(b);
          rows.push(0);
        }
      }
      rows[j]!++;
    }
  }
  const counts = new Map<SeriesBuilder, number>();
  builders.forEach((b, k) => {
    if (b) counts.set(b, (counts.get(b) ?? 0) + rows[k]!);
  });
  return counts;
}

/** A row group's pages of time, symbol, open, high, low, close and volume, each list in row order. */
type GroupColumns = [Page[], Page[], Page[], Page[], Page[], Page[], Page[]];

/**
 * Puts the rows [from, to) of a row group into their symbols' builders, checking each row (the
 * UserErrors name the file's row, 1-based, and the column; `names` are the file's column names
 * and `cells` the raw values of cells that were not numbers or times, by column and row).
 */
function walkRows(
  file: string,
  names: Record<'time' | (typeof NUMERIC)[number], string>,
  sink: BuilderSink,
  columns: GroupColumns,
  cells: { raw: Map<string, Map<number, unknown>>; timeErrors: Map<number, string> },
  from: number,
  to: number,
): void {
  const { raw, timeErrors } = cells;
  const at = (row: number, c: string) => `${file}: row ${row + 1}: column '${c}'`;
  const rawOf = (c: string, row: number, v: number) => String(raw.get(c)?.get(row) ?? v);
  // A row's time and numbers, handed to its builder by index (SeriesBuilder.addRow).
  const values = new Float64Array(6);
  let lastSym = sink.lastSym;
  let lastBuilder = sink.lastBuilder;
  // The symbol before the last one and its builder: rows alternating between two legs swap them.
  let prevSym: unknown = undefined;
  let prevBuilder: SeriesBuilder | null = null;
  const pageAt = columns.map(() => 0);
  // The rows in segments where no column changes page: within one, each column is one array read
  // at the row minus its page's first row.
  for (let row = from; row < to; ) {
    let segEnd = to;
    for (let c = 0; c < 7; c++) {
      const list = columns[c]!;
      while (list[pageAt[c]!]!.end <= row) pageAt[c]!++;
      segEnd = Math.min(segEnd, list[pageAt[c]!]!.end);
    }
    const [pt, ps, po, ph, pl, pc, pv] = columns.map((list, c) => list[pageAt[c]!]!) as [Page, Page, Page, Page, Page, Page, Page];
    const time = pt.data as Float64Array;
    const symbol = ps.data;
    const open = po.data as Float64Array;
    const high = ph.data as Float64Array;
    const low = pl.data as Float64Array;
    const close = pc.data as Float64Array;
    const volume = pv.data as Float64Array;
    const [dt, ds, dop, dh, dl, dc, dv] = [pt.base, ps.base, po.base, ph.base, pl.base, pc.base, pv.base];
    for (let i = row; i < segEnd; i++) {
      const sym = symbol[i - ds];
      if (sym !== lastSym) {
        const swap = sym === prevSym && prevSym !== undefined;
        const b = swap ? prevBuilder : sink.builderOf(sym);
        if (b === undefined) throw new UserError(`${at(i, 'symbol')} is empty`, 'TANDEM_FILE_INVALID');
        prevSym = lastSym;
        prevBuilder = lastBuilder;
        lastSym = sym;
        lastBuilder = b;
      }
      const t = time[i - dt]!;
      if (timeErrors.size > 0 && timeErrors.has(i)) throw new UserError(`${at(i, 'time')}: ${timeErrors.get(i)}`, 'TANDEM_FILE_INVALID');
      if (!Number.isSafeInteger(t)) throw new UserError(`${at(i, 'time')}: ${rawOf(names.time, i, t)} is not a time (epoch milliseconds or a timestamp)`, 'TANDEM_FILE_INVALID');
      // Positive prices, volume zero or more (NaN fails both); the messages below say which and why.
      const o = open[i - dop]!;
      const hi = high[i - dh]!;
      const lo = low[i - dl]!;
      const cl = close[i - dc]!;
      const vo = volume[i - dv]!;
      if (!(o > 0 && hi > 0 && lo > 0 && cl > 0 && vo >= 0 && o + hi + lo + cl + vo < Infinity)) {
        for (let k = 0; k < 5; k++) {
          const v = [o, hi, lo, cl, vo][k]!;
          if (!Number.isFinite(v)) throw new UserError(`${at(i, NUMERIC[k]!)}: ${rawOf(names[NUMERIC[k]!], i, v)} is not a number`, 'TANDEM_FILE_INVALID');
          if (k === 4 ? v < 0 : v <= 0) throw new UserError(`${at(i, NUMERIC[k]!)}: ${v} must be ${k === 4 ? 'zero or more' : 'positive'}`, 'TANDEM_FILE_INVALID');
        }
      }
      if (lastBuilder !== null) {
        values[0] = t;
        values[1] = o;
        values[2] = hi;
        values[3] = lo;
        values[4] = cl;
        values[5] = vo;
        lastBuilder.addRow(values, 0, 1, i + 1);
      }
    }
    row = segEnd;
  }
  sink.lastSym = lastSym;
  sink.lastBuilder = lastBuilder;
}

/**
 * Reads the rows [rowStart, rowEnd) of a Parquet bar file into a builder per kept symbol, in order
 * of first sight, one row group at a time: each group is decoded, its rows put in the builders and
 * onRows called before the next group is decoded, so a reader in another thread can publish each
 * group's bars (csv-stream.ts's readers give builders in shared memory). A range that cuts a row
 * group reads that group's pages across the cut and keeps only the range's rows. Rows in errors
 * and each bar's `line` are the file's rows, 1-based, whatever the range.
 */
export async function readParquetRows(file: string, fh: FileHandle, size: number, opts: ParquetRowsOptions = {}): Promise<Map<string, SeriesBuilder>> {
  const { hyparquet, source, metadata, lower } = await parquetFooter(file, fh, size);
  const n = Number(metadata.num_rows);
  const rangeStart = opts.rowStart ?? 0;
  const rangeEnd = opts.rowEnd ?? n;
  if (!(Number.isSafeInteger(rangeStart) && Number.isSafeInteger(rangeEnd) && rangeStart >= 0 && rangeStart <= rangeEnd && rangeEnd <= n)) {
    throw new Error(`${file}: rows ${rangeStart} to ${rangeEnd} are not a range of its ${n} rows`);
  }
  const wanted = CSV_COLUMNS.map((c) => lower.get(c)!);
  // Column by column as each row group is decoded, into typed arrays: no row objects. A cell that
  // is not a number (or, for `time`, not a timestamp, epoch ms or ISO text) becomes NaN and keeps
  // its raw value for the error message.
  const timeName = lower.get('time')!;
  const symbolName = lower.get('symbol')!;
  // An INT64 timestamp column is read as its raw integers (its type taken off the schema given to the
  // reader), converted above: hyparquet would make a BigInt and a call per row of it.
  let timeUnit: TimeUnit | null = null;
  const schema = metadata.schema.map((e, i) => {
    if (i === 0 || e.name !== timeName || e.type !== 'INT64') return e;
    const lt = e.logical_type;
    timeUnit = lt?.type === 'TIMESTAMP' ? lt.unit : e.converted_type === 'TIMESTAMP_MICROS' ? 'MICROS' : 'MILLIS';
    return { ...e, converted_type: undefined, logical_type: undefined };
  });
  const readMetadata = { ...metadata, schema };
  const numericNames = NUMERIC.map((c) => lower.get(c)!);
  const sink = new BuilderSink(opts.symbols ? new Set(opts.symbols) : null, opts.newBuilder ?? ((symbol) => new SeriesBuilder(symbol)));
  const columnNames = { time: timeName, open: numericNames[0]!, high: numericNames[1]!, low: numericNames[2]!, close: numericNames[3]!, volume: numericNames[4]! };

  // Groups of the plain layouts are decoded into reused memory (parquet-pages.ts); others through hyparquet.
  const names = [timeName, symbolName, ...numericNames];
  // (Loaded here: hyparquet's page modules are not for a CSV file's reading, which loads this module too.)
  const { RowGroupDecoder } = await import('./parquet-pages.ts');
  const plain = opts.generalReader || timeUnit === null ? null : RowGroupDecoder.for(metadata, names.map((name, k) => ({ name, role: k === 0 ? { kind: 'time', unit: timeUnit! } : k === 1 ? { kind: 'symbol' } : { kind: 'number' } })));
  for (const [index, group] of rowGroupRanges(metadata).entries()) {
    const from = Math.max(group.rowStart, rangeStart);
    const to = Math.min(group.rowEnd, rangeEnd);
    if (to <= from) continue;
    // Each column's decoded pages as the reader hands them over (doubles kept as they are): copied
    // once, row by row into each symbol's columns, not first into columns of the whole file (fresh
    // memory costs its page faults). Columns are paged apart: their pages start at different rows.
    const pages = new Map<string, Page[]>(names.map((name) => [name, []]));
    const raw = new Map<string, Map<number, unknown>>();
    const timeErrors = new Map<number, string>();
    const decoded = plain ? await plain.decode(fh, index) : null;
    if (decoded) names.forEach((name, k) => pages.get(name)!.push({ start: from, end: to, base: group.rowStart, data: decoded[k]! }));
    else try {
      await hyparquet.parquetRead({
        file: source,
        metadata: readMetadata,
        columns: wanted,
        rowStart: from,
        rowEnd: to,
        parsers: {
          timestampFromMilliseconds: (v: bigint) => Number(v),
          timestampFromMicroseconds: (v: bigint) => Number(v / 1000n),
          timestampFromNanoseconds: (v: bigint) => Number(v / 1_000_000n),
        },
        onChunk: ({ columnName, columnData, rowStart: base, rowEnd }) => {
          // A chunk is decoded pages: where the range cuts the group, they reach beyond it.
          const start = Math.max(base, from);
          const end = Math.min(rowEnd, to);
          if (end <= start) return;
          const list = pages.get(columnName)!;
          // Symbols and doubles as they are (a NaN among doubles needs no raw value: it prints as NaN).
          if (columnName === symbolName || columnData instanceof Float64Array) {
            list.push({ start, end, base, data: columnData });
            return;
          }
          // Others converted, only the range's rows.
          const into = new Float64Array(end - start);
          list.push({ start, end, base: start, data: into });
          if (columnData instanceof BigInt64Array && columnName === timeName && timeUnit !== null) {
            int64Times(columnData.subarray(start - base), timeUnit, into, 0, end - start);
            return;
          }
          for (let r = start; r < end; r++) {
            const v: unknown = columnData[r - base];
            let x = toNumber(v);
            if (typeof v === 'string' && columnName === timeName) {
              const t = parseTime(v.trim());
              if (typeof t === 'string') timeErrors.set(r, t);
              else x = t;
            }
            if (Number.isNaN(x)) {
              let m = raw.get(columnName);
              if (!m) raw.set(columnName, (m = new Map()));
              m.set(r, v);
            }
            into[r - start] = x;
          }
        },
      });
    } catch (err) {
      throw new UserError(`${file}: cannot read the Parquet data (${(err as Error).message}). Fix: check that the file is complete and uses plain column types.`, 'TANDEM_FILE_INVALID');
    }
    // Every column's pages in row order, covering the group's rows in the range without a gap.
    for (const [name, list] of pages) {
      list.sort((a, b) => a.start - b.start);
      let covered = from;
      for (const pg of list) {
        if (pg.start !== covered) break;
        covered = pg.end;
      }
      if (covered !== to) throw new UserError(`${file}: cannot read the Parquet data (column '${name}': rows ${covered + 1} to ${to} missing). Fix: check that the file is complete and uses plain column types.`, 'TANDEM_FILE_INVALID');
    }
    // Each symbol's bars in the group counted first, so that its columns grow at most once for the
    // group (and the builders come in the order of the symbols' first rows). A column too small for
    // the group is made, in one step, as large as the symbol's share of the rows so far projects for
    // the whole range (with a margin): reserving only the group's bars would copy the bars so far
    // at every group.
    for (const [b, count] of countBars(sink, pages.get(symbolName)!)) {
      const need = b.length + count;
      if (need > b.capacity) b.reserve(Math.max(need, Math.min(((need * (rangeEnd - rangeStart)) / (to - rangeStart)) * RESERVE_MARGIN + 256, rangeEnd - rangeStart)));
    }
    const columns = names.map((name) => pages.get(name)!) as GroupColumns;
    // The first group in slices, each announced: a reader in another thread publishes them, and
    // the backtest starts on the first slice rather than after the whole group (~0.05–0.1 s, the
    // reading code not yet optimized).
    const slice = from === rangeStart && opts.onRows ? FIRST_GROUP_SLICE : to - from;
    for (let a = from; a < to; ) {
      const b = Math.min(to, a + slice);
      walkRows(file, columnNames, sink, columns, { raw, timeErrors }, a, b);
      a = b;
      opts.onRows?.(a - rangeStart);
    }
  }
  opts.onProgress?.(size, size);
  return sink.builders;
}

/** Writes series as a Parquet bar file: rows by time, then symbol; times as TIMESTAMP_MILLIS (UTC). */
export async function writeBarsParquet(file: string, series: BarSeries[]): Promise<void> {
  const { parquetWriteBuffer } = await import('hyparquet-writer');
  const total = series.reduce((a, s) => a + s.length, 0);
  // Merge the symbols' (ascending) series by time; ties in the order given.
  const order: [number, number][] = [];
  const pos = series.map(() => 0);
  for (let k = 0; k < total; k++) {
    let best = -1;
    for (let j = 0; j < series.length; j++) {
      if (pos[j]! < series[j]!.length && (best < 0 || series[j]!.time[pos[j]!]! < series[best]!.time[pos[best]!]!)) best = j;
    }
    order.push([best, pos[best]!++]);
  }
  const time = new BigInt64Array(total);
  const symbol: string[] = new Array<string>(total);
  const cols = NUMERIC.map(() => new Float64Array(total));
  order.forEach(([j, i], r) => {
    const s = series[j]!;
    time[r] = BigInt(s.time[i]!);
    symbol[r] = s.symbol;
    cols[0]![r] = s.open[i]!;
    cols[1]![r] = s.high[i]!;
    cols[2]![r] = s.low[i]!;
    cols[3]![r] = s.close[i]!;
    cols[4]![r] = s.volume[i]!;
  });
  // Snappy where it pays: times (regular steps), symbols (a dictionary) and volumes compress well;
  // prices are doubles whose low bits look random, which snappy barely shrinks (68.7 MB either way
  // for 2,000,000 rows) but which cost the reader ~0.1–0.3 s to decompress in JavaScript: stored plain.
  const buffer = parquetWriteBuffer({
    columnData: [
      { name: 'time', data: time, type: 'TIMESTAMP', nullable: false, codec: 'SNAPPY' },
      { name: 'symbol', data: symbol, type: 'STRING', nullable: false, codec: 'SNAPPY' },
      ...NUMERIC.map((name, k) => ({ name, data: cols[k]!, type: 'DOUBLE' as const, nullable: false, codec: name === 'volume' ? ('SNAPPY' as const) : ('UNCOMPRESSED' as const) })),
    ],
    // Row groups of 100,000 rows: a backtest reading the file while it runs (bar-stream.ts) gets
    // bars a group at a time, ~0.1 s apart rather than ~0.6 s; the file is no bigger, nor slower to read.
    rowGroupSize: 100_000,
    createdBy: 'tandem',
  });
  await writeFile(file, new Uint8Array(buffer));
}
