/**
 * Awkward but legal inputs (tick-sized integer prices, long flat stretches, a single jump, huge and
 * tiny scales, short series) must give either finite figures or a StatsError — never NaN, never an
 * unexplained exception.
 */
import { describe, expect, it } from 'vitest';
import { adf, engleGranger, halfLife, johansen, StatsError } from '../src/stats/index.ts';

function rng(seed: number): () => number {
  let s = seed >>> 0 || 1;
  return () => {
    s = (s ^ (s << 13)) >>> 0;
    s = (s ^ (s >>> 17)) >>> 0;
    s = (s ^ (s << 5)) >>> 0;
    return s / 4294967296;
  };
}

function awkward(kind: number, n: number, u: () => number): number[] {
  const out: number[] = [];
  let v = 100;
  for (let i = 0; i < n; i++) {
    switch (kind) {
      case 0: // integer ticks, mostly unchanged
        if (u() < 0.1) v += u() < 0.5 ? 1 : -1;
        break;
      case 1: // one jump
        v = i < n / 2 ? 5 : 6;
        break;
      case 2: // huge scale
        v += (u() - 0.5) * 1e9;
        break;
      case 3: // tiny moves on a big level
        v = 1e6 + (u() - 0.5) * 1e-6;
        break;
      case 4: // flat then moving
        if (i > n * 0.8) v += u() - 0.5;
        break;
      default: // alternating
        v = i % 2 === 0 ? 1 : 2 + u() * 1e-3;
    }
    out.push(v);
  }
  return out;
}

function finiteOrStatsError(what: string, fn: () => Record<string, unknown>, keys: string[]): 'ok' | 'error' {
  try {
    const r = fn();
    for (const k of keys) {
      const v = r[k] as number;
      if (Number.isNaN(v)) throw new Error(`${what}: ${k} is NaN`);
    }
    return 'ok';
  } catch (err) {
    if (err instanceof StatsError) {
      expect(err.message.length).toBeGreaterThan(20);
      return 'error';
    }
    throw err;
  }
}

describe('awkward inputs', () => {
  it('adf, engleGranger, halfLife and johansen return numbers or a StatsError, never NaN', () => {
    const u = rng(99);
    const tally = { ok: 0, error: 0 };
    for (let rep = 0; rep < 120; rep++) {
      const n = [8, 13, 40, 300][rep % 4] as number;
      const a = awkward(rep % 6, n, u);
      const b = awkward((rep + 2) % 6, n, u);
      for (const reg of ['n', 'c', 'ct'] as const) {
        tally[finiteOrStatsError(`adf ${rep} ${reg}`, () => ({ ...adf(a, { regression: reg }) }), ['stat', 'pValue'])]++;
      }
      tally[finiteOrStatsError(`eg ${rep}`, () => ({ ...engleGranger(a, b) }), ['stat', 'pValue', 'alpha', 'beta'])]++;
      tally[finiteOrStatsError(`halfLife ${rep}`, () => ({ h: halfLife(a) }), ['h'])]++;
      tally[
        finiteOrStatsError(
          `johansen ${rep}`,
          () => {
            const r = johansen(a.map((v, i) => [v, b[i] as number]), 0, 1);
            return { e0: r.eigenvalues[0], e1: r.eigenvalues[1], t0: r.traceStat[0], t1: r.traceStat[1] };
          },
          ['e0', 'e1', 't0', 't1'],
        )
      ]++;
    }
    // Both outcomes occur: the inputs really are awkward, and most still give answers.
    expect(tally.ok).toBeGreaterThan(100);
    expect(tally.error).toBeGreaterThan(10);
  });
});
