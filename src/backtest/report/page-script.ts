/**
 * The report page's script (plain ES5, runs in the browser; the data comes from the
 * `report-data` JSON element: a list of sections). A strategy section draws equity, drawdown,
 * prices and the z-score; an account section (a portfolio backtest's whole account) equity and
 * drawdown. Within a section every chart is built on the same list of times (a bar with no value
 * is whitespace, not a gap in the list), so one logical range means the same bars on every chart:
 * scrolling, zooming and the crosshair move the section's charts together. Sections are not tied
 * to each other: their bars differ (5-minute stocks, hourly crypto) and so do their time zones.
 * The charts open on the whole run: the time scale's minimum bar spacing is lowered so thousands
 * of bars fit the width.
 */
export const PAGE_SCRIPT = String.raw`
(function () {
  var ALL = JSON.parse(document.getElementById('report-data').textContent);
  var LC = window.LightweightCharts;
  var every = [];
  function fmt(v, d) { return v === null || v === undefined || !isFinite(v) ? '–' : v.toFixed(d); }

  function section(D) {
    var P = D.prefix;
    var COLORS = D.colors;
    var charts = [];
    var mains = [];
    var index = {};
    for (var i = 0; i < D.time.length; i++) index[D.time[i]] = i;
    function make(id) {
      var el = document.getElementById(P + id);
      var c = LC.createChart(el, {
        autoSize: true,
        layout: { background: { color: '#ffffff' }, textColor: '#1d2330' },
        grid: { vertLines: { color: '#f0f2f5' }, horzLines: { color: '#f0f2f5' } },
        timeScale: { timeVisible: true, secondsVisible: false, minBarSpacing: 0.001, rightOffset: 0 },
        leftPriceScale: { visible: true, minimumWidth: 72 },
        rightPriceScale: { visible: true, minimumWidth: 72 },
        crosshair: { mode: 0 },
      });
      charts.push(c);
      every.push(c);
      return c;
    }
    // Whitespace ({ time } alone) where a value is missing keeps every series on the same times.
    function points(values) {
      var out = new Array(D.time.length);
      for (var i = 0; i < D.time.length; i++) {
        var v = values[i];
        out[i] = v !== null && isFinite(v) ? { time: D.time[i], value: v } : { time: D.time[i] };
      }
      return out;
    }
    function main(chart, series, values) {
      mains.push({ chart: chart, series: series, values: values });
    }
    function gateShade(chart) {
      if (!D.gate) return;
      var s = chart.addSeries(LC.HistogramSeries, { color: COLORS.gate, priceScaleId: 'gate', lastValueVisible: false, priceLineVisible: false, base: 0 });
      chart.priceScale('gate').applyOptions({ scaleMargins: { top: 0, bottom: 0 }, visible: false });
      s.setData(D.gate.map(function (p, i) { return p === null ? { time: D.time[i] } : { time: D.time[i], value: 1 }; }));
    }

    var eq = make('equity');
    var eqs = eq.addSeries(LC.AreaSeries, { lineColor: '#0a62c9', topColor: 'rgba(10,98,201,0.25)', bottomColor: 'rgba(10,98,201,0.02)', lineWidth: 2, priceScaleId: 'right' });
    eqs.setData(points(D.equity));
    main(eq, eqs, D.equity);

    var dd = make('drawdown');
    var dds = dd.addSeries(LC.AreaSeries, { lineColor: '#c0262d', topColor: 'rgba(192,38,45,0.02)', bottomColor: 'rgba(192,38,45,0.3)', lineWidth: 1, priceScaleId: 'right' });
    dds.setData(points(D.drawdown));
    main(dd, dds, D.drawdown);

    var named = { equity: eq, drawdown: dd };
    var markers = [];
    if (D.kind === 'strategy') {
      var pr = make('prices');
      gateShade(pr);
      var pys = pr.addSeries(LC.LineSeries, { color: '#0a62c9', lineWidth: 2, priceScaleId: 'left' });
      pys.setData(points(D.closeY));
      pr.addSeries(LC.LineSeries, { color: '#d9730d', lineWidth: 2, priceScaleId: 'right' }).setData(points(D.closeX));
      main(pr, pys, D.closeY);

      var zc = make('zscore');
      gateShade(zc);
      // No titles inside the pane: their boxes sit at its right edge and would hide the latest markers.
      var zs = zc.addSeries(LC.LineSeries, { color: '#1d2330', lineWidth: 1, priceScaleId: 'right' });
      zs.setData(points(D.z));
      main(zc, zs, D.z);
      var T = D.thresholds;
      [[T.entry, COLORS.entryLine, 'entry'], [-T.entry, COLORS.entryLine, 'entry'], [T.exit, COLORS.exitLine, 'exit'], [-T.exit, COLORS.exitLine, 'exit'], [T.stop, COLORS.stopLine, 'stop'], [-T.stop, COLORS.stopLine, 'stop'], [0, '#9aa3b2', '']].forEach(function (l) {
        zs.createPriceLine({ price: l[0], color: l[1], lineWidth: 1, lineStyle: 2, axisLabelVisible: l[2] !== '' });
      });
      named.prices = pr;
      named.zscore = zc;

      // Markers sit on the nearest charted bar at or before the decision bar (charts may be decimated).
      var snap = function (t) {
        var lo = 0, hi = D.time.length - 1, best = null;
        while (lo <= hi) { var mid = (lo + hi) >> 1; if (D.time[mid] <= t) { best = D.time[mid]; lo = mid + 1; } else hi = mid - 1; }
        return best;
      };
      var labels = D.trades.length <= 40;
      D.trades.forEach(function (t) {
        var te = snap(t.entry);
        if (te !== null) markers.push({ time: te, position: t.side === 'LONG' ? 'belowBar' : 'aboveBar', color: t.side === 'LONG' ? COLORS.long : COLORS.short, shape: t.side === 'LONG' ? 'arrowUp' : 'arrowDown', text: labels ? t.side : '' });
        if (t.exit !== null) {
          var tx = snap(t.exit);
          if (tx !== null) markers.push({ time: tx, position: 'inBar', color: COLORS[t.reason], shape: 'circle', text: labels && t.reason !== 'exit' ? t.reason : '' });
        }
      });
      markers.sort(function (a, b) { return a.time - b.time; });
      LC.createSeriesMarkers(zs, markers);
    }

    // One crosshair and one visible range for the section's charts.
    var syncing = false;
    var legend = document.getElementById(P + 'crosshair');
    function showLegend(time) {
      var i = time === undefined ? D.time.length - 1 : index[time];
      if (i === undefined) return;
      if (D.kind !== 'strategy') {
        legend.textContent = D.labels[i] + ' ' + D.zone + ' · equity ' + fmt(D.equity[i], 2) + ' · drawdown ' + fmt(D.drawdown[i], 2) + '%';
        return;
      }
      var g = D.gate ? (D.gate[i] === null ? 'closed' : 'open' + (D.gate[i] >= 0 ? ' (p = ' + D.gate[i].toPrecision(3) + ')' : '')) : 'none';
      legend.textContent = D.labels[i] + ' ' + D.zone + ' · equity ' + fmt(D.equity[i], 2) + ' · ' + D.names.y + ' ' + fmt(D.closeY[i], 4) + ' · ' + D.names.x + ' ' + fmt(D.closeX[i], 4) + ' · z ' + fmt(D.z[i], 2) + ' · gate ' + g;
    }
    charts.forEach(function (c) {
      c.timeScale().subscribeVisibleLogicalRangeChange(function (r) {
        if (syncing || r === null) return;
        syncing = true;
        charts.forEach(function (o) { if (o !== c) o.timeScale().setVisibleLogicalRange(r); });
        syncing = false;
      });
      c.subscribeCrosshairMove(function (p) {
        if (syncing) return;
        syncing = true;
        mains.forEach(function (m) {
          if (m.chart === c) return;
          var i = p.time === undefined ? undefined : index[p.time];
          var v = i === undefined ? null : m.values[i];
          if (v === null || v === undefined || !isFinite(v)) m.chart.clearCrosshairPosition();
          else m.chart.setCrosshairPosition(v, p.time, m.series);
        });
        showLegend(p.time);
        syncing = false;
      });
    });
    showLegend(undefined);
    return { id: D.id, kind: D.kind, prefix: P, charts: named, equity: eqs, markers: markers, time: D.time };
  }

  var sections = ALL.sections.map(section);
  // The first section's charts at the top level, as a one-strategy report always had them.
  var first = sections[0];
  window.__report = { charts: first.charts, markers: first.markers, time: first.time, sections: sections };
  function fit() { every.forEach(function (c) { c.timeScale().fitContent(); }); }
  fit();
  // Ready once the charts have settled to their final size and been drawn.
  requestAnimationFrame(function () {
    fit();
    requestAnimationFrame(function () { window.__reportReady = every.length; });
  });
})();
`;
