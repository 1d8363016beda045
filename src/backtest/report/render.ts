/**
 * The backtest report: one self-contained HTML file (no network: the charting library,
 * lightweight-charts' standalone build, and the data are inlined). Metrics table; equity and
 * drawdown; both legs' closes; the spread's z-score with the entry/exit/stop thresholds and a
 * marker at each trade; the trades table. A portfolio backtest (an engine config's strategies on
 * one account) gets the account's section first (equity, drawdown, metrics, refusals, why it
 * stopped), then one section per strategy drawn by the same code as a one-strategy report.
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import type { SecType } from '../../strategies/cointegration/params.ts';
import { describeDiagnostics } from '../diagnostics.ts';
import type { BacktestResult } from '../runner.ts';
import type { ReportSeries } from './collect.ts';
import { PAGE_SCRIPT } from './page-script.ts';
import { exchangeZone, ZoneClock } from './time-zone.ts';
import { breakdown, formatDuration, tradeRows, type BreakdownRow, type TradeRow } from './trades.ts';
import { REPORT_CSS } from './theme.ts';

export interface ReportMeta {
  title: string;
  ySymbol: string;
  xSymbol: string;
  bar: string;
  entryZ: number;
  exitZ: number;
  stopZ: number;
  dataFile?: string;
  /** The legs' security types: New York time for stocks, UTC for crypto (default: stocks). */
  secTypes?: readonly SecType[];
  /** Extra HTML placed after the metrics (the live report's comparison with a backtest). */
  afterMetrics?: string;
  /** What the equity is from, under the title (default: nothing). */
  subtitleNote?: string;
}

/** Most trades listed in the table (all are in the JSON output). */
export const MAX_TRADE_ROWS = 5000;

let libCache: string | null = null;
/** The standalone production build of lightweight-charts, resolved through the package. */
export function chartLibrarySource(): string {
  if (libCache === null) {
    const require = createRequire(import.meta.url);
    const pkgDir = dirname(require.resolve('lightweight-charts/package.json'));
    libCache = readFileSync(join(pkgDir, 'dist', 'lightweight-charts.standalone.production.js'), 'utf8');
  }
  return libCache;
}

const esc = (s: string): string => s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);
/** JSON safe inside a <script> element. */
const scriptJson = (v: unknown): string => JSON.stringify(v).replace(/</g, '\\u003c');
const num = (v: number, d = 2): string => (Number.isFinite(v) ? v.toLocaleString('en-US', { minimumFractionDigits: d, maximumFractionDigits: d }) : String(v));
const pct = (v: number): string => (Number.isFinite(v) ? `${(v * 100).toFixed(2)}%` : String(v));

/** Marker and line colours, distinct so a test can find each marker in the chart's pixels. */
export const REPORT_COLORS = {
  long: '#0a62c9',
  short: '#a3339e',
  exit: '#00a3a3',
  stop: '#e0115f',
  maxHolding: '#8a5a00',
  entryLine: '#d9730d',
  exitLine: '#0a7d32',
  stopLine: '#c0262d',
  gate: 'rgba(10,125,50,0.10)',
} as const;

/** Trades grouped by week rather than by day beyond this many days. */
const DAILY_BREAKDOWN_MAX_DAYS = 45;
const MAX_GATE_ROWS = 200;

const price = (v: number | null): string => (v === null ? '–' : num(v, 4));
const pnlCell = (v: number): string => `<td class="n ${v >= 0 ? 'pos' : 'neg'}">${num(v)}</td>`;

function breakdownTable(title: string, rows: BreakdownRow[]): string {
  const body = rows
    .map((b) => `<tr><td>${esc(b.key)}</td><td class="n">${b.trades}</td><td class="n">${pct(b.wins / b.trades)}</td>${pnlCell(b.pnl)}${pnlCell(b.pnl / b.trades)}</tr>`)
    .join('');
  return `<table class="breakdown"><thead><tr><th>${title}</th><th class="n">Trades</th><th class="n">Win rate</th><th class="n">P&amp;L</th><th class="n">Avg P&amp;L</th></tr></thead><tbody>${body || '<tr><td colspan="5">No trades.</td></tr>'}</tbody></table>`;
}

