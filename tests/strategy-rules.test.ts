/**
 * The state machine, gate and sizing rules of docs/strategy.md, one small hand-checkable case
 * each. Bars come from tests/helpers/z-bars.ts, which solves each bar's y close so that the
 * spread's z-score takes a chosen value (the strategy recomputes z itself with the rolling OLS).
 */
import { describe, expect, it } from 'vitest';
import { CointegrationStrategy } from '../src/strategies/cointegration/strategy.ts';
import type { Decision, StepResult } from '../src/strategies/types.ts';
import { testParams } from './helpers/params.ts';
import { naiveOlsZ, zBars } from './helpers/z-bars.ts';

const W = 40;

/** Runs the strategy over W−1 warm-up bars plus one bar per target; returns the targeted steps. */
function run(targets: number[], over: Record<string, unknown> = {}, equity = 100_000): { steps: StepResult[]; s: CointegrationStrategy; zb: ReturnType<typeof zBars> } {
  const s = new CointegrationStrategy(testParams(over));
  const zb = zBars(W, targets);
  const all = zb.bars.map((b) => s.onBar(b, { equity }));
  return { steps: all.slice(zb.first), s, zb };
}
const actions = (steps: StepResult[]): string[] =>
  steps.map(({ decision: d }) => (d.action === 'none' ? '-' : d.action === 'enter' ? `enter ${d.side}` : `close ${d.reason}`));

