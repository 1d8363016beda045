/**
 * The HTML report opened in real headless Chromium: no console errors, every chart drawn (its
 * largest canvas has non-background pixels), offline (no request leaves the file), every chart
 * showing the whole run with the first and last trade markers in view (the chart API's visible
 * range, and the marker's colour in the chart's own screenshot at the marker's x), the charts
 * moving together, exchange time zones, the trades table and breakdowns; a screenshot kept under
 * artifacts/.
 */
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ReportCollector } from '../src/backtest/report/collect.ts';
import { renderReport } from '../src/backtest/report/render.ts';
import { explainParams } from '../src/backtest/diagnostics.ts';
import { exchangeZone, ZoneClock } from '../src/backtest/report/time-zone.ts';
import { runBacktest, type BacktestResult } from '../src/backtest/runner.ts';
import { CointegrationStrategy } from '../src/strategies/cointegration/strategy.ts';
import { syntheticPair } from './helpers/pair-data.ts';
import { testParams } from './helpers/params.ts';
import { chartInkScript, chartsPaintedScript, CHROMIUM_ARGS, MARKER_CHECKER, openReport, VISIBLE_RANGES, type ChartInk, type MarkerCheck } from './helpers/report-page.ts';

const artifacts = resolve(import.meta.dirname, '..', 'artifacts');
const dir = mkdtempSync(join(tmpdir(), 'tandem-report-'));
let browser: Browser;

beforeAll(async () => {
  browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: CHROMIUM_ARGS });
});
afterAll(async () => {
  await browser?.close();
});

function buildReport(n: number, maxPoints: number, over: Record<string, unknown> = {}, secTypes?: ('STK' | 'CRYPTO')[]): { html: string; result: BacktestResult } {
  const p = testParams({ transform: 'log', lookback: 100, entryZ: 2, exitZ: 0.5, stopZ: 3.5, maxHoldingBars: 100, ...over });
  const collector = new ReportCollector(maxPoints);
  const r = runBacktest(syntheticPair({ n, seed: 5 }), new CointegrationStrategy(p), { legs: p.legs, bar: p.bar, slippageBps: 2, startingCash: 100_000, explain: explainParams(p) }, { onBar: collector.onBar });
  const html = renderReport(r, collector.series(), { title: 'Backtest: test <pair>', ySymbol: 'YYY', xSymbol: 'XXX', bar: p.bar, entryZ: p.entryZ, exitZ: p.exitZ, stopZ: p.stopZ, ...(secTypes ? { secTypes } : {}) });
  return { html, result: r };
}

interface ChartView {
  id: string;
  from: number;
  to: number;
  logical: { from: number; to: number };
}
/** Per chart, the visible range; for the first and last marker, its x and its pixels on the z chart. */
const VIEW_SCRIPT = `(() => {
  const R = window.__report;
  const views = (${VISIBLE_RANGES})(R.charts);
  const check = (${MARKER_CHECKER})(R.charts.zscore);
  const M = R.markers;
  return { views, first: M.length ? check(M[0]) : null, last: M.length ? check(M[M.length - 1]) : null, dataFrom: R.time[0], dataTo: R.time[R.time.length - 1] };
})()`;

const CHART_IDS = ['equity', 'drawdown', 'prices', 'zscore'];
const CHART_INK_SCRIPT = chartInkScript(CHART_IDS);
const CHARTS_PAINTED_SCRIPT = chartsPaintedScript(CHART_IDS);

async function open(html: string, name: string, screenshot?: string, interact?: (page: Page) => Promise<unknown>) {
  const file = join(dir, `${name}.html`);
  writeFileSync(file, html);
  const { page, errors, requests } = await openReport(browser, file);
  await page.waitForFunction('window.__reportReady === 4', undefined, { timeout: 30_000 });
  // The charts draw on animation frames: wait until every plot pane has been painted.
  await page.waitForFunction(CHARTS_PAINTED_SCRIPT, undefined, { timeout: 30_000, polling: 'raf' });
  // Per chart: the largest canvas (the plot pane), its size and how many pixels differ from the background.
  const charts = (await page.evaluate(CHART_INK_SCRIPT)) as ChartInk[];
  const view = (await page.evaluate(VIEW_SCRIPT)) as { views: ChartView[]; first: MarkerCheck | null; last: MarkerCheck | null; dataFrom: number; dataTo: number };
  const interaction = interact ? await interact(page) : null;
  const text = await page.textContent('body');
  if (screenshot) {
    mkdirSync(artifacts, { recursive: true });
    await page.screenshot({ path: join(artifacts, screenshot), fullPage: true });
  }
  await page.close();
  return { errors, requests, charts, view, interaction, text: text ?? '' };
}

