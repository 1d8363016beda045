/**
 * Speed of Tandem's statistics against statsmodels on the same inputs.
 *
 *   npx tsx bench/stats.ts            # full run (the statsmodels pair scan alone takes ~30 s)
 *   npx tsx bench/stats.ts --no-python
 *
 * Figures are CPU time (this process's user + system time; Python's process_time), the fastest of
 * several batches, so that other work on a shared machine disturbs them as little as possible.
 * Prints per-call times for Engle-Granger (AIC lag search) on n = 1,000 and 5,000, a scan of all
 * 1,225 pairs of 50 series of 1,000 points, ADF, Johansen, and updates per second of the rolling
 * OLS / z-score. When /usr/bin/python3 (or $TANDEM_PYTHON) has statsmodels, the same inputs are
 * timed there (tools/bench_stats_statsmodels.py) and both answers are compared; otherwise the
 * comparison is skipped and says so.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { adf, engleGranger, johansen, RollingOls, RollingZScore, scanPairs } from '../src/stats/index.ts';
import { normals } from '../tests/helpers/normals.ts';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const PYTHON = process.env.TANDEM_PYTHON ?? '/usr/bin/python3';
const MIN_SECONDS = 2.0;

function cointPair(n: number, seed: number): { y: number[]; x: number[] } {
  const g = normals(seed);
  const x: number[] = [];
  const y: number[] = [];
  let lx = 50;
  let e = 0;
  for (let i = 0; i < n; i++) {
    lx += g();
    e = 0.8 * e + g();
    x.push(lx);
    y.push(3 + 1.7 * lx + e);
  }
  return { y, x };
}

/** 50 series: 5 common random-walk factors, each series one factor plus its own noise (some pairs cointegrate). */
function universe(count: number, n: number, seed: number): number[][] {
  const g = normals(seed);
  const factors = Array.from({ length: 5 }, () => {
    let v = 100;
    return Array.from({ length: n }, () => (v += g()));
  });
  return Array.from({ length: count }, (_, k) => {
    const f = factors[k % 5] as number[];
    const load = 0.5 + (k % 7) / 5;
    let own = 0;
    let walk = 0;
    const walks = k % 3 === 0; // a third carry their own random walk: not cointegrated with anything
    return f.map((v) => {
      own = 0.7 * own + g();
      if (walks) walk += 0.5 * g();
      return load * v + own + walk;
    });
  });
}

/** CPU seconds used by this process so far (user + system): unlike wall time, it does not count
 * the time other processes on a shared machine hold the cores. */
function cpuSeconds(): number {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1e6;
}

/**
 * CPU seconds per call: the fastest of several ~0.2 s batches (the minimum is the figure least
 * disturbed by other processes). tools/bench_stats_statsmodels.py measures the same way.
 */
function perCall(fn: () => void, minSeconds = MIN_SECONDS): number {
  for (let i = 0; i < 20; i++) fn();
  const start = performance.now();
  let best = Infinity;
  do {
    const w0 = performance.now();
    const c0 = cpuSeconds();
    let k = 0;
    do {
      fn();
      k++;
    } while (performance.now() - w0 < 200);
    best = Math.min(best, (cpuSeconds() - c0) / k);
  } while ((performance.now() - start) / 1000 < minSeconds);
  return best;
}

/** CPU seconds of one run after a warm-up run: used for the pair scan, which statsmodels also runs once. */
function once(fn: () => void): number {
  fn();
  const c0 = cpuSeconds();
  fn();
  return cpuSeconds() - c0;
}

function fmtTime(s: number): string {
  if (s >= 1) return `${s.toFixed(2)} s`;
  if (s >= 1e-3) return `${(s * 1e3).toFixed(2)} ms`;
  return `${(s * 1e6).toFixed(1)} µs`;
}

function relDiff(a: number, b: number): number {
  if (a === b) return 0;
  return Math.abs(a - b) / Math.max(Math.abs(b), 1e-3);
}

interface PySide {
  version: string;
  pairs: Record<string, { seconds: number; stat: number; pValue: number }>;
  adf: Record<string, { seconds: number; stat: number; pValue: number }>;
  scan: { seconds: number; results: [number, number][] };
  johansen: { seconds: number; traceStat: number[] };
}

