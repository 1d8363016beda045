/**
 * The reading of a CSV bar file's rows into each symbol's columns, in whichever thread reads it:
 * csv.ts's loader, or the thread that reads a backtest's file while it runs (bar-stream.ts), which
 * gives its own builders (columns in shared memory) and hears of each chunk read.
 *
 * The bytes are read in 4 MB chunks and each row is parsed in place, in one pass over its bytes: no
 * string per line or per cell. Numbers are read digit by digit (csv-decimal.ts for 16–18
 * significant digits, `Number` on the cell's text for exponents and longer ones), times by
 * csv-bytes.ts (each distinct time once), and symbols are told by their bytes. A row the fast path
 * does not take (quotes, spaces around cells, offsets in times, or an error) is decoded and read by
 * `slowRow`, the reference reading, which reports errors as file:line:col; the fast path reads
 * every value exactly as slowRow would (tests/backtest-csv-identity.test.ts).
 */
import type { FileHandle } from 'node:fs/promises';
import { UserError } from '../util/errors.ts';
import { CSV_COLUMNS, parseTime, splitCsvLine, type CsvColumn } from './csv-cells.ts';
import { FastRows, IGNORED, NUM, SYMBOL, SymbolTable, TIME } from './csv-rows.ts';
import { SeriesBuilder } from './series-builder.ts';

const NUMERIC = ['open', 'high', 'low', 'close', 'volume'] as const;
const NL = 10;
/** Bytes read at a time. */
const CHUNK = 1 << 22;
/**
 * The first read's bytes, ×4 at each read up to CHUNK: a thread reading while a backtest runs
 * publishes its bars after each read, and the first 4 MB, parsed by code not yet optimized, kept
 * the backtest waiting ~0.07 s for its first bar.
 */
const FIRST_READ = 1 << 16;

/** Room reserved beyond a symbol's projected bar count (see reserveAhead; unused room costs address space only). */
const RESERVE_MARGIN = 1.1;

export interface CsvRowsOptions {
  /** Keep only these symbols (others are still validated). Default: all. */
  symbols?: readonly string[] | undefined;
  /** Called now and then with bytes read so far and the file size (of the range). */
  onProgress?: ((bytesRead: number, totalBytes: number) => void) | undefined;
  /** Bytes read at a time (default 4 MB; tests use small reads so rows straddle chunk ends). */
  readChunkBytes?: number | undefined;
  /** The builder of a kept symbol met for the first time (default: a SeriesBuilder). */
  newBuilder?: ((symbol: string) => SeriesBuilder) | undefined;
  /** Called after each chunk's rows are in the builders, with the bytes read so far (of the range). */
  onChunk?: ((bytesRead: number) => void) | undefined;
  /** Only this part of the file (default: all of it). */
  range?: CsvRange | undefined;
  /** The builders keep time, open and close only (SeriesBuilder.pricesOnly): the fast path then checks the other numbers without reading their values. */
  pricesOnly?: boolean | undefined;
}

/** What was read: a builder per kept symbol met (in order of first sight), and the lines read. */
export interface CsvRows {
  builders: Map<string, SeriesBuilder>;
  /** Lines read (in a later part: from the part's start, its header's line not counted). */
  lines: number;
}

/**
 * A part of the file read by one of several threads: its bytes start just after a line end (or at
 * 0) and end just after one (or at the file's end); a later part reads the header's line first.
 */
export interface CsvRange {
  start: number;
  end: number;
  /** Just after the header's line (for a part that starts later). */
  headerEnd: number;
}

/**
 * Reads the file's rows (or those of `opts.range`). Throws UserError on an empty file, a bad
 * header or a malformed row: file:line:col, the line counted from the part's start in a later part.
 */
