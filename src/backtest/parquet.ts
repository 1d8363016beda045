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
 * Library: hyparquet and hyparquet-writer (pure JavaScript, no native code, no dependencies beyond
 * each other; see the README's Dependencies section). Loaded only when a Parquet file is used.
 */
import { writeFile, type FileHandle } from 'node:fs/promises';
import { UserError } from '../util/errors.ts';
import { CSV_COLUMNS, openDataFile, parseTime, type LoadCsvOptions } from './csv.ts';
import { finishSeries, SeriesBuilder, type BarSeries } from './series-builder.ts';

const MAGIC = 'PAR1';

/** A decoded page of one column: rows [start, end) of the file (numbers, times as epoch ms, or symbol cells). */
interface Page {
  start: number;
  end: number;
  data: ArrayLike<unknown>;
}
const NUMERIC = ['open', 'high', 'low', 'close', 'volume'] as const;

/** Whether the file starts with Parquet's magic bytes (the format is told by content, not by name). */
export async function isParquetFile(file: string): Promise<boolean> {
  const { fh } = await openDataFile(file);
  try {
    const head = Buffer.alloc(4);
    const { bytesRead } = await fh.read(head, 0, 4, 0);
    return bytesRead === 4 && head.toString('latin1') === MAGIC;
  } finally {
    await fh.close();
  }
}

/** A column's values as numbers (timestamps already converted to epoch ms by the parsers below). */
function toNumber(v: unknown): number {
  if (typeof v === 'number') return v;
  if (typeof v === 'bigint') return Number(v);
  if (v instanceof Date) return v.getTime();
  return NaN;
}

const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/** Milliseconds in a unit of an INT64 time column. */
const UNIT_MS = { MILLIS: 1, MICROS: 1000, NANOS: 1_000_000 } as const;
type TimeUnit = keyof typeof UNIT_MS;

/**
 * INT64 times (in `unit`) as epoch ms into `into` from `offset`: what Number(v / unit) gives, with
 * BigInt division's truncation. Read as two 32-bit words a value (no BigInt a row) where the
 * double arithmetic is exact, |v| < 2^53; BigInt otherwise.
 */
function int64Times(data: BigInt64Array, unit: TimeUnit, into: Float64Array, offset: number, count: number): void {
  const words = LITTLE_ENDIAN ? new Int32Array(data.buffer, data.byteOffset, data.length * 2) : null;
  const per = UNIT_MS[unit];
  const big = BigInt(per);
  for (let i = 0; i < count; i++) {
    if (words !== null) {
      const hi = words[2 * i + 1]!;
      if (hi < 0x200000 && hi >= -0x200000) {
        const v = hi * 4294967296 + (words[2 * i]! >>> 0);
        into[offset + i] = per === 1 ? v : Math.trunc(v / per) + 0; // + 0: -0 as 0, as BigInt division gives
        continue;
      }
    }
    into[offset + i] = per === 1 ? Number(data[i]!) : Number(data[i]! / big);
  }
}

/** Loads a Parquet bar file into the same series as loadBarsCsv. */
export async function loadBarsParquet(file: string, opts: LoadCsvOptions = {}): Promise<Map<string, BarSeries>> {
  const { fh, size } = await openDataFile(file);
  try {
    return await readParquet(file, fh, size, opts);
  } finally {
    await fh.close();
  }
}

async function readParquet(file: string, fh: FileHandle, size: number, opts: LoadCsvOptions): Promise<Map<string, BarSeries>> {
  const { parquetMetadataAsync, parquetRead } = await import('hyparquet');
  // The parts the reader asks for, read from the file straight into their own memory (the whole
  // file read first, then sliced, was a copy of it too).
  const source = {
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
    metadata = await parquetMetadataAsync(source);
  } catch (err) {
    throw new UserError(`${file}: not a readable Parquet file (${(err as Error).message}). Fix: write it with a Parquet library (pandas: df.to_parquet), or give a CSV bar file.`, 'TANDEM_FILE_INVALID');
  }
  const names = metadata.schema.slice(1).map((s) => s.name);
  const lower = new Map(names.map((n) => [n.toLowerCase(), n]));
  const missing = CSV_COLUMNS.filter((c) => !lower.has(c));
  if (missing.length) {
    throw new UserError(`${file}: the Parquet file lacks column(s) ${missing.map((c) => `'${c}'`).join(', ')} (it has ${names.join(', ')}); expected columns ${CSV_COLUMNS.join(', ')}`, 'TANDEM_FILE_INVALID');
  }
  const wanted = CSV_COLUMNS.map((c) => lower.get(c)!);
  const n = Number(metadata.num_rows);
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
  // Each column's decoded pages as the reader hands them over (doubles kept as they are): copied
  // once, row by row into each symbol's columns, not first into columns of the whole file (fresh
  // memory costs its page faults). Columns are paged apart: their pages start at different rows.
  const numericNames = NUMERIC.map((c) => lower.get(c)!);
  const pages = new Map<string, Page[]>([timeName, symbolName, ...numericNames].map((name) => [name, []]));
  const raw = new Map<string, Map<number, unknown>>();
  const timeErrors = new Map<number, string>();
  try {
    await parquetRead({
      file: source,
      metadata: { ...metadata, schema },
      columns: wanted,
      parsers: {
        timestampFromMilliseconds: (v: bigint) => Number(v),
        timestampFromMicroseconds: (v: bigint) => Number(v / 1000n),
        timestampFromNanoseconds: (v: bigint) => Number(v / 1_000_000n),
      },
      onChunk: ({ columnName, columnData, rowStart, rowEnd }) => {
        const end = Math.min(rowEnd, n);
        if (end <= rowStart) return;
        const list = pages.get(columnName)!;
        if (columnName === symbolName) {
          list.push({ start: rowStart, end, data: columnData });
          return;
        }
        // Doubles as they are (a NaN among them needs no raw value: it prints as NaN); raw INT64 times converted.
        if (columnData instanceof Float64Array) {
          list.push({ start: rowStart, end, data: columnData });
          return;
        }
        const into = new Float64Array(end - rowStart);
        list.push({ start: rowStart, end, data: into });
        if (columnData instanceof BigInt64Array && columnName === timeName && timeUnit !== null) {
          int64Times(columnData, timeUnit, into, 0, end - rowStart);
          return;
        }
        for (let r = rowStart; r < end; r++) {
          const v: unknown = columnData[r - rowStart];
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
          into[r - rowStart] = x;
        }
      },
    });
    opts.onProgress?.(size, size);
  } catch (err) {
    throw new UserError(`${file}: cannot read the Parquet data (${(err as Error).message}). Fix: check that the file is complete and uses plain column types.`, 'TANDEM_FILE_INVALID');
  }
  // Every column's pages in row order, covering the rows without a gap.
  for (const [name, list] of pages) {
    list.sort((a, b) => a.start - b.start);
    let covered = 0;
    for (const pg of list) {
      if (pg.start !== covered) break;
      covered = pg.end;
    }
    if (covered !== n) throw new UserError(`${file}: cannot read the Parquet data (column '${name}': rows ${covered + 1} to ${n} missing). Fix: check that the file is complete and uses plain column types.`, 'TANDEM_FILE_INVALID');
  }
  const keep = opts.symbols ? new Set(opts.symbols) : null;
  const builders = new Map<string, SeriesBuilder>();
  const at = (row: number, c: string) => `${file}: row ${row + 1}: column '${c}'`;
  const rawOf = (c: string, row: number, v: number) => String(raw.get(c)?.get(row) ?? v);
  // The builder of a row's symbol value (null: not kept; undefined: not a symbol). The last few
  // distinct values are remembered, so rows alternating between the legs cost an identity check
  // rather than a trim and two lookups a row.
  const recent: { sym: unknown; builder: SeriesBuilder | null }[] = [];
  let nextSlot = 0;
  const builderOf = (sym: unknown): SeriesBuilder | null | undefined => {
    for (const r of recent) if (r.sym === sym) return r.builder;
    if (typeof sym !== 'string' || sym.trim() === '') return undefined;
    const name = sym.trim();
    let b: SeriesBuilder | null = null;
    if (!keep || keep.has(name)) {
      b = builders.get(name) ?? null;
      if (!b) builders.set(name, (b = new SeriesBuilder(name)));
    }
    if (recent.length < 8) recent.push({ sym, builder: b });
    else recent[nextSlot++ % 8] = { sym, builder: b };
    return b;
  };
  // Each symbol's bars counted first, so that its columns are made once at their size (and the
  // builders in the order of the symbols' first rows); an invalid symbol stops the count, the loop
  // below reports it.
  {
    const counts = new Map<SeriesBuilder, number>();
    let lastSym: unknown = undefined;
    let lastBuilder: SeriesBuilder | null = null;
    let run = 0;
    const flush = () => {
      if (lastBuilder) counts.set(lastBuilder, (counts.get(lastBuilder) ?? 0) + run);
    };
    count: for (const pg of pages.get(symbolName)!) {
      const symbol = pg.data;
      for (let k = 0; k < pg.end - pg.start; k++) {
        const sym = symbol[k];
        if (sym !== lastSym) {
          const b = builderOf(sym);
          if (b === undefined) break count;
          flush();
          lastSym = sym;
          lastBuilder = b;
          run = 0;
        }
        run++;
      }
    }
    flush();
    for (const [b, count] of counts) b.reserve(count);
  }
  let lastSym: unknown = undefined;
  let lastBuilder: SeriesBuilder | null = null;
  // The rows in segments where no column changes page: within one, each column is one array read
  // at the row minus its page's start.
  const columns = [timeName, symbolName, ...numericNames].map((name) => ({ list: pages.get(name)!, at: 0 }));
  // A row's time and numbers, handed to its builder by index (SeriesBuilder.addRow).
  const cells = new Float64Array(6);
  for (let row = 0; row < n; ) {
    let segEnd = n;
    for (const c of columns) {
      while (c.list[c.at]!.end <= row) c.at++;
      segEnd = Math.min(segEnd, c.list[c.at]!.end);
    }
    const [pt, ps, po, ph, pl, pc, pv] = columns.map((c) => c.list[c.at]!) as [Page, Page, Page, Page, Page, Page, Page];
    const time = pt.data as Float64Array;
    const symbol = ps.data;
    const open = po.data as Float64Array;
    const high = ph.data as Float64Array;
    const low = pl.data as Float64Array;
    const close = pc.data as Float64Array;
    const volume = pv.data as Float64Array;
    const [dt, ds, dop, dh, dl, dc, dv] = [pt.start, ps.start, po.start, ph.start, pl.start, pc.start, pv.start];
    for (let i = row; i < segEnd; i++) {
      const sym = symbol[i - ds];
      if (sym !== lastSym) {
        const b = builderOf(sym);
        if (b === undefined) throw new UserError(`${at(i, 'symbol')} is empty`, 'TANDEM_FILE_INVALID');
        lastSym = sym;
        lastBuilder = b;
      }
      const t = time[i - dt]!;
      if (timeErrors.size > 0 && timeErrors.has(i)) throw new UserError(`${at(i, 'time')}: ${timeErrors.get(i)}`, 'TANDEM_FILE_INVALID');
      if (!Number.isSafeInteger(t)) throw new UserError(`${at(i, 'time')}: ${rawOf(timeName, i, t)} is not a time (epoch milliseconds or a timestamp)`, 'TANDEM_FILE_INVALID');
      // Positive prices, volume zero or more (NaN fails both); the messages below say which and why.
      const o = open[i - dop]!;
      const hi = high[i - dh]!;
      const lo = low[i - dl]!;
      const cl = close[i - dc]!;
      const vo = volume[i - dv]!;
      if (!(o > 0 && hi > 0 && lo > 0 && cl > 0 && vo >= 0 && o + hi + lo + cl + vo < Infinity)) {
        for (let k = 0; k < 5; k++) {
          const v = [o, hi, lo, cl, vo][k]!;
          if (!Number.isFinite(v)) throw new UserError(`${at(i, NUMERIC[k]!)}: ${rawOf(lower.get(NUMERIC[k]!)!, i, v)} is not a number`, 'TANDEM_FILE_INVALID');
          if (k === 4 ? v < 0 : v <= 0) throw new UserError(`${at(i, NUMERIC[k]!)}: ${v} must be ${k === 4 ? 'zero or more' : 'positive'}`, 'TANDEM_FILE_INVALID');
        }
      }
      if (lastBuilder !== null) {
        cells[0] = t;
        cells[1] = o;
        cells[2] = hi;
        cells[3] = lo;
        cells[4] = cl;
        cells[5] = vo;
        lastBuilder.addRow(cells, 0, 1, i + 1);
      }
    }
    row = segEnd;
  }
  const out = new Map<string, BarSeries>();
  for (const [name, b] of builders) {
    out.set(name, finishSeries(b, (first, second, iso) => `${file}: row ${second}: a second bar for ${name} at ${iso} (the first is row ${first})`));
  }
  return out;
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
    rowGroupSize: 1_000_000,
    createdBy: 'tandem',
  });
  await writeFile(file, new Uint8Array(buffer));
}