function runStatsmodels(input: object): PySide | string {
  if (process.argv.includes('--no-python')) return 'skipped (--no-python)';
  const probe = spawnSync(PYTHON, ['-c', 'import statsmodels'], { encoding: 'utf8' });
  if (probe.error || probe.status !== 0) return `skipped: ${PYTHON} with statsmodels not available`;
  console.log('Measuring statsmodels on the same inputs (about a minute)…');
  const dir = mkdtempSync(join(tmpdir(), 'tandem-bench-'));
  try {
    const file = join(dir, 'input.json');
    writeFileSync(file, JSON.stringify(input));
    const r = spawnSync(PYTHON, [join(ROOT, 'tools', 'bench_stats_statsmodels.py'), file], {
      encoding: 'utf8',
      maxBuffer: 64 * 1024 * 1024,
    });
    if (r.status !== 0) return `skipped: the statsmodels script failed: ${r.stderr.slice(-500)}`;
    return JSON.parse(r.stdout) as PySide;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

function main(): void {
  const pairs = { n1000: cointPair(1000, 1), n5000: cointPair(5000, 2) };
  const scan = universe(50, 1000, 3);
  const adfSeries = { n1000: pairs.n1000.x.map((v, i) => v - 0.5 * (pairs.n1000.y[i] as number)) };
  const jg = normals(4);
  let c = 0;
  const joData = Array.from({ length: 1000 }, () => {
    c += jg();
    return [c + jg(), 0.5 * c + jg(), -c + 2 * jg()];
  });

  console.log('Tandem statistics benchmark (node', process.version + '); CPU time per call, best of 0.2 s batches');
  console.log('Measuring Tandem…');
  const ours: Record<string, number> = {};
  const ourAnswers: Record<string, { stat: number; pValue: number }> = {};
  for (const [name, p] of Object.entries(pairs)) {
    ourAnswers[name] = engleGranger(p.y, p.x);
    ours[`engleGranger ${name}`] = perCall(() => engleGranger(p.y, p.x));
  }
  for (const [name, s] of Object.entries(adfSeries)) {
    ourAnswers[`adf ${name}`] = adf(s);
    ours[`adf ${name}`] = perCall(() => adf(s));
  }
  const scanAnswers = scanPairs(scan);
  const doScan = (): void => void scanPairs(scan);
  ours['scan 50×1000 (1,225 pairs)'] = once(doScan);
  const joOurs = johansen(joData, 0, 1);
  ours['johansen 3×1000 k=1'] = perCall(() => johansen(joData, 0, 1));

  // Rolling updates: push + z-score of the latest bar, the live loop's per-bar work.
  const N = 20_000_000;
  const W = 120;
  const g = normals(5);
  const M = 1 << 16;
  const xs = new Float64Array(M);
  const ys = new Float64Array(M);
  let lx = Math.log(30);
  for (let i = 0; i < M; i++) {
    lx += 0.002 * g();
    xs[i] = lx;
    ys[i] = 0.3 + 0.98 * lx + 0.0005 * g();
  }
  const ro = new RollingOls(W);
  for (let i = 0; i < W; i++) ro.push(xs[i] as number, ys[i] as number);
  let sink = 0;
  let t0 = cpuSeconds();
  for (let i = 0; i < N; i++) {
    const j = i & (M - 1);
    ro.push(xs[j] as number, ys[j] as number);
    sink += ro.latestZ;
  }
  const olsRate = N / (cpuSeconds() - t0);
  const rz = new RollingZScore(W);
  for (let i = 0; i < W; i++) rz.push(ys[i] as number);
  t0 = cpuSeconds();
  for (let i = 0; i < N; i++) {
    rz.push(ys[i & (M - 1)] as number);
    sink += rz.zScore();
  }
  const zRate = N / (cpuSeconds() - t0);
  if (Number.isNaN(sink)) console.log('(unexpected NaN)');

  const py = runStatsmodels({ minSeconds: MIN_SECONDS, pairs, adf: adfSeries, scan, johansen: joData });

  const rows: [string, number, number | undefined, string][] = [];
  const pyTime = (k: string): number | undefined => {
    if (typeof py === 'string') return undefined;
    if (k.startsWith('engleGranger ')) return py.pairs[k.slice(13)]?.seconds;
    if (k.startsWith('adf ')) return py.adf[k.slice(4)]?.seconds;
    if (k.startsWith('scan')) return py.scan.seconds;
    if (k.startsWith('johansen')) return py.johansen.seconds;
    return undefined;
  };
  const agreement = (k: string): string => {
    if (typeof py === 'string') return '';
    let worst = 0;
    if (k.startsWith('engleGranger ') || k.startsWith('adf ')) {
      const name = k.startsWith('adf ') ? k : k.slice(13);
      const a = ourAnswers[name];
      const b = k.startsWith('adf ') ? py.adf[k.slice(4)] : py.pairs[name];
      if (a && b) worst = Math.max(relDiff(a.stat, b.stat), relDiff(a.pValue, b.pValue));
    } else if (k.startsWith('scan')) {
      py.scan.results.forEach(([s, p], i) => {
        const a = scanAnswers[i];
        if (a) worst = Math.max(worst, relDiff(a.stat, s), relDiff(a.pValue, p));
      });
    } else if (k.startsWith('johansen')) {
      py.johansen.traceStat.forEach((v, i) => (worst = Math.max(worst, relDiff(joOurs.traceStat[i] as number, v))));
    }
    return worst.toExponential(1);
  };
  for (const [k, t] of Object.entries(ours)) rows.push([k, t, pyTime(k), agreement(k)]);

  console.log('');
  const head = typeof py === 'string' ? '' : `statsmodels ${py.version}`;
  console.log(`${'task'.padEnd(30)} ${'Tandem'.padStart(12)} ${head.padStart(20)} ${'speed-up'.padStart(9)}  max rel. diff`);
  for (const [k, t, p, agree] of rows) {
    const speed = p === undefined ? '' : `${(p / t).toFixed(0)}×`;
    console.log(`${k.padEnd(30)} ${fmtTime(t).padStart(12)} ${(p === undefined ? '' : fmtTime(p)).padStart(20)} ${speed.padStart(9)}  ${agree}`);
  }
  console.log(`${'RollingOls push + z'.padEnd(30)} ${`${(olsRate / 1e6).toFixed(1)} M/s`.padStart(12)}`);
  console.log(`${'RollingZScore push + z'.padEnd(30)} ${`${(zRate / 1e6).toFixed(1)} M/s`.padStart(12)}`);
  if (typeof py === 'string') console.log(`\nstatsmodels comparison ${py}`);
  else {
    const sig = scanAnswers.filter((r) => r.pValue <= 0.05).length;
    console.log(`\nscan: ${sig} of ${scanAnswers.length} pairs with p ≤ 0.05 (both sides agree on every pair to the diff shown)`);
  }
}

main();
