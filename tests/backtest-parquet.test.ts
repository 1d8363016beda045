/**
 * Parquet bar files: written by Tandem and read back to the same numbers as the CSV of the same
 * bars; backtest and scan give the same results from either format; bad files are one clear error.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parquetWriteBuffer } from 'hyparquet-writer';
import { describe, expect, it } from 'vitest';
import { loadBars } from '../src/backtest/bar-files.ts';
import { loadBarsCsv } from '../src/backtest/csv.ts';
import { openDataFile } from '../src/backtest/csv.ts';
import { loadBarsParquet, parquetRowGroups, readParquetRows, writeBarsParquet, type ParquetRowsOptions } from '../src/backtest/parquet.ts';
import { SeriesBuilder } from '../src/backtest/series-builder.ts';
import { UserError } from '../src/util/errors.ts';
import { pairCsv, syntheticPair } from './helpers/pair-data.ts';
import { pairStrategyYaml } from './helpers/strategy-yaml.ts';
import { tandemArgv } from './helpers/tandem-cli.ts';

const dir = mkdtempSync(join(tmpdir(), 'tandem-parquet-'));
const COLS = ['time', 'open', 'high', 'low', 'close', 'volume'] as const;

function tandem(args: string[]) {
  const r = spawnSync(process.execPath, tandemArgv(args), { cwd: dir, encoding: 'utf8' });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

async function loadError(file: string): Promise<string> {
  try {
    await loadBars(file);
  } catch (err) {
    expect(err).toBeInstanceOf(UserError);
    return (err as Error).message.replace(file, 'FILE');
  }
  throw new Error('expected a UserError');
}

describe('parquet bar files', () => {
  const csv = join(dir, 'bars.csv');
  const pq = join(dir, 'bars.parquet');
  writeFileSync(csv, pairCsv(syntheticPair({ n: 2500, seed: 11 }), 'ETHA', 'ETHV'));

  it('round-trips the bars of a CSV exactly', async () => {
    const fromCsv = await loadBarsCsv(csv);
    await writeBarsParquet(pq, [...fromCsv.values()]);
    expect(readFileSync(pq).subarray(0, 4).toString()).toBe('PAR1');
    const back = await loadBars(pq);
    expect([...back.keys()].sort()).toEqual(['ETHA', 'ETHV']);
    for (const [sym, s] of fromCsv) for (const k of COLS) expect(Array.from(back.get(sym)![k]), `${sym} ${k}`).toEqual(Array.from(s[k]));
    // Keeps only the symbols asked for.
    expect([...(await loadBars(pq, { symbols: ['ETHV'] })).keys()]).toEqual(['ETHV']);
  });

  it('reads a file whose columns are paged apart (small pages and row groups; volume as INT32, symbols without a dictionary) to the same numbers, and names the row of a bad value in a later page', async () => {
    const fromCsv = await loadBarsCsv(csv);
    const [y, x] = [fromCsv.get('ETHA')!, fromCsv.get('ETHV')!];
    const rows = y.length + x.length;
    const time = new BigInt64Array(rows);
    const symbol: string[] = [];
    const cols = COLS.slice(1).map(() => new Float64Array(rows));
    for (let i = 0, r = 0; i < y.length; i++) {
      for (const s of [y, x]) {
        time[r] = BigInt(s.time[i]!);
        symbol.push(s.symbol);
        COLS.slice(1).forEach((k, c) => (cols[c]![r] = s[k][i]!));
        r++;
      }
    }
    // Volumes told apart by row (the CSV's are all equal), so a volume read from the wrong page shows.
    const volume = Int32Array.from({ length: rows }, (_, r) => r);
    const write = (name: string, open: Float64Array) => {
      const f = join(dir, name);
      // 1 KB pages: 128 doubles or times a page, 256 INT32 volumes, strings by their length; row groups of 1,500 rows.
      writeFileSync(f, new Uint8Array(parquetWriteBuffer({
        columnData: [
          { name: 'time', data: time, type: 'TIMESTAMP', nullable: false },
          { name: 'symbol', data: symbol, type: 'STRING', nullable: false, encoding: 'PLAIN' },
          { name: 'open', data: open, type: 'DOUBLE', nullable: false },
          ...(['high', 'low', 'close'] as const).map((name, c) => ({ name, data: cols[c + 1]!, type: 'DOUBLE' as const, nullable: false })),
          { name: 'volume', data: volume, type: 'INT32', nullable: false },
        ],
        pageSize: 1024,
        rowGroupSize: 1500,
      })));
      return f;
    };
    const back = await loadBars(write('paged.parquet', cols[0]!));
    for (const [sym, s] of fromCsv) for (const k of COLS.slice(0, 5)) expect(Array.from(back.get(sym)![k]), `${sym} ${k}`).toEqual(Array.from(s[k]));
    expect(Array.from(back.get('ETHA')!.volume)).toEqual(Array.from({ length: y.length }, (_, i) => 2 * i));
    expect(Array.from(back.get('ETHV')!.volume)).toEqual(Array.from({ length: x.length }, (_, i) => 2 * i + 1));
    // A bad price deep in the file: its row (1-based) and column.
    const bad = Float64Array.from(cols[0]!);
    bad[3999] = -1;
    expect(await loadError(write('paged-bad.parquet', bad))).toBe("FILE: row 4000: column 'open': -1 must be positive");
  });

  it('backtest and scan give the same results from Parquet as from CSV', async () => {
    writeFileSync(join(dir, 'pair.yaml'), pairStrategyYaml({ name: 'pq_pair', entryZ: 1.5, exitZ: 0.3 }));
    const a = tandem(['backtest', '--config', 'pair.yaml', '--data', 'bars.csv', '--json', 'a.json']);
    const b = tandem(['backtest', '--config', 'pair.yaml', '--data', 'bars.parquet', '--json', 'b.json']);
    expect(a.err).toBe('');
    expect(b.err).toBe('');
    expect(b.code).toBe(0);
    expect(b.out.replace('b.json', 'a.json')).toBe(a.out);
    expect(readFileSync(join(dir, 'b.json'), 'utf8')).toBe(readFileSync(join(dir, 'a.json'), 'utf8'));
    const sa = tandem(['scan', '--data', 'bars.csv', '--workers', '0']);
    const sb = tandem(['scan', '--data', 'bars.parquet', '--workers', '0']);
    expect(sb.code).toBe(0);
    expect(sb.out).toBe(sa.out);
  }, 120_000); // four CLI processes: on a busy 2-core machine they outlast the 30 s default

  it('reads timestamps in other units, epoch-ms numbers and ISO strings; names row and column of a bad value', async () => {
    const t0 = Date.UTC(2024, 0, 2, 14, 30);
    const write = (name: string, columnData: Parameters<typeof parquetWriteBuffer>[0]['columnData']) => {
      const f = join(dir, name);
      writeFileSync(f, new Uint8Array(parquetWriteBuffer({ columnData })));
      return f;
    };
    const prices = (v: number[]) => (['open', 'high', 'low', 'close'] as const).map((name) => ({ name, data: Float64Array.from(v), type: 'DOUBLE' as const }));
    const iso = write('iso.parquet', [
      { name: 'Time', data: [new Date(t0 + 60_000).toISOString(), new Date(t0).toISOString()], type: 'STRING' },
      { name: 'symbol', data: ['A', 'A'], type: 'STRING' },
      ...prices([2, 1]),
      { name: 'volume', data: Float64Array.from([0, 5]), type: 'DOUBLE' },
      { name: 'extra', data: ['x', 'y'], type: 'STRING' },
    ]);
    const m = await loadBars(iso);
    expect(Array.from(m.get('A')!.time)).toEqual([t0, t0 + 60_000]);
    expect(Array.from(m.get('A')!.close)).toEqual([1, 2]);
    const epoch = write('epoch.parquet', [
      { name: 'time', data: BigInt64Array.from([BigInt(t0)]), type: 'INT64' },
      { name: 'symbol', data: ['B'], type: 'STRING' },
      ...prices([3]),
      { name: 'volume', data: Int32Array.from([7]), type: 'INT32' },
    ]);
    expect(Array.from((await loadBars(epoch)).get('B')!.time)).toEqual([t0]);

    const bad = write('bad.parquet', [
      { name: 'time', data: [new Date(t0), new Date(t0 + 60_000)], type: 'TIMESTAMP' },
      { name: 'symbol', data: ['A', 'A'], type: 'STRING' },
      ...prices([1, 0]),
      { name: 'volume', data: Float64Array.from([1, 1]), type: 'DOUBLE' },
    ]);
    expect(await loadError(bad)).toBe("FILE: row 2: column 'open': 0 must be positive");
    const dup = write('dup.parquet', [
      { name: 'time', data: [new Date(t0), new Date(t0)], type: 'TIMESTAMP' },
      { name: 'symbol', data: ['A', 'A'], type: 'STRING' },
      ...prices([1, 1]),
      { name: 'volume', data: Float64Array.from([1, 1]), type: 'DOUBLE' },
    ]);
    expect(await loadError(dup)).toBe('FILE: row 2: a second bar for A at 2024-01-02T14:30:00.000Z (the first is row 1)');
    const lacking = write('lacking.parquet', [{ name: 'time', data: [new Date(t0)], type: 'TIMESTAMP' }, { name: 'symbol', data: ['A'], type: 'STRING' }]);
    expect(await loadError(lacking)).toMatch(/^FILE: the Parquet file lacks column\(s\) 'open', 'high', 'low', 'close', 'volume' \(it has time, symbol\)/);
    const truncated = join(dir, 'truncated.parquet');
    writeFileSync(truncated, readFileSync(pq).subarray(0, 200));
    expect(await loadError(truncated)).toMatch(/^FILE: not a readable Parquet file/);
  });

  it('reads INT64 timestamps in millis, micros and nanos, before 1970 too, as Number(value / unit) does', async () => {
    // Large, small and negative values: the fast reading (two 32-bit words) and the BigInt one must agree.
    const ms = [Date.UTC(2024, 0, 2, 14, 30), Date.UTC(1969, 11, 31, 23, 59, 59, 999), 0, Date.UTC(2262, 3, 11)];
    const cases = [
      { unit: 'MILLIS', per: 1n, extra: 0n },
      { unit: 'MICROS', per: 1000n, extra: 999n },
      { unit: 'MICROS', per: 1000n, extra: -999n },
      { unit: 'NANOS', per: 1_000_000n, extra: 999_999n },
      { unit: 'NANOS', per: 1_000_000n, extra: -1n },
    ] as const;
    for (const [k, c] of cases.entries()) {
      const raw = BigInt64Array.from(ms.map((t, i) => BigInt(t) * c.per + (i === 2 ? 0n : c.extra)));
      const n = raw.length;
      const f = join(dir, `units-${k}.parquet`);
      const double = (name: string) => ({ name, type: 'DOUBLE' as const, repetition_type: 'REQUIRED' as const });
      writeFileSync(f, new Uint8Array(parquetWriteBuffer({
        schema: [
          { name: 'root', num_children: 7 },
          { name: 'time', type: 'INT64', repetition_type: 'REQUIRED', logical_type: { type: 'TIMESTAMP', isAdjustedToUTC: true, unit: c.unit } },
          { name: 'symbol', type: 'BYTE_ARRAY', converted_type: 'UTF8', repetition_type: 'REQUIRED' },
          double('open'), double('high'), double('low'), double('close'), double('volume'),
        ],
        columnData: [
          { name: 'time', data: raw },
          { name: 'symbol', data: Array.from({ length: n }, (_, i) => `S${i}`) },
          ...['open', 'high', 'low', 'close', 'volume'].map((name) => ({ name, data: new Float64Array(n).fill(1) })),
        ],
      })));
      const m = await loadBars(f);
      const got = Array.from({ length: n }, (_, i) => m.get(`S${i}`)!.time[0]);
      expect(got, `${c.unit} ${c.extra}`).toEqual(Array.from(raw, (v) => Number(v / c.per)));
    }
  });

  describe('reading a range of row groups (readParquetRows)', () => {
    // 2 × 2,500 bars, rows alternating ETHA, ETHV by time: row r is bar r >> 1 of symbol r & 1.
    // Row groups of 1,200 rows (the last one 200) and 1 KB pages; volumes told apart by row.
    const GROUP = 1200;
    const grouped = (name: string, badOpenRow?: number) => {
      const bars = [...syntheticPair({ n: 2500, seed: 5 })];
      const rows = 2 * bars.length;
      const time = new BigInt64Array(rows);
      const symbol: string[] = [];
      const cols = COLS.slice(1).map(() => new Float64Array(rows));
      bars.forEach((b, i) => {
        [b.y, b.x].forEach((leg, j) => {
          const r = 2 * i + j;
          time[r] = BigInt(b.time);
          symbol.push(j === 0 ? 'ETHA' : 'ETHV');
          cols[0]![r] = leg.open;
          cols[1]![r] = leg.high;
          cols[2]![r] = leg.low;
          cols[3]![r] = leg.close;
          cols[4]![r] = r;
        });
      });
      if (badOpenRow !== undefined) cols[0]![badOpenRow] = -1;
      const f = join(dir, name);
      writeFileSync(f, new Uint8Array(parquetWriteBuffer({
        columnData: [
          { name: 'time', data: time, type: 'TIMESTAMP', nullable: false },
          { name: 'symbol', data: symbol, type: 'STRING', nullable: false },
          ...(['open', 'high', 'low', 'close', 'volume'] as const).map((c, k) => ({ name: c, data: cols[k]!, type: 'DOUBLE' as const, nullable: false })),
        ],
        pageSize: 1024,
        rowGroupSize: GROUP,
      })));
      return f;
    };
    const file = grouped('groups.parquet');
    const read = async (f: string, opts: ParquetRowsOptions) => {
      const { fh, size } = await openDataFile(f);
      try {
        return await readParquetRows(f, fh, size, opts);
      } finally {
        await fh.close();
      }
    };
    const readError = async (f: string, opts: ParquetRowsOptions): Promise<string> => {
      try {
        await read(f, opts);
      } catch (err) {
        expect(err).toBeInstanceOf(UserError);
        return (err as Error).message.replace(f, 'FILE');
      }
      throw new Error('expected a UserError');
    };

    it('parquetRowGroups gives the rows and each row group’s rows; the loader’s errors for other files', async () => {
      expect(await parquetRowGroups(file)).toEqual({
        rows: 5000,
        groups: [0, 1200, 2400, 3600, 4800].map((rowStart) => ({ rowStart, rowEnd: Math.min(rowStart + GROUP, 5000) })),
      });
      await expect(parquetRowGroups(csv)).rejects.toThrow(/: not a readable Parquet file/);
      const lacking = join(dir, 'groups-lacking.parquet');
      writeFileSync(lacking, new Uint8Array(parquetWriteBuffer({ columnData: [{ name: 'time', data: [new Date(0)], type: 'TIMESTAMP' }, { name: 'symbol', data: ['A'], type: 'STRING' }] })));
      await expect(parquetRowGroups(lacking)).rejects.toThrow(/: the Parquet file lacks column\(s\) 'open', 'high', 'low', 'close', 'volume' \(it has time, symbol\)/);
    });

    it('reads each row group alone, a middle run of them and a range that cuts groups to exactly the loader’s bars of those rows, with their file rows as lines', async () => {
      const whole = await loadBarsParquet(file);
      const ranges: [number, number][] = [[0, 1200], [1200, 2400], [2400, 3600], [3600, 4800], [4800, 5000], [1200, 3600], [1001, 3599], [0, 5000]];
      for (const [rowStart, rowEnd] of ranges) {
        const got = await read(file, { rowStart, rowEnd });
        // Row r holds bar r >> 1 of leg r & 1: the bars of [rowStart, rowEnd) per leg, in order of first sight.
        const legs = (['ETHA', 'ETHV'] as const).map((sym, j) => ({ sym, j, first: Math.ceil((rowStart - j) / 2), end: Math.ceil((rowEnd - j) / 2) }));
        if (rowStart % 2 === 1) legs.reverse();
        expect([...got.keys()], `${rowStart}-${rowEnd}`).toEqual(legs.map((l) => l.sym));
        for (const { sym, j, first, end } of legs) {
          const b = got.get(sym)!;
          const s = whole.get(sym)!;
          const what = `${sym} rows ${rowStart}-${rowEnd}`;
          expect(b.length, what).toBe(end - first);
          for (const k of COLS) expect(Array.from(b[k].subarray(0, b.length)), `${what} ${k}`).toEqual(Array.from(s[k].subarray(first, end)));
          expect(Array.from(b.line.subarray(0, b.length)), `${what} line`).toEqual(Array.from({ length: end - first }, (_, i) => 2 * (first + i) + j + 1));
        }
      }
    });

    it('puts each row group’s rows in the builders before the next group is read, and calls onRows once a group with the rows so far', async () => {
      const seen: { rowsDone: number; inBuilders: number }[] = [];
      const made: string[] = [];
      const builders = new Map<string, SeriesBuilder>();
      const got = await read(file, {
        rowStart: 1200,
        rowEnd: 4800,
        newBuilder: (symbol) => {
          made.push(symbol);
          const b = new SeriesBuilder(symbol);
          builders.set(symbol, b);
          return b;
        },
        onRows: (rowsDone) => seen.push({ rowsDone, inBuilders: [...builders.values()].reduce((a, b) => a + b.length, 0) }),
      });
      expect(seen).toEqual([1200, 2400, 3600].map((rowsDone) => ({ rowsDone, inBuilders: rowsDone })));
      expect(made).toEqual(['ETHA', 'ETHV']);
      for (const [sym, b] of got) expect(b).toBe(builders.get(sym));
      // Only kept symbols get a builder; the others' rows are still read and counted.
      made.length = 0;
      seen.length = 0;
      builders.clear();
      const kept = await read(file, { symbols: ['ETHV'], rowStart: 2400, rowEnd: 5000, newBuilder: (symbol) => (made.push(symbol), new SeriesBuilder(symbol)), onRows: (rowsDone) => seen.push({ rowsDone, inBuilders: 0 }) });
      expect(made).toEqual(['ETHV']);
      expect([...kept.keys()]).toEqual(['ETHV']);
      expect(kept.get('ETHV')!.length).toBe(1300);
      expect(seen.map((s) => s.rowsDone)).toEqual([1200, 2400, 2600]);
    });

    it('announces the first row group read in slices of 8,192 rows (a reading thread publishes each), the others whole', async () => {
      const bars = [...syntheticPair({ n: 12_500, seed: 9 })];
      const f = join(dir, 'big-groups.parquet');
      writeFileSync(f, new Uint8Array(parquetWriteBuffer({
        columnData: [
          { name: 'time', data: bars.flatMap((b) => [BigInt(b.time), BigInt(b.time)]), type: 'TIMESTAMP', nullable: false },
          { name: 'symbol', data: bars.flatMap(() => ['ETHA', 'ETHV']), type: 'STRING', nullable: false },
          ...(['open', 'high', 'low', 'close', 'volume'] as const).map((c) => ({ name: c, data: Float64Array.from(bars.flatMap((b) => [b.y[c], b.x[c]])), type: 'DOUBLE' as const, nullable: false })),
        ],
        rowGroupSize: 20_000,
      })));
      const seen: { rowsDone: number; inBuilders: number }[] = [];
      const builders: SeriesBuilder[] = [];
      await read(f, {
        newBuilder: (symbol) => {
          const b = new SeriesBuilder(symbol);
          builders.push(b);
          return b;
        },
        onRows: (rowsDone) => seen.push({ rowsDone, inBuilders: builders.reduce((a, b) => a + b.length, 0) }),
      });
      expect(seen).toEqual([8192, 16_384, 20_000, 25_000].map((rowsDone) => ({ rowsDone, inBuilders: rowsDone })));
      // A range starting inside the second group: its first group read is the one sliced.
      seen.length = 0;
      builders.length = 0;
      await read(f, { rowStart: 21_000, newBuilder: (symbol) => (builders.push(new SeriesBuilder(symbol)), builders.at(-1)!), onRows: (rowsDone) => seen.push({ rowsDone, inBuilders: 0 }) });
      expect(seen.map((x) => x.rowsDone)).toEqual([4000]);
    });

    it('names the file row of a bad value in the third row group when that group is read alone, and reads the groups around it', async () => {
      const bad = grouped('groups-bad.parquet', 2400 + 57);
      expect(await readError(bad, { rowStart: 2400, rowEnd: 3600 })).toBe("FILE: row 2458: column 'open': -1 must be positive");
      expect(await readError(bad, { rowStart: 1200, rowEnd: 3600 })).toBe("FILE: row 2458: column 'open': -1 must be positive");
      expect((await read(bad, { rowStart: 1200, rowEnd: 2400 })).get('ETHA')!.length).toBe(600);
      expect((await read(bad, { rowStart: 3600, rowEnd: 5000 })).get('ETHV')!.length).toBe(700);
      expect(await loadError(bad)).toBe("FILE: row 2458: column 'open': -1 must be positive");
    });
  });
});
