/**
 * Text tables and the self-contained HTML report of a sweep: the ranked grid, a heat map of Sharpe
 * over the first two grid keys (the best over any other keys), and the walk-forward folds with
 * their out-of-sample figures. Plain HTML and CSS: nothing to load, nothing to run.
 */
import { describePoint } from '../sweep-grid.ts';
import type { PointResult, SweepResult, WalkForwardResult } from '../sweep.ts';

const pct = (v: number): string => `${(v * 100).toFixed(2)}%`;
const esc = (s: string): string => s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);
const iso = (ms: number): string => new Date(ms).toISOString().slice(0, 16).replace('T', ' ');

function table(head: string[], rows: string[][]): string {
  const widths = head.map((h, c) => Math.max(h.length, ...rows.map((r) => r[c]!.length)));
  const line = (cells: string[]) => cells.map((c, i) => c.padEnd(widths[i]!)).join('  ').trimEnd();
  return [line(head), ...rows.map(line)].join('\n');
}

export function formatSweep(r: SweepResult, top: number): string {
  const rows = r.ranked.slice(0, top).map((p, i) => [String(i + 1), describePoint(p.point), p.metrics.sharpe.toFixed(2), pct(p.metrics.totalReturn), pct(p.metrics.maxDrawdown), String(p.metrics.trades), pct(p.metrics.winRate)]);
  const out = [table(['rank', 'point', 'Sharpe', 'return', 'max DD', 'trades', 'win rate'], rows)];
  out.push(`${r.ranked.length} point(s) over ${r.bars} aligned bars, ranked by Sharpe, then return, then drawdown, then trades${r.workers ? ` (${r.workers} worker threads)` : ''}.`);
  if (r.skipped.length) out.push(`${r.skipped.length} point(s) skipped: ${r.skipped.slice(0, 3).map((s) => `${describePoint(s.point)} (${s.reason})`).join('; ')}${r.skipped.length > 3 ? '; ...' : ''}`);
  return out.join('\n') + '\n';
}

export function formatWalkForward(r: WalkForwardResult, time: Float64Array): string {
  const rows = r.folds.map((f, i) => [
    String(i + 1),
    `${iso(time[f.trainFrom]!)} → ${iso(time[f.trainTo - 1]!)}`,
    `${iso(time[f.trainTo]!)} → ${iso(time[f.testTo - 1]!)}`,
    describePoint(f.best.point),
    f.best.metrics.sharpe.toFixed(2),
    f.test.metrics.sharpe.toFixed(2),
    pct(f.test.metrics.totalReturn),
    String(f.test.metrics.trades),
  ]);
  const o = r.outOfSample;
  return (
    table(['fold', 'train (UTC)', 'test (UTC)', 'best in sample', 'IS Sharpe', 'OOS Sharpe', 'OOS return', 'OOS trades'], rows) +
    `\nout of sample (${r.folds.length} test windows chained, ${o.bars} bars): return ${pct(o.totalReturn)}, Sharpe ${o.sharpe.toFixed(2)}, max drawdown ${pct(o.maxDrawdown)}, ${o.trades} trades\n`
  );
}

/** Red (low) to green (high) through white. */
function heat(v: number, lo: number, hi: number): string {
  if (!Number.isFinite(v)) return '#eee';
  const t = hi > lo ? (v - lo) / (hi - lo) : 0.5;
  const mix = (a: number, b: number, u: number) => Math.round(a + (b - a) * u);
  const [r, g, b] = t < 0.5 ? [mix(214, 255, t * 2), mix(69, 255, t * 2), mix(65, 255, t * 2)] : [mix(255, 26, (t - 0.5) * 2), mix(255, 150, (t - 0.5) * 2), mix(255, 65, (t - 0.5) * 2)];
  return `rgb(${r},${g},${b})`;
}

/** Sharpe over the first two keys (a single row for one key); each cell the best over the other keys. */
export function heatMap(r: SweepResult): { xKey: string; yKey: string | null; xs: number[]; ys: (number | null)[]; cells: (PointResult | null)[][] } {
  const [ax, ay] = r.axes;
  const xs = ax!.values;
  const ys: (number | null)[] = ay ? ay.values : [null];
  const cells = ys.map((yv) =>
    xs.map((xv) => {
      // Ranked best first: the first match is the best over the other keys.
      return r.ranked.find((p) => p.point[ax!.key] === xv && (ay === undefined || p.point[ay.key] === yv)) ?? null;
    }),
  );
  return { xKey: ax!.key, yKey: ay ? ay.key : null, xs, ys, cells };
}