function tradeTable(rows: TradeRow[], clock: ZoneClock): string {
  const when = (ms: number | null) => (ms === null ? 'open' : clock.format(ms));
  return rows
    .map(
      (t) =>
        `<tr><td>${t.n}</td><td class="${t.side === 'LONG' ? 'long' : 'short'}">${t.side}</td><td>${when(t.entryFill)}</td><td>${when(t.exitFill)}</td>` +
        `<td>${t.exitReason ?? 'open'}</td><td class="n">${t.holdingMs === null ? '–' : `${formatDuration(t.holdingMs)} (${t.holdingBars} bars)`}</td>` +
        `<td class="n">${t.qtyY}</td><td class="n">${price(t.entryPriceY)}</td><td class="n">${price(t.exitPriceY)}</td>` +
        `<td class="n">${t.qtyX}</td><td class="n">${price(t.entryPriceX)}</td><td class="n">${price(t.exitPriceX)}</td>${pnlCell(t.pnl)}</tr>`,
    )
    .join('\n');
}

/** A strategy's part of a report: its run, its charted series, its symbols and thresholds. */
export interface StrategySection {
  result: BacktestResult;
  series: ReportSeries;
  meta: ReportMeta;
}

/** One strategy's report: the page as it always was, one section without an account. */
export function renderReport(result: BacktestResult, series: ReportSeries, meta: ReportMeta): string {
  const s = strategySection({ result, series, meta }, '', 1);
  return page(meta.title, s.html, [s.data]);
}

/** A decision the live rules did not execute (live-backtest.ts's Refusal). */
export interface ReportRefusal {
  strategyId: string;
  kind: string;
  reason: string;
  count: number;
}

export interface PortfolioReportInput {
  title: string;
  dataFile?: string;
  /** The whole account (the sum of the strategies' books) on the merged time line. */
  account: BacktestResult;
  /** Why the run ended: `end-of-data` or `daily-loss`. */
  stopReason: string;
  refusals: ReportRefusal[];
  /** Every strategy's section, in config order; `meta.title` names it. */
  strategies: StrategySection[];
  /** Most points of the account's charts (default 4000). */
  maxPoints?: number;
}

/**
 * A portfolio backtest's report: the account (its equity and drawdown, metrics, each strategy's
 * share, what the live rules refused and why the run stopped), then one section per strategy
 * drawn exactly as a one-strategy report, in its own exchange's time zone.
 */
export function renderPortfolioReport(p: PortfolioReportInput): string {
  const secTypes = p.strategies.flatMap((s) => s.meta.secTypes ?? ['STK' as const]);
  const account = accountSection(p, secTypes);
  const sections = p.strategies.map((s, i) => strategySection(s, `s${i + 1}-`, 2));
  const toc = p.strategies.map((s, i) => `<a href="#s${i + 1}">${esc(s.meta.title)}</a>`).join(' · ');
  const body = `<h1>${esc(p.title)}</h1>
<p class="sub">${p.strategies.length} strategies on one account${p.dataFile ? ` · ${esc(p.dataFile)}` : ''} · ${toc}</p>
${account.html}
${sections.map((s, i) => `<section id="s${i + 1}" class="strategy">\n${s.html}\n</section>`).join('\n')}`;
  return page(p.title, body, [account.data, ...sections.map((s) => s.data)]);
}

