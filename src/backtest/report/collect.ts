/**
 * Collects what the HTML report charts, one bar at a time, in bounded memory: every series is
 * decimated on the fly (keep every `stride`-th bar; when twice `maxPoints` are held, drop every
 * other point and double the stride). Metrics and trades come exact from the run itself, and so
 * do the spans where the gate allowed entries (their number is bounded by the gate's tests).
 */
import type { BarEvent } from '../runner.ts';

export interface ReportSeries {
  /** Epoch ms of each kept bar. */
  time: number[];
  closeY: number[];
  closeX: number[];
  /** z at the bar's close; null before the warm-up and on the last bar. */
  z: (number | null)[];
  equity: number[];
  drawdown: number[];
  /** The gate's p-value while it is open (NaN when open without one), null while it is closed. */
  gate: (number | null)[];
  /** Whether the strategy has a gate at all (a gate ran a test). */
  gated: boolean;
  /** Every span of bars (decision times) on which the gate was open, with the p-value of the test that opened it. */
  gateSpans: GateSpan[];
  /** Keep one bar in `stride`; 1 = every bar. */
  stride: number;
  totalBars: number;
}

export interface GateSpan {
  from: number;
  to: number;
  pValue: number | null;
}

type Point = { time: number; closeY: number; closeX: number; z: number | null; equity: number; drawdown: number; gate: number | null };

export class ReportCollector {
  private readonly s: ReportSeries = { time: [], closeY: [], closeX: [], z: [], equity: [], drawdown: [], gate: [], gated: false, gateSpans: [], stride: 1, totalBars: 0 };
  private span: GateSpan | null = null;
  private peak = -Infinity;
  /** The latest bar not kept by the stride, appended at the end so the charts reach the last bar. */
  private tail: Point | null = null;

  constructor(private readonly maxPoints = 4000) {}

  /** Pass to the runner's `onBar`. */
  readonly onBar = (e: BarEvent): void => {
    const s = this.s;
    if (e.equity > this.peak) this.peak = e.equity;
    s.totalBars = e.index + 1;
    const g = e.diagnostics?.gate;
    if (g?.checkedThisBar) s.gated = true;
    const open = s.gated && g !== undefined && g.open;
    if (open && this.span && (!g.checkedThisBar || g.pValue === this.span.pValue)) this.span.to = e.bar.time;
    else if (open) {
      this.span = { from: e.bar.time, to: e.bar.time, pValue: g.pValue };
      s.gateSpans.push(this.span);
    } else this.span = null;
    const point: Point = {
      time: e.bar.time,
      closeY: e.bar.y.close,
      closeX: e.bar.x.close,
      z: e.diagnostics?.z ?? null,
      equity: e.equity,
      drawdown: this.peak > 0 ? (this.peak - e.equity) / this.peak : 0,
      gate: open ? (g.pValue ?? Number.NaN) : null,
    };
    if (e.index % s.stride !== 0) {
      this.tail = point;
      return;
    }
    this.tail = null;
    this.add(point);
    if (s.time.length >= 2 * this.maxPoints) this.halve();
  };

  private add(p: Point): void {
    const s = this.s;
    s.time.push(p.time);
    s.closeY.push(p.closeY);
    s.closeX.push(p.closeX);
    s.z.push(p.z);
    s.equity.push(p.equity);
    s.drawdown.push(p.drawdown);
    s.gate.push(p.gate);
  }

  private halve(): void {
    const s = this.s;
    const keepEven = <T>(a: T[]): T[] => a.filter((_, i) => i % 2 === 0);
    s.time = keepEven(s.time);
    s.closeY = keepEven(s.closeY);
    s.closeX = keepEven(s.closeX);
    s.z = keepEven(s.z);
    s.equity = keepEven(s.equity);
    s.drawdown = keepEven(s.drawdown);
    s.gate = keepEven(s.gate);
    s.stride *= 2;
  }

  series(): ReportSeries {
    if (this.tail) {
      this.add(this.tail);
      this.tail = null;
    }
    return this.s;
  }
}
