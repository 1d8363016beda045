/**
 * A live (or paper) run in the backtest report's format: metrics, equity and drawdown from the
 * equity the node journalled at each bar, the legs' closes and the spread's z-score from the bars
 * it recorded, its round trips as the trades. With `compare`, the recorded bars (warm-up included)
 * are replayed through the backtester with the same parameters, and the report shows both side by
 * side, trade by trade: what the live run paid in slippage and costs, and which trades it missed or
 * added (refused by risk, a session pause, a legging failure).
 *
 * The z-score is recomputed by the replay (it is a function of the bars alone; the engine parity
 * test shows the live decisions equal the backtester's on the same bars).
 */
import { ReportCollector } from '../backtest/report/collect.ts';
import { renderReport } from '../backtest/report/render.ts';
import { EquityStats, barsPerYear } from '../backtest/metrics.ts';
import { runBacktest, type BacktestResult, type TradeRecord } from '../backtest/runner.ts';
import { barMinutes, cointegrationParamsSchema, type CointegrationParams } from '../strategies/cointegration/params.ts';
import { createStrategy } from '../strategies/registry.ts';
import type { PairBar } from '../strategies/types.ts';
import { UserError } from '../util/errors.ts';
import type { JournalReader, ReaderBar } from './journal-reader.ts';
import { readNodeStatus } from './node-status.ts';
import { roundTrips, type RoundTrip } from './round-trips.ts';

export interface LiveReportOptions {
  /** Which strategy of the journal (default: the only one). */
  strategyId?: string;
  /** The strategy's parameters; default: from the node status record. */
  params?: CointegrationParams;
  /** Replay the recorded bars through the backtester and show both. */
  compare?: boolean;
  slippageBps?: number;
  title?: string;
}

export interface LiveReport {
  html: string;
  live: BacktestResult;
  backtest: BacktestResult | null;
  comparison: TradeComparison[];
}

export interface TradeComparison {
  entryBar: number;
  side: string;
  live: { pnl: number | null; exitBar: number | null } | null;
  backtest: { pnl: number; exitBar: number | null } | null;
  /** live - backtest P&L (slippage, costs, timing), when both closed. */
  difference: number | null;
  status: 'matched' | 'missed live' | 'live only';
}

/** The journal's bar rows of two symbols as pair bars (times where both have a bar). */
export function pairBars(rows: ReaderBar[], y: string, x: string): PairBar[] {
  const byTime = new Map<number, Partial<PairBar>>();
  for (const r of rows) {
    if (r.symbol !== y && r.symbol !== x) continue;
    const b = byTime.get(r.time) ?? { time: r.time };
    const bar = { open: r.open, high: r.high, low: r.low, close: r.close, volume: r.volume };
    if (r.symbol === y) b.y = bar;
    else b.x = bar;
    byTime.set(r.time, b);
  }
  return [...byTime.values()].filter((b): b is PairBar => Boolean(b.y && b.x)).sort((a, b) => a.time - b.time);
}

function paramsFor(reader: JournalReader, id: string | undefined, given: CointegrationParams | undefined): { id: string; params: CointegrationParams } {
  const status = readNodeStatus(reader.file);
  const strategies = Object.values(status?.strategies ?? {});
  const st = id ? strategies.find((s) => s.id === id) : strategies.length === 1 ? strategies[0] : undefined;
  if (given) return { id: id ?? st?.id ?? reader.defaultStrategyId, params: given };
  if (!st?.params) {
    throw new UserError(`the journal ${reader.file} has no record of the strategy's parameters${id ? ` for "${id}"` : ''} (no node status record, or several strategies). Fix: pass --config with the strategy file the node ran${strategies.length > 1 ? ` and --strategy <id> (one of ${strategies.map((s) => s.id).join(', ')})` : ''}.`);
  }
  return { id: st.id, params: cointegrationParamsSchema.parse(st.params) };
}

/** The z-score at each bar, replaying the bars through the strategy (what the node computed live). */
export function replayZ(bars: PairBar[], params: CointegrationParams): Map<number, number | null> {
  const z = new Map<number, number | null>();
  runBacktest(bars, createStrategy(params), { legs: params.legs, bar: params.bar, slippageBps: 0, startingCash: 100_000 }, {
    onBar: (e) => z.set(e.bar.time, e.diagnostics?.z ?? null),
  });
  return z;
}

