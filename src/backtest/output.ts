/**
 * The backtest's JSON output (docs/strategy.md, "Backtest output"), exactly the spec's keys, written
 * in chunks so a curve of millions of points never becomes one giant string.
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

export function* backtestJsonChunks(r: BacktestResult): Generator<string> {
  yield head(r);
  const { time, equity } = r.equity;
  let buf = '';
  for (let i = 0; i < time.length; i++) {
    buf += `${i ? ',' : ''}{"time":"${iso(time[i]!)}","equity":${JSON.stringify(equity[i]!)}}`;
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
