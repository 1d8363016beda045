/**
 * Bar files in either format, chosen for the caller: reading tells Parquet from CSV by the file's
 * first bytes (so a name never misleads), writing by the name (`.parquet`/`.pq`, else CSV). The
 * Parquet library is loaded only when a Parquet file is met.
 */
import { loadBarsCsv, type BarSeries, type LoadCsvOptions } from './csv.ts';
import { writeBarsCsv } from './history.ts';

export const isParquetPath = (file: string): boolean => /\.(parquet|pq)$/i.test(file);

/** Loads a CSV or Parquet bar file (see csv.ts and parquet.ts for the formats and their errors). */
export async function loadBars(file: string, opts: LoadCsvOptions = {}): Promise<Map<string, BarSeries>> {
  const { isParquetFile, loadBarsParquet } = await import('./parquet.ts');
  return (await isParquetFile(file)) ? loadBarsParquet(file, opts) : loadBarsCsv(file, opts);
}

/** Writes series as a bar file, Parquet or CSV by the file's name. */
export async function writeBars(file: string, series: BarSeries[]): Promise<void> {
  if (!isParquetPath(file)) return writeBarsCsv(file, series);
  const { writeBarsParquet } = await import('./parquet.ts');
  return writeBarsParquet(file, series);
}
