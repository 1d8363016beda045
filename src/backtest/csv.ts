/**
 * Bar files: CSV with header `time,symbol,open,high,low,close,volume` (any column order; extra
 * columns are ignored), one row per bar per symbol, rows in any order. `time` is epoch
 * milliseconds or ISO 8601 (a date-time without an offset is read as UTC). Every malformed row is
 * a UserError naming file, line and column; nothing is skipped silently except blank lines.
 *
 * Read as a stream, stored as float64 columns per symbol (keeping only the symbols asked for), then
 * sorted by time. Memory: 6 numbers a bar for each kept symbol.
 */
import { statSync } from 'node:fs';
import { open, type FileHandle } from 'node:fs/promises';
import { UserError } from '../util/errors.ts';
import { readTime } from './csv-bytes.ts';
import { decimalToDouble, POW10 } from './csv-decimal.ts';
import { finishSeries, SeriesBuilder, type BarSeries } from './series-builder.ts';

/** The largest time a JavaScript Date holds (±100,000,000 days from 1970). */
const MAX_DATE_MS = 8.64e15;

export const CSV_COLUMNS = ['time', 'symbol', 'open', 'high', 'low', 'close', 'volume'] as const;
type CsvColumn = (typeof CSV_COLUMNS)[number];

export type { BarSeries } from './series-builder.ts';

export interface LoadCsvOptions {
  /** Keep only these symbols (others are still validated). Default: all. */
  symbols?: readonly string[];
  /** Called now and then with bytes read so far and the file size. */
  onProgress?: (bytesRead: number, totalBytes: number) => void;
  /** Bytes read at a time (default 4 MB; tests use small reads so rows straddle chunk ends). */
  readChunkBytes?: number;
}

const ISO_RE = /^(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2})(\.\d{1,9})?)?)?(Z|[+-]\d{2}:?\d{2})?$/i;

/** Parses a `time` cell to epoch ms; returns an explanation string on failure. */
export function parseTime(text: string): number | string {
  if (/^-?\d+$/.test(text)) {
    const v = Number(text);
    if (!Number.isSafeInteger(v) || Math.abs(v) > MAX_DATE_MS) return `'${text}' is not a valid epoch-milliseconds time (beyond the range of dates)`;
    // Ten-digit values are almost surely epoch SECONDS: refuse rather than land in January 1970.
    if (Math.abs(v) < 1e11 && text.replace('-', '').length <= 10) {
      return `'${text}' looks like epoch seconds; times must be epoch milliseconds or ISO 8601`;
    }
    return v;
  }
  const m = ISO_RE.exec(text);
  if (!m) return `'${text}' is not an ISO 8601 UTC time (e.g. 2024-01-02T14:30:00Z) or epoch milliseconds`;
  const [, y, mo, d, h, mi, s, frac, zone] = m;
  const month = Number(mo);
  const day = Number(d);
  const hour = Number(h ?? 0);
  const minute = Number(mi ?? 0);
  const second = Number(s ?? 0);
  if (month < 1 || month > 12 || day < 1 || day > 31 || hour > 23 || minute > 59 || second > 59) {
    return `'${text}' is not a valid date-time`;
  }
  let ms = Date.UTC(Number(y), month - 1, day, hour, minute, second, frac ? Math.round(Number(frac) * 1000) : 0);
  if (new Date(ms).getUTCDate() !== day) return `'${text}' is not a valid date`;
  if (zone && zone.toUpperCase() !== 'Z') {
    const sign = zone[0] === '-' ? -1 : 1;
    const digits = zone.slice(1).replace(':', '');
    ms -= sign * (Number(digits.slice(0, 2)) * 60 + Number(digits.slice(2))) * 60_000;
  }
  if (!(Math.abs(ms) <= MAX_DATE_MS)) return `'${text}' is beyond the range of dates`;
  return ms;
}

function splitCsvLine(line: string): string[] {
  if (!line.includes('"')) return line.split(',');
  // Minimal quoting: "a,b" and "" inside quotes.
  const out: string[] = [];
  let cur = '';
  let inQ = false;
  for (let i = 0; i < line.length; i++) {
    const c = line[i]!;
    if (inQ) {
      if (c === '"' && line[i + 1] === '"') {
        cur += '"';
        i++;
      } else if (c === '"') inQ = false;
      else cur += c;
    } else if (c === '"') inQ = true;
    else if (c === ',') {
      out.push(cur);
      cur = '';
    } else cur += c;
  }
  out.push(cur);
  return out;
}

