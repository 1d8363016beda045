/**
 * The look shared by the backtest report and the live dashboard (src/observe/dashboard): the page
 * style and the browser-side chart helpers (lightweight-charts options, the z-score bands, the
 * trade markers), so a live run and its backtest read the same way.
 */

export const REPORT_CSS = `body{font:14px/1.4 system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:0 auto;max-width:1200px;padding:16px 24px;color:#1d2330;background:#fff}
h1{font-size:22px;margin:0 0 4px}h2{font-size:17px;margin:24px 0 8px}
.sub{color:#5b6475;margin:0 0 12px}.note{color:#8a5a00;background:#fff6e0;padding:6px 10px;border-radius:4px}
table{border-collapse:collapse}td,th{padding:4px 10px;border-bottom:1px solid #e3e6ec;text-align:left}
th{background:#f4f6f9;font-weight:600}.n{text-align:right;font-variant-numeric:tabular-nums}
.metrics td:last-child{text-align:right;font-variant-numeric:tabular-nums;font-weight:600}
.pos{color:#0a7d32}.neg{color:#c0262d}.long{color:#0a62c9}.short{color:#a3339e}
.chart{height:300px;width:100%;border:1px solid #e3e6ec;border-radius:4px}.chart.small{height:180px}
.legend{font-size:12px;color:#5b6475;margin:4px 0}.trades,.scroll{max-height:480px;overflow:auto;display:block}`;

/**
 * Browser-side helpers (plain ES5, inlined after the charting library):
 * `tdmChart(id)` makes a chart in the report's style; `tdmBands(series, T)` draws the entry/exit/stop
 * lines of a z-score series; `tdmEntryMarker` / `tdmExitMarker` are the trade markers.
 */
export const CHART_HELPERS_JS = `
function tdmChart(id) {
  var LC = window.LightweightCharts;
  return LC.createChart(document.getElementById(id), { autoSize: true, layout: { background: { color: '#ffffff' }, textColor: '#1d2330' },
    grid: { vertLines: { color: '#f0f2f5' }, horzLines: { color: '#f0f2f5' } }, timeScale: { timeVisible: true, secondsVisible: false },
    rightPriceScale: { visible: true }, crosshair: { mode: 0 } });
}
function tdmBands(series, T) {
  [[T.entry, '#d9730d', 'entry'], [-T.entry, '#d9730d', 'entry'], [T.exit, '#0a7d32', 'exit'], [-T.exit, '#0a7d32', 'exit'], [T.stop, '#c0262d', 'stop'], [-T.stop, '#c0262d', 'stop'], [0, '#9aa3b2', '']].forEach(function (l) {
    series.createPriceLine({ price: l[0], color: l[1], lineWidth: 1, lineStyle: 2, axisLabelVisible: l[2] !== '', title: l[2] });
  });
}
function tdmEntryMarker(time, side, label) {
  return { time: time, position: side === 'LONG' ? 'belowBar' : 'aboveBar', color: side === 'LONG' ? '#0a62c9' : '#a3339e', shape: side === 'LONG' ? 'arrowUp' : 'arrowDown', text: label ? side : '' };
}
function tdmExitMarker(time, reason, label) {
  return { time: time, position: 'inBar', color: reason === 'stop' ? '#c0262d' : reason === 'maxHolding' ? '#8a5a00' : '#0a7d32', shape: 'circle', text: label && reason !== 'exit' ? reason : '' };
}
`;