export async function readCsvRows(file: string, fh: FileHandle, size: number, opts: CsvRowsOptions = {}): Promise<CsvRows> {
  const keep = opts.symbols ? new Set(opts.symbols) : null;
  const builders = new Map<string, SeriesBuilder>();
  let lineNo = 0;
  let idx: Record<CsvColumn, number> | null = null;
  let nCols = 0;
  // Both legs' rows usually share a time: the slow path parses each distinct time text once too.
  let lastTimeText: string | null = null;
  let lastTime = 0;
  const nums = new Float64Array(5);

  const symbols = new SymbolTable((symbol) => builderFor(symbol));
  const fast: FastRows = new FastRows((buf, s, e) => symbols.find(buf, s, e, fast.lastEntry));
  fast.pricesOnly = opts.pricesOnly ?? false;

  const builderFor = (symbol: string): SeriesBuilder | null => {
    if (keep && !keep.has(symbol)) return null;
    let b = builders.get(symbol);
    if (!b) {
      b = opts.newBuilder ? opts.newBuilder(symbol) : new SeriesBuilder(symbol);
      if (opts.pricesOnly) b.pricesOnly = true;
      builders.set(symbol, b);
    }
    return b;
  };

  /** The reference reading of one line (already without its `\n`); lineNo is the line's number. */
  const slowRow = (rawLine: string): void => {
    let line = rawLine.endsWith('\r') ? rawLine.slice(0, -1) : rawLine;
    if (lineNo === 1) line = line.replace(/^\uFEFF/, '');
    if (line.trim() === '') return;
    const fields = splitCsvLine(line);
    const where = (col: number): string => {
      let c = 1;
      for (let k = 0; k < col; k++) c += fields[k]!.length + 1;
      return `${file}:${lineNo}:${c}`;
    };
    if (!idx) {
      const names = fields.map((f) => f.trim().toLowerCase());
      const found = {} as Record<CsvColumn, number>;
      for (const col of CSV_COLUMNS) {
        const i = names.indexOf(col);
        if (i < 0) {
          throw new UserError(`${file}:${lineNo}:1: the header lacks column '${col}'; expected a header line '${CSV_COLUMNS.join(',')}'`, 'TANDEM_FILE_INVALID');
        }
        found[col] = i;
      }
      idx = found;
      nCols = fields.length;
      const roles = new Uint8Array(nCols).fill(IGNORED);
      roles[found.time] = TIME;
      roles[found.symbol] = SYMBOL;
      NUMERIC.forEach((c, k) => (roles[found[c]] = NUM + k));
      fast.roles = roles;
      fast.canonical = nCols === CSV_COLUMNS.length && CSV_COLUMNS.every((c, k) => found[c] === k);
      return;
    }
    if (fields.length !== nCols) {
      throw new UserError(`${file}:${lineNo}:1: ${fields.length} fields where the header has ${nCols}`, 'TANDEM_FILE_INVALID');
    }
    const symbol = fields[idx.symbol]!.trim();
    if (symbol === '') throw new UserError(`${where(idx.symbol)}: column 'symbol' is empty`, 'TANDEM_FILE_INVALID');
    const timeText = fields[idx.time]!.trim();
    let t: number;
    if (timeText === lastTimeText && fast.lastTimeLen < 0) t = lastTime;
    else {
      const parsed = parseTime(timeText);
      if (typeof parsed === 'string') throw new UserError(`${where(idx.time)}: column 'time': ${parsed}`, 'TANDEM_FILE_INVALID');
      t = parsed;
      lastTimeText = timeText;
      lastTime = t;
      fast.lastTimeLen = -1;
    }
    for (let k = 0; k < 5; k++) {
      const col = idx[NUMERIC[k]!];
      const text = fields[col]!.trim();
      const v = text === '' ? NaN : Number(text);
      if (!Number.isFinite(v)) throw new UserError(`${where(col)}: column '${NUMERIC[k]}': '${text}' is not a number`, 'TANDEM_FILE_INVALID');
      if (k === 4 ? v < 0 : v <= 0) {
        throw new UserError(`${where(col)}: column '${NUMERIC[k]}': ${text} must be ${k === 4 ? 'zero or more' : 'positive'}`, 'TANDEM_FILE_INVALID');
      }
      nums[k] = v;
    }
    const b = builderFor(symbol);
    if (b) b.add(t, nums[0]!, nums[1]!, nums[2]!, nums[3]!, nums[4]!, lineNo);
  };

  /** Every complete line of buf[0, end); returns where the unfinished last line starts. */
  const lines = (buf: Buffer, end: number, final: boolean): number => {
    let s = 0;
    // The end of the last complete line: the fast path reads only whole lines.
    let limit = -1;
    while (s < end) {
      if (idx !== null) {
        if (limit < 0) limit = end > 0 ? buf.lastIndexOf(NL, end - 1) + 1 : 0;
        if (s < limit) {
          fast.lineNo = lineNo;
          s = fast.run(buf, s, limit);
          lineNo = fast.lineNo;
          if (s === end) break;
        }
      }
      // One line the slow way: the header, a blank line, a row the fast path left, or the unfinished last line.
      lineNo++;
      let nl = buf.indexOf(NL, s);
      if (nl < 0 || nl >= end) {
        if (!final) {
          lineNo--;
          return s;
        }
        nl = end;
      }
      slowRow(buf.toString('utf8', s, nl));
      s = nl + 1;
    }
    return end;
  };

  /**
   * Reserves each kept symbol's columns for the bars it will likely have, projected from its share
   * of the lines so far and the bytes to read, so that they are not copied at every doubling.
   */
  const reserveAhead = (consumed: number, span: number): void => {
    if (lineNo < 1000 || consumed <= 0) return;
    const linesInFile = (lineNo * span) / consumed;
    for (const b of builders.values()) {
      // Reserved with a margin once; again only when the projection outgrows it.
      const projected = (b.length * linesInFile) / lineNo;
      if (projected > b.capacity) b.reserve(projected * RESERVE_MARGIN + 256);
    }
  };

  /** Reads [from, to) of the file through `lines`, a chunk at a time. */
  const readBytes = async (from: number, to: number, publish: boolean): Promise<void> => {
    let buf = Buffer.allocUnsafe(Math.max(1, Math.min(opts.readChunkBytes ?? CHUNK, to - from)));
    let filled = 0;
    let pos = from;
    let step = FIRST_READ;
    for (;;) {
      if (filled === buf.length) {
        // A line longer than the buffer: grow it.
        const bigger = Buffer.allocUnsafe(buf.length * 2);
        buf.copy(bigger, 0, 0, filled);
        buf = bigger;
      }
      const want = Math.min(buf.length - filled, to - pos, step);
      step *= 4;
      const got = want > 0 ? (await fh.read(buf, filled, want, pos)).bytesRead : 0;
      pos += got;
      filled += got;
      const rest = lines(buf, filled, got === 0);
      buf.copy(buf, 0, rest, filled);
      filled -= rest;
      if (publish) {
        reserveAhead(pos - from - filled, to - from);
        opts.onChunk?.(pos - from);
        opts.onProgress?.(pos - from, to - from);
      }
      if (got === 0) break;
    }
  };

  const range = opts.range ?? { start: 0, end: size, headerEnd: 0 };
  if (range.start > 0) {
    // A later part of the file: its header's line first, for the columns; then lines count from the part's start.
    await readBytes(0, range.headerEnd, false);
    if (!idx) throw new Error(`${file}: no header line before byte ${range.headerEnd}`);
    lineNo = 0;
  }
  await readBytes(range.start, range.end, true);
  if (!idx) throw new UserError(`${file}: the file is empty; expected a header line '${CSV_COLUMNS.join(',')}' and rows`, 'TANDEM_FILE_INVALID');
  return { builders, lines: lineNo };
}
