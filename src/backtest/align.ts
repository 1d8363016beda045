/**
 * Aligned bars (docs/strategy.md, "Inputs"): the inner join of two symbols' bars on `time`, in
 * ascending order. Yields one PairBar at a time so the runner never holds the joined series.
 */
import type { OhlcvBar, PairBar } from '../strategies/types.ts';
import type { BarSeries } from './csv.ts';
import type { BarColumns } from './series-builder.ts';

/** Number of aligned bars (one merge pass, no allocation). */
export function countAligned(y: BarSeries, x: BarSeries): number {
  let i = 0;
  let j = 0;
  let n = 0;
  while (i < y.length && j < x.length) {
    const ty = y.time[i]!;
    const tx = x.time[j]!;
    if (ty === tx) {
      n++;
      i++;
      j++;
    } else if (ty < tx) i++;
    else j++;
  }
  return n;
}

export function* alignBars(y: BarSeries, x: BarSeries): Generator<PairBar> {
  let i = 0;
  let j = 0;
  while (i < y.length && j < x.length) {
    const ty = y.time[i]!;
    const tx = x.time[j]!;
    if (ty === tx) {
      yield pairBarAt(ty, y, i, x, j);
      i++;
      j++;
    } else if (ty < tx) i++;
    else j++;
  }
}

/** A pair bar of NaN, to be filled (fillPairBar). */
export function emptyPairBar(): PairBar {
  const nan = Number.NaN;
  return { time: nan, y: { open: nan, high: nan, low: nan, close: nan, volume: nan }, x: { open: nan, high: nan, low: nan, close: nan, volume: nan } };
}

/** Fills `bar` with y's bar i and x's bar j, at `time` (a reused bar: BarStream.aligned). */
export function fillPairBar(bar: PairBar, time: number, y: BarColumns, i: number, x: BarColumns, j: number): void {
  bar.time = time;
  fillLeg(bar.y, y, i);
  fillLeg(bar.x, x, j);
}

/** One leg's bar from its columns' row i. */
function fillLeg(leg: OhlcvBar, c: BarColumns, i: number): void {
  leg.open = c.open[i]!;
  leg.high = c.high[i]!;
  leg.low = c.low[i]!;
  leg.close = c.close[i]!;
  leg.volume = c.volume[i]!;
}

/** fillPairBar for columns of time, open and close only: high, low and volume are left as they are (NaN). */
export function fillPairPrices(bar: PairBar, time: number, y: BarColumns, i: number, x: BarColumns, j: number): void {
  bar.time = time;
  bar.y.open = y.open[i]!;
  bar.y.close = y.close[i]!;
  bar.x.open = x.open[j]!;
  bar.x.close = x.close[j]!;
}

/** The pair bar of y's bar i and x's bar j, at `time`. */
export function pairBarAt(time: number, y: BarColumns, i: number, x: BarColumns, j: number): PairBar {
  return {
    time,
    y: { open: y.open[i]!, high: y.high[i]!, low: y.low[i]!, close: y.close[i]!, volume: y.volume[i]! },
    x: { open: x.open[j]!, high: x.high[j]!, low: x.low[j]!, close: x.close[j]!, volume: x.volume[j]! },
  };
}
