/**
 * The seeded market: every price is a pure function of (seed, instrument, time).
 *
 * Time is cut into steps of STEP_MS. A Brownian motion per key is defined on the whole step grid by
 * a dyadic Brownian-bridge tree whose node noises are hashes of (seed, key, node), so its value at any
 * step is computed in ~31 hash evaluations without simulating the past, and a run of consecutive
 * steps costs O(run length). Quotes, trades and history bars all read the same path, so a bar from
 * /iserver/marketdata/history agrees with the ticks shown live at those times.
 *
 * Stocks do not trade outside regular hours: their quote freezes at the last close and bars exist
 * only for minutes inside regular trading hours. Crypto prices move around the clock (the PAXOS
 * order window only affects orders).
 */
import { gauss4, hash4, hashString, unit } from './rng.ts';
import { isMarketOpen, lastOpenInstant, nyParts, nyTimeOnDay } from './hours.ts';
import type { Instrument, InstrumentTable } from './instruments.ts';

export const STEP_MS = 2000;
const DEPTH = 31;
const SPAN = 2 ** DEPTH;
const YEAR_SEC = 365.25 * 86_400;
/** Random walks are anchored at 2026-01-01T00:00Z: there every instrument sits at its base price. */
const ANCHOR_STEP = Math.floor(Date.UTC(2026, 0, 1) / STEP_MS);
/** Aligned block length (steps) of range evaluation; a power of two. */
const BLOCK = 4096;
/** 1 / standard deviation of the sum of four uniform bytes (each has variance (256² - 1) / 12). */
const IRWIN_HALL_SCALE = 1 / Math.sqrt((4 * (256 * 256 - 1)) / 12);

/** Brownian motion with unit variance per step, evaluated on the integer step grid. */
class BrownianTree {
  constructor(private readonly seed: number, private readonly key: number) {}

  /**
   * Node noise: an approximately standard normal deviate from ONE hash (Irwin-Hall sum of its four
   * bytes, rescaled to unit variance). Cheap enough to generate a year of 2-second steps in a second
   * or two; the light tails do not matter for a simulated market.
   */
  private noise(point: number): number {
    const h = hash4(this.seed, this.key, point, 0x7a11);
    return ((h & 0xff) + ((h >>> 8) & 0xff) + ((h >>> 16) & 0xff) + (h >>> 24) - 510) * IRWIN_HALL_SCALE;
  }

  private rootRight(): number {
    return Math.sqrt(SPAN) * gauss4(this.seed, this.key, -1, 0x7a11);
  }

  private anchorValue: number | undefined;

  /** Value at the anchor step (cached: every rw term subtracts it). */
  anchor(): number {
    return (this.anchorValue ??= this.at(ANCHOR_STEP));
  }

  at(point: number): number {
    let l = 0;
    let r = SPAN;
    let wl = 0;
    let wr = this.rootRight();
    for (;;) {
      if (point === l) return wl;
      if (point === r) return wr;
      const mid = l + (r - l) / 2;
      const wm = (wl + wr) / 2 + Math.sqrt((r - l) / 4) * this.noise(mid);
      if (point < mid) { r = mid; wr = wm; } else { l = mid; wl = wm; }
    }
  }

  /**
   * Values at steps from, from+1, ..., from+n-1. The range is cut into aligned blocks of BLOCK steps;
   * each block's two ends come from `at`, its inside from iterative midpoint refinement over a typed
   * array (the same node noises as `at`, so both agree exactly).
   */
  range(from: number, n: number): Float64Array {
    const out = new Float64Array(n);
    if (n <= 8) {
      // A few points (live quotes): direct descents are cheaper than refining a whole block.
      for (let i = 0; i < n; i++) out[i] = this.at(from + i);
      return out;
    }
    const to = from + n; // exclusive
    const buf = new Float64Array(BLOCK + 1);
    for (let b = Math.floor(from / BLOCK) * BLOCK; b < to; b += BLOCK) {
      buf[0] = this.at(b);
      buf[BLOCK] = this.at(b + BLOCK);
      for (let len = BLOCK; len > 1; len >>= 1) {
        const half = len >> 1;
        const sd = Math.sqrt(len / 4);
        for (let i = half; i < BLOCK; i += len) buf[i] = (buf[i - half]! + buf[i + half]!) / 2 + sd * this.noise(b + i);
      }
      const lo = Math.max(from, b);
      const hi = Math.min(to, b + BLOCK);
      for (let p = lo; p < hi; p++) out[p - from] = buf[p - b]!;
    }
    return out;
  }
}

