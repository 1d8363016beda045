/**
 * Save/restore and reconciliation: a strategy restored mid-run (from its JSON state) makes the
 * same decisions as one that ran straight through; syncPosition adopts the broker's holdings.
 */
import { describe, expect, it } from 'vitest';
import { CointegrationStrategy } from '../src/strategies/cointegration/strategy.ts';
import { createStrategy } from '../src/strategies/registry.ts';
import type { PairBar, StepResult, StrategyState } from '../src/strategies/types.ts';
import { syntheticPair } from './helpers/pair-data.ts';
import { testParams } from './helpers/params.ts';

const bars: PairBar[] = [...syntheticPair({ n: 3000, seed: 7 })];
const over = { transform: 'log', lookback: 60, maxHoldingBars: 50, gate: { every: 20, lookback: 200, maxPValue: 0.2 }, stopZ: 3 };

function decisions(steps: StepResult[]): string[] {
  return steps.map((s) => JSON.stringify(s.decision));
}

describe('strategy state', () => {
  it('a strategy restored mid-run decides exactly as one that ran straight through', () => {
    const equity = (i: number) => 100_000 + 10 * Math.sin(i);
    const straight = new CointegrationStrategy(testParams(over));
    const all = bars.map((b, i) => straight.onBar(b, { equity: equity(i) }));
    expect(all.filter((s) => s.decision.action !== 'none').length).toBeGreaterThan(10);

    // Split at several points, including inside a position and during a cool-down.
    const inPos = all.findIndex((st, i) => i > 300 && st.diagnostics.position !== 'FLAT');
    const cooling = all.findIndex((st) => st.diagnostics.coolingDown);
    expect(inPos).toBeGreaterThan(0);
    expect(cooling).toBeGreaterThan(0);
    const splits = [70, 250, inPos + 1, cooling + 1, 1500, 2222];
    let checkedInPosition = false;
    for (const k of splits) {
      const first = new CointegrationStrategy(testParams(over));
      const head = bars.slice(0, k).map((b, i) => first.onBar(b, { equity: equity(i) }));
      const saved = JSON.parse(JSON.stringify(first.saveState())) as StrategyState;
      if (first.position().side !== 'FLAT') checkedInPosition = true;
      if (k === cooling + 1) expect((saved as unknown as { coolingDown: boolean }).coolingDown).toBe(true);
      const resumed = createStrategy(testParams(over) as unknown as { type: string }, saved);
      expect(resumed.position()).toEqual(first.position());
      const tail = bars.slice(k).map((b, i) => resumed.onBar(b, { equity: equity(k + i) }));
      expect(decisions([...head, ...tail])).toEqual(decisions(all));
      // The rolling sums are rebuilt from the saved window, so z agrees to rounding (not bit for bit).
      const zs = tail.map((s) => s.diagnostics.z);
      const zWant = all.slice(k).map((s) => s.diagnostics.z);
      zs.forEach((z, i) => (z === null ? expect(zWant[i]).toBeNull() : expect(Math.abs(z - zWant[i]!)).toBeLessThan(1e-7)));
    }
    expect(checkedInPosition).toBe(true);
  });

  it('a Kalman strategy resumes bit for bit (θ and P are saved)', () => {
    const k = { ...over, hedge: { method: 'kalman', delta: 1e-7, ve: 1e-5 }, entryZ: 1.2, exitZ: 0.1, stopZ: 2.5, gate: undefined };
    const straight = new CointegrationStrategy(testParams(k));
    const all = bars.map((b) => straight.onBar(b, { equity: 100_000 }));
    expect(all.filter((st) => st.decision.action === 'enter').length).toBeGreaterThan(5);
    const first = new CointegrationStrategy(testParams(k));
    for (const b of bars.slice(0, 1234)) first.onBar(b, { equity: 100_000 });
    const resumed = new CointegrationStrategy(testParams(k), JSON.parse(JSON.stringify(first.saveState())) as StrategyState);
    const tail = bars.slice(1234).map((b) => resumed.onBar(b, { equity: 100_000 }));
    expect(tail.map((st) => [st.diagnostics.z, st.diagnostics.beta, JSON.stringify(st.decision)])).toEqual(
      all.slice(1234).map((st) => [st.diagnostics.z, st.diagnostics.beta, JSON.stringify(st.decision)]),
    );
  });

  it('warm-up bars update the statistics but decide nothing', () => {
    const warm = new CointegrationStrategy(testParams(over));
    const live = new CointegrationStrategy(testParams(over));
    const a = bars.slice(0, 1000).map((b) => warm.onBar(b, { equity: 100_000, warmup: true }));
    const b = bars.slice(0, 1000).map((b) => live.onBar(b, { equity: 100_000 }));
    expect(a.every((s) => s.decision.action === 'none' && s.diagnostics.position === 'FLAT')).toBe(true);
    expect(b.some((s) => s.decision.action !== 'none')).toBe(true);
    expect(a.map((s) => s.diagnostics.z)).toEqual(b.map((s) => s.diagnostics.z));
    expect(a.map((s) => s.diagnostics.gate.pValue)).toEqual(b.map((s) => s.diagnostics.gate.pValue));
  });

  it('refuses a state made with a different lookback or of another type', () => {
    const s = new CointegrationStrategy(testParams(over));
    for (const b of bars.slice(0, 100)) s.onBar(b, { equity: 100_000 });
    const saved = s.saveState();
    expect(() => new CointegrationStrategy(testParams({ ...over, lookback: 61 }), saved)).toThrow(/lookback/);
    expect(() => new CointegrationStrategy(testParams(over), { ...saved, type: 'other' })).toThrow(/other/);
    // Thresholds may change between runs.
    expect(() => new CointegrationStrategy(testParams({ ...over, entryZ: 2.2 }), saved)).not.toThrow();
  });

  it('syncPosition adopts the broker position: flat, same side, other side', () => {
    const s = new CointegrationStrategy(testParams(over));
    for (const b of bars.slice(0, 100)) s.onBar(b, { equity: 100_000 });
    expect(s.syncPosition({ qtyY: 0, qtyX: 0 }).changed).toBe(false);
    const r = s.syncPosition({ qtyY: 10, qtyX: -12 });
    expect(r.changed).toBe(true);
    expect(r.after).toEqual({ side: 'LONG', qtyY: 10, qtyX: -12, entryBar: 99, entryTime: null });
    // Same side, new quantities (a partial fill): entry bar kept.
    expect(s.syncPosition({ qtyY: 8, qtyX: -12 }).after).toMatchObject({ side: 'LONG', qtyY: 8, entryBar: 99 });
    // maxHoldingBars counts from the adoption: 50 bars later the position is closed.
    const steps = bars.slice(100, 160).map((b) => s.onBar(b, { equity: 100_000 }));
    const close = steps.find((st) => st.decision.action === 'close');
    expect(close).toBeDefined();
    if (close!.decision.action === 'close') {
      expect(close!.decision.orders).toEqual([{ leg: 'y', side: 'SELL', qty: 8 }, { leg: 'x', side: 'BUY', qty: 12 }]);
    }
    // The broker is flat while the strategy believes it holds something: FLAT.
    s.syncPosition({ qtyY: -5, qtyX: 6 });
    expect(s.syncPosition({ qtyY: 0, qtyX: 0 }).after.side).toBe('FLAT');
  });
});