export function renderSweepReport(r: SweepResult, meta: { title: string; dataFile: string }, wf?: { result: WalkForwardResult; time: Float64Array }): string {
  const h = heatMap(r);
  const sharpes = r.ranked.map((p) => p.metrics.sharpe);
  const lo = Math.min(...sharpes);
  const hi = Math.max(...sharpes);
  const heatRows = h.ys
    .map(
      (yv, i) =>
        `<tr><th>${h.yKey === null ? '' : `${esc(h.yKey)} = ${yv}`}</th>${h.cells[i]!
          .map((c) =>
            c === null
              ? '<td class="cell skip">skipped</td>'
              : `<td class="cell" style="background:${heat(c.metrics.sharpe, lo, hi)}" title="${esc(describePoint(c.point))}">${c.metrics.sharpe.toFixed(2)}<small>${pct(c.metrics.totalReturn)} · ${c.metrics.trades} tr</small></td>`,
          )
          .join('')}</tr>`,
    )
    .join('\n');
  const rankRows = r.ranked
    .map(
      (p, i) =>
        `<tr><td class="n">${i + 1}</td><td>${esc(describePoint(p.point))}</td><td class="n">${p.metrics.sharpe.toFixed(2)}</td><td class="n">${pct(p.metrics.totalReturn)}</td><td class="n">${pct(p.metrics.maxDrawdown)}</td><td class="n">${p.metrics.trades}</td><td class="n">${pct(p.metrics.winRate)}</td><td>${p.hint ? esc(p.hint) : ''}</td></tr>`,
    )
    .join('\n');
  const skipped = r.skipped.length
    ? `<h2>Skipped points (${r.skipped.length})</h2><ul>${r.skipped.map((s) => `<li>${esc(describePoint(s.point))}: ${esc(s.reason)}</li>`).join('')}</ul>`
    : '';
  let wfHtml = '';
  if (wf) {
    const o = wf.result.outOfSample;
    const t = wf.time;
    wfHtml = `<h2>Walk-forward: out of sample</h2>
<p>${wf.result.folds.length} folds; each picks the best point by Sharpe on its training window and is scored on the next test window (warmed up on the training bars). Chained test windows: <b>return ${pct(o.totalReturn)}, Sharpe ${o.sharpe.toFixed(2)}, max drawdown ${pct(o.maxDrawdown)}, ${o.trades} trades</b> over ${o.bars} bars.</p>
<table><thead><tr><th>Fold</th><th>Train (UTC)</th><th>Test (UTC)</th><th>Best in sample</th><th class="n">IS Sharpe</th><th class="n">OOS Sharpe</th><th class="n">OOS return</th><th class="n">OOS trades</th></tr></thead><tbody>
${wf.result.folds
  .map(
    (f, i) =>
      `<tr><td class="n">${i + 1}</td><td>${iso(t[f.trainFrom]!)} → ${iso(t[f.trainTo - 1]!)}</td><td>${iso(t[f.trainTo]!)} → ${iso(t[f.testTo - 1]!)}</td><td>${esc(describePoint(f.best.point))}</td><td class="n">${f.best.metrics.sharpe.toFixed(2)}</td><td class="n">${f.test.metrics.sharpe.toFixed(2)}</td><td class="n">${pct(f.test.metrics.totalReturn)}</td><td class="n">${f.test.metrics.trades}</td></tr>`,
  )
  .join('\n')}
</tbody></table>`;
  }
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>${esc(meta.title)}</title>
<style>
body{font:14px/1.4 system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:0 auto;max-width:1200px;padding:16px 24px;color:#1d2330}
h1{font-size:22px;margin:0 0 4px}h2{font-size:17px;margin:24px 0 8px}.sub{color:#5b6475}
table{border-collapse:collapse}td,th{padding:4px 10px;border-bottom:1px solid #e3e6ec;text-align:left}th{background:#f4f6f9}
.n{text-align:right;font-variant-numeric:tabular-nums}
.heat td.cell{text-align:center;min-width:90px;font-weight:600;border:1px solid #fff}.heat small{display:block;font-weight:400;color:#333}.skip{color:#999}
</style></head><body>
<h1>${esc(meta.title)}</h1>
<p class="sub">${esc(meta.dataFile)} · ${r.bars} aligned bars · ${r.ranked.length} points</p>
<h2>Sharpe heat map${h.yKey === null ? '' : ` (${esc(h.xKey)} across, ${esc(h.yKey)} down${r.axes.length > 2 ? '; each cell the best over the other keys' : ''})`}</h2>
<table class="heat"><thead><tr><th></th>${h.xs.map((x) => `<th>${esc(h.xKey)} = ${x}</th>`).join('')}</tr></thead><tbody>
${heatRows}
</tbody></table>
${wfHtml}
<h2>Ranking (in sample, all bars)</h2>
<table><thead><tr><th class="n">#</th><th>Point</th><th class="n">Sharpe</th><th class="n">Return</th><th class="n">Max DD</th><th class="n">Trades</th><th class="n">Win rate</th><th>Why no trades</th></tr></thead><tbody>
${rankRows}
</tbody></table>
${skipped}
</body></html>
`;
}