const NUMERIC = ['open', 'high', 'low', 'close', 'volume'] as const;
/** What a column of the file holds, for the fast path. */
const IGNORED = 0;
const TIME = 1;
const SYMBOL = 2;
/** Numeric columns are NUM + k, k indexing NUMERIC. */
const NUM = 3;
const NL = 10;
const CR = 13;
const COMMA = 44;
const QUOTE = 34;
/** fastRow's answers besides the next line's start. */
const FAIL = -1;
const MORE = -2;
const DOT = 46;
const PLUS = 43;
const MINUS = 45;
const LOWER_E = 101;
const UPPER_E = 69;
/** Bytes read at a time. */
const CHUNK = 1 << 22;

/** Room reserved beyond a symbol's projected bar count (see reserveAhead; unused room costs address space only). */
const RESERVE_MARGIN = 1.1;

/** A symbol seen in the file: its bytes (to recognise it without decoding), and its builder if kept. */
interface SymbolEntry {
  bytes: Uint8Array;
  builder: SeriesBuilder | null;
  /** False when the cell has space around the name: such rows are left to the slow path, which trims. */
  trimmed: boolean;
  /** The symbol of the row after this one's last row: usually the next row's. */
  next: SymbolEntry | null;
}

/** A number cell with an exponent or over 20 significant digits: what `Number` makes of its text, as the slow path reads it. */
function numberOf(buf: Buffer, s: number, e: number): number {
  return Number(buf.toString('latin1', s, e));
}

function sameBytes(bytes: Uint8Array, buf: Uint8Array, s: number, e: number): boolean {
  if (bytes.length !== e - s) return false;
  for (let k = 0; k < bytes.length; k++) if (bytes[k] !== buf[s + k]) return false;
  return true;
}

/** Opens the data file, turning a missing or unreadable one into a UserError that says what to do. */
export async function openDataFile(file: string): Promise<{ fh: FileHandle; size: number }> {
  try {
    const st = statSync(file);
    if (!st.isFile()) throw new UserError(`${file}: not a regular file`, 'TANDEM_FILE_INVALID');
    return { fh: await open(file, 'r'), size: st.size };
  } catch (err) {
    if (err instanceof UserError) throw err;
    const code = (err as NodeJS.ErrnoException).code;
    throw new UserError(code === 'ENOENT'
      ? `${file}: no such data file. Fix: check the --data path (relative paths start from the current directory), or download bars with \`tandem history\`.`
      : `${file}: cannot read the data file (${code ?? String(err)}). Fix: check that it is a readable file.`, code === 'ENOENT' ? 'TANDEM_FILE_NOT_FOUND' : 'TANDEM_FILE_INVALID');
  }
}

/**
 * Loads a bar file. Throws UserError on a missing file, a bad header or any malformed row.
 *
 * The file is read in 4 MB chunks of bytes and each row is parsed in place, in one pass over its
 * bytes: no string per line or per cell. Numbers are read digit by digit (csv-decimal.ts for 16–18
 * significant digits, `Number` on the cell's text for exponents and longer ones), times by
 * csv-bytes.ts (each distinct time once), and symbols are told by their bytes. A row the fast path
 * does not take (quotes, spaces around cells, offsets in times, or an error) is decoded and read by
 * `slowRow`, the reference reading, which reports errors as file:line:col; the fast path reads
 * every value exactly as slowRow would (tests/backtest-csv-identity.test.ts).
 */
