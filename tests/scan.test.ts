/** `tandem scan`: every pair analysed and ranked, the same in worker threads as in-process. */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { analysePair, rankPairs, scanSeries, type CloseSeries, type PairResult } from '../src/backtest/scan.ts';
import { engleGranger, halfLife, johansen } from '../src/stats/index.ts';
import { gaussian, rng } from './helpers/pair-data.ts';
import { tandemArgv } from './helpers/tandem-cli.ts';

/** k symbols of n hourly bars: S1 is cointegrated with S0 (OU spread), the rest random walks. */
function universe(k: number, n: number, seed = 4): CloseSeries[] {
  const g = gaussian(rng(seed));
  const lp = Array.from({ length: k }, (_, i) => Math.log(20 + 7 * i));
  const out = lp.map((_, i) => ({ symbol: `S${String(i).padStart(2, '0')}`, time: new Float64Array(n), close: new Float64Array(n) }));
  let s = 0;
  for (let t = 0; t < n; t++) {
    for (let i = 0; i < k; i++) lp[i]! += 0.01 * g();
    s = 0.85 * s + 0.004 * g();
    for (let i = 0; i < k; i++) {
      out[i]!.time[t] = Date.UTC(2024, 0, 1) + t * 3_600_000;
      out[i]!.close[t] = Math.exp(i === 1 ? 0.3 + lp[0]! + s : lp[i]!);
    }
  }
  return out;
}

describe('scan', () => {
  it('analyses a pair with the stats functions on aligned log closes', () => {
    const [a, b] = universe(2, 400);
    const o = analysePair(a!, b!, 300);
    expect(o.ok).toBe(true);
    if (!o.ok) return;
    const r = o.result;
    const la = Array.from(a!.close.slice(-300), Math.log);
    const lb = Array.from(b!.close.slice(-300), Math.log);
    const ab = engleGranger(la, lb, { trend: 'c', autoLag: 'aic' });
    const ba = engleGranger(lb, la, { trend: 'c', autoLag: 'aic' });
    expect(r.bars).toBe(300);
    expect(r.pValue).toBe(Math.min(ab.pValue, ba.pValue));
    const [y, x, best] = ab.pValue <= ba.pValue ? [la, lb, ab] : [lb, la, ba];
    expect(r.beta).toBe(best.beta);
    expect(r.halfLife).toBe(halfLife(y.map((v, i) => v - best.alpha - best.beta * x[i]!)));
    expect(r.johansen.trace).toBe(johansen(la.map((v, i) => [v, lb[i]!]), 0, 1).traceStat[0]);
    expect(r.pValue).toBeLessThan(0.01);
    expect(r.correlation).toBeGreaterThan(0.3);
  });

  it('skips a pair with too few aligned bars, with the reason', () => {
    const [a, b] = universe(2, 20);
    const o = analysePair(a!, b!, 0);
    expect(o).toEqual({ ok: false, skipped: { a: 'S00', b: 'S01', bars: 20, reason: '20 aligned bars (need 30)' } });
  });

  it('ranks by p-value, then Johansen trace/critical, then half-life', () => {
    const base = { x: 'X', bars: 100, egYonX: { stat: 0, pValue: 0 }, egXonY: { stat: 0, pValue: 0 }, beta: 1, alpha: 0, correlation: 0 };
    const mk = (y: string, pValue: number, trace: number, hl: number): PairResult => ({ ...base, y, pValue, johansen: { trace, crit95: 15, cointegrated95: trace > 15 }, halfLife: hl });
    const ranked = rankPairs([mk('A', 0.2, 30, 5), mk('B', 0, 20, 5), mk('C', 0, 40, Infinity), mk('D', 0, 40, 3), mk('E', 0.01, 1, 1)]);
    expect(ranked.map((r) => r.y)).toEqual(['D', 'C', 'B', 'E', 'A']);
  });

  it('ranks the planted pair first, and worker threads give the same result as in-process', async () => {
    const u = universe(9, 600);
    const inline = await scanSeries(u, { lookback: 500, workers: 0, progress: false });
    const threaded = await scanSeries(u, { lookback: 500, workers: 2, progress: false });
    expect(inline.pairs).toHaveLength(36);
    expect(threaded.workers).toBe(2);
    expect(threaded.pairs).toEqual(inline.pairs);
    expect(new Set([inline.pairs[0]!.y, inline.pairs[0]!.x])).toEqual(new Set(['S00', 'S01']));
  });

  it('tandem scan prints the ranking and writes JSON', () => {
    const dir = mkdtempSync(join(tmpdir(), 'tandem-scan-'));
    const rows = ['time,symbol,open,high,low,close,volume'];
    for (const s of universe(5, 300)) for (let t = 0; t < s.time.length; t++) rows.push(`${new Date(s.time[t]!).toISOString()},${s.symbol},${s.close[t]},${s.close[t]},${s.close[t]},${s.close[t]},0`);
    writeFileSync(join(dir, 'u.csv'), rows.join('\n'));
    const r = spawnSync(process.execPath, tandemArgv(['scan', '--data', 'u.csv', '--json', 'scan.json', '--workers', '2', '--top', '3']), { cwd: dir, encoding: 'utf8' });
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    expect(r.stdout.split('\n')[1]).toMatch(/^1\s+S0[01]\s+S0[01]\s+300\s/);
    expect(r.stdout).toContain('10 pair(s) ranked');
    const json = JSON.parse(readFileSync(join(dir, 'scan.json'), 'utf8')) as { pairs: unknown[]; symbols: string[] };
    expect(json.pairs).toHaveLength(10);
    expect(json.symbols).toEqual(['S00', 'S01', 'S02', 'S03', 'S04']);
  });
});
