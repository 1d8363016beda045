/**
 * Bar files: CSV with header `time,symbol,open,high,low,close,volume` (any column order; extra
 * columns are ignored), one row per bar per symbol, rows in any order. `time` is epoch
 * milliseconds or ISO 8601 (a date-time without an offset is read as UTC). Every malformed row is
 * a UserError naming file, line and column; nothing is skipped silently except blank lines.
 *
 * Read as a stream (csv-read.ts), stored as float64 columns per symbol (keeping only the symbols
 * asked for), then sorted by time. Memory: 6 numbers a bar for each kept symbol. A backtest of a
 * large file reads it in another thread while it runs (bar-stream.ts).
 */
import { statSync } from 'node:fs';
import { open, type FileHandle } from 'node:fs/promises';
import { UserError } from '../util/errors.ts';
import { readCsvRows } from './csv-read.ts';
import { finishSeries, type BarSeries, type SeriesBuilder } from './series-builder.ts';

export { CSV_COLUMNS, parseTime } from './csv-cells.ts';
export type { BarSeries } from './series-builder.ts';

export interface LoadCsvOptions {
  /** Keep only these symbols (others are still validated). Default: all. */
  symbols?: readonly string[];
  /** Called now and then with bytes read so far and the file size. */
  onProgress?: (bytesRead: number, totalBytes: number) => void;
  /** Bytes read at a time (default 4 MB; tests use small reads so rows straddle chunk ends). */
  readChunkBytes?: number;
  /** Keep time, open and close only (SeriesBuilder.pricesOnly): high, low and volume are checked, and NaN in the series. */
  pricesOnly?: boolean;
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

/** Loads a bar file. Throws UserError on a missing file, a bad header or any malformed row. */
export async function loadBarsCsv(file: string, opts: LoadCsvOptions = {}): Promise<Map<string, BarSeries>> {
  const { fh, size } = await openDataFile(file);
  try {
    return finishBars(file, (await readCsvRows(file, fh, size, opts)).builders);
  } finally {
    await fh.close();
  }
}

/** Each symbol's bars sorted by time; a second bar at a time is a UserError naming both lines. */
export function finishBars(file: string, builders: Map<string, SeriesBuilder>): Map<string, BarSeries> {
  const out = new Map<string, BarSeries>();
  for (const [symbol, b] of builders) {
    out.set(symbol, finishSeries(b, (first, second, t) => `${file}:${second}:1: a second bar for ${symbol} at ${t} (the first is on line ${first})`));
  }
  return out;
}