export async function loadBarsCsv(file: string, opts: LoadCsvOptions = {}): Promise<Map<string, BarSeries>> {
  const { fh, size } = await openDataFile(file);
  const keep = opts.symbols ? new Set(opts.symbols) : null;
  const builders = new Map<string, SeriesBuilder>();
  const symbolEntries: SymbolEntry[] = [];
  const symbolsByKey = new Map<string, SymbolEntry>();
  let lastEntry: SymbolEntry | null = null;
  let lineNo = 0;
  let idx: Record<CsvColumn, number> | null = null;
  let roles = new Uint8Array(0);
  let nCols = 0;
  // Both legs' rows usually share a time: parse each distinct time text once.
  let lastTimeText: string | null = null;
  let lastTime = 0;
  let lastTimeBytes = new Uint8Array(64);
  let lastTimeLen = -1;
  const nums = new Float64Array(5);

  const builderFor = (symbol: string): SeriesBuilder | null => {
    if (keep && !keep.has(symbol)) return null;
    let b = builders.get(symbol);
    if (!b) {
      b = new SeriesBuilder(symbol);
      builders.set(symbol, b);
    }
    return b;
  };
  const push = (b: SeriesBuilder, t: number): void => b.add(t, nums[0]!, nums[1]!, nums[2]!, nums[3]!, nums[4]!, lineNo);

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
      roles = new Uint8Array(nCols).fill(IGNORED);
      roles[found.time] = TIME;
      roles[found.symbol] = SYMBOL;
      NUMERIC.forEach((c, k) => (roles[found[c]] = NUM + k));
      return;
    }
    if (fields.length !== nCols) {
      throw new UserError(`${file}:${lineNo}:1: ${fields.length} fields where the header has ${nCols}`, 'TANDEM_FILE_INVALID');
    }
    const symbol = fields[idx.symbol]!.trim();
    if (symbol === '') throw new UserError(`${where(idx.symbol)}: column 'symbol' is empty`, 'TANDEM_FILE_INVALID');
    const timeText = fields[idx.time]!.trim();
    let t: number;
    if (timeText === lastTimeText) t = lastTime;
    else {
      const parsed = parseTime(timeText);
      if (typeof parsed === 'string') throw new UserError(`${where(idx.time)}: column 'time': ${parsed}`, 'TANDEM_FILE_INVALID');
      t = parsed;
      lastTimeText = timeText;
      lastTime = t;
      lastTimeLen = -1;
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
    if (b) push(b, t);
  };

  /** The symbol entry for buf[s, e), added on first sight. */
  const symbolAt = (buf: Buffer, s: number, e: number): SymbolEntry => {
    const last = lastEntry;
    // Rows usually cycle through the symbols in the same order: try the one that came next last time.
    if (last !== null) {
      const guess = last.next;
      if (guess !== null && sameBytes(guess.bytes, buf, s, e)) return (lastEntry = guess);
      if (sameBytes(last.bytes, buf, s, e)) return last;
    }
    let found: SymbolEntry | undefined;
    if (symbolEntries.length <= 8) {
      for (const x of symbolEntries) {
        if (sameBytes(x.bytes, buf, s, e)) {
          found = x;
          break;
        }
      }
    } else found = symbolsByKey.get(buf.toString('latin1', s, e));
    if (!found) {
      const bytes = Uint8Array.prototype.slice.call(buf, s, e);
      const name = buf.toString('utf8', s, e);
      // Space around the name (as String.trim sees it): the slow path trims it and finds the builder.
      const trimmed = name === name.trim();
      found = { bytes, builder: trimmed ? builderFor(name) : null, trimmed, next: null };
      symbolEntries.push(found);
      symbolsByKey.set(buf.toString('latin1', s, e), found);
    }
    if (last !== null) last.next = found;
    return (lastEntry = found);
  };

  /**
   * Reads the row that starts at buf[s] without making strings, in one pass over its bytes.
   * Returns where the next line starts; FAIL to leave the row to slowRow; MORE when the row runs
   * past `end` without its `\n` (read more of the file first). At the file's end (`final`) the
   * last row may lack its `\n`.
   */
  const fastRow = (buf: Buffer, s: number, end: number, final: boolean): number => {
    let p = s;
    let entry: SymbolEntry | null = null;
    let t = NaN;
    for (let col = 0; ; col++) {
      const role = col < nCols ? roles[col]! : IGNORED;
      const fs = p;
      let c = 0;
      if (role >= NUM) {
        // digits[.digits][e[+-]digits], read as it is scanned: the significant digits in two
        // integers of up to 9 digits each (hi, then lo), the rest left to Number.
        let hi = 0;
        let lo = 0;
        let nSig = 0;
        let dot = -1;
        let exponent = false;
        for (; p < end; p++) {
          c = buf[p]!;
          const d = c - 48;
          if (d >= 0 && d <= 9) {
            if (nSig < 9) {
              hi = hi * 10 + d;
              if (hi !== 0) nSig++; // leading zeros are not significant
            } else {
              if (nSig < 18) lo = lo * 10 + d;
              nSig++;
            }
          } else if (c === COMMA || c === NL || c === CR) break;
          else if (c === DOT && dot < 0 && !exponent) dot = p;
          else if (c === LOWER_E || c === UPPER_E || ((c === PLUS || c === MINUS) && exponent)) exponent = true;
          else return FAIL;
        }
        if (p === end && !final) return MORE;
        if (p - fs - (dot >= 0 ? 1 : 0) <= 0) return FAIL; // no digits
        const frac = dot >= 0 ? p - dot - 1 : 0;
        let v: number;
        if (exponent || nSig > 18 || frac > 22) v = numberOf(buf, fs, p);
        // Up to 15 digits: the integer and 10^frac are exact doubles, so one division rounds correctly.
        else if (nSig <= 15) {
          const m = nSig > 9 ? hi * POW10[nSig - 9]! + lo : hi;
          v = frac > 0 ? m / POW10[frac]! : m;
        } else {
          v = decimalToDouble(hi, POW10[nSig - 9]!, lo, frac);
          if (v !== v) v = numberOf(buf, fs, p);
        }
        // Zero where the column wants a positive number, or not a finite number: the slow path words the error.
        if (!((v > 0 && v < Infinity) || (v === 0 && role === NUM + 4))) return FAIL;
        nums[role - NUM] = v;
      } else {
        // The same time as the last row's (both legs' rows usually share it): its bytes, then a delimiter.
        if (role === TIME && lastTimeLen > 0 && fs + lastTimeLen < end) {
          const e = fs + lastTimeLen;
          c = buf[e]!;
          if (c === COMMA || c === NL || c === CR) {
            // From the end: two different times usually differ in their last digits.
            let k = lastTimeLen - 1;
            while (k >= 0 && lastTimeBytes[k] === buf[fs + k]) k--;
            if (k < 0) {
              t = lastTime;
              p = e;
            }
          }
        }
        if (p === fs) {
          for (; p < end; p++) {
            c = buf[p]!;
            if (c === COMMA || c === NL || c === CR) break;
            if (c === QUOTE) return FAIL;
          }
          if (p === end && !final) return MORE;
          if (role === TIME) {
            // Only digits, '-', 'T', ':', '.' and 'Z' pass, so no space to trim.
            t = readTime(buf, fs, p);
            if (t !== t) return FAIL;
            const n = p - fs;
            if (n > lastTimeBytes.length) lastTimeBytes = new Uint8Array(n * 2);
            for (let k = 0; k < n; k++) lastTimeBytes[k] = buf[fs + k]!;
            lastTimeLen = n;
            lastTime = t;
            lastTimeText = null;
          } else if (role === SYMBOL) {
            if (p === fs) return FAIL;
            entry = symbolAt(buf, fs, p);
            if (!entry.trimmed) return FAIL;
          }
        }
      }
      if (p === end) {
        if (col !== nCols - 1) return FAIL;
        break;
      }
      if (c === COMMA) {
        p++;
        continue;
      }
      // The line's end: `\n`, or `\r\n`.
      if (c === CR) {
        if (p + 1 < end && buf[p + 1] === NL) p++;
        else return p + 1 === end && !final ? MORE : FAIL;
      }
      if (col !== nCols - 1) return FAIL;
      p++;
      break;
    }
    if (entry!.builder !== null) push(entry!.builder, t);
    return p;
  };

  /** Every complete line of buf[0, end); returns where the unfinished last line starts. */
  const lines = (buf: Buffer, end: number, final: boolean): number => {
    let s = 0;
    while (s < end) {
      lineNo++;
      if (idx !== null && buf[s] !== NL && buf[s] !== CR) {
        const next = fastRow(buf, s, end, final);
        if (next >= 0) {
          s = next;
          continue;
        }
        if (next === MORE) {
          lineNo--;
          return s;
        }
      }
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
   * of the lines so far and the file's size, so that they are not copied at every doubling.
   */
  const reserveAhead = (consumed: number): void => {
    if (lineNo < 1000 || consumed <= 0) return;
    const linesInFile = (lineNo * size) / consumed;
    for (const b of builders.values()) {
      // Reserved with a margin once; again only when the projection outgrows it.
      const projected = (b.length * linesInFile) / lineNo;
      if (projected > b.capacity) b.reserve(projected * RESERVE_MARGIN + 256);
    }
  };

  try {
    let buf = Buffer.allocUnsafe(opts.readChunkBytes ?? CHUNK);
    let filled = 0;
    let bytesRead = 0;
    for (;;) {
      if (filled === buf.length) {
        // A line longer than the buffer: grow it.
        const bigger = Buffer.allocUnsafe(buf.length * 2);
        buf.copy(bigger, 0, 0, filled);
        buf = bigger;
      }
      const { bytesRead: got } = await fh.read(buf, filled, buf.length - filled, null);
      bytesRead += got;
      filled += got;
      const rest = lines(buf, filled, got === 0);
      buf.copy(buf, 0, rest, filled);
      filled -= rest;
      reserveAhead(bytesRead - filled);
      opts.onProgress?.(Math.min(bytesRead, size), size);
      if (got === 0) break;
    }
  } finally {
    await fh.close();
  }
  if (!idx) throw new UserError(`${file}: the file is empty; expected a header line '${CSV_COLUMNS.join(',')}' and rows`, 'TANDEM_FILE_INVALID');

  const out = new Map<string, BarSeries>();
  for (const [symbol, b] of builders) {
    out.set(symbol, finishSeries(b, (first, second, t) => `${file}:${second}:1: a second bar for ${symbol} at ${t} (the first is on line ${first})`));
  }
  return out;
}