export interface Quote {
  conid: number;
  /** Simulated time of the quote (start of its price step). */
  time: number;
  last: number;
  bid: number;
  ask: number;
  bidSize: number;
  askSize: number;
  lastSize: number;
  /** True when the instrument's market is open at this time (stocks) — crypto quotes always live. */
  open: boolean;
}

export interface Bar {
  t: number;
  o: number;
  h: number;
  l: number;
  c: number;
  v: number;
}

/** A piecewise-linear price override: points sorted by time; outside the points the model applies. */
interface Override {
  points: { t: number; price: number }[];
}

function roundTo(x: number, tick: number): number {
  return Number((Math.round(x / tick) * tick).toFixed(8));
}

export function formatPrice(x: number, tick: number): string {
  const decimals = tick >= 0.01 ? 2 : Math.max(2, Math.ceil(-Math.log10(tick)));
  return x.toFixed(decimals);
}

export class Market {
  private readonly trees = new Map<string, BrownianTree>();
  private readonly minuteCache = new Map<number, Map<number, Bar>>();
  private readonly overrides = new Map<number, Override>();

  constructor(readonly instruments: InstrumentTable, readonly seed: number) {}

  private tree(key: string): BrownianTree {
    let t = this.trees.get(key);
    if (!t) {
      t = new BrownianTree(this.seed, hashString(key));
      this.trees.set(key, t);
    }
    return t;
  }

  /** Model (un-overridden) mid prices at consecutive steps. */
  private modelMids(inst: Instrument, fromStep: number, n: number): Float64Array {
    const logs = new Float64Array(n).fill(Math.log(inst.base));
    const stepSec = STEP_MS / 1000;
    for (const term of inst.terms) {
      const tree = this.tree(term.key);
      if (term.kind === 'rw') {
        const sigma = term.scale * Math.sqrt(stepSec / YEAR_SEC);
        const anchor = tree.anchor();
        const w = tree.range(fromStep, n);
        for (let i = 0; i < n; i++) logs[i]! += sigma * (w[i]! - anchor);
      } else {
        const lag = Math.max(1, Math.round((term.windowSec ?? 86_400) / stepSec));
        // Two runs of the same walk, `lag` apart (one range of n + lag would cost O(lag) per call).
        const now = tree.range(fromStep, n);
        const then = tree.range(fromStep - lag, n);
        const k = term.scale / Math.sqrt(lag);
        for (let i = 0; i < n; i++) logs[i]! += k * (now[i]! - then[i]!);
      }
    }
    for (let i = 0; i < n; i++) logs[i] = Math.exp(logs[i]!);
    return logs;
  }

  private mids(inst: Instrument, fromStep: number, n: number): Float64Array {
    const m = this.modelMids(inst, fromStep, n);
    const ov = this.overrides.get(inst.conid);
    if (ov && ov.points.length) {
      const pts = ov.points;
      for (let i = 0; i < n; i++) {
        const t = (fromStep + i) * STEP_MS;
        if (t < pts[0]!.t) continue;
        let p = pts[pts.length - 1]!.price;
        for (let j = 0; j < pts.length - 1; j++) {
          const a = pts[j]!;
          const b = pts[j + 1]!;
          if (t >= a.t && t < b.t) { p = a.price + ((b.price - a.price) * (t - a.t)) / (b.t - a.t); break; }
        }
        m[i] = p;
      }
    }
    return m;
  }

  private stepVolume(inst: Instrument, step: number): number {
    const u = unit(hash4(this.seed, inst.conid, step, 0x701));
    const v = inst.volumePerStep * (0.3 + 1.4 * u);
    return inst.secType === 'CRYPTO' ? Math.round(v * 1e4) / 1e4 : Math.max(1, Math.round(v));
  }

  lastPriceAtStep(inst: Instrument, step: number): number {
    return roundTo(this.mids(inst, step, 1)[0]!, inst.tick);
  }

