/** The backtest's JSON result: the streamed text is exactly JSON.stringify of the spec's shape. */
import { describe, expect, it } from 'vitest';
import { backtestJson } from '../src/backtest/output.ts';
import type { BacktestResult } from '../src/backtest/runner.ts';
import { rng } from './helpers/pair-data.ts';

describe('backtest json output', () => {
  it('formats times exactly as toISOString, day after day and far apart', () => {
    const r = rng(5);
    const times = [0, -1, 86_399_999, 86_400_000, -62_167_219_200_000, 253_402_300_799_999, 253_402_300_800_000, -62_167_219_200_001];
    // Fractions of a millisecond (a Date cuts them toward zero), then back to whole ones on the same day.
    times.push(1.5, -1.5, 1_700_000_000_000.7, -1_700_000_000_000.3, 1_700_000_000_001, 1_700_000_000_002.25, 1_700_000_000_003);
    let t = Date.UTC(2024, 0, 1, 23, 55);
    for (let i = 0; i < 20_000; i++) times.push((t += 60_000 + Math.floor(r() * 1000)));
    for (let i = 0; i < 20_000; i++) times.push(Math.floor((r() - 0.5) * 1e14));
    // As the equity curve's times, the bulk of the JSON's (the same formatter writes the fills' and trades').
    const result = { startingCash: 1, finalEquity: 1, metrics: {}, trades: [], fills: [], equity: { time: Float64Array.from(times), equity: new Float64Array(times.length) } } as unknown as BacktestResult;
    const written = (JSON.parse(backtestJson(result)) as { equity: { time: string }[] }).equity.map((e) => e.time);
    expect(written).toHaveLength(times.length);
    times.forEach((ms, i) => expect(written[i]).toBe(new Date(ms).toISOString()));
  });

  it('streams the equity curve as JSON.stringify would write it, far years and repeated values too', () => {
    const n = 5000;
    const time = new Float64Array(n).map((_, i) => Date.UTC(2024, 0, 2, 14, 30) + i * 300_000);
    // Times beyond years 0000-9999 among them, then back to the day before.
    time.set([253_402_300_800_000, -62_167_219_200_001, 0, Date.UTC(2024, 0, 2, 14, 30)], 100);
    const equity = new Float64Array(n).map((_, i) => 100_000 + Math.sin(i) * 1234.5678 + (i === 7 ? NaN : 0));
    const r = { startingCash: 100_000, finalEquity: 99_000, metrics: { sharpe: 1 }, trades: [], fills: [], equity: { time, equity } } as unknown as BacktestResult;
    const expected = JSON.stringify({
      startingCash: 100_000, finalEquity: 99_000, metrics: { sharpe: 1 }, trades: [], fills: [],
      equity: Array.from(time, (t, i) => ({ time: new Date(t).toISOString(), equity: equity[i] })),
    }) + '\n';
    expect(backtestJson(r)).toBe(expected);
  });

  it('writes trades and fills as JSON.stringify would, across chunk boundaries, with nulls, odd strings and numbers', () => {
    const r0 = rng(11);
    const t0 = Date.UTC(2024, 0, 2, 14, 30);
    const odd = ['ETHA', 'BRK B', 'É"\\\n', 'x'.repeat(3000), '€uro', 'y'.repeat(1_200_000)];
    const trades = Array.from({ length: 30_000 }, (_, i) => ({
      side: i % 2 ? 'LONG' : 'SHORT', entryTime: t0 + i * 300_000, entryBar: i,
      exitTime: i % 7 === 0 ? null : i === 5 ? -62_167_219_200_001 : t0 + i * 300_000 + 123, exitBar: null,
      exitReason: i % 7 === 0 ? null : 'exit', qtyY: Math.round(r0() * 1000), qtyX: -r0() * 1e-9, pnl: i === 3 ? Infinity : (r0() - 0.5) * 1e6,
    }));
    const fills = Array.from({ length: 60_000 }, (_, i) => ({
      time: t0 + i * 150_000, leg: 'y', symbol: i % 5000 === 1 ? odd[(i / 5000) % odd.length | 0]! : 'ETHV', side: i % 2 ? 'BUY' : 'SELL',
      qty: i, price: r0() * 200, commission: i === 9 ? NaN : r0(),
    }));
    const time = new Float64Array(100_000).map((_, i) => t0 + i * 60_000);
    // Runs of one value (equity while flat), NaN and signed zeros among them.
    const equity = new Float64Array(100_000).map((_, i) => (i % 10 < 6 ? 5e6 + Math.floor(i / 10) : i % 10 === 6 ? [NaN, -0, 0][i % 3]! : r0() * 1e7));
    const diagnostics = { bars: 3, hint: 'a "quoted" hint' };
    const r = { startingCash: 100_000, finalEquity: 1, metrics: { sharpe: NaN }, diagnostics, trades, fills, equity: { time, equity } } as unknown as BacktestResult;
    const iso = (t: number | null) => (t === null ? null : new Date(t).toISOString());
    const expected = JSON.stringify({
      startingCash: 100_000, finalEquity: 1, metrics: { sharpe: NaN }, diagnostics,
      trades: trades.map((t) => ({ side: t.side, entryTime: iso(t.entryTime), exitTime: iso(t.exitTime), exitReason: t.exitReason, qtyY: t.qtyY, qtyX: t.qtyX, pnl: t.pnl })),
      fills: fills.map((f) => ({ time: iso(f.time), symbol: f.symbol, side: f.side, qty: f.qty, price: f.price, commission: f.commission })),
      equity: Array.from(time, (t, i) => ({ time: iso(t), equity: equity[i] })),
    }) + '\n';
    const got = backtestJson(r);
    expect(got.length).toBe(expected.length);
    expect(got === expected).toBe(true);
  });
});