export function buildLiveReport(reader: JournalReader, o: LiveReportOptions = {}): LiveReport {
  const { id, params } = paramsFor(reader, o.strategyId, o.params);
  const y = params.legs.y.symbol;
  const x = params.legs.x.symbol;
  const all = pairBars(reader.bars({ includeWarmup: true }), y, x);
  const liveTimes = new Set(reader.bars({ includeWarmup: false }).map((b) => b.time));
  const equityRows = reader.equity().filter((e) => e.strategyId === id);
  if (equityRows.length === 0) throw new UserError(`the journal ${reader.file} has no equity points for strategy "${id}" yet: the node records one per live bar. Fix: report once it has run for a few bars.`);
  const startEquity = equityRows[0]!.equity;

  // Replay: the z-score at every live bar (and, for --compare-backtest, the backtest itself).
  const collector = new ReportCollector();
  const bt = runBacktest(all, createStrategy(params), { legs: params.legs, bar: params.bar, slippageBps: o.slippageBps ?? 0, startingCash: startEquity }, {
    onBar: (e) => {
      if (liveTimes.has(e.bar.time)) collector.onBar(e);
    },
  });

  const marks = Object.fromEntries(reader.lastBars().map((b) => [b.symbol, b.close]));
  const trips = roundTrips(reader.fills(), reader.orders(), reader.decisions(), { marks }).filter((t) => t.strategyId === id);
  const barMs = barMinutes(params.bar) * 60_000;
  const toBar = (t: number): number => Math.floor(t / barMs) * barMs;
  const trades: TradeRecord[] = trips.map((t) => ({
    side: t.side === 'SHORT' ? 'SHORT' : 'LONG',
    entryTime: t.entryBar ?? toBar(t.entryTime), entryBar: 0,
    exitTime: t.open ? null : (t.exitBar ?? toBar(t.exitTime!)), exitBar: null,
    exitReason: (t.open ? null : (t.exitReason === 'max-holding' ? 'maxHolding' : t.exitReason)) as TradeRecord['exitReason'],
    qtyY: t.legs[y] ?? 0, qtyX: t.legs[x] ?? 0, pnl: t.pnl ?? 0,
  }));

  // The live equity curve replaces the replay's in the charts.
  const stats = new EquityStats();
  const eqByTime = new Map<number, number>();
  for (const e of equityRows) {
    stats.push(e.equity);
    eqByTime.set(e.time, e.equity);
  }
  const series = collector.series();
  let peak = -Infinity;
  series.equity = series.time.map((t, i) => eqByTime.get(t) ?? series.equity[i]!);
  series.drawdown = series.equity.map((v) => {
    peak = Math.max(peak, v);
    return peak > 0 ? (peak - v) / peak : 0;
  });
  const closed = trips.filter((t) => !t.open);
  const holding = closed.map((t) => ((t.exitBar ?? toBar(t.exitTime!)) - (t.entryBar ?? toBar(t.entryTime))) / barMs);
  const live: BacktestResult = {
    startingCash: startEquity,
    finalEquity: equityRows[equityRows.length - 1]!.equity,
    metrics: {
      ...stats.summary(startEquity, barsPerYear([params.legs.y.secType, params.legs.x.secType], params.bar)),
      trades: closed.length,
      winRate: closed.length ? closed.filter((t) => (t.pnl ?? 0) > 0).length / closed.length : 0,
      avgHoldingBars: holding.length ? holding.reduce((a, b) => a + b, 0) / holding.length : 0,
      commissions: trips.reduce((s, t) => s + t.commission, 0),
    },
    trades,
    fills: [],
    equity: { time: Float64Array.from(equityRows.map((e) => e.time)), equity: Float64Array.from(equityRows.map((e) => e.equity)) },
    bars: liveTimes.size,
    // What the strategy saw on the recorded bars: the replay's counts (warm-up, gate, signals).
    diagnostics: bt.diagnostics,
  };

  const comparison = o.compare ? compareTrades(trips, bt.trades, toBar) : [];
  const mode = reader.meta('mode') ?? 'live';
  const html = renderReport(live, series, {
    title: o.title ?? `${mode === 'paper' ? 'Paper' : 'Live'} run: ${id}`,
    ySymbol: y, xSymbol: x, bar: params.bar, entryZ: params.entryZ, exitZ: params.exitZ, stopZ: params.stopZ,
    dataFile: reader.file,
    subtitleNote: 'Equity and trades as the node journalled them (fills at real prices, commissions included); z-score recomputed from the recorded bars.',
    ...(o.compare ? { afterMetrics: comparisonHtml(live, bt, comparison) } : {}),
  });
  return { html, live, backtest: o.compare ? bt : null, comparison };
}