describe('report time zones', () => {
  it('New York across the March DST change, UTC for crypto; weeks start on Monday', () => {
    const ny = new ZoneClock(exchangeZone(['STK', 'CRYPTO']));
    expect(ny.zone).toEqual({ tz: 'America/New_York', label: 'New York' });
    // The open is 14:30 UTC in winter (EST) and 13:30 UTC after 10 March 2024 (EDT).
    expect(ny.format(Date.UTC(2024, 2, 8, 14, 30))).toBe('2024-03-08 09:30');
    expect(ny.format(Date.UTC(2024, 2, 11, 13, 30))).toBe('2024-03-11 09:30');
    expect(ny.chartTime(Date.UTC(2024, 2, 11, 13, 30))).toBe(Date.UTC(2024, 2, 11, 9, 30) / 1000);
    expect(ny.day(Date.UTC(2024, 2, 12, 2, 0))).toBe('2024-03-11');
    expect(ny.week(Date.UTC(2024, 2, 17, 12, 0))).toBe('2024-03-11');
    const utc = new ZoneClock(exchangeZone(['CRYPTO', 'CRYPTO']));
    expect(utc.zone.label).toBe('UTC');
    expect(utc.format(Date.UTC(2024, 2, 11, 13, 30))).toBe('2024-03-11 13:30');
  });
});

