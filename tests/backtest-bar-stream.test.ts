/**
 * A backtest's bars read by another thread while the backtest runs (src/backtest/bar-stream.ts):
 * the bars come out exactly as alignBars over loadBarsCsv gives them, the finished series equal
 * loadBarsCsv's, rows out of time order make the consumer start again, and a file's errors are the
 * ones a one-thread read reports. Reads are 4 KB so that the consumer catches up with the reading
 * thread again and again. Then the same through backtestFile: streamed or not, the same result.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { alignBars } from '../src/backtest/align.ts';
import { backtestFile, backtestNodeFile } from '../src/backtest/backtest-file.ts';
import { loadBarsCsv, type BarSeries } from '../src/backtest/csv.ts';
import { loadBarsParquet } from '../src/backtest/parquet.ts';
import { parquetWriteBuffer } from 'hyparquet-writer';
import { BarStream, BarStreamRestart, readersAhead, startReadersAhead } from '../src/backtest/bar-stream.ts';
import { backtestJson } from '../src/backtest/output.ts';
import type { RiskLimits } from '../src/engine/risk.ts';
import type { PairBar } from '../src/strategies/types.ts';
import { pairCsv, syntheticPair } from './helpers/pair-data.ts';
import { testParams } from './helpers/params.ts';

const dir = mkdtempSync(join(tmpdir(), 'tandem-bar-stream-'));
/** Small reads, the file cut in three parts read by three threads: every kind of wait and hand-over happens. */
const SMALL_READS = { readChunkBytes: 4096, parts: 3 };
const OPEN_LIMITS: RiskLimits = { maxGrossNotional: 1e12, maxPositionNotional: 1e12, maxDailyLoss: 1e12, allowOutsideRth: true };

function file(name: string, text: string): string {
  const f = join(dir, name);
  writeFileSync(f, text);
  return f;
}

/** 3,000 aligned 5-minute bars of YYY/XXX (about 600 KB), with a third symbol's rows in between and a gap in XXX. */
function pairText(): string {
  const lines = pairCsv(syntheticPair({ n: 3000, seed: 11, spreadVol: 0.003, kappa: 0.08 }), 'YYY', 'XXX').trimEnd().split('\n');
  const out = [lines[0]!];
  for (let k = 1; k < lines.length; k++) {
    // XXX misses rows 1000-1009 of its own: those YYY bars have no partner.
    if (k % 2 === 0 && k > 2000 && k <= 2020) continue;
    out.push(lines[k]!);
    if (k % 7 === 0) out.push(lines[k]!.replace(/,(YYY|XXX),/, ',ZZZ,'));
  }
  return out.join('\n') + '\n';
}

/** The CSV text's rows as a Parquet file of 1,000-row groups (so a part is a run of groups), one price made bad if asked. */
function parquetOf(name: string, text: string, badOpenRow?: number): string {
  const rows = text.trimEnd().split('\n').slice(1).map((l) => l.split(','));
  const cols = [0, 1, 2, 3, 4].map(() => new Float64Array(rows.length));
  rows.forEach((r, i) => [2, 3, 4, 5, 6].forEach((c, k) => (cols[k]![i] = Number(r[c]))));
  if (badOpenRow !== undefined) {
    expect(badOpenRow).toBeLessThan(rows.length);
    cols[0]![badOpenRow] = -1;
  }
  const f = join(dir, name);
  writeFileSync(f, new Uint8Array(parquetWriteBuffer({
    columnData: [
      { name: 'time', data: rows.map((r) => BigInt(Date.parse(r[0]!))), type: 'TIMESTAMP', nullable: false },
      { name: 'symbol', data: rows.map((r) => r[1]!), type: 'STRING', nullable: false },
      ...(['open', 'high', 'low', 'close', 'volume'] as const).map((c, k) => ({ name: c, data: cols[k]!, type: 'DOUBLE' as const, nullable: false })),
    ],
    rowGroupSize: 1000,
  })));
  return f;
}

