/**
 * Backtest benchmark: aligned bars per second and peak memory of Tandem's runner on a synthetic
 * cointegrated pair (default 1,000,000 bars, the spec example's strategy), side by side with a
 * vectorised numpy/pandas implementation of the same rules (bench/backtest_vectorised.py, run with
 * the first of /usr/bin/python3, python3, python that imports numpy and pandas; Debian:
 * `apt-get install python3-pandas python3-statsmodels`). Each measurement runs in its own process
 * so peak RSS is its own.
 *
 *   npx tsx bench/backtest.ts [--bars 1000000] [--gate-bars 100000] [--csv-bars 1000000] [--csv-runs 3] [--no-python] [--only-e2e | --only-csv]
 *   npx tsx bench/backtest.ts --live-only [--bars 1000000] [--runs 3]
 *
 * `--live-only`: only the spec runner and the live node on the same bars, `--runs` times each (in
 * turn, so both see the same load), their CPU seconds, trades and final equity (issue 14's 2× bound).
 *
 * Speed runs read the pair from columns generated before the clock starts (as the Python side reads
 * a file). Memory runs feed the runner straight from a generator (no input arrays) and measure what
 * it keeps: the equity curve (two float64 a bar), the trades and the fills.
 */
import { spawnSync } from 'node:child_process';
import { closeSync, existsSync, fsyncSync, mkdtempSync, openSync, readFileSync, rmSync, statSync, writeFileSync, writeSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { stringify } from 'yaml';
import { alignBars, countAligned } from '../src/backtest/align.ts';
import { loadBarsCsv } from '../src/backtest/csv.ts';
import { runLiveBacktest } from '../src/backtest/live-backtest.ts';
import { runBacktest } from '../src/backtest/runner.ts';
import { cointegrationParamsSchema } from '../src/strategies/cointegration/params.ts';
import { CointegrationStrategy } from '../src/strategies/cointegration/strategy.ts';
import type { PairBar } from '../src/strategies/types.ts';
import { pairCsv, syntheticPair } from '../tests/helpers/pair-data.ts';

const SEED = 42;
const GATE = { every: 78, lookback: 390, maxPValue: 0.05 };

/** A Python that imports numpy and pandas (Debian's first), its versions, and whether it has statsmodels. */
interface Python {
  cmd: string;
  versions: string;
  statsmodels: boolean;
}
function findPython(): Python | null {
  for (const cmd of ['/usr/bin/python3', 'python3', 'python']) {
    const r = spawnSync(cmd, ['-c', 'import sys, numpy, pandas; print(sys.version.split()[0], numpy.__version__, pandas.__version__)'], { encoding: 'utf8' });
    if (r.status !== 0) continue;
    const [py, np, pd] = r.stdout.trim().split(' ');
    const statsmodels = spawnSync(cmd, ['-c', 'import statsmodels'], { encoding: 'utf8' }).status === 0;
    return { cmd, versions: `Python ${py}, numpy ${np}, pandas ${pd}${statsmodels ? '' : ', no statsmodels'}`, statsmodels };
  }
  return null;
}

/**
 * End to end, as a user runs it: \`tandem backtest --data FILE --json OUT\` as a new process (the
 * compiled CLI, bin/tandem.js), on N bars a leg from CSV and from Parquet, and the pandas version
 * reading the same CSV in the same run. Wall time includes start-up, reading and writing the JSON.
 */
async function endToEnd(n: number, python: Python | null): Promise<void> {
  const bin = join(import.meta.dirname, '..', 'bin', 'tandem.js');
  if (!existsSync(join(import.meta.dirname, '..', 'dist', 'main.js'))) {
    console.log('\nend-to-end runs skipped: dist/ is missing (npm run build)');
    return;
  }
  const dir = mkdtempSync(join(tmpdir(), 'tandem-bench-e2e-'));
  try {
    const csv = join(dir, 'bars.csv');
    const pq = join(dir, 'bars.parquet');
    // The strategy of the runs above (params(false)), as a strategy file for the CLI.
    writeFileSync(join(dir, 'strategy.yaml'), stringify({ name: 'bench_pair', strategy: params(false), costs: { slippageBps: 2 } }));
    writeFileSync(csv, pairCsv(data(n), 'ETHA', 'ETHV'));
    const { loadBarsCsv: load } = await import('../src/backtest/csv.ts');
    const { writeBarsParquet } = await import('../src/backtest/parquet.ts');
    await writeBarsParquet(pq, [...(await load(csv)).values()]);
    // Both files on disk before any run: else the kernel writes their ~280 MB back during the first
    // runs (Tandem's: pandas runs last), which then share the machine with that writeback.
    for (const f of [csv, pq]) {
      const fd = openSync(f, 'r');
      fsyncSync(fd);
      closeSync(fd);
    }
    const mb = (f: string) => (statSync(f).size / 2 ** 20).toFixed(0);
    const wall = (cmd: string, args: string[]): { seconds: number; cpu: number; out: string } => {
      const c0 = childrenCpu();
      const t0 = performance.now();
      const r = spawnSync(cmd, args, { cwd: dir, encoding: 'utf8', maxBuffer: 1 << 24 });
      const seconds = (performance.now() - t0) / 1000;
      if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} failed:\n${r.stderr}`);
      return { seconds, cpu: childrenCpu() - c0, out: r.stdout };
    };
    console.log(`\nend to end, ${n.toLocaleString('en-US')} bars a leg (new process: start-up, read, backtest, JSON result written; CPU = user + system of the process):`);
    const line = (label: string, r: { seconds: number; cpu: number }, equity: string | undefined) =>
      console.log(`  ${label.padEnd(50)} ${r.seconds.toFixed(2).padStart(6)} s wall ${r.cpu.toFixed(2).padStart(6)} s CPU   final equity ${equity}   (load ${loadavg()[0]!.toFixed(1)})`);
    const equityOf = (out: string) => /final equity\s+(\S+)/.exec(out)?.[1];
    const tandem = (data: string, json: string, spec: boolean) => wall(process.execPath, [bin, 'backtest', '--config', 'strategy.yaml', '--data', data, '--json', json, ...(spec ? ['--spec-rules'] : [])]);
    const runs: Record<string, { seconds: number; cpu: number }> = {};
    for (const [label, data, spec] of [
      [`tandem backtest from CSV (${mb(csv)} MB)`, 'bars.csv', false],
      [`tandem backtest from Parquet (${mb(pq)} MB)`, 'bars.parquet', false],
      [`tandem backtest --spec-rules from CSV`, 'bars.csv', true],
      [`tandem backtest --spec-rules from Parquet`, 'bars.parquet', true],
    ] as const) {
      const r = tandem(data, `out-${data}-${spec}.json`, spec);
      runs[label] = r;
      line(label, r, equityOf(r.out));
    }
    if (python) {
      const py = wall(python.cmd, [join(import.meta.dirname, 'backtest_vectorised.py'), csv]);
      const m = JSON.parse(py.out.trim().split('\n').pop()!) as Measure;
      line('numpy/pandas from the same CSV (read_csv)', py, m.finalEquity.toFixed(2));
      const ratio = (label: string) => `${(py.seconds / runs[label]!.seconds).toFixed(2)}× (wall), ${(py.cpu / runs[label]!.cpu).toFixed(2)}× (CPU)`;
      for (const label of Object.keys(runs)) console.log(`  pandas / ${label}: ${ratio(label)} (issue 16 goal: 3×)`);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** CPU seconds (user + system) of the children this process has waited for (Linux: /proc/self/stat); 0 elsewhere. */
function childrenCpu(): number {
  try {
    const fields = readFileSync('/proc/self/stat', 'utf8').split(') ')[1]!.split(' ');
    // After the command's name: cutime and cstime are fields 16 and 17 of stat, in clock ticks (100 a second).
    return (Number(fields[13]) + Number(fields[14])) / 100;
  } catch {
    return 0;
  }
}

function params(gate: boolean) {
  return cointegrationParamsSchema.parse({
    type: 'cointegration',
    legs: { y: { symbol: 'ETHA', secType: 'STK', exchange: 'SMART' }, x: { symbol: 'ETHV', secType: 'STK', exchange: 'SMART' } },
    bar: '5min',
    transform: 'log',
    hedge: { method: 'ols' },
    lookback: 120,
    entryZ: 2,
    exitZ: 0.5,
    stopZ: 4,
    maxHoldingBars: 390,
    ...(gate ? { gate: GATE } : {}),
    sizing: { capitalFraction: 0.5 },
    shortMode: 'hedge',
  });
}
const data = (n: number) => syntheticPair({ n, seed: SEED, spreadVol: 0.0012, kappa: 0.03 });

/** The pair as columns, generated before the clock starts (the Python side reads the same from a file). */
function columns(n: number): Float64Array[] {
  const cols = Array.from({ length: 5 }, () => new Float64Array(n));
  cols[0] = regularHoursTimes(n);
  let i = 0;
  for (const b of data(n)) {
    cols[1]![i] = b.y.open;
    cols[2]![i] = b.y.close;
    cols[3]![i] = b.x.open;
    cols[4]![i] = b.x.close;
    i++;
  }
  return cols;
}

/**
 * Bar times of US stock regular hours: weekdays, 09:30 to 15:55 New York (78 five-minute bars a
 * day), so the live node's market-hours rule lets the decisions through (all but each day's last,
 * decided at 16:00, the close). Both runners get these times in the speed runs: the same bars.
 */
function regularHoursTimes(n: number): Float64Array<ArrayBuffer> {
  const out = new Float64Array(n);
  const hourInNy = new Intl.DateTimeFormat('en-US', { timeZone: 'America/New_York', hour: 'numeric', hourCycle: 'h23' });
  let day = Date.UTC(2024, 0, 2);
  let i = 0;
  while (i < n) {
    const weekday = new Date(day).getUTCDay();
    if (weekday !== 0 && weekday !== 6) {
      const offsetHours = 12 - Number(hourInNy.format(new Date(day + 12 * 3_600_000)));
      const open = day + (9 + offsetHours) * 3_600_000 + 30 * 60_000;
      for (let k = 0; k < 78 && i < n; k++) out[i++] = open + k * 300_000;
    }
    day += 86_400_000;
  }
  return out;
}

/** Aligned bars from the columns, one object a bar as the CSV aligner yields them. */
function* fromColumns(cols: Float64Array[]): Generator<PairBar> {
  const [t, oy, cy, ox, cx] = cols as [Float64Array, Float64Array, Float64Array, Float64Array, Float64Array];
  for (let i = 0; i < t.length; i++) {
    yield {
      time: t[i]!,
      y: { open: oy[i]!, high: Math.max(oy[i]!, cy[i]!), low: Math.min(oy[i]!, cy[i]!), close: cy[i]!, volume: 1000 },
      x: { open: ox[i]!, high: Math.max(ox[i]!, cx[i]!), low: Math.min(ox[i]!, cx[i]!), close: cx[i]!, volume: 1000 },
    };
  }
}

interface Measure {
  bars: number;
  seconds: number;
  barsPerSecond: number;
  finalEquity: number;
  trades: number;
  commissions: number;
  maxRssMB: number;
  heapUsedMB?: number;
  /** Heap plus array buffers after a full GC, the result alive. */
  liveMB?: number;
  /** CPU seconds of the run (user + system): steadier than wall time on a shared machine. */
  cpuSeconds?: number;
  /** CSV runs: the file's size and the parse rate (best of two reads). */
  fileMB?: number;
  mbPerSecond?: number;
  /** CSV runs: MB/s of the first (cold) and second read, by wall and by CPU time. */
  csvRates?: { coldWall: number; coldCpu: number; warmWall: number; warmCpu: number };
}

/**
 * Child: one backtest. `speed`: from columns generated before the clock starts. `memory`: streamed
 * from the generator (no input arrays), then the heap measured after a full GC with the result
 * still alive: what the run itself keeps.
 */
function child(n: number, gate: boolean, streamed: boolean): Measure {
  const p = params(gate);
  const cols = streamed ? null : columns(n);
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  const r = runBacktest(cols ? fromColumns(cols) : data(n), new CointegrationStrategy(p), { legs: p.legs, bar: p.bar, slippageBps: 2, startingCash: 100_000 });
  const seconds = (performance.now() - t0) / 1000;
  const cpu = process.cpuUsage(c0);
  (globalThis as { gc?: () => void }).gc?.();
  const mem = process.memoryUsage();
  return {
    liveMB: (mem.heapUsed + mem.arrayBuffers) / 2 ** 20,
    cpuSeconds: (cpu.user + cpu.system) / 1e6,
    bars: r.bars,
    seconds,
    barsPerSecond: r.bars / seconds,
    finalEquity: r.finalEquity,
    trades: r.trades.length,
    commissions: r.metrics.commissions,
    maxRssMB: process.resourceUsage().maxRSS / 1024,
    heapUsedMB: process.memoryUsage().heapUsed / 2 ** 20,
  };
}

/**
 * Child: the same run on the live trading node (live-backtest.ts: runner, risk engine, executor,
 * order manager, portfolio, SimBroker, in-memory journal) on the same bars (regular hours), risk
 * limits wide open: the same trades but for the decisions at 16:00, which market hours refuse.
 */
async function childLive(n: number, gate: boolean): Promise<Measure> {
  const p = params(gate);
  const cols = columns(n);
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  const r = await runLiveBacktest({
    strategies: [{ entry: { name: 'bench', strategy: p as never }, slippageBps: 2, bars: fromColumns(cols) }],
    startingCash: 100_000,
    // Limits wide open: the spec runner compounds its equity into positions no default limit allows.
    risk: { maxGrossNotional: 1e15, maxPositionNotional: 1e15, maxDailyLoss: 1e15, allowOutsideRth: false },
  });
  const seconds = (performance.now() - t0) / 1000;
  const cpu = process.cpuUsage(c0);
  const a = r.account;
  return { cpuSeconds: (cpu.user + cpu.system) / 1e6, bars: a.bars, seconds, barsPerSecond: a.bars / seconds, finalEquity: a.finalEquity, trades: a.trades.length, commissions: a.metrics.commissions, maxRssMB: process.resourceUsage().maxRSS / 1024 };
}

/**
 * Child: CSV parsing and alignment throughput, MB/s of the file on one core. The first read is
 * cold (a new process: the columns' memory is faulted in, as for `tandem backtest`); the second
 * reuses freed memory. The file is written by the parent, so that this process holds nothing else.
 * Wall time and CPU time (user + system) of each are reported: on a busy
 * machine wall time includes waiting for a core.
 */
async function childCsv(file: string): Promise<Measure> {
  const mb = statSync(file).size / 2 ** 20;
  const timed = async () => {
    const c0 = process.cpuUsage();
    const t0 = performance.now();
    const m = await loadBarsCsv(file, { symbols: ['ETHA', 'ETHV'] });
    const wall = (performance.now() - t0) / 1000;
    const c = process.cpuUsage(c0);
    return { m, wall, cpu: (c.user + c.system) / 1e6 };
  };
  const cold = await timed();
  const warm = await timed();
  const t0 = performance.now();
  const m = warm.m;
  const aligned = countAligned(m.get('ETHA')!, m.get('ETHV')!);
  let k = 0;
  for (const _ of alignBars(m.get('ETHA')!, m.get('ETHV')!)) k++;
  const seconds = warm.wall + (performance.now() - t0) / 1000;
  if (k !== aligned) throw new Error('alignment count mismatch');
  return {
    bars: aligned, seconds, barsPerSecond: aligned / seconds, finalEquity: 0, trades: 0, commissions: 0, maxRssMB: process.resourceUsage().maxRSS / 1024, fileMB: mb,
    mbPerSecond: mb / Math.min(cold.wall, warm.wall),
    csvRates: { coldWall: mb / cold.wall, coldCpu: mb / cold.cpu, warmWall: mb / warm.wall, warmCpu: mb / warm.cpu },
  };
}

/** The pair as 5 float64 columns (time, open y, close y, open x, close x) for the Python side. */
function writeBinary(n: number, file: string): void {
  const cols = columns(n);
  const fd = openSync(file, 'w');
  for (const c of cols) writeSync(fd, new Uint8Array(c.buffer));
  closeSync(fd);
}

function spawnJson(cmd: string, args: string[]): Measure {
  const r = spawnSync(cmd, args, { encoding: 'utf8', maxBuffer: 1 << 24 });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} failed:\n${r.stderr}`);
  return JSON.parse(r.stdout.trim().split('\n').pop()!) as Measure;
}
const self = fileURLToPath(import.meta.url);
const tsChild = (mode: string, n: number, ...rest: string[]) => spawnJson(process.execPath, ['--expose-gc', '--import', import.meta.resolve('tsx'), self, '--child', mode, String(n), ...rest]);

function arg(name: string, def: number): number {
  const i = process.argv.indexOf(name);
  return i >= 0 ? Number(process.argv[i + 1]) : def;
}

const row = (label: string, m: Measure) =>
  `${label.padEnd(46)} ${String(m.bars).padStart(9)} ${m.seconds.toFixed(2).padStart(8)} ${Math.round(m.barsPerSecond).toLocaleString('en-US').padStart(11)} ${m.maxRssMB.toFixed(0).padStart(8)}   ${m.finalEquity ? m.finalEquity.toFixed(2) : ''}${m.trades ? ` (${m.trades} trades)` : ''}`;

/** CSV parsing on one core: the first read in each of several new processes, as \`tandem backtest\` reads. */
function csvRates(NC: number): void {
  const csvDir = mkdtempSync(join(tmpdir(), 'tandem-bench-csv-'));
  const csvFile = join(csvDir, 'bars.csv');
  writeFileSync(csvFile, pairCsv(data(NC), 'ETHA', 'ETHV'));
  // The best CPU rate is the one least disturbed by the other processes of a shared machine.
  const csvRuns = Array.from({ length: arg('--csv-runs', 3) }, () => tsChild('csv', NC, csvFile));
  rmSync(csvDir, { recursive: true, force: true });
  const csvLoad = csvRuns[0]!;
  console.log(row('tandem CSV load + align (no strategy)', csvLoad));
  const best = (k: keyof NonNullable<Measure['csvRates']>) => Math.max(...csvRuns.map((m) => m.csvRates![k]));
  console.log(`  CSV parse rate, one core (${csvLoad.fileMB!.toFixed(0)} MB file, ${NC.toLocaleString('en-US')} bars a leg), best of ${csvRuns.length} new processes: first read ${best('coldWall').toFixed(0)} MB/s wall, ${best('coldCpu').toFixed(0)} MB/s of CPU time; second read ${best('warmWall').toFixed(0)} MB/s wall, ${best('warmCpu').toFixed(0)} MB/s of CPU time (goal: 200 MB/s; load ${loadavg()[0]!.toFixed(1)})`);
  console.log(`    each first read, MB/s of CPU time: ${csvRuns.map((m) => m.csvRates!.coldCpu.toFixed(0)).join(', ')}`);
}

/**
 * Issue 14's bound: the live node may cost at most 2× of the in-process bars/s of the day it was
 * filed, "about 1 M bars/s without the gate": so at least this many bars a second.
 */
const ISSUE14_FLOOR_BARS_PER_S = 500_000;

/** `--live-only`: the spec runner and the live node in turn, `runs` times, CPU seconds side by side. */
function liveOnly(n: number, runs: number): void {
  console.log(`${n.toLocaleString('en-US')} regular-hours bars, no gate; CPU seconds (user + system) of each run, in turn`);
  const lives: Measure[] = [];
  const ratios: number[] = [];
  for (let i = 0; i < runs; i++) {
    const spec = tsChild('nogate', n);
    const live = tsChild('live-nogate', n);
    lives.push(live);
    ratios.push((live.cpuSeconds ?? 0) / (spec.cpuSeconds ?? 1));
    const cpu = (m: Measure) => (m.cpuSeconds ?? m.seconds).toFixed(2);
    console.log(`  run ${i + 1}: spec runner ${cpu(spec)} CPU s (${spec.seconds.toFixed(2)} wall), ${spec.trades} trades, final equity ${spec.finalEquity.toFixed(6)}; ` +
      `live node ${cpu(live)} CPU s (${live.seconds.toFixed(2)} wall), ${live.trades} trades, final equity ${live.finalEquity.toFixed(6)}; ` +
      `live / runner ${ratios[i]!.toFixed(2)}× CPU`);
  }
  const perCpu = lives.map((m) => m.bars / (m.cpuSeconds ?? m.seconds));
  const perWall = lives.map((m) => m.barsPerSecond);
  const range = (xs: number[], f: (x: number) => string) => `${f(Math.min(...xs))}–${f(Math.max(...xs))}`;
  const k = (x: number) => `${Math.round(x / 1000).toLocaleString('en-US')}k`;
  console.log(`  live node: ${range(perWall, k)} bars/s wall, ${range(perCpu, k)} bars per CPU second (issue 14's floor: ${k(ISSUE14_FLOOR_BARS_PER_S)} bars/s, half the ~1 M bars/s of the day it was filed); ` +
    `live / today's spec runner ${range(ratios, (x) => `${x.toFixed(2)}×`)} CPU (its 2× read against today's faster runner)`);
}

async function main(): Promise<void> {
  const ci = process.argv.indexOf('--child');
  if (ci >= 0) {
    const mode = process.argv[ci + 1]!;
    const n = Number(process.argv[ci + 2]);
    const m = mode === 'csv' ? await childCsv(process.argv[ci + 3]!) : mode.startsWith('live') ? await childLive(n, mode === 'live-gate') : child(n, mode.startsWith('gate'), mode.endsWith('-streamed'));
    process.stdout.write(JSON.stringify(m) + '\n');
    return;
  }
  const N = arg('--bars', 1_000_000);
  if (process.argv.includes('--live-only')) {
    liveOnly(N, arg('--runs', 3));
    return;
  }
  const NG = arg('--gate-bars', 100_000);
  const NC = arg('--csv-bars', N);
  const python = process.argv.includes('--no-python') ? null : findPython();
  console.log(`Node ${process.version}, ${new Date().toISOString()}, load average ${loadavg().map((v) => v.toFixed(1)).join(' ')}`);
  console.log(python ? `pandas reference: ${python.cmd} (${python.versions})` : `pandas reference: ${process.argv.includes('--no-python') ? 'skipped (--no-python)' : 'no Python with numpy and pandas found (tried /usr/bin/python3, python3, python; Debian: apt-get install python3-pandas python3-statsmodels): comparisons skipped'}`);
  console.log(`${'run'.padEnd(46)} ${'bars'.padStart(9)} ${'seconds'.padStart(8)} ${'bars/s'.padStart(11)} ${'maxRSS MB'.padStart(8)}   final equity`);

  if (process.argv.includes('--only-e2e')) return endToEnd(N, python);
  if (process.argv.includes('--only-csv')) return csvRates(NC);
  const big = tsChild('nogate', N);
  console.log(row('tandem, no gate', big));
  const liveNoGate = tsChild('live-nogate', N);
  console.log(row('tandem on the live node, no gate', liveNoGate));
  const perCpu = (m: Measure) => Math.round(m.bars / (m.cpuSeconds ?? m.seconds)).toLocaleString('en-US');
  console.log(`  per CPU second: in-process runner ${perCpu(big)} bars/s, live node ${perCpu(liveNoGate)} bars/s`);
  console.log(`  live node / in-process runner: ${(big.barsPerSecond / liveNoGate.barsPerSecond).toFixed(2)}× the wall time a bar, ${((liveNoGate.cpuSeconds ?? 0) / (big.cpuSeconds ?? 1)).toFixed(2)}× the CPU time (issue 14's bound: 2×)`);
  const gate = tsChild('gate', N);
  console.log(row('tandem, gate every 78 over 390', gate));
  const gateSmall = tsChild('gate', NG);
  console.log(row('tandem, gate every 78 over 390', gateSmall));
  const liveGate = tsChild('live-gate', NG);
  console.log(row('tandem on the live node, gate', liveGate));
  console.log(`  with the gate: live node / in-process runner ${((liveGate.cpuSeconds ?? 0) / (gateSmall.cpuSeconds ?? 1)).toFixed(2)}× the CPU time`);
  csvRates(NC);

  // Memory: the same run streamed from the generator at N/10 and N bars.
  const m1 = tsChild('nogate-streamed', Math.round(N / 10));
  const m2 = tsChild('nogate-streamed', N);
  console.log(row('tandem, no gate, streamed (memory run)', m1));
  console.log(row('tandem, no gate, streamed (memory run)', m2));
  const live = ((m2.liveMB! - m1.liveMB!) * 2 ** 20) / (m2.bars - m1.bars);
  const rss = ((m2.maxRssMB - m1.maxRssMB) * 2 ** 20) / (m2.bars - m1.bars);
  console.log(`\nmemory kept after the run (heap + buffers, after GC): ${m1.liveMB!.toFixed(1)} MB at ${m1.bars} bars, ${m2.liveMB!.toFixed(1)} MB at ${m2.bars} bars: ${live.toFixed(1)} bytes per extra bar`);
  console.log(`  (the equity curve is 16 bytes a bar in buffers that double: 16–32 bytes a bar; trades and fills grow with the trades, ${m2.trades} here)`);
  console.log(`peak RSS: ${m1.maxRssMB.toFixed(0)} MB → ${m2.maxRssMB.toFixed(0)} MB: ${rss.toFixed(1)} bytes per extra bar (includes garbage V8 had not collected yet)`);

  await endToEnd(N, python);
  if (!python) return;
  const dir = mkdtempSync(join(tmpdir(), 'tandem-bench-'));
  try {
    const f = join(dir, 'pair.f64');
    writeBinary(N, f);
    const py = spawnJson(python.cmd, [join(import.meta.dirname, 'backtest_vectorised.py'), f]);
    console.log(row('numpy/pandas vectorised, no gate', py));
    const fg = join(dir, 'pair-gate.f64');
    writeBinary(NG, fg);
    const same = (a: Measure, b: Measure) => `${a.trades === b.trades ? 'same trades' : `trades ${a.trades} vs ${b.trades}`}, Δ final equity ${(a.finalEquity - b.finalEquity).toFixed(6)}`;
    if (!python.statsmodels) {
      console.log(`\nspeed ratio tandem / vectorised: no gate ${(big.barsPerSecond / py.barsPerSecond).toFixed(2)}× (gate comparison skipped: ${python.cmd} lacks statsmodels)`);
      console.log(`results: no gate: ${same(big, py)}`);
      return;
    }
    const pyg = spawnJson(python.cmd, [join(import.meta.dirname, 'backtest_vectorised.py'), fg, '--gate', `${GATE.every},${GATE.lookback},${GATE.maxPValue}`]);
    console.log(row('numpy/pandas + statsmodels coint gate', pyg));
    console.log(`\nspeed ratio tandem / vectorised: no gate ${(big.barsPerSecond / py.barsPerSecond).toFixed(2)}×, with gate ${(gateSmall.barsPerSecond / pyg.barsPerSecond).toFixed(2)}×`);
    console.log(`results: no gate: ${same(big, py)}; gate: ${same(gateSmall, pyg)}`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

await main();
