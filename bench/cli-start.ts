/**
 * CLI start-up benchmark: wall time of the compiled `tandem` command (bin/tandem.js → dist/) as a
 * new process each time, median of 10 runs, for `--help`, `--version`, `config show` and a
 * 1,000-bar backtest, beside bare `node -e 0` on the same machine and the sources through tsx
 * (`npm start`). Goals: `--help` under 0.3 s, the 1,000-bar backtest under 0.6 s.
 *
 *   npm run build && npx tsx bench/cli-start.ts [--runs 10] [--node /path/to/node]
 *
 * `--node` times the commands on another Node binary (e.g. Node 24 from `npx -p node@24`); on Node
 * 22+ bin/tandem.js turns on V8's compile cache, so runs after the first start faster.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pairCsv, syntheticPair } from '../tests/helpers/pair-data.ts';

const ROOT = resolve(import.meta.dirname, '..');
const BIN = join(ROOT, 'bin', 'tandem.js');
const runsArg = process.argv.indexOf('--runs');
const RUNS = runsArg >= 0 ? Number(process.argv[runsArg + 1]) : 10;
const nodeArg = process.argv.indexOf('--node');
const NODE = nodeArg >= 0 ? process.argv[nodeArg + 1]! : process.execPath;

if (!existsSync(join(ROOT, 'dist', 'main.js'))) {
  console.error('dist/ is missing: run `npm run build` first');
  process.exit(2);
}

const dir = mkdtempSync(join(tmpdir(), 'tandem-bench-cli-'));
const bars = join(dir, 'bars.csv');
writeFileSync(bars, pairCsv(syntheticPair({ n: 1000, seed: 3 }), 'ETHA', 'ETHV'));
const strategy = join(ROOT, 'configs', 'strategies', 'cointegration_etha_ethv.yaml');

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
}

function time(args: string[], runs = RUNS): { median: number; min: number } {
  const xs: number[] = [];
  for (let i = 0; i < runs; i++) {
    const t0 = performance.now();
    const r = spawnSync(NODE, args, { cwd: dir, encoding: 'utf8' });
    xs.push((performance.now() - t0) / 1000);
    if (r.status !== 0) throw new Error(`${args.join(' ')} exited ${r.status}: ${r.stderr}`);
  }
  return { median: median(xs), min: Math.min(...xs) };
}

const rows: [string, { median: number; min: number }, number | null][] = [
  ['node -e 0 (bare Node, for scale)', time(['-e', '0']), null],
  ['tandem --help', time([BIN, '--help']), 0.3],
  ['tandem --version', time([BIN, '--version']), null],
  ['tandem config show', time([BIN, 'config', 'show', '--config', strategy]), null],
  ['tandem backtest (1,000 bars)', time([BIN, 'backtest', '--config', strategy, '--data', bars]), 0.6],
  ['npm start -- --help (sources via tsx; 3 runs)', time(['--import', import.meta.resolve('tsx'), join(ROOT, 'src', 'main.ts'), '--help'], 3), null],
];
rmSync(dir, { recursive: true, force: true });

const version = spawnSync(NODE, ['--version'], { encoding: 'utf8' }).stdout.trim();
console.log(`Node ${version}, ${cpus().length} cores, load average ${loadavg().map((x) => x.toFixed(1)).join(' ')}; median of ${RUNS} new processes`);
console.log(`${'command'.padEnd(48)} ${'median s'.padStart(9)} ${'min s'.padStart(7)}   goal`);
for (const [label, t, goal] of rows) {
  const verdict = goal === null ? '' : `< ${goal} s ${t.median < goal ? 'met' : 'NOT met'}`;
  console.log(`${label.padEnd(48)} ${t.median.toFixed(3).padStart(9)} ${t.min.toFixed(3).padStart(7)}   ${verdict}`);
}
