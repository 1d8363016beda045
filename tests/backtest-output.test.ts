/** The backtest's JSON result: the streamed text is exactly JSON.stringify of the spec's shape. */
import { describe, expect, it } from 'vitest';
import { backtestJson, isoFormatter } from '../src/backtest/output.ts';
import type { BacktestResult } from '../src/backtest/runner.ts';
import { rng } from './helpers/pair-data.ts';

describe('backtest json output', () => {
  it('formats times exactly as toISOString, day after day and far apart', () => {
    const f = isoFormatter();
    const r = rng(5);
    const times = [0, -1, 86_399_999, 86_400_000, -62_167_219_200_000, 253_402_300_799_999, 253_402_300_800_000, -62_167_219_200_001];
    let t = Date.UTC(2024, 0, 1, 23, 55);
    for (let i = 0; i < 20_000; i++) times.push((t += 60_000 + Math.floor(r() * 1000)));
    for (let i = 0; i < 20_000; i++) times.push(Math.floor((r() - 0.5) * 1e14));
    for (const ms of times) expect(f(ms)).toBe(new Date(ms).toISOString());
  });

  it('streams the equity curve as JSON.stringify would write it', () => {
    const n = 5000;
    const time = new Float64Array(n).map((_, i) => Date.UTC(2024, 0, 2, 14, 30) + i * 300_000);
    const equity = new Float64Array(n).map((_, i) => 100_000 + Math.sin(i) * 1234.5678 + (i === 7 ? NaN : 0));
    const r = { startingCash: 100_000, finalEquity: 99_000, metrics: { sharpe: 1 }, trades: [], fills: [], equity: { time, equity } } as unknown as BacktestResult;
    const expected = JSON.stringify({
      startingCash: 100_000, finalEquity: 99_000, metrics: { sharpe: 1 }, trades: [], fills: [],
      equity: Array.from(time, (t, i) => ({ time: new Date(t).toISOString(), equity: equity[i] })),
    }) + '\n';
    expect(backtestJson(r)).toBe(expected);
  });
});