function page(title: string, body: string, sections: unknown[]): string {
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${esc(title)}</title>
<style>
${REPORT_CSS}
.cross{position:sticky;top:0;background:#fff;z-index:2;font-size:12px;padding:4px 0;border-bottom:1px solid #e3e6ec;font-variant-numeric:tabular-nums}
.cols{display:flex;gap:32px;flex-wrap:wrap;align-items:flex-start}
section.strategy,section.account{border-top:3px solid #1d2330;margin-top:32px;padding-top:4px}h3{font-size:15px;margin:20px 0 6px}
</style></head><body>
${body}
<script>${chartLibrarySource().replace(/<\/script/gi, '<\\/script')}</script>
<script type="application/json" id="report-data">${scriptJson({ sections })}</script>
<script>${PAGE_SCRIPT}</script>
</body></html>
`;
}

function metricRows(result: BacktestResult): [string, string][] {
  const m = result.metrics;
  return [
    ['Starting cash', num(result.startingCash)],
    ['Final equity', num(result.finalEquity)],
    ['Total return', pct(m.totalReturn)],
    ['CAGR', pct(m.cagr)],
    ['Sharpe', num(m.sharpe, 2)],
    ['Max drawdown', pct(m.maxDrawdown)],
    ['Trades', String(m.trades)],
    ['Win rate', pct(m.winRate)],
    ['Avg holding (bars)', num(m.avgHoldingBars, 1)],
    ['Commissions', num(m.commissions)],
    ['Aligned bars', String(result.bars)],
  ];
}

const metricsTable = (result: BacktestResult): string => `<table class="metrics">${metricRows(result).map(([k, v]) => `<tr><td>${k}</td><td>${v}</td></tr>`).join('')}</table>`;

/**
 * A strategy's section. `prefix` starts its elements' ids (none in a one-strategy report, whose
 * ids tests and pages rely on); `level` 1 titles it as the page (h1, parts in h2), 2 as a part of
 * a portfolio's page (h2, parts in h3).
 */
function strategySection({ result, series, meta }: StrategySection, prefix: string, level: 1 | 2): { html: string; data: unknown } {
  const H = level === 1 ? 'h1' : 'h2';
  const h = level === 1 ? 'h2' : 'h3';
  const zone = exchangeZone(meta.secTypes ?? ['STK']);
  const clock = new ZoneClock(zone);
  const d = result.diagnostics;
  const trades = tradeRows(result);
  const shown = trades.slice(0, MAX_TRADE_ROWS);
  const first = result.equity.time[0];
  const last = result.equity.time[result.equity.time.length - 1];
  const days = first !== undefined && last !== undefined ? (last - first) / 86_400_000 : 0;
  const weekly = days > DAILY_BREAKDOWN_MAX_DAYS;
  const byPeriod = breakdown(trades, (t) => (t.exitFill === null ? 'open at the end' : weekly ? `week of ${clock.week(t.exitFill)}` : clock.day(t.exitFill)));
  const byReason = breakdown(trades, (t) => t.exitReason ?? 'open at the end');
  const gateRows = series.gateSpans
    .slice(0, MAX_GATE_ROWS)
    .map((g) => `<tr><td>${clock.format(g.from)}</td><td>${clock.format(g.to)}</td><td class="n">${g.pValue === null ? '–' : g.pValue.toPrecision(3)}</td></tr>`)
    .join('');
  const data = {
    kind: 'strategy',
    id: meta.title,
    prefix,
    time: series.time.map((t) => clock.chartTime(t)),
    labels: series.time.map((t) => clock.format(t)),
    zone: zone.label,
    closeY: series.closeY,
    closeX: series.closeX,
    z: series.z,
    equity: series.equity,
    drawdown: series.drawdown.map((v) => -v * 100),
    gate: series.gated ? series.gate.map((p) => (p === null ? null : Number.isNaN(p) ? -1 : p)) : null,
    trades: result.trades.map((t) => ({ side: t.side, entry: clock.chartTime(t.entryTime), exit: t.exitTime === null ? null : clock.chartTime(t.exitTime), reason: t.exitReason })),
    thresholds: { entry: meta.entryZ, exit: meta.exitZ, stop: meta.stopZ },
    names: { y: meta.ySymbol, x: meta.xSymbol },
    colors: REPORT_COLORS,
  };
  const downsampleNote =
    series.stride > 1
      ? `<p class="note">Charts show one bar in ${series.stride} (${series.time.length} of ${series.totalBars} bars) to stay light; the metrics and the trades are computed from every bar.</p>`
      : '';
  const hint = d.hint ? `<p class="note"><b>No trades:</b> ${esc(d.hint)}</p>` : '';
  const C = REPORT_COLORS;
  const id = (name: string) => `${prefix}${name}`;
  const html = `<${H}>${esc(meta.title)}</${H}>
<p class="sub">y = ${esc(meta.ySymbol)}, x = ${esc(meta.xSymbol)} · ${esc(meta.bar)} bars · ${first !== undefined && last !== undefined ? `${clock.format(first)} → ${clock.format(last)}` : 'no bars'} · times in ${esc(zone.label)} (${esc(zone.tz)})${meta.dataFile ? ` · ${esc(meta.dataFile)}` : ''}</p>
${meta.subtitleNote ? `<p class="sub">${esc(meta.subtitleNote)}</p>` : ''}
${hint}
${downsampleNote}
<div class="cols"><div>
<${h}>Metrics</${h}>
${metricsTable(result)}
</div><div>
<${h}>What the strategy saw</${h}>
<table class="diagnostics">${describeDiagnostics(d).map(([k, v]) => `<tr><td>${esc(k)}</td><td>${esc(v)}</td></tr>`).join('')}</table>
</div></div>
${meta.afterMetrics ?? ''}
<div class="cross" id="${id('crosshair')}"></div>
<${h}>Equity</${h}><div id="${id('equity')}" class="chart"></div>
<${h}>Drawdown (%)</${h}><div id="${id('drawdown')}" class="chart small"></div>
<${h}>Prices</${h}><div class="legend"><span style="color:#0a62c9">━ ${esc(meta.ySymbol)} (y, left scale)</span> · <span style="color:#d9730d">━ ${esc(meta.xSymbol)} (x, right scale)</span>${series.gated ? ' · green shading: the gate allowed entries' : ''}</div><div id="${id('prices')}" class="chart"></div>
<${h}>Spread z-score</${h}><div class="legend">entry ±${meta.entryZ} (orange) · exit ±${meta.exitZ} (green) · stop ±${meta.stopZ} (red) · <span style="color:${C.long}">▲ LONG entry</span>, <span style="color:${C.short}">▼ SHORT entry</span>, close ● <span style="color:${C.exit}">exit</span> <span style="color:${C.stop}">stop</span> <span style="color:${C.maxHolding}">maxHolding</span>${series.gated ? ' · green shading: the gate allowed entries (p-value in the bar above the charts)' : ''}</div><div id="${id('zscore')}" class="chart"></div>
<${h}>Trades (${result.trades.length})</${h}>
${result.trades.length > shown.length ? `<p class="note">The table lists the first ${shown.length} trades; the JSON output has all of them.</p>` : ''}
<p class="legend">Entry and exit are the fills (the open after the decision bar), in ${esc(zone.label)} time; prices include slippage; P&amp;L includes commissions.</p>
<table class="trades scroll" id="${id('trades')}"><thead><tr><th>#</th><th>Side</th><th>Entry</th><th>Exit</th><th>Reason</th><th class="n">Holding</th><th class="n">Qty ${esc(meta.ySymbol)}</th><th class="n">Entry ${esc(meta.ySymbol)}</th><th class="n">Exit ${esc(meta.ySymbol)}</th><th class="n">Qty ${esc(meta.xSymbol)}</th><th class="n">Entry ${esc(meta.xSymbol)}</th><th class="n">Exit ${esc(meta.xSymbol)}</th><th class="n">P&amp;L</th></tr></thead>
<tbody>${tradeTable(shown, clock) || '<tr><td colspan="13">No trades.</td></tr>'}</tbody></table>
<div class="cols"><div>
<${h}>By exit reason</${h}>
${breakdownTable('Reason', byReason)}
</div><div>
<${h}>By ${weekly ? 'week' : 'day'} of exit</${h}>
<div class="scroll">${breakdownTable(weekly ? 'Week' : 'Day', byPeriod)}</div>
</div></div>
${
  series.gated
    ? `<${h}>Gate open (${series.gateSpans.length} span${series.gateSpans.length === 1 ? '' : 's'})</${h}>
${series.gateSpans.length > MAX_GATE_ROWS ? `<p class="note">The first ${MAX_GATE_ROWS} spans.</p>` : ''}
<table class="gate scroll"><thead><tr><th>From (decision bar)</th><th>To</th><th class="n">p-value</th></tr></thead><tbody>${gateRows || '<tr><td colspan="3">The gate never opened.</td></tr>'}</tbody></table>`
    : ''
}`;
  return { html, data };
}

/**
 * The account's equity for its charts: one point in `stride` (and the last), at most `maxPoints`;
 * the drawdown from every point's running peak, so a dip between kept points still counts.
 */
export function accountSeries(result: BacktestResult, maxPoints = 4000): { time: number[]; equity: number[]; drawdown: number[]; stride: number; total: number } {
  const { time, equity } = result.equity;
  const total = time.length;
  const stride = Math.max(1, Math.ceil(total / maxPoints));
  const out = { time: [] as number[], equity: [] as number[], drawdown: [] as number[], stride, total };
  let peak = -Infinity;
  let worst = 0;
  for (let i = 0; i < total; i++) {
    const e = equity[i]!;
    if (e > peak) peak = e;
    const dd = peak > 0 ? (peak - e) / peak : 0;
    if (dd > worst) worst = dd;
    if (i % stride === 0 || i === total - 1) {
      out.time.push(time[i]!);
      out.equity.push(e);
      // The deepest drawdown since the last kept point: a decimated chart still shows the worst.
      out.drawdown.push(worst);
      worst = 0;
    }
  }
  return out;
}

const STOP_REASONS: Record<string, string> = {
  'end-of-data': 'the end of the data',
  'daily-loss': 'the daily-loss limit (risk.maxDailyLoss) was reached: every strategy was flattened at the next open and the run traded no more',
};

function accountSection(p: PortfolioReportInput, secTypes: readonly SecType[]): { html: string; data: unknown } {
  const a = p.account;
  const zone = exchangeZone(secTypes);
  const clock = new ZoneClock(zone);
  const s = accountSeries(a, p.maxPoints);
  const first = s.time[0];
  const last = s.time[s.time.length - 1];
  const data = {
    kind: 'account',
    id: 'account',
    prefix: 'account-',
    time: s.time.map((t) => clock.chartTime(t)),
    labels: s.time.map((t) => clock.format(t)),
    zone: zone.label,
    equity: s.equity,
    drawdown: s.drawdown.map((v) => -v * 100),
    colors: REPORT_COLORS,
  };
  const strategyRows = p.strategies
    .map((x, i) => {
      const r = x.result;
      const d = r.diagnostics;
      return `<tr><td><a href="#s${i + 1}">${esc(x.meta.title)}</a></td><td>${esc(x.meta.ySymbol)} / ${esc(x.meta.xSymbol)}</td><td class="n">${num(r.startingCash)}</td><td class="n">${num(r.finalEquity)}</td>${pnlCell(r.finalEquity - r.startingCash)}<td class="n">${pct(r.metrics.totalReturn)}</td><td class="n">${r.metrics.trades}</td><td class="n">${d.refused.risk}</td><td class="n">${d.refused.marketHours}</td></tr>`;
    })
    .join('');
  const refusalRows = p.refusals.map((r) => `<tr><td>${esc(r.strategyId)}</td><td>${esc(r.kind === 'marketHours' ? 'market hours' : r.kind)}</td><td class="n">${r.count}</td><td>${esc(r.reason)}${r.count > 1 ? ' (the first of them)' : ''}</td></tr>`).join('');
  const stopped = STOP_REASONS[p.stopReason] ?? p.stopReason;
  const note = s.stride > 1 ? `<p class="note">The account's charts show one point in ${s.stride} (${s.time.length} of ${s.total}); the drawdown chart keeps the deepest point between them.</p>` : '';
  const html = `<section id="account" class="account">
<h2>Account</h2>
<p class="sub">All strategies on one account · ${first !== undefined && last !== undefined ? `${clock.format(first)} → ${clock.format(last)}` : 'no bars'} · times in ${esc(zone.label)} (${esc(zone.tz)}) · stopped by ${esc(stopped)}</p>
${p.stopReason === 'daily-loss' ? `<p class="note"><b>Stopped:</b> ${esc(stopped)}.</p>` : ''}
${note}
<div class="cols"><div>
<h3>Metrics</h3>
${metricsTable(a)}
</div><div>
<h3>Strategies</h3>
<table class="strategies"><thead><tr><th>Strategy</th><th>Pair</th><th class="n">Start</th><th class="n">Final</th><th class="n">P&amp;L</th><th class="n">Return</th><th class="n">Trades</th><th class="n">Refused (risk)</th><th class="n">Refused (hours)</th></tr></thead><tbody>${strategyRows}</tbody></table>
<h3>Refused by the live rules (${p.refusals.reduce((n, r) => n + r.count, 0)})</h3>
<table class="refusals scroll"><thead><tr><th>Strategy</th><th>Rule</th><th class="n">Count</th><th>Reason</th></tr></thead><tbody>${refusalRows || '<tr><td colspan="4">Nothing was refused.</td></tr>'}</tbody></table>
</div></div>
<div class="cross" id="account-crosshair"></div>
<h3>Account equity</h3><div id="account-equity" class="chart"></div>
<h3>Account drawdown (%)</h3><div id="account-drawdown" class="chart small"></div>
</section>`;
  return { html, data };
}