describe('report', () => {
  it('renders every chart, the metrics and the trades offline, with no console error', async () => {
    const { html, result } = buildReport(3000, 4000);
    const trades = result.trades.length;
    expect(trades).toBeGreaterThan(3);
    const r = await open(html, 'full', 'report.png');
    expect(r.errors).toEqual([]);
    expect(r.requests).toEqual([]);
    for (const c of r.charts) {
      expect(c.width, c.id).toBeGreaterThan(300);
      expect(c.height, c.id).toBeGreaterThan(100);
      expect(c.differsFromBlank, c.id).toBe(true);
      expect(c.inked, c.id).toBeGreaterThan(500);
    }
    expect(r.text).toContain('Backtest: test <pair>');
    expect(r.text).toContain('Sharpe');
    expect(r.text).toContain(`Trades (${trades})`);
    expect(r.text).not.toContain('one bar in');
    expectWholeRunInView(r.view);
  });

  it('states times in New York for stocks, lists fills with prices and holding times, and breaks trades down', async () => {
    const { html, result } = buildReport(3000, 4000);
    const r = await open(html, 'table');
    expect(r.errors).toEqual([]);
    // The synthetic run starts 2024-01-02 14:30 UTC = 09:30 in New York (EST, UTC−5).
    expect(r.text).toContain('2024-01-02 09:30 →');
    expect(r.text).toContain('times in New York (America/New_York)');
    const t0 = result.trades[0]!;
    const entryFill = result.fills[0]!;
    expect(entryFill.time).toBe(t0.entryTime + 300_000);
    const local = new Date(entryFill.time - 5 * 3_600_000).toISOString().slice(0, 16).replace('T', ' ');
    expect(r.text).toContain(local);
    expect(r.text).toContain(entryFill.price.toLocaleString('en-US', { minimumFractionDigits: 4, maximumFractionDigits: 4 }));
    expect(r.text).toMatch(/\d+m \(\d+ bars\)|\d+h \d+m \(\d+ bars\)/);
    expect(r.text).toContain('By exit reason');
    expect(r.text).toContain('By day of exit');
    expect(r.text).toContain('2024-01-0');
    for (const reason of new Set(result.trades.map((t) => t.exitReason ?? 'open at the end'))) expect(r.text).toContain(reason);
    expect(r.text).toContain('What the strategy saw');
  });

  it('moves the charts together: a zoom on one chart zooms all, the crosshair on one shows on all', async () => {
    const { html } = buildReport(3000, 4000);
    const r = await open(html, 'sync', undefined, async (page) => {
      await page.evaluate(`window.__report.charts.equity.timeScale().setVisibleLogicalRange({ from: 1000, to: 1500 })`);
      const before = await page.textContent('#crosshair');
      await page.locator('#zscore').hover();
      await page.waitForFunction(`document.getElementById("crosshair").textContent !== ${JSON.stringify(before)}`, undefined, { timeout: 5000 });
      // The other charts draw the crosshair too: their screenshots with and without it differ.
      const drawn = (await page.evaluate(
        `['equity', 'drawdown', 'prices'].map((id) => { const c = window.__report.charts[id]; return c.takeScreenshot(true, true).toDataURL() !== c.takeScreenshot(true, false).toDataURL(); })`,
      )) as boolean[];
      expect(drawn).toEqual([true, true, true]);
      return page.evaluate(`Object.entries(window.__report.charts).map(([id, c]) => ({ id, range: c.timeScale().getVisibleLogicalRange(), legend: document.getElementById('crosshair').textContent }))`);
    });
    expect(r.errors).toEqual([]);
    const ranges = r.interaction as { id: string; range: { from: number; to: number }; legend: string }[];
    for (const c of ranges) {
      expect(c.range.from, c.id).toBeCloseTo(1000, 0);
      expect(c.range.to, c.id).toBeCloseTo(1500, 0);
    }
    // The hovered bar (in the middle of bars 1000-1500) is named in the shared legend, in New York time.
    expect(ranges[0]!.legend).toMatch(/^2024-01-\d\d \d\d:\d\d New York · equity [\d.]+ · YYY [\d.]+ · XXX [\d.]+ · z -?[\d.]+ · gate none$/);
  });

  it('shades where the gate allowed entries, with p-values, and labels crypto times UTC', async () => {
    const { html, result } = buildReport(3000, 4000, { gate: { every: 100, lookback: 300, maxPValue: 0.05 } }, ['CRYPTO', 'CRYPTO']);
    expect(result.trades.length).toBeGreaterThan(0);
    const r = await open(html, 'gate', 'report-gate.png');
    expect(r.errors).toEqual([]);
    expect(r.text).toContain('times in UTC (UTC)');
    expect(r.text).toContain('2024-01-02 14:30 →');
    expect(r.text).toMatch(/Gate open \(\d+ spans?\)/);
    expect(r.text).toMatch(/p-value.*0\.0\d+/s);
    expect(r.text).toContain('green shading: the gate allowed entries');
    for (const c of r.charts) expect(c.inked, c.id).toBeGreaterThan(500);
    expectWholeRunInView(r.view);
  });

  it('says why there were no trades', async () => {
    const { html, result } = buildReport(390, 4000, { lookback: 120, gate: { every: 78, lookback: 390, maxPValue: 0.05 } });
    expect(result.trades).toHaveLength(0);
    const r = await open(html, 'none');
    expect(r.errors).toEqual([]);
    expect(r.text).toMatch(/No trades: the gate needs 390 bars; the data has 390 aligned bars/);
  });

  it('downsamples long series for the charts and says so', async () => {
    const { html } = buildReport(20_000, 1000);
    const r = await open(html, 'downsampled', 'report-downsampled.png');
    expect(r.errors).toEqual([]);
    expect(r.text).toMatch(/Charts show one bar in (\d+) \((\d+) of 20000 bars\)/);
    for (const c of r.charts) expect(c.inked, c.id).toBeGreaterThan(500);
    expectWholeRunInView(r.view);
  });
});

function expectWholeRunInView(v: { views: ChartView[]; first: MarkerCheck | null; last: MarkerCheck | null; dataFrom: number; dataTo: number }): void {
  for (const c of v.views) {
    // The whole run: the first and the last bar, hence every trade marker, in every chart's visible range.
    expect(c.from, c.id).toBeLessThanOrEqual(v.dataFrom);
    expect(c.to, c.id).toBeGreaterThanOrEqual(v.dataTo);
    expect(c.from, c.id).toBeLessThanOrEqual(v.first!.time);
    expect(c.to, c.id).toBeGreaterThanOrEqual(v.last!.time);
    expect(c.logical, c.id).toEqual(v.views[0]!.logical);
  }
  for (const m of [v.first!, v.last!]) {
    expect(m.x).not.toBeNull();
    expect(m.x!).toBeGreaterThanOrEqual(0);
    expect(m.x!).toBeLessThanOrEqual(m.width);
    expect(m.colored, JSON.stringify(v)).toBeGreaterThan(5);
  }
}