/** Each series' columns as plain arrays (a typed array's view of shared memory compares by value this way). */
const plain = (m: Map<string, BarSeries>) =>
  [...m.values()].map((s) => ({ symbol: s.symbol, length: s.length, cols: [s.time, s.open, s.high, s.low, s.close, s.volume].map((c) => [...c]) }));

async function errorOf(p: Promise<unknown> | (() => unknown)): Promise<string> {
  try {
    await (typeof p === 'function' ? p() : p);
  } catch (err) {
    return (err as Error).message;
  }
  throw new Error('expected an error');
}

describe('BarStream', () => {
  it('yields the aligned bars of the finished file, while it is read, and finishes with loadBarsCsv\'s series', async () => {
    const f = file('pair.csv', pairText());
    const want = await loadBarsCsv(f, { symbols: ['YYY', 'XXX'] });
    const wantBars = [...alignBars(want.get('YYY')!, want.get('XXX')!)];
    expect(wantBars.length).toBe(2990);
    const stream = await BarStream.open(f, ['YYY', 'XXX'], SMALL_READS);
    const got: PairBar[] = [...stream.aligned('YYY', 'XXX')];
    expect(got).toEqual(wantBars);
    expect(plain(await (await stream.finish()).series())).toEqual(plain(want));
    expect(stream.bytesRead).toBe(stream.size);
    await stream.close();
  });

  it('gives the same bars in objects filled again in turn when asked to reuse them', async () => {
    const f = file('reuse.csv', pairText());
    const want = await loadBarsCsv(f, { symbols: ['YYY', 'XXX'] });
    const wantBars = [...alignBars(want.get('YYY')!, want.get('XXX')!)];
    const copy = (b: PairBar): PairBar => ({ time: b.time, y: { ...b.y }, x: { ...b.x } });
    for (const fields of [undefined, ['open', 'close'] as const]) {
      const stream = await BarStream.open(f, ['YYY', 'XXX'], { ...SMALL_READS, ...(fields ? { fields } : {}) });
      const got: PairBar[] = [];
      const objects = new Set<PairBar>();
      for (const b of stream.aligned('YYY', 'XXX', { n: 0 }, 3)) {
        got.push(copy(b));
        objects.add(b);
      }
      expect(objects.size).toBe(3);
      const nan = { high: NaN, low: NaN, volume: NaN };
      expect(got).toEqual(fields ? wantBars.map((b) => ({ time: b.time, y: { ...b.y, ...nan }, x: { ...b.x, ...nan } })) : wantBars);
      await stream.finish();
      await stream.close();
    }
  });

  it('takes reading threads started ahead (prestartReaders), gives the same bars, and ends those it does not need', async () => {
    const f = file('ahead.csv', pairText());
    const want = [...alignBars(...(((m) => [m.get('YYY')!, m.get('XXX')!] as const)(await loadBarsCsv(f, { symbols: ['YYY', 'XXX'] }))))];
    startReadersAhead(3);
    expect(readersAhead()).toBe(3);
    // Two parts: two threads taken, the third ended.
    const stream = await BarStream.open(f, ['YYY', 'XXX'], { readChunkBytes: 4096, parts: 2 });
    expect(readersAhead()).toBe(0);
    expect([...stream.aligned('YYY', 'XXX')]).toEqual(want);
    await stream.finish();
    await stream.close();
    // Threads started ahead and never taken (a command that fails on its config) do not keep the process alive.
    const src = join(import.meta.dirname, '..', 'src', 'backtest', 'bar-stream.ts');
    const r = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', `import { startReadersAhead, readersAhead } from ${JSON.stringify(src)}; startReadersAhead(2); console.log(readersAhead());`], { encoding: 'utf8', timeout: 120_000 });
    expect(r.error).toBeUndefined();
    expect(r.stdout.trim()).toBe('2');
    expect(r.status).toBe(0);
  });

  it('serves two pairs from one reading, pulled in turn as a portfolio backtest pulls them', async () => {
    const f = file('two-pairs.csv', pairText());
    const want = await loadBarsCsv(f, { symbols: ['YYY', 'XXX', 'ZZZ'] });
    const stream = await BarStream.open(f, ['YYY', 'XXX', 'ZZZ'], SMALL_READS);
    const a = stream.aligned('YYY', 'XXX');
    const b = stream.aligned('ZZZ', 'YYY');
    const gotA: PairBar[] = [];
    const gotB: PairBar[] = [];
    for (let more = true; more; ) {
      const x = a.next();
      const y = b.next();
      if (!x.done) gotA.push(x.value);
      if (!y.done) gotB.push(y.value);
      more = !x.done || !y.done;
    }
    expect(gotA).toEqual([...alignBars(want.get('YYY')!, want.get('XXX')!)]);
    expect(gotB).toEqual([...alignBars(want.get('ZZZ')!, want.get('YYY')!)]);
    expect(gotB.length).toBeGreaterThan(400);
    expect(plain(await (await stream.finish()).series())).toEqual(plain(want));
  });

  it('starts the consumer again when rows are out of time order, and finishes with the sorted series', async () => {
    const lines = pairText().trimEnd().split('\n');
    // Two YYY rows of the middle swapped: YYY's times go back once.
    const [i, j] = [3001, 3003];
    expect(lines[i]).toContain(',YYY,');
    expect(lines[j]).toContain(',YYY,');
    [lines[i], lines[j]] = [lines[j]!, lines[i]!];
    const f = file('swapped.csv', lines.join('\n') + '\n');
    const stream = await BarStream.open(f, ['YYY', 'XXX'], SMALL_READS);
    const got: PairBar[] = [];
    expect(() => {
      for (const b of stream.aligned('YYY', 'XXX')) got.push(b);
    }).toThrow(BarStreamRestart);
    expect(got.length).toBeLessThan(2990);
    const finished = await stream.finish();
    expect(finished.sorted).toBe(false);
    expect(plain(await finished.series())).toEqual(plain(await loadBarsCsv(f, { symbols: ['YYY', 'XXX'] })));
  });

  it('starts the consumer again when a part begins before the previous one ends (each sorted in itself)', async () => {
    // Rows of one length, so that two parts cut the file exactly between its two blocks: the later
    // half of the bars first, then the earlier half.
    const bars = [...syntheticPair({ n: 3000, seed: 12 })];
    const cell = (v: number) => v.toFixed(4).padStart(9, '0');
    const rows = (b: PairBar) => [['YYY', b.y], ['XXX', b.x]].map(([sym, l]) => {
      const leg = l as PairBar['y'];
      return `${new Date(b.time).toISOString()},${sym as string},${cell(leg.open)},${cell(leg.high)},${cell(leg.low)},${cell(leg.close)},1000`;
    });
    const text = ['time,symbol,open,high,low,close,volume', ...bars.slice(1500).flatMap(rows), ...bars.slice(0, 1500).flatMap(rows)].join('\n') + '\n';
    expect(new Set(text.split('\n').slice(1, -1).map((l) => l.length)).size).toBe(1);
    const f = file('blocks.csv', text);
    const stream = await BarStream.open(f, ['YYY', 'XXX'], { readChunkBytes: 4096, parts: 2 });
    const got: PairBar[] = [];
    expect(() => {
      for (const b of stream.aligned('YYY', 'XXX')) got.push(b);
    }).toThrow(/not in time order across parts/);
    // The first part's bars came out before the second showed its first bar.
    expect(got.length).toBe(1500);
    const finished = await stream.finish();
    expect(finished.sorted).toBe(false);
    const want = await loadBarsCsv(f, { symbols: ['YYY', 'XXX'] });
    expect(plain(await finished.series())).toEqual(plain(want));
    expect(want.get('YYY')!.length).toBe(3000);
  });

  it('reports a malformed row and a second bar at a time as loadBarsCsv does, with their lines', async () => {
    const lines = pairText().trimEnd().split('\n');
    // In the first part, the error stops the bars as it is; in the last, the bars stop (the part
    // knows its lines only from its own start) and finish() reads the file again for the true line.
    for (const [row, partOne] of [[400, true], [5800, false]] as const) {
      const bad = [...lines];
      bad[row] = bad[row]!.replace(/,([\d.]+),/, ',1.2.3,');
      const f = file(`bad-${row}.csv`, bad.join('\n') + '\n');
      const want = await errorOf(loadBarsCsv(f, { symbols: ['YYY', 'XXX'] }));
      expect(want).toMatch(new RegExp(`bad-${row}\\.csv:${row + 1}:\\d+: column 'open': '1\\.2\\.3' is not a number`));
      const stream = await BarStream.open(f, ['YYY', 'XXX'], SMALL_READS);
      if (partOne) expect(await errorOf(() => [...stream.aligned('YYY', 'XXX')])).toBe(want);
      else expect(() => [...stream.aligned('YYY', 'XXX')]).toThrow(BarStreamRestart);
      expect(await errorOf(stream.finish())).toBe(want);
    }

    const dup = [...lines];
    dup.splice(5000, 0, dup[4990]!.includes(',YYY,') ? dup[4990]! : dup[4991]!);
    const g = file('dup.csv', dup.join('\n') + '\n');
    const wantDup = await errorOf(loadBarsCsv(g, { symbols: ['YYY', 'XXX'] }));
    expect(wantDup).toMatch(/dup\.csv:5001:1: a second bar for YYY at .* \(the first is on line 499\d\)/);
    const s2 = await BarStream.open(g, ['YYY', 'XXX'], SMALL_READS);
    expect(() => [...s2.aligned('YYY', 'XXX')]).toThrow(BarStreamRestart);
    expect(await errorOf(async () => (await s2.finish()).series())).toBe(wantDup);
  });

  it('reads a pair the file lacks as no bars, and a missing file as loadBarsCsv does', async () => {
    const f = file('lacks.csv', pairText());
    const stream = await BarStream.open(f, ['YYY', 'QQQ'], SMALL_READS);
    expect([...stream.aligned('YYY', 'QQQ')]).toEqual([]);
    const finished = await stream.finish();
    expect([finished.has('YYY'), finished.has('QQQ')]).toEqual([true, false]);
    expect([...(await finished.series()).keys()]).toEqual(['YYY']);
    const missing = join(dir, 'nope.csv');
    expect(await errorOf(BarStream.open(missing, ['YYY']))).toBe(await errorOf(loadBarsCsv(missing)));
  });
});

