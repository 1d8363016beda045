/**
 * The dashboard page: one self-contained HTML document in the backtest report's look (same style,
 * same inlined lightweight-charts and chart helpers, src/backtest/report/theme.ts). It opens the
 * server-sent event stream with the token from its own URL; the first event is a full snapshot,
 * later ones append points and rows, so the page never reloads.
 */
import { chartLibrarySource } from '../../backtest/report/render.ts';
import { CHART_HELPERS_JS, REPORT_CSS } from '../../backtest/report/theme.ts';

const PAGE_CSS = `
.bar{display:flex;gap:8px;flex-wrap:wrap;margin:8px 0 4px}.badge{padding:3px 9px;border-radius:10px;background:#f4f6f9;font-size:13px}
.badge.ok{background:#e3f4e8;color:#0a7d32}.badge.bad{background:#fbe4e5;color:#c0262d}.badge.warn{background:#fff6e0;color:#8a5a00}
.grid{display:grid;grid-template-columns:1fr 1fr;gap:16px}.grid>div{min-width:0}
section.strategy{border-top:2px solid #e3e6ec;margin-top:18px}
#heartbeat:empty{display:none}.rows{max-height:260px;overflow:auto;display:block;font-size:13px}tr.new{background:#fff6e0}
`;

const PAGE_JS = `
(function () {
  var LC = window.LightweightCharts;
  var token = new URLSearchParams(location.search).get('token') || '';
  var S = {};            // strategy id -> { z, ratio, equity series, markers, last times }
  var state = { fills: 0, orders: 0, zPoints: {}, snapshots: 0 };
  window.__dash = state;
  function el(tag, attrs, text) { var e = document.createElement(tag); for (var k in attrs || {}) e.setAttribute(k, attrs[k]); if (text !== undefined) e.textContent = text; return e; }
  function iso(ms) { return new Date(ms).toISOString().replace('.000Z', 'Z').replace('T', ' '); }
  function num(v, d) { return v === null || v === undefined ? 'n/a' : Number(v).toFixed(d === undefined ? 2 : d); }
  function uniq(points) { var out = []; points.forEach(function (p) { if (out.length && out[out.length - 1].time >= p[0]) { if (out[out.length - 1].time === p[0]) out[out.length - 1].value = p[1]; return; } out.push({ time: p[0], value: p[1] }); }); return out; }
  function addPoints(s, key, points) {
    points.forEach(function (p) { if (p[0] > s.last[key]) { s[key].update({ time: p[0], value: p[1] }); s.last[key] = p[0]; if (key === 'z') state.zPoints[s.id] = (state.zPoints[s.id] || 0) + 1; } });
    s.charts.forEach(function (c) { c.timeScale().fitContent(); });
  }
  function markerOf(m) {
    if (m.kind === 'enter') return tdmEntryMarker(m.time, m.side, true);
    if (m.kind === 'close') return tdmExitMarker(m.time, m.reason || 'exit', true);
    return { time: m.time, position: 'aboveBar', color: '#9aa3b2', shape: 'square', text: 'refused' };
  }
  function setMarkers(s) { s.markerApi.setMarkers(s.markers.slice().sort(function (a, b) { return a.time - b.time; })); }
  function row(tbody, cells, fresh) { var tr = el('tr'); if (fresh) tr.className = 'new'; cells.forEach(function (c) { var td = el('td', c[1] ? { class: c[1] } : {}, c[0]); tr.appendChild(td); }); tbody.insertBefore(tr, tbody.firstChild); while (tbody.children.length > 200) tbody.removeChild(tbody.lastChild); }
  function orderCells(o) { return [[iso(o.updatedAt)], [o.strategyId], [o.cOID], [o.leg], [o.side, o.side === 'BUY' ? 'long' : 'short'], [o.quantity !== null ? String(o.quantity) : '$' + o.cashQty, 'n'], [o.symbol], [o.state]]; }
  function fillCells(f) { return [[iso(f.time)], [f.strategyId], [f.side, f.side === 'BUY' ? 'long' : 'short'], [String(f.qty), 'n'], [f.symbol], [num(f.price, 4), 'n'], [num(f.commission), 'n']]; }
  function incidentCells(i) { return [[iso(i.time)], [i.kind], [i.detail ? JSON.stringify(i.detail) : '']]; }
  var orderRows = {};
  function upsertOrder(o, fresh) {
    var tb = document.getElementById('orders');
    var old = orderRows[o.cOID]; if (old && old.parentNode) old.parentNode.removeChild(old);
    row(tb, orderCells(o), fresh); orderRows[o.cOID] = tb.firstChild; state.orders = tb.children.length;
  }
  function health(h) {
    var b = document.getElementById('health'); b.innerHTML = '';
    function badge(text, cls) { b.appendChild(el('span', { class: 'badge ' + (cls || '') }, text)); }
    badge((h.mode || '?') + ' ' + (h.account || ''), '');
    badge(h.nodeRunning ? 'node running' : 'node not running', h.nodeRunning ? 'ok' : 'warn');
    badge('session ' + h.session.state + ' · drops ' + h.session.drops + ' · re-logins ' + h.session.relogins, h.session.state === 'down' ? 'bad' : h.session.state === 'up' ? 'ok' : '');
    badge('trading ' + h.trading.state + (h.trading.reason ? ' (' + h.trading.reason + ')' : ''), h.trading.state === 'halted' ? 'bad' : h.trading.state === 'active' ? 'ok' : '');
    if (h.pacingQueue !== null) badge('pacing queue ' + h.pacingQueue, h.pacingQueue > 5 ? 'warn' : '');
    document.getElementById('heartbeat').textContent = h.heartbeat || '';
    // Each strategy's own line: the state it trades under (a strategy can be halted while the account trades) and its market.
    Object.keys(S).forEach(function (id) {
      var line = document.getElementById('state-' + id); if (!line) return; line.innerHTML = '';
      var s = (h.strategies || []).filter(function (x) { return x.id === id; })[0];
      function sb(text, cls) { line.appendChild(el('span', { class: 'badge ' + (cls || '') }, text)); }
      if (!s) { sb(h.nodeRunning ? 'state not reported yet' : 'node not running', 'warn'); return; }
      if (s.trading) sb('trading ' + s.trading.state + (s.trading.reason ? ' (' + s.trading.reason + ')' : ''), s.trading.state === 'halted' ? 'bad' : s.trading.state === 'active' ? 'ok' : 'warn');
      if (s.market) sb(s.market.open ? 'market open' : 'market closed' + (s.market.nextOpen !== null ? ' until ' + iso(s.market.nextOpen) + ' UTC' : ''), s.market.open ? 'ok' : '');
    });
  }
  function positions(id, list) {
    var tb = document.getElementById('pos-' + id); if (!tb) return; tb.innerHTML = '';
    if (!list.length) { tb.appendChild(el('tr')).appendChild(el('td', { colspan: '3' }, 'flat')); return; }
    list.forEach(function (p) { var tr = el('tr'); tr.appendChild(el('td', {}, p.symbol)); tr.appendChild(el('td', { class: 'n' }, String(p.qty))); tr.appendChild(el('td', { class: 'n' }, num(p.avgCost, 4))); tb.appendChild(tr); });
  }
  function strategy(v, i) {
    var root = document.getElementById('strategies');
    var sec = el('section', { class: 'strategy', id: 'strategy-' + v.id });
    sec.appendChild(el('h2', {}, v.id + ': y = ' + v.y + ', x = ' + v.x));
    sec.appendChild(el('div', { class: 'bar', id: 'state-' + v.id }));
    var T = v.thresholds;
    sec.appendChild(el('div', { class: 'legend' }, 'Price ratio ' + v.y + ' / ' + v.x));
    sec.appendChild(el('div', { class: 'chart small', id: 'ratio-' + i }));
    sec.appendChild(el('div', { class: 'legend' }, 'Spread z-score' + (T ? ': entry ±' + T.entry + ' (orange) · exit ±' + T.exit + ' (green) · stop ±' + T.stop + ' (red)' : '') + ' · ▲ LONG entry, ▼ SHORT entry, ● close'));
    sec.appendChild(el('div', { class: 'chart', id: 'z-' + i }));
    var g = el('div', { class: 'grid' });
    var left = el('div'); left.appendChild(el('div', { class: 'legend' }, 'Equity')); left.appendChild(el('div', { class: 'chart small', id: 'eq-' + i }));
    var right = el('div'); right.appendChild(el('div', { class: 'legend' }, 'Positions'));
    var t = el('table'); t.innerHTML = '<thead><tr><th>Symbol</th><th class="n">Qty</th><th class="n">Avg cost</th></tr></thead>'; var tb = el('tbody', { id: 'pos-' + v.id }); t.appendChild(tb); right.appendChild(t);
    g.appendChild(left); g.appendChild(right); sec.appendChild(g);
    root.appendChild(sec);
    var rc = tdmChart('ratio-' + i), zc = tdmChart('z-' + i), ec = tdmChart('eq-' + i);
    var s = { id: v.id, last: { z: 0, ratio: 0, equity: 0 }, markers: [], charts: [rc, zc, ec] };
    s.ratio = rc.addSeries(LC.LineSeries, { color: '#0a62c9', lineWidth: 2, title: v.y + '/' + v.x });
    s.z = zc.addSeries(LC.LineSeries, { color: '#1d2330', lineWidth: 1, title: 'z' });
    s.equity = ec.addSeries(LC.AreaSeries, { lineColor: '#0a62c9', topColor: 'rgba(10,98,201,0.25)', bottomColor: 'rgba(10,98,201,0.02)', lineWidth: 2 });
    if (T) tdmBands(s.z, T);
    s.markerApi = LC.createSeriesMarkers(s.z, []);
    [['ratio', v.ratio], ['z', v.z], ['equity', v.equity]].forEach(function (p) { var pts = uniq(p[1]); s[p[0]].setData(pts); s.last[p[0]] = pts.length ? pts[pts.length - 1].time : 0; });
    state.zPoints[v.id] = v.z.length;
    s.markers = v.markers.map(markerOf); setMarkers(s);
    [rc, zc, ec].forEach(function (c) { c.timeScale().fitContent(); });
    S[v.id] = s;
    positions(v.id, v.positions);
  }
  function snapshot(d) {
    S = {}; orderRows = {};
    document.getElementById('strategies').innerHTML = '';
    ['orders', 'fills', 'incidents'].forEach(function (id) { document.getElementById(id).innerHTML = ''; });
    document.getElementById('journal').textContent = d.journal;
    d.strategies.forEach(strategy);
    d.orders.forEach(function (o) { upsertOrder(o, false); });
    d.fills.forEach(function (f) { row(document.getElementById('fills'), fillCells(f), false); });
    d.incidents.forEach(function (x) { row(document.getElementById('incidents'), incidentCells(x), false); });
    state.fills = d.fills.length;
    health(d.health);
    state.snapshots++;
  }
  var es = new EventSource('/events?token=' + encodeURIComponent(token));
  es.addEventListener('snapshot', function (e) { snapshot(JSON.parse(e.data)); });
  ['ratio', 'z', 'equity'].forEach(function (k) { es.addEventListener(k, function (e) { var u = JSON.parse(e.data); var s = S[u.strategy]; if (s) addPoints(s, k, u.points); }); });
  es.addEventListener('marker', function (e) { var u = JSON.parse(e.data); var s = S[u.strategy]; if (s) { s.markers.push(markerOf(u.marker)); setMarkers(s); } });
  es.addEventListener('order', function (e) { upsertOrder(JSON.parse(e.data).order, true); });
  es.addEventListener('fill', function (e) { row(document.getElementById('fills'), fillCells(JSON.parse(e.data).fill), true); state.fills++; });
  es.addEventListener('incident', function (e) { row(document.getElementById('incidents'), incidentCells(JSON.parse(e.data).incident), true); });
  es.addEventListener('positions', function (e) { var u = JSON.parse(e.data); positions(u.strategy, u.positions); });
  es.addEventListener('health', function (e) { health(JSON.parse(e.data).health); });
  es.onerror = function () { document.getElementById('heartbeat').textContent = 'connection to the node lost; retrying...'; };
})();
`;

