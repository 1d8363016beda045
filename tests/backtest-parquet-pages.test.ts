/**
 * parquet-pages.ts, the reading of a row group's bar columns into reused memory, against
 * hyparquet's general reader (readParquetRows with generalReader): the same series, bit for bit,
 * from files of every layout it decodes (version-1 and version-2 pages, Snappy or none, PLAIN or
 * dictionary values, REQUIRED or OPTIONAL columns, several pages and row groups, integer and float
 * volumes, strings with or without a dictionary), and the general reader's results and errors for
 * the groups it leaves to it (a null, an encoding it does not decode).
 */
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parquetMetadataAsync, type FileMetaData } from 'hyparquet';
import { parquetWriteBuffer } from 'hyparquet-writer';
import { describe, expect, it } from 'vitest';
import { RowGroupDecoder, type ColumnRole } from '../src/backtest/parquet-pages.ts';
import { readParquetRows } from '../src/backtest/parquet.ts';
import type { SeriesBuilder } from '../src/backtest/series-builder.ts';
import { UserError } from '../src/util/errors.ts';
import { withDataPagesV1 } from './helpers/parquet-v1.ts';
import { syntheticPair } from './helpers/pair-data.ts';

const dir = mkdtempSync(join(tmpdir(), 'tandem-parquet-pages-'));
const ROLES: ColumnRole[] = [{ kind: 'time', unit: 'MILLIS' }, { kind: 'symbol' }, ...Array.from({ length: 5 }, (): ColumnRole => ({ kind: 'number' }))];
const NAMES = ['time', 'symbol', 'open', 'high', 'low', 'close', 'volume'];

/** Two legs' bars interleaved by time, as a bar file's rows: 3,000 rows with distinct volumes. */
function rows() {
  const bars = [...syntheticPair({ n: 1500, seed: 5 })];
  const n = 2 * bars.length;
  const time = new BigInt64Array(n);
  const symbol: string[] = [];
  const cols = [0, 1, 2, 3].map(() => new Float64Array(n));
  let r = 0;
  for (const b of bars) {
    for (const [name, leg] of [['ETHA', b.y], ['ETHV', b.x]] as const) {
      time[r] = BigInt(b.time);
      symbol.push(name);
      cols[0]![r] = leg.open;
      cols[1]![r] = leg.high;
      cols[2]![r] = leg.low;
      cols[3]![r] = leg.close;
      r++;
    }
  }
  return { n, time, symbol, cols };
}

type Codec = 'SNAPPY' | 'UNCOMPRESSED';
interface Layout {
  codec: Codec;
  nullable: boolean;
  /** Doubles dictionary-encoded (else PLAIN). */
  dictionaryDoubles: boolean;
  /** Symbols PLAIN (else with a dictionary). */
  plainSymbols: boolean;
  volume: 'DOUBLE' | 'INT32' | 'INT64' | 'FLOAT';
  pageSize: number;
  rowGroupSize: number;
  v1: boolean;
}

function write(name: string, l: Layout, edit?: (columns: ReturnType<typeof rows>) => void): string {
  const r = rows();
  edit?.(r);
  const volume =
    l.volume === 'DOUBLE' ? Float64Array.from({ length: r.n }, (_, i) => 1000 + i)
    : l.volume === 'FLOAT' ? Float32Array.from({ length: r.n }, (_, i) => 0.5 + i)
    : l.volume === 'INT32' ? Int32Array.from({ length: r.n }, (_, i) => i)
    : BigInt64Array.from({ length: r.n }, (_, i) => BigInt(i) * 3n);
  const doubles = (col: string, data: Float64Array) => ({ name: col, data, type: 'DOUBLE' as const, nullable: l.nullable, codec: l.codec, encoding: l.dictionaryDoubles ? ('RLE_DICTIONARY' as const) : ('PLAIN' as const) });
  const bytes = new Uint8Array(parquetWriteBuffer({
    columnData: [
      { name: 'time', data: r.time, type: 'TIMESTAMP', nullable: l.nullable, codec: l.codec },
      { name: 'symbol', data: r.symbol, type: 'STRING', nullable: l.nullable, codec: l.codec, ...(l.plainSymbols ? { encoding: 'PLAIN' as const } : {}) },
      doubles('open', r.cols[0]!),
      doubles('high', r.cols[1]!),
      doubles('low', r.cols[2]!),
      doubles('close', r.cols[3]!),
      { name: 'volume', data: volume, type: l.volume, nullable: l.nullable, codec: l.codec },
    ],
    pageSize: l.pageSize,
    rowGroupSize: l.rowGroupSize,
  }));
  const f = join(dir, name);
  writeFileSync(f, l.v1 ? withDataPagesV1(bytes) : bytes);
  return f;
}