function compareTrades(trips: RoundTrip[], bt: TradeRecord[], toBar: (t: number) => number): TradeComparison[] {
  const out: TradeComparison[] = [];
  const used = new Set<RoundTrip>();
  for (const b of bt) {
    const l = trips.find((t) => !used.has(t) && (t.entryBar ?? toBar(t.entryTime)) === b.entryTime);
    if (l) used.add(l);
    const livePnl = l ? l.pnl : null;
    out.push({
      entryBar: b.entryTime, side: b.side,
      live: l ? { pnl: livePnl, exitBar: l.open ? null : (l.exitBar ?? toBar(l.exitTime!)) } : null,
      backtest: { pnl: b.pnl, exitBar: b.exitTime },
      difference: l && !l.open && b.exitTime !== null && livePnl !== null ? Math.round((livePnl - b.pnl) * 100) / 100 : null,
      status: l ? 'matched' : 'missed live',
    });
  }
  for (const t of trips) {
    if (used.has(t)) continue;
    out.push({ entryBar: t.entryBar ?? toBar(t.entryTime), side: t.side, live: { pnl: t.pnl, exitBar: t.open ? null : (t.exitBar ?? toBar(t.exitTime!)) }, backtest: null, difference: null, status: 'live only' });
  }
  return out.sort((a, b) => a.entryBar - b.entryBar);
}

const iso = (t: number | null): string => (t === null ? 'open' : new Date(t).toISOString().replace('.000Z', 'Z'));
const money = (v: number | null | undefined): string => (v === null || v === undefined ? '' : v.toFixed(2));
const pct = (v: number): string => `${(v * 100).toFixed(2)}%`;

function comparisonHtml(live: BacktestResult, bt: BacktestResult, rows: TradeComparison[]): string {
  const m = (k: string, a: string, b: string): string => `<tr><td>${k}</td><td class="n">${a}</td><td class="n">${b}</td></tr>`;
  const matched = rows.filter((r) => r.difference !== null);
  const slip = matched.reduce((s, r) => s + r.difference!, 0);
  return `<h2>Live vs backtest (the same recorded bars replayed)</h2>
<table class="metrics"><thead><tr><th></th><th class="n">Live</th><th class="n">Backtest</th></tr></thead><tbody>
${m('Final equity', money(live.finalEquity), money(bt.finalEquity))}
${m('Total return', pct(live.metrics.totalReturn), pct(bt.metrics.totalReturn))}
${m('Trades (closed)', String(live.metrics.trades), String(bt.metrics.trades))}
${m('Win rate', pct(live.metrics.winRate), pct(bt.metrics.winRate))}
${m('Commissions', money(live.metrics.commissions), money(bt.metrics.commissions))}
</tbody></table>
<p class="sub">${matched.length} trade(s) matched: live minus backtest P&amp;L ${money(slip)} (slippage, costs, fill timing); ${rows.filter((r) => r.status === 'missed live').length} missed live; ${rows.filter((r) => r.status === 'live only').length} live only.</p>
<table class="trades" id="comparison"><thead><tr><th>Entry bar</th><th>Side</th><th>Status</th><th>Exit (live)</th><th class="n">Live P&amp;L</th><th>Exit (backtest)</th><th class="n">Backtest P&amp;L</th><th class="n">Difference</th></tr></thead><tbody>
${rows.map((r) => `<tr><td>${iso(r.entryBar)}</td><td class="${r.side === 'LONG' ? 'long' : 'short'}">${r.side}</td><td>${r.status}</td><td>${r.live ? iso(r.live.exitBar) : ''}</td><td class="n">${money(r.live?.pnl)}</td><td>${r.backtest ? iso(r.backtest.exitBar) : ''}</td><td class="n">${money(r.backtest?.pnl)}</td><td class="n ${r.difference !== null && r.difference < 0 ? 'neg' : 'pos'}">${money(r.difference)}</td></tr>`).join('\n') || '<tr><td colspan="8">No trades in either.</td></tr>'}
</tbody></table>`;
}