export function renderDashboardPage(): string {
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<link rel="icon" href="data:,">
<title>Tandem dashboard</title>
<style>
${REPORT_CSS}
${PAGE_CSS}
</style></head><body>
<h1>Tandem: live run</h1>
<p class="sub">journal <span id="journal"></span></p>
<div class="bar" id="health"></div>
<p class="note" id="heartbeat"></p>
<div id="strategies"></div>
<h2>Orders</h2>
<table class="rows"><thead><tr><th>Updated</th><th>Strategy</th><th>cOID</th><th>Leg</th><th>Side</th><th class="n">Qty</th><th>Symbol</th><th>State</th></tr></thead><tbody id="orders"></tbody></table>
<h2>Fills</h2>
<table class="rows"><thead><tr><th>Time</th><th>Strategy</th><th>Side</th><th class="n">Qty</th><th>Symbol</th><th class="n">Price</th><th class="n">Commission</th></tr></thead><tbody id="fills"></tbody></table>
<h2>Incidents</h2>
<table class="rows"><thead><tr><th>Time</th><th>Kind</th><th>Detail</th></tr></thead><tbody id="incidents"></tbody></table>
<script>${chartLibrarySource().replace(/<\/script/gi, '<\\/script')}</script>
<script>${CHART_HELPERS_JS}</script>
<script>${PAGE_JS}</script>
</body></html>
`;
}
