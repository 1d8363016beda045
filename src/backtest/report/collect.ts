/**
 * Collects what the HTML report charts, one bar at a time, in bounded memory: every series is
 * decimated on the fly (keep every `stride`-th bar; when twice `maxPoints` are held, drop every
 * other point and double the stride). Metrics and trades come exact from the run itself.
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
  /** Keep one bar in `stride`; 1 = every bar. */
  stride: number;
  totalBars: number;
}

export class ReportCollector {
  private readonly s: ReportSeries = { time: [], closeY: [], closeX: [], z: [], equity: [], drawdown: [], stride: 1, totalBars: 0 };
  private peak = -Infinity;
  /** The latest bar not kept by the stride, appended at the end so the charts reach the last bar. */
  private tail: { time: number; closeY: number; closeX: number; z: number | null; equity: number; drawdown: number } | null = null;

  constructor(private readonly maxPoints = 4000) {}

  /** Pass to the runner's `onBar`. */
  readonly onBar = (e: BarEvent): void => {
    const s = this.s;
    if (e.equity > this.peak) this.peak = e.equity;
    s.totalBars = e.index + 1;
    const point = {
      time: e.bar.time,
      closeY: e.bar.y.close,
      closeX: e.bar.x.close,
      z: e.diagnostics?.z ?? null,
      equity: e.equity,
      drawdown: this.peak > 0 ? (this.peak - e.equity) / this.peak : 0,
    };
    if (e.index % s.stride !== 0) {
      this.tail = point;
      return;
    }
    this.tail = null;
    this.add(point);
    if (s.time.length >= 2 * this.maxPoints) this.halve();
  };

  private add(p: NonNullable<ReportCollector['tail']>): void {
    const s = this.s;
    s.time.push(p.time);
    s.closeY.push(p.closeY);
    s.closeX.push(p.closeX);
    s.z.push(p.z);
    s.equity.push(p.equity);
    s.drawdown.push(p.drawdown);
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
