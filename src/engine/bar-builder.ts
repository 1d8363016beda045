/**
 * Bars from ticks, by event time (the data's own timestamps, never the local clock), aligned across
 * the legs of a pair.
 *
 * A tick belongs to the bar whose bucket [start, start + barMs) holds its time. A bar is closed when
 * the event-time watermark (the latest tick time seen on any leg, minus an optional grace) reaches
 * its end: an accelerated simulated market and a real one look the same. When a bar time is closed,
 * an aligned bar is emitted if every leg has a bar at that time; a time at which a leg had no tick
 * is dropped (the inner join of strategy-spec.md). Ticks older than a closed bar are ignored and
 * counted.
 */
import type { HistoryBar } from '../brokers/types.ts';

/** One leg's bar: the same shape the broker's history gives, so warm-up and live bars mix freely. */
export type Bar = HistoryBar;

export interface AlignedBar {
  /** Bar start, epoch ms UTC. */
  time: number;
  /** One bar per leg, in the order of the legs given to the builder. */
  legs: Bar[];
  /** Event time of the tick that closed the bar (for latency measurement). */
  closedBy: number;
}

export class BarBuilder {
  private readonly open: Map<number, Bar>[] = [];
  private readonly legIndex = new Map<number, number>();
  /** Start of the newest bar already emitted or dropped; ticks before its end are late. */
  private closedThrough = -Infinity;
  private watermark = -Infinity;
  /** Start of the oldest open bar, so most ticks skip the close scan. */
  private earliestOpen = Infinity;
  lateTicks = 0;
  droppedBars = 0;

  constructor(
    readonly barMs: number,
    conids: number[],
    private readonly onBar: (bar: AlignedBar) => void,
    /** Bars close this long after their end in event time, to let a lagging leg catch up. */
    private readonly graceMs = 0,
  ) {
    conids.forEach((c, i) => {
      this.legIndex.set(c, i);
      this.open.push(new Map());
    });
  }

  bucket(time: number): number {
    return Math.floor(time / this.barMs) * this.barMs;
  }

  /** Feeds one tick; may emit zero or more aligned bars (via the callback) before returning. */
  onTick(conid: number, time: number, price: number, size = 0): void {
    const i = this.legIndex.get(conid);
    if (i === undefined || !Number.isFinite(price) || price <= 0 || !Number.isFinite(time)) return;
    const start = this.bucket(time);
    if (start <= this.closedThrough) {
      this.lateTicks++;
    } else {
      const legBars = this.open[i]!;
      const bar = legBars.get(start);
      if (bar) {
        if (price > bar.high) bar.high = price;
        if (price < bar.low) bar.low = price;
        bar.close = price;
        bar.volume += size;
      } else {
        legBars.set(start, { time: start, open: price, high: price, low: price, close: price, volume: size });
        if (start < this.earliestOpen) this.earliestOpen = start;
      }
    }
    this.advance(time);
  }

  /** Moves event time forward without a price (e.g. a heartbeat stamped by the data source). */
  advance(time: number): void {
    if (time <= this.watermark) return;
    this.watermark = time;
    const closeBefore = time - this.graceMs; // every bar ending at or before this is closed
    if (this.earliestOpen + this.barMs > closeBefore) return;
    const starts = new Set<number>();
    for (const m of this.open) for (const s of m.keys()) if (s + this.barMs <= closeBefore) starts.add(s);
    if (starts.size === 0) return;
    for (const s of [...starts].sort((a, b) => a - b)) {
      const legs = this.open.map((m) => m.get(s));
      for (const m of this.open) m.delete(s);
      this.closedThrough = Math.max(this.closedThrough, s);
      if (legs.every((b): b is Bar => b !== undefined)) this.onBar({ time: s, legs, closedBy: time });
      else this.droppedBars++;
    }
    this.earliestOpen = Infinity;
    for (const m of this.open) for (const s of m.keys()) if (s < this.earliestOpen) this.earliestOpen = s;
  }
}

/** Inner join of per-leg bar series on time (history for warm-up), ascending. */
export function alignBars(series: Bar[][]): { time: number; legs: Bar[] }[] {
  if (series.length === 0) return [];
  const maps = series.map((s) => new Map(s.map((b) => [b.time, b])));
  const out: { time: number; legs: Bar[] }[] = [];
  for (const time of [...maps[0]!.keys()].sort((a, b) => a - b)) {
    const legs = maps.map((m) => m.get(time));
    if (legs.every((b): b is Bar => b !== undefined)) out.push({ time, legs });
  }
  return out;
}