describe('BarStream keeping prices only (fields open and close)', () => {
  /** The bars with high, low and volume NaN, as a stream that does not keep them gives them. */
  const pricesOf = (bars: PairBar[]): PairBar[] =>
    bars.map((b) => ({ time: b.time, y: { ...b.y, high: NaN, low: NaN, volume: NaN }, x: { ...b.x, high: NaN, low: NaN, volume: NaN } }));
  /** The series with high, low and volume NaN. */
  const seriesPricesOf = (m: Map<string, BarSeries>) => plain(m).map((s) => ({ ...s, cols: s.cols.map((c, k) => (k === 2 || k === 3 || k === 5 ? c.map(() => NaN) : c)) }));

  it('gives the same times, opens and closes as a full reading, NaN for the rest, from CSV and Parquet', async () => {
    const text = pairText();
    const csv = file('prices.csv', text);
    const pq = parquetOf('prices.parquet', text);
    // The Parquet rows alternate between the legs and a third symbol, as the CSV's: the same series.
    const three = ['YYY', 'XXX', 'ZZZ'];
    expect(plain(await loadBarsParquet(pq, { symbols: three }))).toEqual(plain(await loadBarsCsv(csv, { symbols: three })));
    for (const [f, want] of [[csv, await loadBarsCsv(csv, { symbols: ['YYY', 'XXX'] })], [pq, await loadBarsParquet(pq, { symbols: ['YYY', 'XXX'] })]] as const) {
      const stream = await BarStream.open(f, ['YYY', 'XXX'], { ...SMALL_READS, fields: ['close', 'open'] });
      const got = [...stream.aligned('YYY', 'XXX')];
      expect(got, f).toEqual(pricesOf([...alignBars(want.get('YYY')!, want.get('XXX')!)]));
      expect(got.length).toBe(2990);
      expect(seriesPricesOf(await (await stream.finish()).series())).toEqual(seriesPricesOf(want));
      await stream.close();
      // A field beyond open and close keeps every column.
      const full = await BarStream.open(f, ['YYY', 'XXX'], { ...SMALL_READS, fields: ['close', 'volume'] });
      expect([...full.aligned('YYY', 'XXX')]).toEqual([...alignBars(want.get('YYY')!, want.get('XXX')!)]);
      await full.finish();
      await full.close();
    }
  });

  it('still checks the cells it does not keep, and gives NaN for them after rows out of order too', async () => {
    const lines = pairText().trimEnd().split('\n');
    // A zero high on line 4001: refused as a full reading refuses it, with its place.
    const bad = lines.slice();
    bad[4000] = bad[4000]!.replace(/^([^,]*,[^,]*,[^,]*),[^,]*/, '$1,0');
    const f = file('prices-bad.csv', bad.join('\n') + '\n');
    const wantError = await errorOf(loadBarsCsv(f, { symbols: ['YYY', 'XXX'] }));
    expect(wantError).toMatch(/prices-bad\.csv:4001:\d+: .*high/);
    const s1 = await BarStream.open(f, ['YYY', 'XXX'], { ...SMALL_READS, fields: ['open', 'close'] });
    // In a later part: the consumer is told to start again, and finish() gives the error.
    expect(() => [...s1.aligned('YYY', 'XXX')]).toThrow(BarStreamRestart);
    expect(await errorOf(s1.finish())).toBe(wantError);
    await s1.close();

    // Two YYY rows swapped: the consumer starts again on the finished series, NaN where not kept.
    const swapped = lines.slice();
    [swapped[3001], swapped[3003]] = [swapped[3003]!, swapped[3001]!];
    const g = file('prices-swapped.csv', swapped.join('\n') + '\n');
    const s2 = await BarStream.open(g, ['YYY', 'XXX'], { ...SMALL_READS, fields: ['open', 'close'] });
    expect(() => [...s2.aligned('YYY', 'XXX')]).toThrow(BarStreamRestart);
    const finished = await s2.finish();
    expect(finished.sorted).toBe(false);
    expect(seriesPricesOf(await finished.series())).toEqual(seriesPricesOf(await loadBarsCsv(g, { symbols: ['YYY', 'XXX'] })));
    await s2.close();
  });
});

