/**
 * The backtest report: one self-contained HTML file (no network: the charting library,
 * lightweight-charts' standalone build, and the data are inlined). Metrics table; equity and
 * drawdown; both legs' closes; the spread's z-score with the entry/exit/stop thresholds and a
 * marker at each trade; the trades table.
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import type { BacktestResult } from '../runner.ts';
import type { ReportSeries } from './collect.ts';
import { CHART_HELPERS_JS, REPORT_CSS } from './theme.ts';

export interface ReportMeta {
  title: string;
  ySymbol: string;
  xSymbol: string;
  bar: string;
  entryZ: number;
  exitZ: number;
  stopZ: number;
  dataFile?: string;
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
const iso = (ms: number): string => new Date(ms).toISOString().replace('.000Z', 'Z');
const num = (v: number, d = 2): string => (Number.isFinite(v) ? v.toLocaleString('en-US', { minimumFractionDigits: d, maximumFractionDigits: d }) : String(v));
const pct = (v: number): string => (Number.isFinite(v) ? `${(v * 100).toFixed(2)}%` : String(v));

export function renderReport(result: BacktestResult, series: ReportSeries, meta: ReportMeta): string {
  const m = result.metrics;
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
  const shown = result.trades.slice(0, MAX_TRADE_ROWS);
  const tradeRows = shown
    .map(
      (t, i) =>
        `<tr><td>${i + 1}</td><td class="${t.side === 'LONG' ? 'long' : 'short'}">${t.side}</td><td>${iso(t.entryTime)}</td>` +
        `<td>${t.exitTime === null ? 'open' : iso(t.exitTime)}</td><td>${t.exitReason ?? 'open'}</td><td class="n">${t.qtyY}</td>` +
        `<td class="n">${t.qtyX}</td><td class="n ${t.pnl >= 0 ? 'pos' : 'neg'}">${num(t.pnl)}</td></tr>`,
    )
    .join('\n');
  const data = {
    time: series.time.map((t) => Math.floor(t / 1000)),
    closeY: series.closeY,
    closeX: series.closeX,
    z: series.z,
    equity: series.equity,
    drawdown: series.drawdown.map((d) => -d * 100),
    trades: result.trades.map((t) => ({ side: t.side, entry: Math.floor(t.entryTime / 1000), exit: t.exitTime === null ? null : Math.floor(t.exitTime / 1000), reason: t.exitReason })),
    thresholds: { entry: meta.entryZ, exit: meta.exitZ, stop: meta.stopZ },
    names: { y: meta.ySymbol, x: meta.xSymbol },
  };
  const downsampleNote =
    series.stride > 1
      ? `<p class="note">Charts show one bar in ${series.stride} (${series.time.length} of ${series.totalBars} bars) to stay light; the metrics and the trades are computed from every bar.</p>`
      : '';
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${esc(meta.title)}</title>
<style>
${REPORT_CSS}
</style></head><body>
<h1>${esc(meta.title)}</h1>
<p class="sub">y = ${esc(meta.ySymbol)}, x = ${esc(meta.xSymbol)} · ${esc(meta.bar)} bars · ${series.totalBars > 0 ? `${iso(result.equity.time[0]!)} → ${iso(result.equity.time[result.equity.time.length - 1]!)}` : 'no bars'}${meta.dataFile ? ` · ${esc(meta.dataFile)}` : ''}</p>
${meta.subtitleNote ? `<p class="sub">${esc(meta.subtitleNote)}</p>` : ''}
${downsampleNote}
<h2>Metrics</h2>
<table class="metrics">${rows.map(([k, v]) => `<tr><td>${k}</td><td>${v}</td></tr>`).join('')}</table>
${meta.afterMetrics ?? ''}
<h2>Equity</h2><div id="equity" class="chart"></div>
<h2>Drawdown (%)</h2><div id="drawdown" class="chart small"></div>
<h2>Prices</h2><div class="legend"><span style="color:#0a62c9">━ ${esc(meta.ySymbol)} (y, left scale)</span> · <span style="color:#d9730d">━ ${esc(meta.xSymbol)} (x, right scale)</span></div><div id="prices" class="chart"></div>
<h2>Spread z-score</h2><div class="legend">entry ±${meta.entryZ} (orange) · exit ±${meta.exitZ} (green) · stop ±${meta.stopZ} (red) · ▲ LONG entry, ▼ SHORT entry, ● close</div><div id="zscore" class="chart"></div>
<h2>Trades (${result.trades.length})</h2>
${result.trades.length > shown.length ? `<p class="note">The table lists the first ${shown.length} trades; the JSON output has all of them.</p>` : ''}
<table class="trades"><thead><tr><th>#</th><th>Side</th><th>Entry (decision bar)</th><th>Exit (decision bar)</th><th>Reason</th><th class="n">Qty y</th><th class="n">Qty x</th><th class="n">PnL</th></tr></thead>
<tbody>${tradeRows || '<tr><td colspan="8">No trades.</td></tr>'}</tbody></table>
<script>${chartLibrarySource().replace(/<\/script/gi, '<\\/script')}</script>
<script>${CHART_HELPERS_JS}</script>
<script type="application/json" id="report-data">${scriptJson(data)}</script>
<script>
(function () {
  var D = JSON.parse(document.getElementById('report-data').textContent);
  var LC = window.LightweightCharts;
  var charts = [];
  function make(id) {
    var c = tdmChart(id);
    charts.push(c);
    return c;
  }
  function points(values) {
    var out = [];
    for (var i = 0; i < D.time.length; i++) { var v = values[i]; if (v !== null && isFinite(v)) out.push({ time: D.time[i], value: v }); }
    return out;
  }
  var eq = make('equity');
  eq.addSeries(LC.AreaSeries, { lineColor: '#0a62c9', topColor: 'rgba(10,98,201,0.25)', bottomColor: 'rgba(10,98,201,0.02)', lineWidth: 2 }).setData(points(D.equity));
  var dd = make('drawdown');
  dd.addSeries(LC.AreaSeries, { lineColor: '#c0262d', topColor: 'rgba(192,38,45,0.02)', bottomColor: 'rgba(192,38,45,0.3)', lineWidth: 1, invertFilledArea: false }).setData(points(D.drawdown));
  var pr = make('prices');
  pr.applyOptions({ leftPriceScale: { visible: true } });
  pr.addSeries(LC.LineSeries, { color: '#0a62c9', lineWidth: 2, priceScaleId: 'left', title: D.names.y }).setData(points(D.closeY));
  pr.addSeries(LC.LineSeries, { color: '#d9730d', lineWidth: 2, priceScaleId: 'right', title: D.names.x }).setData(points(D.closeX));
  var zc = make('zscore');
  var zs = zc.addSeries(LC.LineSeries, { color: '#1d2330', lineWidth: 1, title: 'z' });
  var zpts = points(D.z);
  zs.setData(zpts);
  var T = D.thresholds;
  tdmBands(zs, T);
  // Markers sit on the nearest charted bar at or before the decision bar (charts may be downsampled).
  function snap(t) {
    var lo = 0, hi = zpts.length - 1, best = null;
    while (lo <= hi) { var mid = (lo + hi) >> 1; if (zpts[mid].time <= t) { best = zpts[mid].time; lo = mid + 1; } else hi = mid - 1; }
    return best;
  }
  var markers = [];
  var labels = D.trades.length <= 40;
  D.trades.forEach(function (t) {
    var te = snap(t.entry);
    if (te !== null) markers.push(tdmEntryMarker(te, t.side, labels));
    if (t.exit !== null) { var tx = snap(t.exit); if (tx !== null) markers.push(tdmExitMarker(tx, t.reason, labels)); }
  });
  markers.sort(function (a, b) { return a.time - b.time; });
  LC.createSeriesMarkers(zs, markers);
  charts.forEach(function (c) { c.timeScale().fitContent(); });
  window.__reportReady = charts.length;
})();
</script>
</body></html>
`;
}