  /** The quote in force at simulated time `t` (frozen at the last close while a stock market is shut). */
  private readonly quoteMemo = new Map<number, Quote>();

  quote(conid: number, t: number): Quote | undefined {
    const inst = this.instruments.get(conid);
    if (!inst) return undefined;
    // Quotes change once per step: remember the last one per conid.
    const memo = this.quoteMemo.get(conid);
    const stepNow = Math.floor(t / STEP_MS);
    if (memo && memo.time === stepNow * STEP_MS && (inst.market === 'crypto' || memo.open === isMarketOpen('stock', t)) && memo.open) return memo;
    const q = this.computeQuote(inst, conid, t);
    if (q.open) this.quoteMemo.set(conid, q);
    return q;
  }

  private computeQuote(inst: Instrument, conid: number, t: number): Quote {
    const open = inst.market === 'crypto' || isMarketOpen('stock', t);
    const eff = open ? t : lastOpenInstant('stock', t);
    const step = Math.floor(eff / STEP_MS);
    const mid = this.mids(inst, step, 1)[0]!;
    const half = Math.max(inst.tick / 2, (mid * inst.halfSpreadBps) / 10_000);
    const bid = Math.floor((mid - half) / inst.tick + 1e-9) * inst.tick;
    const ask = Math.max(bid + inst.tick, Math.ceil((mid + half) / inst.tick - 1e-9) * inst.tick);
    const h = hash4(this.seed, conid, step, 0x512e);
    const sizeFactor = 0.4 + 1.2 * unit(h);
    const roundSize = (x: number) => (inst.secType === 'CRYPTO' ? Math.round(x * 1e4) / 1e4 : Math.max(1, Math.round(x / 100) * 100));
    return {
      conid, time: step * STEP_MS, last: roundTo(mid, inst.tick), bid: roundTo(bid, inst.tick), ask: roundTo(ask, inst.tick),
      bidSize: roundSize(inst.quoteSize * sizeFactor), askSize: roundSize(inst.quoteSize * (2 - sizeFactor)),
      lastSize: inst.secType === 'CRYPTO' ? Math.round((this.stepVolume(inst, step) / 4) * 1e4) / 1e4 : Math.max(1, Math.round(this.stepVolume(inst, step) / 10)), open,
    };
  }

  private tradable(inst: Instrument, minuteStart: number): boolean {
    return inst.market === 'crypto' || isMarketOpen('stock', minuteStart);
  }

  private cacheFor(conid: number): Map<number, Bar> {
    let m = this.minuteCache.get(conid);
    if (!m) this.minuteCache.set(conid, (m = new Map()));
    return m;
  }

  /** Computes the minute bars of a run of tradable minutes [from, to) in one pass over the path. */
  private computeRun(inst: Instrument, from: number, to: number): void {
    const cache = this.cacheFor(inst.conid);
    const spm = 60_000 / STEP_MS;
    for (let chunk = from; chunk < to; chunk += 1440 * 60_000) {
      const chunkEnd = Math.min(to, chunk + 1440 * 60_000);
      const nMin = (chunkEnd - chunk) / 60_000;
      const fromStep = chunk / STEP_MS;
      const mids = this.mids(inst, fromStep, nMin * spm);
      for (let m = 0; m < nMin; m++) {
        let h = -Infinity;
        let l = Infinity;
        let v = 0;
        let o = 0;
        let c = 0;
        for (let i = 0; i < spm; i++) {
          const p = roundTo(mids[m * spm + i]!, inst.tick);
          if (i === 0) o = p;
          c = p;
          if (p > h) h = p;
          if (p < l) l = p;
          v += this.stepVolume(inst, fromStep + m * spm + i);
        }
        const t = chunk + m * 60_000;
        cache.set(t, { t, o, h, l, c, v: inst.secType === 'CRYPTO' ? Math.round(v * 1e4) / 1e4 : v });
      }
    }
  }

  /** Maximal runs [start, end) of tradable time inside [from, to) (minute-aligned for aligned input). */
  private tradableRuns(inst: Instrument, from: number, to: number): [number, number][] {
    if (inst.market === 'crypto') return from < to ? [[from, to]] : [];
    const runs: [number, number][] = [];
    for (let day = nyParts(from).midnightUtc; day < to; day = nyParts(day + 30 * 3_600_000).midnightUtc) {
      const wd = nyParts(day + 12 * 3_600_000).weekday;
      if (wd < 1 || wd > 5) continue;
      const a = Math.max(from, nyTimeOnDay(day + 12 * 3_600_000, 9, 30));
      const b = Math.min(to, nyTimeOnDay(day + 12 * 3_600_000, 16, 0));
      if (a < b) runs.push([a, b]);
    }
    return runs;
  }