describe('BarStream over Parquet', () => {
  it('reads runs of row groups in threads: the aligned bars and series of loadBarsParquet, and its errors', async () => {
    const text = pairText();
    const f = parquetOf('pair.parquet', text);
    const want = await loadBarsParquet(f, { symbols: ['YYY', 'XXX', 'ZZZ'] });
    const stream = await BarStream.open(f, ['YYY', 'XXX', 'ZZZ'], { parts: 3 });
    expect([...stream.aligned('YYY', 'XXX')]).toEqual([...alignBars(want.get('YYY')!, want.get('XXX')!)]);
    const finished = await stream.finish();
    expect(finished.sorted).toBe(true);
    expect(plain(await finished.series())).toEqual(plain(want));

    // A bad price in the last part: the same message as the loader's, with its row.
    const bad = parquetOf('bad.parquet', text, 6500);
    const wantBad = await errorOf(loadBarsParquet(bad, { symbols: ['YYY', 'XXX'] }));
    expect(wantBad).toMatch(/bad\.parquet: row 6501: column 'open': -1 must be positive/);
    const s2 = await BarStream.open(bad, ['YYY', 'XXX'], { parts: 3 });
    expect(() => [...s2.aligned('YYY', 'XXX')]).toThrow(BarStreamRestart);
    expect(await errorOf(s2.finish())).toBe(wantBad);
  });

  it('reads a Parquet file with threads started ahead for Parquet, and with one started for CSV (a wrong guess)', async () => {
    const f = parquetOf('ahead.parquet', pairText());
    const want = await loadBarsParquet(f, { symbols: ['YYY', 'XXX'] });
    startReadersAhead(1, 'parquet');
    startReadersAhead(2, 'csv');
    expect(readersAhead()).toBe(2);
    const stream = await BarStream.open(f, ['YYY', 'XXX'], { parts: 2 });
    expect(readersAhead()).toBe(0);
    expect([...stream.aligned('YYY', 'XXX')]).toEqual([...alignBars(want.get('YYY')!, want.get('XXX')!)]);
    expect(plain(await (await stream.finish()).series())).toEqual(plain(want));
    await stream.close();
  });
});