async function metadataOf(file: string): Promise<FileMetaData> {
  const bytes = readFileSync(file);
  return parquetMetadataAsync(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer);
}

/** How many of the file's row groups the decoder reads itself (the others go to the general reader). */
async function decodedGroups(file: string): Promise<{ decoded: number; groups: number }> {
  const metadata = await metadataOf(file);
  const decoder = RowGroupDecoder.for(metadata, NAMES.map((name, k) => ({ name, role: ROLES[k]! })));
  if (!decoder) return { decoded: 0, groups: metadata.row_groups.length };
  const fh = await open(file, 'r');
  try {
    let decoded = 0;
    for (let g = 0; g < metadata.row_groups.length; g++) if (await decoder.decode(fh, g)) decoded++;
    return { decoded, groups: metadata.row_groups.length };
  } finally {
    await fh.close();
  }
}

/** Each symbol's columns and lines as read, or the UserError's text. */
async function read(file: string, generalReader: boolean): Promise<Record<string, number[][]> | string> {
  const fh = await open(file, 'r');
  try {
    const builders: Map<string, SeriesBuilder> = await readParquetRows(file, fh, (await fh.stat()).size, { generalReader });
    const out: Record<string, number[][]> = {};
    for (const [symbol, b] of builders) {
      out[symbol] = [b.time, b.open, b.high, b.low, b.close, b.volume, b.line].map((c) => Array.from(c.subarray(0, b.length)));
    }
    return out;
  } catch (err) {
    if (err instanceof UserError) return err.message;
    throw err;
  } finally {
    await fh.close();
  }
}

const BASE: Layout = { codec: 'SNAPPY', nullable: false, dictionaryDoubles: false, plainSymbols: false, volume: 'DOUBLE', pageSize: 1 << 20, rowGroupSize: 100_000, v1: false };

