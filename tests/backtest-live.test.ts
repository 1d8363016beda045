/**
 * The backtest on the live trading node (src/backtest/live-backtest.ts): where no live rule
 * interferes it gives the spec runner's result bit for bit (so the naive re-implementation's, see
 * backtest-naive.test.ts); where one does, it follows the live rule and says so: market hours,
 * risk limits, the daily-loss stop, crypto cash-quantity buys; and an engine config's strategies
 * share one account.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { backtestFile, backtestNodeFile } from '../src/backtest/backtest-file.ts';
import { runLiveBacktest } from '../src/backtest/live-backtest.ts';
import { backtestJson } from '../src/backtest/output.ts';
import { runBacktest } from '../src/backtest/runner.ts';
import type { RiskLimits } from '../src/engine/risk.ts';
import type { CointegrationParams } from '../src/strategies/cointegration/params.ts';
import { CointegrationStrategy } from '../src/strategies/cointegration/strategy.ts';
import type { PairBar } from '../src/strategies/types.ts';
import { pairCsv, syntheticPair } from './helpers/pair-data.ts';
import { testParams } from './helpers/params.ts';
import { runTandem } from './helpers/processes.ts';
import { zBars } from './helpers/z-bars.ts';

const W = 40;
const OPEN_LIMITS: RiskLimits = { maxGrossNotional: 1e12, maxPositionNotional: 1e12, maxDailyLoss: 1e12, allowOutsideRth: false };

function spec(bars: PairBar[], p: CointegrationParams, slippageBps: number, cash = 100_000) {
  return runBacktest(bars, new CointegrationStrategy(p), { legs: p.legs, bar: p.bar, slippageBps, startingCash: cash, explain: { lookback: p.lookback, entryZ: p.entryZ, stopZ: p.stopZ } });
}

function live(bars: PairBar[], p: CointegrationParams, slippageBps: number, risk: RiskLimits = OPEN_LIMITS, cash = 100_000) {
  return runLiveBacktest({ strategies: [{ entry: { name: 'pair', strategy: p as never }, slippageBps, bars }], startingCash: cash, risk });
}

/** One New York trading day (Tuesday 2 January 2024) of 1-minute bars: every decision inside regular hours. */
const oneDay = (seed: number) => [...syntheticPair({ n: 390, seed, stepMs: 60_000, spreadVol: 0.003, kappa: 0.08 })];

