/**
 * The backtest's JSON output (docs/strategy.md, "Backtest output"), exactly the spec's keys, written
 * as a stream of 64 KB chunks so a curve of millions of points never becomes one giant string. The
 * curve's times are formatted without a Date per point (the day's prefix is reused), which made
 * writing a 1,000,000-bar result several times faster.
 */
import { createWriteStream } from 'node:fs';
import { once } from 'node:events';
import type { BacktestResult } from './runner.ts';

const iso = (ms: number): string => new Date(ms).toISOString();

/** Everything but the equity curve, in the spec's key order. */
function head(r: BacktestResult): string {
  const body = {
    startingCash: r.startingCash,
    finalEquity: r.finalEquity,
    metrics: r.metrics,
    diagnostics: r.diagnostics,
    trades: r.trades.map((t) => ({
      side: t.side,
      entryTime: iso(t.entryTime),
      exitTime: t.exitTime === null ? null : iso(t.exitTime),
      exitReason: t.exitReason,
      qtyY: t.qtyY,
      qtyX: t.qtyX,
      pnl: t.pnl,
    })),
    fills: r.fills.map((f) => ({ time: iso(f.time), symbol: f.symbol, side: f.side, qty: f.qty, price: f.price, commission: f.commission })),
  };
  const s = JSON.stringify(body);
  return s.slice(0, -1) + ',"equity":[';
}

const pad2 = (v: number): string => (v < 10 ? `0${v}` : String(v));
const pad3 = (v: number): string => (v < 10 ? `00${v}` : v < 100 ? `0${v}` : String(v));

/** `toISOString` for many times in a row: the date part is formatted once a day. */
export function isoFormatter(): (ms: number) => string {
  let day = NaN;
  let prefix = '';
  return (ms: number): string => {
    const d = Math.floor(ms / 86_400_000);
    if (d !== day) {
      // Years 0000-9999 only: others print with a sign and six digits.
      if (!(ms >= -62_167_219_200_000 && ms < 253_402_300_800_000)) return iso(ms);
      day = d;
      prefix = iso(d * 86_400_000).slice(0, 11);
    }
    let rest = ms - d * 86_400_000;
    const h = Math.floor(rest / 3_600_000);
    rest -= h * 3_600_000;
    const m = Math.floor(rest / 60_000);
    rest -= m * 60_000;
    const s = Math.floor(rest / 1000);
    return `${prefix}${pad2(h)}:${pad2(m)}:${pad2(s)}.${pad3(rest - s * 1000)}Z`;
  };
}

export function* backtestJsonChunks(r: BacktestResult): Generator<string> {
  yield head(r);
  const { time, equity } = r.equity;
  const isoOf = isoFormatter();
  let buf = '';
  for (let i = 0; i < time.length; i++) {
    const v = equity[i]!;
    // JSON.stringify of a number, without the call: finite numbers print as String does.
    buf += `${i ? ',' : ''}{"time":"${isoOf(time[i]!)}","equity":${Number.isFinite(v) ? String(v) : 'null'}}`;
    if (buf.length > 1 << 16) {
      yield buf;
      buf = '';
    }
  }
  yield buf + ']}\n';
}

/** The whole output as one string (small results, tests). */
export function backtestJson(r: BacktestResult): string {
  return [...backtestJsonChunks(r)].join('');
}

export async function writeBacktestJson(r: BacktestResult, file: string): Promise<void> {
  const out = createWriteStream(file);
  const failed = once(out, 'error').then(([e]) => {
    throw e;
  });
  failed.catch(() => {});
  for (const chunk of backtestJsonChunks(r)) {
    if (!out.write(chunk)) await Promise.race([once(out, 'drain'), failed]);
  }
  out.end();
  await Promise.race([once(out, 'finish'), failed]);
}