describe('backtests over a bar stream', () => {
  const pair = (y = 'YYY', x = 'XXX') => testParams({ bar: '5min', transform: 'log', lookback: 60, entryZ: 1.5, exitZ: 0.3, stopZ: 3, legs: { y: { symbol: y, secType: 'STK', exchange: 'SMART', currency: 'USD' }, x: { symbol: x, secType: 'STK', exchange: 'SMART', currency: 'USD' } } });
  // Shared contracts allowed: the file has three symbols for two pairs.
  const config = (name: string, y?: string, x?: string) => ({ file: `${name}.yaml`, name, costs: { slippageBps: 1 }, allowSharedContracts: true, strategy: pair(y, x) as never });

  it('give the result of the file read first, on the spec runner and on the live node, from CSV and Parquet', async () => {
    const f = file('bt.csv', pairText());
    const pq = parquetOf('bt.parquet', pairText());
    for (const [rules, dataFile] of [['spec', f], ['live', f], ['spec', pq], ['live', pq]] as const) {
      const base = { config: config('one'), dataFile, startingCash: 100_000, risk: OPEN_LIMITS, rules, progress: false };
      const read = await backtestFile({ ...base, stream: false });
      const streamed = await backtestFile({ ...base, stream: SMALL_READS });
      expect(read.result.trades.length, rules).toBeGreaterThan(3);
      expect(backtestJson(streamed.result), rules).toBe(backtestJson(read.result));
      expect(streamed.alignedBars, rules).toBe(2990);
    }
  }, 120_000);

  it('give the same portfolio result, run again after rows out of order, and fail on a bad row as the file read first does', async () => {
    const lines = pairText().trimEnd().split('\n');
    [lines[3001], lines[3003]] = [lines[3003]!, lines[3001]!];
    const swapped = file('bt-swapped.csv', lines.join('\n') + '\n');
    const configs = [config('one'), config('two', 'ZZZ', 'XXX')];
    const base = { configs, dataFile: swapped, startingCash: 100_000, risk: OPEN_LIMITS, progress: false };
    const read = await backtestNodeFile({ ...base, stream: false });
    const streamed = await backtestNodeFile({ ...base, stream: SMALL_READS });
    expect(read.result.trades.length).toBeGreaterThan(3);
    expect(backtestJson(streamed.result)).toBe(backtestJson(read.result));
    expect(streamed.live!.strategies.map((s) => backtestJson(s.result))).toEqual(read.live!.strategies.map((s) => backtestJson(s.result)));

    const bad = pairText().trimEnd().split('\n');
    bad[5500] = bad[5500]!.replace(/,([\d.]+)$/, ',-3');
    const badFile = file('bt-bad.csv', bad.join('\n') + '\n');
    const want = await errorOf(backtestNodeFile({ ...base, dataFile: badFile, stream: false }));
    expect(want).toMatch(/bt-bad\.csv:5501:\d+: column 'volume': -3 must be zero or more/);
    expect(await errorOf(backtestNodeFile({ ...base, dataFile: badFile, stream: SMALL_READS }))).toBe(want);
    expect(await errorOf(backtestFile({ config: config('one'), dataFile: badFile, startingCash: 100_000, rules: 'spec', progress: false, stream: SMALL_READS }))).toBe(want);
    // A leg the file lacks: the same error as when the file is read first, not the empty run's.
    const lacking = [config('one', 'YYY', 'QQQ')];
    const wantLacking = await errorOf(backtestNodeFile({ ...base, configs: lacking, stream: false }));
    expect(wantLacking).toMatch(/no bars for QQQ \(leg x of one\.yaml\)/);
    expect(await errorOf(backtestNodeFile({ ...base, configs: lacking, stream: SMALL_READS }))).toBe(wantLacking);
  }, 120_000);
});