describe('backtest on the live node', () => {
  it('gives the spec runner\'s result bit for bit when no live rule interferes (hand-checked scenarios, OLS and Kalman, in hours)', async () => {
    const cases: [string, PairBar[], CointegrationParams, number][] = [
      ['enter SHORT, exit', zBars(W, [0, 2.5, 1, 0.3, 0, 0]).bars, testParams(), 10],
      ['open at the end', zBars(W, [0, 2.5, 1.0, 1.2]).bars, testParams(), 5],
      ['maxHolding, stop, both sides', zBars(W, [0, 2.5, 1.5, -2.6, -1.0, -0.2, 2.3, 0.8, 0.1, 0, 3.8, 0.2, 0]).bars, testParams({ maxHoldingBars: 5 }), 3],
      ['a day of 1-min bars, log OLS', oneDay(5), testParams({ bar: '1min', transform: 'log', lookback: 60, entryZ: 1.5, exitZ: 0.3, stopZ: 3 }), 2],
      ['a day of 1-min bars, Kalman', oneDay(8), testParams({ bar: '1min', transform: 'log', hedge: { method: 'kalman', delta: 1e-6, ve: 1e-5 }, lookback: 50, entryZ: 1.2, exitZ: 0.2, stopZ: 3 }), 1],
    ];
    let trades = 0;
    for (const [name, bars, p, slip] of cases) {
      const a = spec(bars, p, slip);
      const b = await live(bars, p, slip);
      expect(b.stopReason, name).toBe('end-of-data');
      expect(b.refusals, name).toEqual([]);
      expect(backtestJson(b.account), name).toBe(backtestJson(a));
      trades += a.trades.length;
    }
    expect(trades).toBeGreaterThan(6);
  }, 60_000);

  it('refuses a decision at a bar that ends after the 16:00 close, counts it under market hours and says why nothing traded', async () => {
    // The entry is decided on the bar 15:55-16:00 New York (20:55 UTC): the stock market is closed at its end.
    const first = zBars(W, [0, 2.5, 1, 0.3, 0, 0]);
    const e = first.first + 1;
    const zb = zBars(W, [0, 2.5, 1, 0.3, 0, 0], { start: Date.UTC(2024, 0, 2, 20, 55) - e * 300_000 });
    const p = testParams();
    expect(spec(zb.bars, p, 0).trades).toHaveLength(1); // the spec's rules trade it at the next day's open
    const r = await live(zb.bars, p, 0);
    expect(r.account.trades).toEqual([]);
    expect(r.account.fills).toEqual([]);
    expect(r.account.diagnostics.refused).toEqual({ risk: 0, marketHours: 1 });
    expect(r.account.diagnostics.hint).toBe('every entry was refused: 0 by risk limits, 1 by market hours');
    expect(r.refusals).toHaveLength(1);
    expect(r.refusals[0]).toMatchObject({ strategyId: 'pair', kind: 'marketHours', count: 1 });
    expect(r.refusals[0]!.reason).toMatch(/market closed for YYY \(STK\)/);
    expect(r.account.finalEquity).toBe(100_000);
  });

  it('counts repeated refusals as one row per rule and symbol, with the first refusal\'s text', async () => {
    // Three entry signals in a row after the 16:00 close (21:00 UTC in January): each is refused, the
    // strategy is synced back to flat and signals again on the next bar.
    const first = zBars(W, [0, 2.5, 2.6, 2.7, 0.3, 0]);
    const e = first.first + 1;
    const zb = zBars(W, [0, 2.5, 2.6, 2.7, 0.3, 0], { start: Date.UTC(2024, 0, 2, 21, 0) - e * 300_000 });
    const r = await live(zb.bars, testParams(), 0);
    expect(r.account.trades).toEqual([]);
    expect(r.account.diagnostics.refused).toEqual({ risk: 0, marketHours: 3 });
    expect(r.refusals).toHaveLength(1);
    expect(r.refusals[0]).toMatchObject({ strategyId: 'pair', kind: 'marketHours', count: 3 });
    // The first refusal's text: the end of the first refused bar (21:05 UTC).
    expect(r.refusals[0]!.reason).toBe('market closed for YYY (STK) at 2024-01-02T21:05:00.000Z');
  });

  it('refuses an entry above risk.maxGrossNotional and lists the reason', async () => {
    const zb = zBars(W, [0, 2.5, 1, 0.3, 0, 0]);
    const r = await live(zb.bars, testParams(), 0, { ...OPEN_LIMITS, maxGrossNotional: 30_000 });
    expect(r.account.trades).toEqual([]);
    expect(r.account.diagnostics.refused).toEqual({ risk: 1, marketHours: 0 });
    expect(r.refusals[0]).toMatchObject({ kind: 'risk', count: 1 });
    expect(r.refusals[0]!.reason).toMatch(/above risk\.maxGrossNotional 30000/);
  });

  it('the daily-loss limit flattens at the next open and ends the trading, as the node does live', async () => {
    const zb = zBars(W, [0, 2.5, 2.2, 2.4, 2.1, 0.3, 0, 2.6, 0.2, 0]);
    const p = testParams();
    expect(spec(zb.bars, p, 20).trades.length).toBe(2);
    const r = await live(zb.bars, p, 20, { ...OPEN_LIMITS, maxDailyLoss: 1 });
    expect(r.stopReason).toBe('daily-loss');
    expect(r.account.trades).toHaveLength(1);
    const t = r.account.trades[0]!;
    expect(t.exitReason).toBe('daily-loss');
    // Entry decided at bar e, filled at e+1's open; the loss is seen at e+1's close and flattened at e+2's open.
    expect(t.exitBar).toBe(t.entryBar + 1);
    const f = r.account.fills;
    expect(f).toHaveLength(4);
    expect(f[2]!.time).toBe(zb.bars[t.exitBar! + 1]!.time);
    expect(f[2]!.price).toBe(zb.bars[t.exitBar! + 1]!.y.open * (1 + 0.002)); // buys back the short y at the open + slippage
    // Flat after the stop: equity stays at the last value.
    const E = Array.from(r.account.equity.equity);
    expect(new Set(E.slice(t.exitBar! + 1)).size).toBe(1);
  });

  it('crypto buys go out by cash quantity and fill the whole increments it buys at the next open', async () => {
    const crypto = (symbol: string) => ({ symbol, secType: 'CRYPTO', exchange: 'PAXOS', currency: 'USD' });
    const p = testParams({ legs: { y: crypto('BTC'), x: crypto('ETH') }, bar: '5min', shortMode: 'long-only' });
    const zb = zBars(W, [0, -2.5, -0.2, 0]);
    const decided = spec(zb.bars, p, 5);
    const r = await live(zb.bars, p, 5);
    expect(decided.trades).toHaveLength(1);
    expect(r.account.trades).toHaveLength(1);
    const [buy, sell] = r.account.fills;
    const e = decided.trades[0]!.entryBar;
    // The executor sends qty × the decision bar's close as cash; the broker buys whole 0.0001s at open·(1+s).
    const cash = Math.round(decided.trades[0]!.qtyY * zb.bars[e]!.y.close * 100) / 100;
    const price = zb.bars[e + 1]!.y.open * (1 + 0.0005);
    expect(buy).toMatchObject({ symbol: 'BTC', side: 'BUY', price });
    expect(buy!.qty).toBe(Number((Math.floor(cash / price / 0.0001 + 1e-9) * 0.0001).toFixed(12)));
    expect(buy!.qty).not.toBe(decided.trades[0]!.qtyY);
    // The close sells exactly what was bought.
    expect(sell).toMatchObject({ symbol: 'BTC', side: 'SELL', qty: buy!.qty });
    expect(r.account.trades[0]!.qtyY).toBe(buy!.qty);
  });

  it('crypto with shortMode hedge is refused as the live node refuses it', async () => {
    const crypto = (symbol: string) => ({ symbol, secType: 'CRYPTO', exchange: 'PAXOS', currency: 'USD' });
    const p = testParams({ legs: { y: crypto('BTC'), x: crypto('ETH') } });
    await expect(live(zBars(W, [0, 1]).bars, p, 0)).rejects.toThrow(/cannot be sold short at IBKR.*shortMode: long-only/);
  });
});

