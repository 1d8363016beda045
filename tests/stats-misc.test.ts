/** halfLife and kalmanHedge against their numpy/statsmodels references, and degenerate input errors. */
import { describe, expect, it } from 'vitest';
import { adf, engleGranger, halfLife, kalmanHedge, KalmanHedge, ols, StatsError, mackinnonp } from '../src/stats/index.ts';
import { expectClose, loadFixture, type Num } from './stats-helpers.ts';

const misc = loadFixture<{
  halfLife: { name: string; series: number[]; slope: number; halfLife: Num }[];
  kalman: { pair: string; delta: number; ve: number; beta: number[]; alpha: number[]; e: number[]; q: number[] }[];
}>('misc.json');
const pairs = loadFixture<{ pairSeries: Record<string, { y: number[]; x: number[] }> }>('adf.json').pairSeries;

describe('halfLife', () => {
  it('matches −ln2/slope of statsmodels OLS, Infinity when the spread does not revert', () => {
    expect(misc.halfLife.length).toBeGreaterThanOrEqual(5);
    let sawInfinity = false;
    for (const c of misc.halfLife) {
      const h = halfLife(c.series);
      if (c.halfLife === 'inf') {
        sawInfinity = true;
        expect(h, c.name).toBe(Infinity);
      } else expectClose(h, c.halfLife, `halfLife ${c.name}`, 1e-9);
    }
    expect(sawInfinity).toBe(true);
  });
});

describe('kalmanHedge', () => {
  it('follows the spec recursion (numpy reference) to 1e-9', () => {
    expect(misc.kalman.length).toBeGreaterThanOrEqual(9);
    for (const c of misc.kalman) {
      const p = pairs[c.pair];
      if (!p) throw new Error(`missing ${c.pair}`);
      const r = kalmanHedge(p.y, p.x, { delta: c.delta, ve: c.ve });
      expect(r.beta.length).toBe(p.y.length);
      for (let t = 0; t < p.y.length; t++) {
        const what = `kalman ${c.pair} δ=${c.delta} t=${t}`;
        expectClose(r.beta[t] as number, c.beta[t] as number, `${what} beta`, 1e-9);
        expectClose(r.alpha[t] as number, c.alpha[t] as number, `${what} alpha`, 1e-9);
        expectClose(r.q[t] as number, c.q[t] as number, `${what} q`, 1e-9);
        // e is a difference of level-sized terms; compare on the scale of y.
        if (Math.abs((r.e[t] as number) - (c.e[t] as number)) > 1e-9 * Math.max(1, Math.abs(p.y[t] as number))) {
          throw new Error(`${what} e: got ${r.e[t]}, reference ${c.e[t]}`);
        }
      }
    }
  });

  it('the streaming KalmanHedge gives the same path bar by bar', () => {
    const p = pairs['log_prices_tight_n2000'];
    if (!p) throw new Error('missing pair');
    const batch = kalmanHedge(p.y, p.x, { delta: 1e-4, ve: 1e-3 });
    const k = new KalmanHedge(1e-4, 1e-3);
    for (let t = 0; t < p.y.length; t++) {
      k.update(p.x[t] as number, p.y[t] as number);
      expect(k.beta).toBe(batch.beta[t]);
      expect(k.z).toBe((batch.e[t] as number) / Math.sqrt(batch.q[t] as number));
    }
  });
});

describe('KalmanHedge state', () => {
  it('getState / fromState resume the filter bit for bit', () => {
    const p = pairs['coint_n1000_phi0.5'];
    if (!p) throw new Error('missing pair');
    const whole = new KalmanHedge(1e-5, 1e-4);
    const first = new KalmanHedge(1e-5, 1e-4);
    for (let t = 0; t < 400; t++) {
      whole.update(p.x[t] as number, p.y[t] as number);
      first.update(p.x[t] as number, p.y[t] as number);
    }
    const saved = JSON.parse(JSON.stringify(first.getState())) as ReturnType<KalmanHedge['getState']>;
    const resumed = KalmanHedge.fromState(1e-5, 1e-4, saved);
    for (let t = 400; t < p.y.length; t++) {
      whole.update(p.x[t] as number, p.y[t] as number);
      resumed.update(p.x[t] as number, p.y[t] as number);
      expect(resumed.beta).toBe(whole.beta);
      expect(resumed.z).toBe(whole.z);
    }
    expect(() => KalmanHedge.fromState(1e-5, 1e-4, { ...saved, p01: NaN })).toThrow(/p01/);
  });
});

