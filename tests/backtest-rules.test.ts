/**
 * The runner's rules (docs/strategy.md, "Fills in the backtest", "Equity and metrics"), checked by
 * hand on small cases: fills at the next open with slippage, both commission models, cash and
 * equity, no decision on the last bar, a position open at the end, and the metric formulas.
 */
import { describe, expect, it } from 'vitest';
import { commission, fillPrice } from '../src/backtest/costs.ts';
import { barsPerYear } from '../src/backtest/metrics.ts';
import { backtestJson } from '../src/backtest/output.ts';
import { runBacktest } from '../src/backtest/runner.ts';
import type { CointegrationParams } from '../src/strategies/cointegration/params.ts';
import { CointegrationStrategy } from '../src/strategies/cointegration/strategy.ts';
import type { PairBar } from '../src/strategies/types.ts';
import { testParams } from './helpers/params.ts';
import { zBars } from './helpers/z-bars.ts';

const W = 40;
function backtest(bars: PairBar[], p: CointegrationParams, slippageBps = 10, startingCash = 100_000) {
  return runBacktest(bars, new CointegrationStrategy(p), { legs: p.legs, bar: p.bar, slippageBps, startingCash });
}

describe('backtest rules', () => {
  it('commission models: per-share with minimum and cap, percent with minimum', () => {
    const stk = { model: 'per-share', perShare: 0.005, minimum: 1.0, maxPctOfValue: 0.01 } as const;
    expect(commission(stk, 100, 25)).toBe(1); // 0.50 → minimum 1.00
    expect(commission(stk, 1000, 25)).toBe(5); // 0.005 × 1000
    expect(commission(stk, 10, 5)).toBe(0.5); // minimum 1.00 capped at 1% of 50
    expect(commission(stk, -1000, 25)).toBe(5);
    const cr = { model: 'percent', pct: 0.0018, minimum: 1.75 } as const;
    expect(commission(cr, 2, 3000)).toBeCloseTo(10.8, 12);
    expect(commission(cr, 0.01, 3000)).toBe(1.75);
  });

  it('slippage: buys at open·(1+s), sells at open·(1−s)', () => {
    expect(fillPrice(100, 'BUY', 2)).toBeCloseTo(100.02, 12);
    expect(fillPrice(100, 'SELL', 2)).toBeCloseTo(99.98, 12);
  });

  it('bars per year: STK 252 × 390/minutes (252 for daily), CRYPTO 365 × 1440/minutes, mixed legs STK', () => {
    expect(barsPerYear(['STK', 'STK'], '5min')).toBe(252 * 78);
    expect(barsPerYear(['STK', 'STK'], '1d')).toBe(252);
    expect(barsPerYear(['CRYPTO', 'CRYPTO'], '1h')).toBe(365 * 24);
    expect(barsPerYear(['CRYPTO', 'CRYPTO'], '1d')).toBe(365);
    expect(barsPerYear(['STK', 'CRYPTO'], '1min')).toBe(252 * 390);
  });

  it('fills at the next open with slippage and per-share commissions; cash, equity and pnl by hand', () => {
    const p = testParams();
    const zb = zBars(W, [0, 2.5, 1, 0.3, 0, 0]);
    const r = backtest(zb.bars, p, 10);
    const e = zb.first + 1; // SHORT decided here
    const x = zb.first + 3; // exit decided here
    expect(r.trades).toHaveLength(1);
    const t = r.trades[0]!;
    expect(t).toMatchObject({ side: 'SHORT', entryTime: zb.bars[e]!.time, exitTime: zb.bars[x]!.time, exitReason: 'exit' });
    const { qtyY: qy, qtyX: qx } = t;
    const b = zb.bars;
    const s = 0.001;
    const fee = (q: number, px: number) => Math.min(Math.max(1, 0.005 * q), 0.01 * q * px);
    const pyIn = b[e + 1]!.y.open * (1 - s);
    const pxIn = b[e + 1]!.x.open * (1 + s);
    const pyOut = b[x + 1]!.y.open * (1 + s);
    const pxOut = b[x + 1]!.x.open * (1 - s);
    expect(r.fills.map((f) => [f.time, f.symbol, f.side, f.qty])).toEqual([
      [b[e + 1]!.time, 'YYY', 'SELL', qy],
      [b[e + 1]!.time, 'XXX', 'BUY', qx],
      [b[x + 1]!.time, 'YYY', 'BUY', qy],
      [b[x + 1]!.time, 'XXX', 'SELL', qx],
    ]);
    expect(r.fills.map((f) => f.price)).toEqual([pyIn, pxIn, pyOut, pxOut]);
    expect(r.fills.map((f) => f.commission)).toEqual([fee(qy, pyIn), fee(qx, pxIn), fee(qy, pyOut), fee(qx, pxOut)]);
    const cashIn = 100_000 + qy * pyIn - qx * pxIn - fee(qy, pyIn) - fee(qx, pxIn);
    const cashOut = cashIn - qy * pyOut + qx * pxOut - fee(qy, pyOut) - fee(qx, pxOut);
    // Equity: cash + Σ q·close at every aligned close.
    expect(r.equity.equity[e]).toBe(100_000);
    expect(r.equity.equity[e + 1]).toBeCloseTo(cashIn - qy * b[e + 1]!.y.close + qx * b[e + 1]!.x.close, 8);
    expect(r.equity.equity[x + 1]).toBeCloseTo(cashOut, 8);
    expect(r.finalEquity).toBeCloseTo(cashOut, 8);
    expect(t.pnl).toBeCloseTo(cashOut - 100_000, 8);
    expect(r.metrics.commissions).toBeCloseTo(r.fills.reduce((a, f) => a + f.commission, 0), 12);
    expect(r.metrics.trades).toBe(1);
    expect(r.metrics.avgHoldingBars).toBe(2);
    expect(r.metrics.winRate).toBe(t.pnl > 0 ? 1 : 0);
  });

  it('percent commissions on CRYPTO legs, quantities in 0.0001', () => {
    const crypto = (symbol: string) => ({ symbol, secType: 'CRYPTO', exchange: 'PAXOS', currency: 'USD' });
    const p = testParams({ legs: { y: crypto('BTC'), x: crypto('ETH') }, bar: '1h' });
    const zb = zBars(W, [0, -2.5, -0.2, 0]);
    const r = backtest(zb.bars, p, 0);
    expect(r.trades).toHaveLength(1);
    for (const f of r.fills) {
      expect(Math.round(f.qty * 1e4) / 1e4).toBe(f.qty);
      expect(f.commission).toBe(Math.max(1.75, 0.0018 * f.qty * f.price));
    }
    expect(r.fills.some((f) => !Number.isInteger(f.qty))).toBe(true);
  });

  it('takes no decision on the last bar', () => {
    const p = testParams();
    const zb = zBars(W, [0, 0, 2.5]);
    const r = backtest(zb.bars, p);
    expect(r.trades).toEqual([]);
    expect(r.fills).toEqual([]);
    expect(r.bars).toBe(zb.bars.length);
    expect(r.equity.equity.length).toBe(zb.bars.length);
    expect(r.finalEquity).toBe(100_000);
  });

  it('a position open at the end is marked at the last close and reported open', () => {
    const p = testParams();
    const zb = zBars(W, [0, 2.5, 1.0, 1.2]);
    const r = backtest(zb.bars, p, 5);
    expect(r.trades).toHaveLength(1);
    const t = r.trades[0]!;
    expect(t.exitReason).toBeNull();
    expect(t.exitTime).toBeNull();
    const last = zb.bars[zb.bars.length - 1]!;
    const flows = r.fills.reduce((a, f) => a + (f.side === 'BUY' ? -1 : 1) * f.qty * f.price - f.commission, 0);
    expect(t.pnl).toBeCloseTo(flows - t.qtyY * last.y.close + t.qtyX * last.x.close, 8);
    expect(r.finalEquity).toBeCloseTo(100_000 + t.pnl, 8);
    expect(r.metrics).toMatchObject({ trades: 1, winRate: 0, avgHoldingBars: 0 });
    const json = JSON.parse(backtestJson(r)) as { trades: { exitReason: unknown; exitTime: unknown }[] };
    expect(json.trades[0]).toMatchObject({ exitReason: null, exitTime: null });
  });

  it('metrics follow the formulas on the equity curve', () => {
    const p = testParams({ maxHoldingBars: 5 });
    const zb = zBars(W, [0, 2.5, 1.5, -2.6, -1.0, -0.2, 2.3, 0.8, 0.1, 0]);
    const r = backtest(zb.bars, p, 3);
    const E = Array.from(r.equity.equity);
    const n = E.length;
    const rets = E.slice(1).map((v, i) => v / E[i]! - 1);
    const mean = rets.reduce((a, v) => a + v, 0) / rets.length;
    const sd = Math.sqrt(rets.reduce((a, v) => a + (v - mean) ** 2, 0) / (rets.length - 1));
    const B = 252 * 78;
    let peak = -Infinity;
    let mdd = 0;
    for (const v of E) {
      peak = Math.max(peak, v);
      mdd = Math.max(mdd, (peak - v) / peak);
    }
    expect(r.metrics.totalReturn).toBeCloseTo(E[n - 1]! / 100_000 - 1, 12);
    expect(r.metrics.sharpe).toBeCloseTo((mean / sd) * Math.sqrt(B), 8);
    expect(r.metrics.cagr).toBeCloseTo(Math.pow(E[n - 1]! / 100_000, B / (n - 1)) - 1, 6);
    expect(r.metrics.maxDrawdown).toBeCloseTo(mdd, 12);
    expect(r.trades.length).toBeGreaterThanOrEqual(2);
  });

  it('JSON output has exactly the spec keys, ISO times and positive quantities', () => {
    const p = testParams();
    const zb = zBars(W, [0, 2.5, 1, 0.3, 0]);
    const json = JSON.parse(backtestJson(backtest(zb.bars, p))) as Record<string, unknown>;
    expect(Object.keys(json)).toEqual(['startingCash', 'finalEquity', 'metrics', 'diagnostics', 'trades', 'fills', 'equity']);
    expect(Object.keys(json.metrics as object)).toEqual(['totalReturn', 'cagr', 'sharpe', 'maxDrawdown', 'trades', 'winRate', 'avgHoldingBars', 'commissions']);
    const trade = (json.trades as Record<string, unknown>[])[0]!;
    expect(Object.keys(trade)).toEqual(['side', 'entryTime', 'exitTime', 'exitReason', 'qtyY', 'qtyX', 'pnl']);
    const fill = (json.fills as Record<string, unknown>[])[0]!;
    expect(Object.keys(fill)).toEqual(['time', 'symbol', 'side', 'qty', 'price', 'commission']);
    expect(fill.time).toMatch(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/);
    expect((json.equity as unknown[]).length).toBe(zb.bars.length);
    expect((json.equity as Record<string, unknown>[])[0]).toEqual({ time: new Date(zb.bars[0]!.time).toISOString(), equity: 100_000 });
  });
});