describe('a bar source that fails', () => {
  it('ends the run with its error and leaves nothing of the node running', async () => {
    // As a bar stream fails (a malformed row, or rows out of order): the iterator throws mid-run.
    function* breaking(): Generator<PairBar> {
      let k = 0;
      for (const b of syntheticPair({ n: 500, seed: 3, stepMs: 60_000 })) {
        if (k++ === 300) throw new Error('the bar source broke');
        yield b;
      }
    }
    const timers = () => process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length;
    const before = timers();
    await expect(runLiveBacktest({ strategies: [{ entry: { name: 'pair', strategy: testParams() as never }, slippageBps: 0, bars: breaking() }], startingCash: 100_000, risk: { ...OPEN_LIMITS, allowOutsideRth: true } }))
      .rejects.toThrow('the bar source broke');
    // The node was stopped before the error came out: none of its timers is left (they would keep a CLI process alive).
    expect(timers()).toBe(before);
  });
});

describe('portfolio backtests', () => {
  const dir = mkdtempSync(join(tmpdir(), 'tandem-bt-live-'));
  const zb = zBars(W, [0, 2.5, 1, 0.3, 0, 0]);
  // Two pairs with the same prices under other names: both strategies signal on the same bars.
  const file = join(dir, 'four.csv');
  writeFileSync(file, pairCsv(zb.bars, 'YYY', 'XXX') + pairCsv(zb.bars, 'AAA', 'BBB').split('\n').slice(1).join('\n'));
  const config = (name: string, y: string, x: string, capitalShare?: number) => ({
    file: `${name}.yaml`, name, costs: { slippageBps: 0 }, ...(capitalShare !== undefined ? { capitalShare } : {}),
    strategy: testParams({ legs: { y: { symbol: y, secType: 'STK', exchange: 'SMART', currency: 'USD' }, x: { symbol: x, secType: 'STK', exchange: 'SMART', currency: 'USD' } } }) as never,
  });

  it('splits the capital as the node does and sums the books into the account', async () => {
    const run = await backtestNodeFile({ configs: [config('one', 'YYY', 'XXX'), config('two', 'AAA', 'BBB')], dataFile: file, startingCash: 100_000, risk: OPEN_LIMITS, progress: false });
    const [one, two] = run.live!.strategies;
    expect(one!.result.startingCash).toBe(50_000);
    expect(two!.result.startingCash).toBe(50_000);
    // Each sizes from its own 50k: the same trade as a lone 50k backtest.
    const alone = await backtestFile({ config: config('one', 'YYY', 'XXX'), dataFile: file, startingCash: 50_000, risk: OPEN_LIMITS, progress: false });
    expect(backtestJson(one!.result)).toBe(backtestJson(alone.result));
    expect(two!.result.trades.map((t) => [t.qtyY, t.qtyX])).toEqual(one!.result.trades.map((t) => [t.qtyY, t.qtyX]));
    const acct = run.result;
    expect(acct.trades).toHaveLength(2);
    expect(acct.equity.equity.length).toBe(zb.bars.length);
    for (let i = 0; i < zb.bars.length; i++) expect(acct.equity.equity[i]).toBe(one!.result.equity.equity[i]! + two!.result.equity.equity[i]!);
  });

  it('applies the account\'s risk limits to all strategies together (capitalShare as configured)', async () => {
    const run = await backtestNodeFile({
      configs: [config('one', 'YYY', 'XXX', 0.7), config('two', 'AAA', 'BBB')], dataFile: file, startingCash: 100_000, progress: false,
      risk: { ...OPEN_LIMITS, maxGrossNotional: 45_000 },
    });
    const [one, two] = run.live!.strategies;
    expect(one!.result.startingCash).toBe(70_000);
    expect(two!.result.startingCash).toBeCloseTo(30_000, 9);
    // one enters with ~35k gross; two's ~15k more would pass alone but not on top of one's position.
    expect(one!.result.trades).toHaveLength(1);
    expect(two!.result.trades).toEqual([]);
    expect(two!.result.diagnostics.refused).toEqual({ risk: 1, marketHours: 0 });
    expect(run.live!.refusals).toEqual([expect.objectContaining({ strategyId: 'two', kind: 'risk', count: 1 })]);
  });

  it('`tandem backtest --config configs/engine/Engine.yaml` backtests its strategies together on one account', async () => {
    const engine = resolve(import.meta.dirname, '..', 'configs/engine/Engine.yaml');
    // ETHA/ETHV in 5-minute bars and BTC/ETH in hours, one file.
    const stk = pairCsv(syntheticPair({ n: 600, seed: 4, start: Date.UTC(2024, 0, 2, 14, 30) }), 'ETHA', 'ETHV');
    const cr = pairCsv(syntheticPair({ n: 900, seed: 6, stepMs: 3_600_000, start: Date.UTC(2024, 0, 2, 0, 0) }), 'BTC', 'ETH');
    writeFileSync(join(dir, 'engine-bars.csv'), stk + cr.split('\n').slice(1).join('\n'));
    const r = await runTandem(['backtest', '--config', engine, '--data', 'engine-bars.csv', '--cash', '100000'], dir);
    expect(r.err).toBe('');
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/starting cash\s+100000\.00/);
    expect(r.out).toMatch(/strategy\s+cointegration_etha_ethv: start 50000\.00, final [\d.]+, return -?[\d.]+%, \d+ trades/);
    expect(r.out).toMatch(/strategy\s+cointegration_btc_eth: start 50000\.00, final [\d.]+, return -?[\d.]+%, \d+ trades/);
  }, 120_000);

  it('`tandem backtest --spec-rules` runs the spec runner; without it the live node refuses the 16:00 decision', async () => {
    const first = zBars(W, [0, 2.5, 1, 0.3, 0, 0]);
    const e = first.first + 1;
    const zb = zBars(W, [0, 2.5, 1, 0.3, 0, 0], { start: Date.UTC(2024, 0, 2, 20, 55) - e * 300_000 });
    writeFileSync(join(dir, 'close.csv'), pairCsv(zb.bars, 'YYY', 'XXX'));
    writeFileSync(join(dir, 'pair.yaml'), `name: pair\nstrategy:\n  type: cointegration\n  legs:\n    y: { symbol: YYY, secType: STK, exchange: SMART }\n    x: { symbol: XXX, secType: STK, exchange: SMART }\n  bar: 5min\n  transform: none\n  lookback: ${W}\n  entryZ: 2.0\n  exitZ: 0.5\n  stopZ: 3.5\n  sizing: { capitalFraction: 0.5 }\ncosts:\n  slippageBps: 0\n`);
    const spec = await runTandem(['backtest', '--config', 'pair.yaml', '--data', 'close.csv', '--spec-rules'], dir);
    expect(spec.code).toBe(0);
    expect(spec.out).toMatch(/trades\s+1 \(0 open at the end\)/);
    const live = await runTandem(['backtest', '--config', 'pair.yaml', '--data', 'close.csv'], dir);
    expect(live.err).toBe('');
    expect(live.out).toMatch(/trades\s+0 \(0 open at the end\)/);
    expect(live.out).toMatch(/refused\s+1 × pair: market closed for YYY \(STK\) at 2024-01-02T21:00:00\.000Z/);
    expect(live.out).toMatch(/why no trades\s+every entry was refused: 0 by risk limits, 1 by market hours/);
  }, 120_000);
});