describe('degenerate input gives a clear StatsError, never NaN', () => {
  const walk = Array.from({ length: 200 }, (_, i) => Math.sin(i / 7) * 10 + i * 0.1 + ((i * 7919) % 13) / 5);
  const other = walk.map((v, i) => 0.5 * v + ((i * 104729) % 17) / 3);

  function expectStatsError(fn: () => unknown, code: string, message: RegExp): void {
    try {
      fn();
    } catch (err) {
      expect(err).toBeInstanceOf(StatsError);
      expect((err as StatsError).code).toBe(code);
      expect((err as Error).message).toMatch(message);
      return;
    }
    throw new Error('expected a StatsError');
  }

  it('NaN or infinite values', () => {
    expectStatsError(() => adf([...walk.slice(0, 50), NaN, ...walk.slice(51)]), 'non-finite', /index 50 is NaN/);
    expectStatsError(() => engleGranger(walk, [...other.slice(0, 199), Infinity]), 'non-finite', /x: value at index 199 is Infinity/);
    expectStatsError(() => ols([1, 2, NaN], [1, 2, 3]), 'non-finite', /index 2/);
    expectStatsError(() => halfLife([1, 2, Infinity, 3]), 'non-finite', /index 2/);
    expectStatsError(() => kalmanHedge([1, NaN], [1, 2], { delta: 1e-4, ve: 1e-3 }), 'non-finite', /index 1/);
  });

  it('mismatched lengths', () => {
    expectStatsError(() => engleGranger(walk, other.slice(1)), 'length-mismatch', /200 values but x has 199/);
    expectStatsError(() => ols([1, 2, 3], [1, 2]), 'length-mismatch', /3 values but x has 2/);
    expectStatsError(() => kalmanHedge([1, 2], [1], { delta: 1e-4, ve: 1e-3 }), 'length-mismatch', /same times/);
  });

  it('constant series', () => {
    expectStatsError(() => adf(new Array(100).fill(3)), 'constant-series', /constant/);
    expectStatsError(() => engleGranger(walk, new Array(200).fill(1)), 'constant-series', /x is constant/);
    expectStatsError(() => engleGranger(new Array(200).fill(1), walk), 'constant-series', /y is constant/);
    expectStatsError(() => ols([1, 2, 3], [4, 4, 4]), 'constant-series', /constant/);
    expectStatsError(() => halfLife([2, 2, 2, 2, 2]), 'constant-series', /constant/);
  });

  it('too few observations for the lags', () => {
    expectStatsError(() => adf(walk.slice(0, 20), { maxLag: 10 }), 'too-few-observations', /maxLag 10.*at most 8/);
    expectStatsError(() => adf([1, 2, 4]), 'too-few-observations', /at least 4/);
    expectStatsError(() => engleGranger(walk.slice(0, 5), other.slice(0, 5)), 'too-few-observations', /at least 6/);
    expectStatsError(() => engleGranger(walk.slice(0, 30), other.slice(0, 30), { maxLag: 15 }), 'too-few-observations', /maxLag 15/);
  });

  it('bad options', () => {
    expectStatsError(() => adf(walk, { regression: 'ctt' as 'c' }), 'invalid-argument', /regression/);
    expectStatsError(() => adf(walk, { maxLag: -1 }), 'invalid-argument', /maxLag/);
    expectStatsError(() => adf(walk, { maxLag: 2.5 }), 'invalid-argument', /maxLag/);
    expectStatsError(() => adf(walk, { autoLag: 't-stat' as 'aic' }), 'invalid-argument', /autoLag/);
    expectStatsError(() => mackinnonp(-3, { regression: 'c', n: 7 }), 'invalid-argument', /1 to 6/);
    expectStatsError(() => kalmanHedge(walk, other, { delta: 1, ve: 1e-3 }), 'invalid-argument', /delta/);
  });

  it('perfectly collinear pair: statsmodels convention (stat −inf, p-value 0), not NaN', () => {
    const r = engleGranger(other.map((v) => 2 * v + 1), other);
    expect(r.stat).toBe(-Infinity);
    expect(r.pValue).toBe(0);
    expect(r.beta).toBeCloseTo(2, 12);
  });
});
