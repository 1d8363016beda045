/**
 * The HTML report opened in real headless Chromium: no console errors, every chart drawn (its
 * largest canvas has non-background pixels), offline (no request leaves the file), a screenshot
 * kept under artifacts/.
 */
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { chromium, type Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ReportCollector } from '../src/backtest/report/collect.ts';
import { renderReport } from '../src/backtest/report/render.ts';
import { runBacktest } from '../src/backtest/runner.ts';
import { CointegrationStrategy } from '../src/strategies/cointegration/strategy.ts';
import { syntheticPair } from './helpers/pair-data.ts';
import { testParams } from './helpers/params.ts';

const CHROMIUM_ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];
const artifacts = resolve(import.meta.dirname, '..', 'artifacts');
const dir = mkdtempSync(join(tmpdir(), 'tandem-report-'));
let browser: Browser;

beforeAll(async () => {
  browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: CHROMIUM_ARGS });
});
afterAll(async () => {
  await browser?.close();
});

function buildReport(n: number, maxPoints: number): { html: string; trades: number } {
  const p = testParams({ transform: 'log', lookback: 100, entryZ: 2, exitZ: 0.5, stopZ: 3.5, maxHoldingBars: 100 });
  const collector = new ReportCollector(maxPoints);
  const r = runBacktest(syntheticPair({ n, seed: 5 }), new CointegrationStrategy(p), { legs: p.legs, bar: p.bar, slippageBps: 2, startingCash: 100_000 }, { onBar: collector.onBar });
  const html = renderReport(r, collector.series(), { title: 'Backtest: test <pair>', ySymbol: 'YYY', xSymbol: 'XXX', bar: p.bar, entryZ: p.entryZ, exitZ: p.exitZ, stopZ: p.stopZ });
  return { html, trades: r.trades.length };
}

async function open(html: string, name: string, screenshot?: string) {
  const file = join(dir, `${name}.html`);
  writeFileSync(file, html);
  const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
  const errors: string[] = [];
  const requests: string[] = [];
  page.on('console', (m) => {
    if (m.type() === 'error' || m.type() === 'warning') errors.push(m.text());
  });
  page.on('pageerror', (e) => errors.push(String(e)));
  page.on('request', (req) => {
    if (!req.url().startsWith('file:')) requests.push(req.url());
  });
  await page.goto(pathToFileURL(file).href);
  await page.waitForFunction('window.__reportReady === 4', undefined, { timeout: 15_000 });
  await page.waitForTimeout(300);
  // Per chart: the largest canvas (the plot pane), its size and how many pixels differ from the background.
  // (A string, evaluated in the page: the project's TypeScript has no DOM types.)
  const charts = (await page.evaluate(`
    ['equity', 'drawdown', 'prices', 'zscore'].map((id) => {
      const canvases = [...document.querySelectorAll('#' + id + ' canvas')];
      const c = canvases.sort((a, b) => b.width * b.height - a.width * a.height)[0];
      if (!c) return { id, width: 0, height: 0, inked: 0, differsFromBlank: false };
      const blank = document.createElement('canvas');
      blank.width = c.width;
      blank.height = c.height;
      const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
      let inked = 0;
      for (let i = 0; i < d.length; i += 4) if (d[i] < 200 || d[i + 1] < 200 || d[i + 2] < 200) inked++;
      return { id, width: c.width, height: c.height, inked, differsFromBlank: c.toDataURL() !== blank.toDataURL() };
    })
  `)) as { id: string; width: number; height: number; inked: number; differsFromBlank: boolean }[];
  const text = await page.textContent('body');
  if (screenshot) {
    mkdirSync(artifacts, { recursive: true });
    await page.screenshot({ path: join(artifacts, screenshot), fullPage: true });
  }
  await page.close();
  return { errors, requests, charts, text: text ?? '' };
}

describe('report', () => {
  it('renders every chart, the metrics and the trades offline, with no console error', async () => {
    const { html, trades } = buildReport(3000, 4000);
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
  });

  it('downsamples long series for the charts and says so', async () => {
    const { html } = buildReport(20_000, 1000);
    const r = await open(html, 'downsampled', 'report-downsampled.png');
    expect(r.errors).toEqual([]);
    expect(r.text).toMatch(/Charts show one bar in (\d+) \((\d+) of 20000 bars\)/);
    for (const c of r.charts) expect(c.inked, c.id).toBeGreaterThan(500);
  });
});
