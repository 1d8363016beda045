/**
 * The backtest report: one self-contained HTML file (no network: the charting library,
 * lightweight-charts' standalone build, and the data are inlined). Metrics table; equity and
 * drawdown; both legs' closes; the spread's z-score with the entry/exit/stop thresholds and a
 * marker at each trade; the trades table.
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

export function renderReport(result: BacktestResult, series: ReportSeries, meta: ReportMeta): string {
  const m = result.metrics;
  const zone = exchangeZone(meta.secTypes ?? ['STK']);
  const clock = new ZoneClock(zone);
  const rows: [string, string][] = [
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
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${esc(meta.title)}</title>
<style>
${REPORT_CSS}
.cross{position:sticky;top:0;background:#fff;z-index:2;font-size:12px;padding:4px 0;border-bottom:1px solid #e3e6ec;font-variant-numeric:tabular-nums}
.cols{display:flex;gap:32px;flex-wrap:wrap;align-items:flex-start}
</style></head><body>
<h1>${esc(meta.title)}</h1>
<p class="sub">y = ${esc(meta.ySymbol)}, x = ${esc(meta.xSymbol)} · ${esc(meta.bar)} bars · ${first !== undefined && last !== undefined ? `${clock.format(first)} → ${clock.format(last)}` : 'no bars'} · times in ${esc(zone.label)} (${esc(zone.tz)})${meta.dataFile ? ` · ${esc(meta.dataFile)}` : ''}</p>
${meta.subtitleNote ? `<p class="sub">${esc(meta.subtitleNote)}</p>` : ''}
${hint}
${downsampleNote}
<div class="cols"><div>
<h2>Metrics</h2>
<table class="metrics">${rows.map(([k, v]) => `<tr><td>${k}</td><td>${v}</td></tr>`).join('')}</table>
</div><div>
<h2>What the strategy saw</h2>
<table class="diagnostics">${describeDiagnostics(d).map(([k, v]) => `<tr><td>${esc(k)}</td><td>${esc(v)}</td></tr>`).join('')}</table>
</div></div>
${meta.afterMetrics ?? ''}
<div class="cross" id="crosshair"></div>
<h2>Equity</h2><div id="equity" class="chart"></div>
<h2>Drawdown (%)</h2><div id="drawdown" class="chart small"></div>
<h2>Prices</h2><div class="legend"><span style="color:#0a62c9">━ ${esc(meta.ySymbol)} (y, left scale)</span> · <span style="color:#d9730d">━ ${esc(meta.xSymbol)} (x, right scale)</span>${series.gated ? ' · green shading: the gate allowed entries' : ''}</div><div id="prices" class="chart"></div>
<h2>Spread z-score</h2><div class="legend">entry ±${meta.entryZ} (orange) · exit ±${meta.exitZ} (green) · stop ±${meta.stopZ} (red) · <span style="color:${C.long}">▲ LONG entry</span>, <span style="color:${C.short}">▼ SHORT entry</span>, close ● <span style="color:${C.exit}">exit</span> <span style="color:${C.stop}">stop</span> <span style="color:${C.maxHolding}">maxHolding</span>${series.gated ? ' · green shading: the gate allowed entries (p-value in the bar above the charts)' : ''}</div><div id="zscore" class="chart"></div>
<h2>Trades (${result.trades.length})</h2>
${result.trades.length > shown.length ? `<p class="note">The table lists the first ${shown.length} trades; the JSON output has all of them.</p>` : ''}
<p class="legend">Entry and exit are the fills (the open after the decision bar), in ${esc(zone.label)} time; prices include slippage; P&amp;L includes commissions.</p>
<table class="trades scroll"><thead><tr><th>#</th><th>Side</th><th>Entry</th><th>Exit</th><th>Reason</th><th class="n">Holding</th><th class="n">Qty ${esc(meta.ySymbol)}</th><th class="n">Entry ${esc(meta.ySymbol)}</th><th class="n">Exit ${esc(meta.ySymbol)}</th><th class="n">Qty ${esc(meta.xSymbol)}</th><th class="n">Entry ${esc(meta.xSymbol)}</th><th class="n">Exit ${esc(meta.xSymbol)}</th><th class="n">P&amp;L</th></tr></thead>
<tbody>${tradeTable(shown, clock) || '<tr><td colspan="13">No trades.</td></tr>'}</tbody></table>
<div class="cols"><div>
<h2>By exit reason</h2>
${breakdownTable('Reason', byReason)}
</div><div>
<h2>By ${weekly ? 'week' : 'day'} of exit</h2>
<div class="scroll">${breakdownTable(weekly ? 'Week' : 'Day', byPeriod)}</div>
</div></div>
${
  series.gated
    ? `<h2>Gate open (${series.gateSpans.length} span${series.gateSpans.length === 1 ? '' : 's'})</h2>
${series.gateSpans.length > MAX_GATE_ROWS ? `<p class="note">The first ${MAX_GATE_ROWS} spans.</p>` : ''}
<table class="gate scroll"><thead><tr><th>From (decision bar)</th><th>To</th><th class="n">p-value</th></tr></thead><tbody>${gateRows || '<tr><td colspan="3">The gate never opened.</td></tr>'}</tbody></table>`
    : ''
}
<script>${chartLibrarySource().replace(/<\/script/gi, '<\\/script')}</script>
<script type="application/json" id="report-data">${scriptJson(data)}</script>
<script>${PAGE_SCRIPT}</script>
</body></html>
`;
}