describe('strategy rules', () => {
  it('computes the z the helper aimed at, and nothing before t = W−1', () => {
    const s = new CointegrationStrategy(testParams());
    const zb = zBars(W, [0, 1.7, -1.2]);
    const diags = zb.bars.map((b) => s.onBar(b, { equity: 100_000 }).diagnostics);
    expect(diags.slice(0, W - 1).every((d) => d.z === null)).toBe(true);
    expect(diags[W - 2]!.z).toBeNull();
    expect(diags[W - 1]!.z).toBeCloseTo(0, 9);
    expect(diags[W]!.z).toBeCloseTo(1.7, 9);
    expect(diags[W + 1]!.z).toBeCloseTo(-1.2, 9);
  });

  it('enters SHORT at z >= entryZ and exits at z <= exitZ, sized by the spec (transform none)', () => {
    const { steps, zb } = run([0, 2.5, 1, 0.3]);
    expect(actions(steps)).toEqual(['-', 'enter SHORT', '-', 'close exit']);
    // Sizing by hand: G = 0.5 × 100000; q_y = G/(close_y + |b|·close_x), q_x = |b|·q_y, rounded down.
    const i = zb.first + 1;
    const bar = zb.bars[i]!;
    const win = zb.bars.slice(i - W + 1, i + 1);
    const { beta } = naiveOlsZ(win.map((b) => b.x.close), win.map((b) => b.y.close));
    const qy = 50_000 / (bar.y.close + Math.abs(beta) * bar.x.close);
    const d = steps[1]!.decision as Extract<Decision, { action: 'enter' }>;
    expect(beta).toBeGreaterThan(0);
    expect(d.orders).toEqual([
      { leg: 'y', side: 'SELL', qty: Math.floor(qy) },
      { leg: 'x', side: 'BUY', qty: Math.floor(Math.abs(beta) * qy) },
    ]);
    const c = steps[3]!.decision as Extract<Decision, { action: 'close' }>;
    expect(c.orders).toEqual([
      { leg: 'y', side: 'BUY', qty: Math.floor(qy) },
      { leg: 'x', side: 'SELL', qty: Math.floor(Math.abs(beta) * qy) },
    ]);
  });

  it('enters LONG at z <= −entryZ and exits at z >= −exitZ', () => {
    const { steps } = run([-2.5, -1, -0.3]);
    expect(actions(steps)).toEqual(['enter LONG', '-', 'close exit']);
    const d = steps[0]!.decision as Extract<Decision, { action: 'enter' }>;
    expect(d.orders.map((o) => `${o.leg} ${o.side}`)).toEqual(['y BUY', 'x SELL']);
  });

  it('a stop closes the position and cools down until a bar with |z| < exitZ', () => {
    const { steps } = run([-2.5, -3.8, -2.5, -1.0, 0.2, -2.6]);
    expect(actions(steps)).toEqual(['enter LONG', 'close stop', '-', '-', '-', 'enter LONG']);
    expect(steps.map((s) => s.diagnostics.coolingDown)).toEqual([false, true, true, true, false, false]);
  });

  it('a SHORT stops at z >= stopZ', () => {
    const { steps } = run([2.5, 3.7, 2.2]);
    expect(actions(steps)).toEqual(['enter SHORT', 'close stop', '-']);
  });

  it('does not enter when entryZ and stopZ are both crossed on one bar from FLAT', () => {
    const { steps } = run([3.8, 0, -3.8, 0, 2.5]);
    expect(actions(steps)).toEqual(['-', '-', '-', '-', 'enter SHORT']);
    expect(steps.every((s) => !s.diagnostics.coolingDown)).toBe(true);
  });

  it('closes with maxHolding at t − t_e >= maxHoldingBars, unless exit or stop closes first', () => {
    const a = run([2.5, 1.5, 1.5, 1.5, 1.5], { maxHoldingBars: 3 });
    expect(actions(a.steps)).toEqual(['enter SHORT', '-', '-', 'close maxHolding', '-']);
    const b = run([2.5, 1.5, 1.5, 0.3], { maxHoldingBars: 3 });
    expect(actions(b.steps)).toEqual(['enter SHORT', '-', '-', 'close exit']);
    // No cool-down after maxHolding: a fresh entry is allowed on the next bar.
    const c = run([2.5, 1.5, 1.5, 1.5, 2.5], { maxHoldingBars: 3 });
    expect(actions(c.steps)).toEqual(['enter SHORT', '-', '-', 'close maxHolding', 'enter SHORT']);
  });

  it('one transition per bar: an exit bar does not also enter the other way', () => {
    const { steps } = run([-2.5, 2.5, 2.5]);
    expect(actions(steps)).toEqual(['enter LONG', 'close exit', 'enter SHORT']);
  });

  it('gate: closed while fewer than gate.lookback bars exist, whatever the z', () => {
    const { steps } = run([2.5, 0, -2.5], { gate: { every: 1, lookback: 500, maxPValue: 1 } });
    expect(actions(steps)).toEqual(['-', '-', '-']);
    expect(steps.every((s) => s.diagnostics.gate.open === false && s.diagnostics.gate.pValue === null)).toBe(true);
  });

  it('gate: open when the Engle–Granger p-value <= maxPValue, closed otherwise; checked every gate.every bars from W−1', () => {
    const open = run([0, 0, 2.5, 0.2], { gate: { every: 3, lookback: W, maxPValue: 1 } });
    expect(actions(open.steps)).toEqual(['-', '-', 'enter SHORT', 'close exit']);
    expect(open.steps.map((s) => s.diagnostics.gate.checkedThisBar)).toEqual([true, false, false, true]);
    expect(open.steps[0]!.diagnostics.gate.pValue).toBeGreaterThanOrEqual(0);
    const shut = run([0, 0, 2.5, 0.2], { gate: { every: 3, lookback: W, maxPValue: 1e-12 } });
    expect(actions(shut.steps)).toEqual(['-', '-', '-', '-']);
    expect(shut.steps[0]!.diagnostics.gate.open).toBe(false);
  });

  it('gate: exits and stops act while the gate is closed', () => {
    const s = new CointegrationStrategy(testParams({ gate: { every: 1, lookback: W, maxPValue: 1e-12 } }));
    const zb = zBars(W, [1.0, 0.3]);
    for (const b of zb.bars.slice(0, zb.first + 1)) s.onBar(b, { equity: 100_000 });
    s.syncPosition({ qtyY: -100, qtyX: 200 });
    expect(s.position().side).toBe('SHORT');
    const last = s.onBar(zb.bars[zb.first + 1]!, { equity: 100_000 });
    expect(last.diagnostics.gate.open).toBe(false);
    expect(last.decision).toEqual({ action: 'close', reason: 'exit', side: 'SHORT', orders: [{ leg: 'y', side: 'BUY', qty: 100 }, { leg: 'x', side: 'SELL', qty: 200 }] });
  });

  it('long-only holds only the bought leg, sized with the full gross notional', () => {
    const long = run([-2.5, -0.3], { shortMode: 'long-only' });
    const i = long.zb.first;
    const d = long.steps[0]!.decision as Extract<Decision, { action: 'enter' }>;
    expect(d.orders).toEqual([{ leg: 'y', side: 'BUY', qty: Math.floor(50_000 / long.zb.bars[i]!.y.close) }]);
    expect((long.steps[1]!.decision as Extract<Decision, { action: 'close' }>).orders).toEqual([{ leg: 'y', side: 'SELL', qty: d.orders[0]!.qty }]);
    const short = run([2.5], { shortMode: 'long-only' });
    const e = short.steps[0]!.decision as Extract<Decision, { action: 'enter' }>;
    expect(e.orders).toEqual([{ leg: 'x', side: 'BUY', qty: Math.floor(50_000 / short.zb.bars[short.zb.first]!.x.close) }]);
  });

  it('skips an entry whose quantity rounds down to zero', () => {
    const { steps } = run([2.5, 0, -2.5], {}, 100); // G = 50: less than one share of y
    expect(actions(steps)).toEqual(['-', '-', '-']);
  });

  it('uses the log transform: p = ln(close)', () => {
    const s = new CointegrationStrategy(testParams({ transform: 'log' }));
    const zb = zBars(W, [0.5]);
    let last: StepResult | null = null;
    for (const b of zb.bars) last = s.onBar(b, { equity: 100_000 });
    const win = zb.bars.slice(-W);
    const want = naiveOlsZ(win.map((b) => Math.log(b.x.close)), win.map((b) => Math.log(b.y.close)));
    expect(last!.diagnostics.z).toBeCloseTo(want.z, 9);
    expect(last!.diagnostics.beta).toBeCloseTo(want.beta, 9);
  });
});
