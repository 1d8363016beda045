/**
 * The warm-up a node runs is the one the strategy type declares (its registry `requirements`), not a
 * length the engine works out from params. A probe strategy type (a real `Strategy`: it decides
 * nothing and counts what it is fed) declares an unusual warm-up; the node, built through
 * `runnerSpec` as `tandem run` builds it, runs against the simulator over HTTPS/WSS with a real
 * journal, and the probe must have been fed exactly that many warm-up bars before its first live bar.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { runnerSpec } from '../src/engine/runner-spec.ts';
import { defineStrategy, strategyRegistry, strategyRequirements } from '../src/strategies/registry.ts';
import type { Strategy, StrategyPosition, StrategyState } from '../src/strategies/types.ts';
import { pairParams, runNode, startHarness, type Harness } from './helpers/engine-harness.ts';

let h: Harness | undefined;
afterEach(async () => {
  await h?.close();
  h = undefined;
});

const probeSchema = z.object({ type: z.literal('probe'), warmup: z.number().int().min(0) });

/** What every probe instance saw, in order: 'w' for a warm-up bar, 'L' for a live bar. */
const fed: string[] = [];

const FLAT: StrategyPosition = { side: 'FLAT', qtyY: 0, qtyX: 0, entryBar: null, entryTime: null };

function createProbe(): Strategy {
  let bar = 0;
  return {
    type: 'probe',
    onBar(b, ctx) {
      fed.push(ctx.warmup ? 'w' : 'L');
      return {
        decision: { action: 'none' },
        diagnostics: { bar: bar++, time: b.time, z: null, beta: null, alpha: null, gate: { open: false, pValue: null, checkedThisBar: false }, coolingDown: false, position: 'FLAT' },
      };
    },
    position: () => FLAT,
    syncPosition: () => ({ changed: false, before: FLAT, after: FLAT, note: 'flat' }),
    saveState: (): StrategyState => ({ type: 'probe', version: 1 }),
  };
}

strategyRegistry.probe = defineStrategy({
  paramsSchema: probeSchema,
  create: () => createProbe(),
  requirements: (p) => {
    const legs = pairParams().legs;
    return { legs: { y: legs.y, x: legs.x }, barMinutes: 5, warmupBars: p.warmup, shortMode: 'hedge', barFields: ['close'] };
  },
}) as (typeof strategyRegistry)[string];

describe('warm-up from the strategy declaration', () => {
  it('runnerSpec takes warm-up, bar size, legs and short rules from the declaration', () => {
    const coint = pairParams({ lookback: 30, gate: { every: 10, lookback: 45, maxPValue: 0.05 } });
    const declared = strategyRequirements(coint as unknown as { type: string });
    const s = runnerSpec({ name: 'c', strategy: coint as unknown as { type: string } }, 1);
    expect(declared.warmupBars).toBe(44);
    expect([s.warmupBars, s.barMinutes, s.shortMode, s.legs.y.symbol, s.legs.x.symbol]).toEqual([44, 5, 'hedge', 'ETHA', 'ETHV']);
    const p = runnerSpec({ name: 'p', strategy: { type: 'probe', warmup: 13 } }, 1);
    expect([p.warmupBars, p.barMinutes]).toEqual([13, 5]);
    expect(() => runnerSpec({ name: 'x', strategy: { type: 'nope' } }, 1)).toThrow(/unknown strategy type nope/);
  });

  it('the node feeds exactly the declared warm-up bars before the first live bar', async () => {
    h = await startHarness();
    fed.length = 0;
    const { node } = h.newNode({ strategies: [runnerSpec({ name: 'probe', strategy: { type: 'probe', warmup: 13 } }, 1)], maxBars: 2 });
    await runNode(h, node, 600);
    const firstLive = fed.indexOf('L');
    expect(firstLive).toBe(13);
    expect(fed.slice(0, 13).every((x) => x === 'w')).toBe(true);
    expect(fed.slice(13).every((x) => x === 'L')).toBe(true);
    expect(fed.length).toBeGreaterThanOrEqual(14);
  }, 240_000);
});