  /** Makes sure every tradable minute in [from, to) is in the cache. */
  private ensure(inst: Instrument, from: number, to: number): void {
    const cache = this.cacheFor(inst.conid);
    for (const [a, b] of this.tradableRuns(inst, from, to)) {
      let runStart = -1;
      for (let m = a; m <= b; m += 60_000) {
        const need = m < b && !cache.has(m);
        if (need && runStart < 0) runStart = m;
        else if (!need && runStart >= 0) {
          this.computeRun(inst, runStart, m);
          runStart = -1;
        }
      }
    }
  }

  /** The one-minute bar starting at `minuteStart` (ms, aligned), or null when no trading happened in it. */
  minuteBar(inst: Instrument, minuteStart: number): Bar | null {
    if (!this.tradable(inst, minuteStart)) return null;
    this.ensure(inst, minuteStart, minuteStart + 60_000);
    return this.cacheFor(inst.conid).get(minuteStart) ?? null;
  }

  /** Aggregate of the minute bars in [from, to) (ms, minute-aligned) up to minute `upTo`, or null when nothing traded. */
  aggregate(inst: Instrument, from: number, to: number, upTo?: number): Bar | null {
    const end = upTo === undefined ? to : Math.min(to, upTo + 60_000);
    if (end <= from) return null;
    // Bounded memory: drop the cache between aggregates (never inside one, whose minutes must all stay).
    if (this.cacheFor(inst.conid).size > 300_000) this.cacheFor(inst.conid).clear();
    this.ensure(inst, from, end);
    const cache = this.cacheFor(inst.conid);
    let out: Bar | null = null;
    for (const [a, b] of this.tradableRuns(inst, from, end)) {
      for (let m = a; m < b; m += 60_000) {
        const bar = cache.get(m);
        if (!bar) continue;
        if (!out) out = { ...bar };
        else {
          if (bar.h > out.h) out.h = bar.h;
          if (bar.l < out.l) out.l = bar.l;
          out.c = bar.c;
          out.v += bar.v;
        }
      }
    }
    if (out && inst.secType === 'CRYPTO') out.v = Math.round(out.v * 1e4) / 1e4;
    return out;
  }

  /** Day statistics for snapshot fields: open, high, low, volume of the current session, prior close. */
  dayStats(conid: number, t: number): { open: number; high: number; low: number; volume: number; prevClose: number } | undefined {
    const inst = this.instruments.get(conid);
    if (!inst) return undefined;
    const q = this.quote(conid, t)!;
    const eff = inst.market === 'crypto' ? t : lastOpenInstant('stock', t);
    const dayStart = inst.market === 'crypto' ? nyParts(eff).midnightUtc : nyTimeOnDay(eff, 9, 30);
    const nowMinute = Math.floor(eff / 60_000) * 60_000;
    const agg = this.aggregate(inst, dayStart, nowMinute + 60_000, nowMinute - 60_000);
    // Prior close: the last regular-hours price before this session (stocks), the price at New York midnight (crypto).
    const prevInstant = inst.market === 'crypto' ? dayStart - 1 : lastOpenInstant('stock', dayStart - 1);
    const prevClose = this.lastPriceAtStep(inst, Math.floor(prevInstant / STEP_MS));
    if (!agg) return { open: q.last, high: q.last, low: q.last, volume: 0, prevClose };
    return { open: agg.o, high: Math.max(agg.h, q.last), low: Math.min(agg.l, q.last), volume: agg.v, prevClose };
  }

  setOverride(conid: number, points: { t: number; price: number }[]): void {
    this.overrides.set(conid, { points: [...points].sort((a, b) => a.t - b.t) });
    this.minuteCache.clear();
    this.quoteMemo.clear();
  }

  clearOverrides(): void {
    this.overrides.clear();
    this.minuteCache.clear();
    this.quoteMemo.clear();
  }
}