describe('parquet row groups read into reused memory (parquet-pages.ts)', () => {
  const layouts: [string, Partial<Layout>][] = [
    ['version-2 pages, Snappy, one row group', {}],
    ['uncompressed, several row groups of 1 KB pages', { codec: 'UNCOMPRESSED', pageSize: 1024, rowGroupSize: 700 }],
    ['OPTIONAL columns without nulls, dictionary doubles, INT64 volumes', { nullable: true, dictionaryDoubles: true, volume: 'INT64', pageSize: 2048, rowGroupSize: 1100 }],
    ['symbols without a dictionary, INT32 volumes, small pages', { plainSymbols: true, volume: 'INT32', pageSize: 512, rowGroupSize: 1600 }],
    ['FLOAT volumes', { volume: 'FLOAT', pageSize: 4096 }],
    ['version-1 pages as pandas writes them: OPTIONAL, dictionaries, Snappy', { v1: true, nullable: true, dictionaryDoubles: true, pageSize: 4096, rowGroupSize: 1200 }],
    ['version-1 pages, REQUIRED, plain, uncompressed', { v1: true, codec: 'UNCOMPRESSED', plainSymbols: true, volume: 'INT32', pageSize: 1024, rowGroupSize: 2000 }],
  ];
  for (const [label, change] of layouts) {
    it(`decodes every row group itself to the general reader's series: ${label}`, async () => {
      const f = write(`${label.replace(/\W+/g, '-')}.parquet`, { ...BASE, ...change });
      const { decoded, groups } = await decodedGroups(f);
      expect(decoded).toBe(groups);
      const fast = await read(f, false);
      expect(typeof fast).toBe('object');
      // Bit for bit: toEqual tells 0 from -0 and NaN from numbers via Object.is on each element.
      expect(fast).toEqual(await read(f, true));
      expect(Object.keys(fast)).toEqual(['ETHA', 'ETHV']);
      expect((fast as Record<string, number[][]>).ETHA![0]!.length).toBe(1500);
    });
  }

  it('leaves a group with a null or an encoding it does not decode to the general reader, with the same series or error', async () => {
    // A null volume in the second row group (OPTIONAL columns): that group only goes to the general reader.
    const withNaN = write('null.parquet', { ...BASE, nullable: true, rowGroupSize: 1000 }, (r) => r.cols[0]!.fill(NaN, 1500, 1501));
    const f = join(dir, 'null-volume.parquet');
    const r = rows();
    const volume: (number | null)[] = Array.from({ length: r.n }, (_, i) => (i === 1500 ? null : i));
    writeFileSync(f, new Uint8Array(parquetWriteBuffer({
      columnData: [
        { name: 'time', data: r.time, type: 'TIMESTAMP', nullable: true },
        { name: 'symbol', data: r.symbol, type: 'STRING', nullable: true },
        ...['open', 'high', 'low', 'close'].map((name, k) => ({ name, data: r.cols[k]!, type: 'DOUBLE' as const, nullable: true })),
        { name: 'volume', data: volume, type: 'DOUBLE', nullable: true },
      ],
      rowGroupSize: 1000,
    })));
    expect(await decodedGroups(f)).toEqual({ decoded: 2, groups: 3 });
    const general = await read(f, true);
    expect(general).toBe(`${f}: row 1501: column 'volume': NaN is not a number`);
    expect(await read(f, false)).toBe(general);
    // The same with version-1 pages, where only the definition levels tell the null.
    const v1 = join(dir, 'null-volume-v1.parquet');
    writeFileSync(v1, withDataPagesV1(readFileSync(f)));
    expect(await decodedGroups(v1)).toEqual({ decoded: 2, groups: 3 });
    expect(await read(v1, false)).toBe(`${v1}: row 1501: column 'volume': NaN is not a number`);
    // A NaN price is a value, not a null: decoded, and reported by the row walk as before.
    expect(await decodedGroups(withNaN)).toEqual({ decoded: 3, groups: 3 });
    expect(await read(withNaN, false)).toBe(`${withNaN}: row 1501: column 'open': NaN is not a number`);
    expect(await read(withNaN, false)).toBe(await read(withNaN, true));

    // Times delta-encoded: no group decoded here, the same series through the general reader.
    const delta = join(dir, 'delta.parquet');
    writeFileSync(delta, new Uint8Array(parquetWriteBuffer({
      columnData: [
        { name: 'time', data: r.time, type: 'TIMESTAMP', nullable: false, encoding: 'DELTA_BINARY_PACKED' },
        { name: 'symbol', data: r.symbol, type: 'STRING', nullable: false },
        ...['open', 'high', 'low', 'close'].map((name, k) => ({ name, data: r.cols[k]!, type: 'DOUBLE' as const, nullable: false })),
        { name: 'volume', data: Float64Array.from({ length: r.n }, (_, i) => i), type: 'DOUBLE', nullable: false },
      ],
      rowGroupSize: 1000,
    })));
    expect(await decodedGroups(delta)).toEqual({ decoded: 0, groups: 3 });
    const fromDelta = await read(delta, false);
    expect(typeof fromDelta).toBe('object');
    expect(fromDelta).toEqual(await read(delta, true));
  });

  it('reads a file pyarrow wrote (version-1 pages, OPTIONAL columns, PLAIN_DICTIONARY, Snappy) as hyparquet does', async () => {
    // tests/fixtures/parquet/pyarrow-simple.parquet: pandas' own test file (parquet-cpp 1.5.1, BSD-3-Clause),
    // columns A (INT64 1, 2, 3) and B (UTF8 'foo' x3).
    const file = join(import.meta.dirname, 'fixtures', 'parquet', 'pyarrow-simple.parquet');
    const metadata = await metadataOf(file);
    expect(metadata.created_by).toMatch(/^parquet-cpp/);
    const decoder = RowGroupDecoder.for(metadata, [{ name: 'A', role: { kind: 'number' } }, { name: 'B', role: { kind: 'symbol' } }])!;
    expect(decoder).not.toBeNull();
    const fh = await open(file, 'r');
    try {
      const cols = await decoder.decode(fh, 0);
      expect(cols).not.toBeNull();
      expect(Array.from(cols![0]!).slice(0, 3)).toEqual([1, 2, 3]);
      expect(Array.from(cols![1]!).slice(0, 3)).toEqual(['foo', 'foo', 'foo']);
    } finally {
      await fh.close();
    }
  });
});
