/**
 * The report of a portfolio backtest (`tandem backtest --config ENGINE.yaml --report`), made by the
 * real CLI on the shipped engine config (ETHA/ETHV in 5-minute bars, BTC/ETH in hours, one account)
 * and opened in real headless Chromium: no console errors, offline; the account's equity and
 * drawdown and every strategy's four charts drawn; each strategy's first and last trade markers in
 * view and painted; each strategy's trades table matching the run's trades (count per strategy as
 * the summary gives it, and quantities and P&L as the --json output has them); the account's last
 * charted equity the JSON's final equity; each strategy in its exchange's time zone; the refusals;
 * and a run the daily-loss limit stopped says so in the account section.
 */
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { chromium, type Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { backtestNodeFile } from '../src/backtest/backtest-file.ts';
import { pairCsv, syntheticPair } from './helpers/pair-data.ts';
import { testParams } from './helpers/params.ts';
import { runTandem } from './helpers/processes.ts';
import { zBars } from './helpers/z-bars.ts';
import { chartInkScript, chartsPaintedScript, CHROMIUM_ARGS, MARKER_CHECKER, openReport, VISIBLE_RANGES, type ChartInk, type MarkerCheck } from './helpers/report-page.ts';

const artifacts = resolve(import.meta.dirname, '..', 'artifacts');
const engine = resolve(import.meta.dirname, '..', 'configs/engine/Engine.yaml');
const STRATEGIES = ['cointegration_etha_ethv', 'cointegration_btc_eth'];
/** Every chart of the page: the account's two, then four per strategy section (s1-, s2-). */
const CHART_IDS = ['account-equity', 'account-drawdown', ...['s1-', 's2-'].flatMap((p) => ['equity', 'drawdown', 'prices', 'zscore'].map((c) => p + c))];
let browser: Browser;

beforeAll(async () => {
  browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: CHROMIUM_ARGS });
});
afterAll(async () => {
  await browser?.close();
});

const CHARTS_PAINTED_SCRIPT = chartsPaintedScript(CHART_IDS);
const CHART_INK_SCRIPT = chartInkScript(CHART_IDS);

/**
 * Per section: each chart's visible range; the first and last trade markers' x on the z-score chart
 * and how many pixels of their colour its screenshot has there; the last charted account equity.
 */
const VIEW_SCRIPT = `(() => window.__report.sections.map((S) => {
  const eq = S.equity.data();
  const out = { id: S.id, kind: S.kind, views: (${VISIBLE_RANGES})(S.charts), dataFrom: S.time[0], dataTo: S.time[S.time.length - 1], lastEquity: eq[eq.length - 1].value, markers: S.markers.length, first: null, last: null };
  if (S.kind !== 'strategy' || !S.markers.length) return out;
  const check = (${MARKER_CHECKER})(S.charts.zscore);
  out.first = check(S.markers[0]);
  out.last = check(S.markers[S.markers.length - 1]);
  return out;
}))()`;

interface SectionView {
  id: string;
  kind: 'account' | 'strategy';
  views: { id: string; from: number; to: number; logical: { from: number; to: number } }[];
  dataFrom: number;
  dataTo: number;
  lastEquity: number;
  markers: number;
  first: MarkerCheck | null;
  last: MarkerCheck | null;
}

interface JsonTrade {
  qtyY: number;
  qtyX: number;
  pnl: number;
}

const money = (v: number) => v.toLocaleString('en-US', { minimumFractionDigits: 2, maximumFractionDigits: 2 });

describe('portfolio report', () => {
  it('`tandem backtest --config Engine.yaml --report` draws the account and each strategy, offline, with no console error', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'tandem-report-pf-'));
    // ETHA/ETHV in 5-minute bars around the clock (the night's decisions are refused) and BTC/ETH in hours, one file.
    const stk = pairCsv(syntheticPair({ n: 2000, seed: 4, start: Date.UTC(2024, 0, 2, 14, 30) }), 'ETHA', 'ETHV');
    const cr = pairCsv(syntheticPair({ n: 1500, seed: 6, stepMs: 3_600_000, start: Date.UTC(2024, 0, 2, 0, 0) }), 'BTC', 'ETH');
    writeFileSync(join(dir, 'bars.csv'), stk + cr.split('\n').slice(1).join('\n'));
    const r = await runTandem(['backtest', '--config', engine, '--data', 'bars.csv', '--json', 'out.json', '--report', 'out.html'], dir);
    expect(r.err).toBe('');
    expect(r.code).toBe(0);
    expect(r.out).toContain('report written to out.html');
    const json = JSON.parse(readFileSync(join(dir, 'out.json'), 'utf8')) as { finalEquity: number; trades: JsonTrade[] };
    // Each strategy's trades, as the summary counts them.
    const tradesOf = Object.fromEntries(
      STRATEGIES.map((id) => {
        const m = new RegExp(`strategy\\s+${id}: start [\\d.]+, final [\\d.]+, return -?[\\d.]+%, (\\d+) trades`).exec(r.out);
        expect(m, r.out).not.toBeNull();
        return [id, Number(m![1])];
      }),
    );
    for (const id of STRATEGIES) expect(tradesOf[id], id).toBeGreaterThanOrEqual(2);
    expect(tradesOf[STRATEGIES[0]!]! + tradesOf[STRATEGIES[1]!]!).toBe(json.trades.length);

    const { page, errors, requests } = await openReport(browser, join(dir, 'out.html'));
    await page.waitForFunction(`window.__reportReady === ${CHART_IDS.length}`, undefined, { timeout: 30_000 });
    await page.waitForFunction(CHARTS_PAINTED_SCRIPT, undefined, { timeout: 30_000, polling: 'raf' });
    const charts = (await page.evaluate(CHART_INK_SCRIPT)) as ChartInk[];
    const sections = (await page.evaluate(VIEW_SCRIPT)) as SectionView[];
    // Per strategy section: its trades table's quantity and P&L cells, and the section's text.
    const tables = (await page.evaluate(
      `[1, 2].map((i) => ({ rows: [...document.querySelectorAll('#s' + i + '-trades tbody tr')].map((tr) => [...tr.children].map((td) => td.textContent)), text: document.getElementById('s' + i).textContent }))`,
    )) as { rows: string[][]; text: string }[];
    const accountText = (await page.textContent('#account')) ?? '';
    mkdirSync(artifacts, { recursive: true });
    await page.screenshot({ path: join(artifacts, 'report-portfolio.png'), fullPage: true });
    await page.close();

    expect(errors).toEqual([]);
    expect(requests).toEqual([]);
    expect(charts.map((c) => c.id)).toEqual(CHART_IDS);
    for (const c of charts) {
      expect(c.width, c.id).toBeGreaterThan(300);
      expect(c.height, c.id).toBeGreaterThan(100);
      expect(c.inked, c.id).toBeGreaterThan(500);
    }

    // The account first, then the strategies in config order.
    expect(sections.map((s) => [s.kind, s.id])).toEqual([['account', 'account'], ...STRATEGIES.map((id) => ['strategy', id])]);
    expect(sections[0]!.lastEquity).toBe(json.finalEquity);
    for (const s of sections) {
      for (const v of s.views) {
        // The whole run in view on every chart, and the section's charts on one logical range.
        expect(v.from, `${s.id} ${v.id}`).toBeLessThanOrEqual(s.dataFrom);
        expect(v.to, `${s.id} ${v.id}`).toBeGreaterThanOrEqual(s.dataTo);
        expect(v.logical, `${s.id} ${v.id}`).toEqual(s.views[0]!.logical);
      }
      if (s.kind !== 'strategy') continue;
      expect(s.markers, s.id).toBeGreaterThanOrEqual(tradesOf[s.id]!);
      for (const m of [s.first!, s.last!]) {
        expect(m.x, s.id).not.toBeNull();
        expect(m.x!, s.id).toBeGreaterThanOrEqual(0);
        expect(m.x!, s.id).toBeLessThanOrEqual(m.width);
        expect(m.colored, `${s.id}: ${JSON.stringify(m)}`).toBeGreaterThan(5);
      }
    }

    // Each strategy's table lists its trades; together they are the JSON's trades (quantities and P&L).
    const key = (qtyY: string | number, qtyX: string | number, pnl: string) => `${qtyY}|${qtyX}|${pnl}`;
    STRATEGIES.forEach((id, i) => expect(tables[i]!.rows.length, id).toBe(tradesOf[id]));
    const listed = tables.flatMap((t) => t.rows.map((c) => key(c[6]!, c[9]!, c[12]!))).sort();
    expect(listed).toEqual(json.trades.map((t) => key(t.qtyY, t.qtyX, money(t.pnl))).sort());

    // Each strategy in its exchange's time zone, with its own symbols.
    expect(tables[0]!.text).toContain('times in New York (America/New_York)');
    expect(tables[0]!.text).toContain('2024-01-02 09:30 →');
    expect(tables[0]!.text).toContain('Qty ETHA');
    expect(tables[1]!.text).toContain('times in UTC (UTC)');
    expect(tables[1]!.text).toContain('2024-01-02 00:00 →');
    expect(tables[1]!.text).toContain('Qty BTC');
    // The account: the refusals the summary lists, and why the run stopped.
    expect(r.out).toMatch(/refused\s+\d+ × cointegration_etha_ethv: market closed for ETHA/);
    expect(accountText).toMatch(/cointegration_etha_ethvmarket hours\d+market closed for ETHA \(STK\)/);
    expect(accountText).toContain('stopped by the end of the data');
    expect(accountText).toContain(`Final equity${money(json.finalEquity)}`);
  }, 180_000);

  it('says when the daily-loss limit stopped the account; each strategy table lists its own trades (the stopped one exits: daily-loss)', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'tandem-report-pf-'));
    // Two pairs with the same prices under other names: both enter on the same bar, the loss stops both.
    const zb = zBars(40, [0, 2.5, 2.2, 2.4, 2.1, 0.3, 0, 2.6, 0.2, 0]);
    const file = join(dir, 'four.csv');
    writeFileSync(file, pairCsv(zb.bars, 'YYY', 'XXX') + pairCsv(zb.bars, 'AAA', 'BBB').split('\n').slice(1).join('\n'));
    const stock = (symbol: string) => ({ symbol, secType: 'STK', exchange: 'SMART', currency: 'USD' });
    const config = (name: string, y: string, x: string) => ({ file: `${name}.yaml`, name, costs: { slippageBps: 20 }, strategy: testParams({ legs: { y: stock(y), x: stock(x) } }) as never });
    const run = await backtestNodeFile({
      configs: [config('one', 'YYY', 'XXX'), config('two', 'AAA', 'BBB')], dataFile: file, startingCash: 100_000, progress: false, report: true,
      risk: { maxGrossNotional: 1e12, maxPositionNotional: 1e12, maxDailyLoss: 1, allowOutsideRth: false },
    });
    expect(run.live!.stopReason).toBe('daily-loss');
    // The first strategy's trade is flattened by the stop (the second may not have traded before it).
    expect(run.live!.strategies[0]!.result.trades.map((t) => t.exitReason)).toEqual(['daily-loss']);
    writeFileSync(join(dir, 'stop.html'), run.html!);
    const { page, errors } = await openReport(browser, join(dir, 'stop.html'));
    await page.waitForFunction(`window.__reportReady === ${CHART_IDS.length}`, undefined, { timeout: 30_000 });
    await page.waitForFunction(CHARTS_PAINTED_SCRIPT, undefined, { timeout: 30_000, polling: 'raf' });
    const account = (await page.textContent('#account')) ?? '';
    const reasons = (await page.evaluate(`[1, 2].map((i) => [...document.querySelectorAll('#s' + i + '-trades tbody tr')].map((tr) => tr.children.length > 1 ? tr.children[4].textContent : tr.textContent))`)) as string[][];
    await page.close();
    expect(errors).toEqual([]);
    expect(account).toContain('Stopped: the daily-loss limit (risk.maxDailyLoss) was reached');
    expect(account).toMatch(/one.*two/s);
    // Each section's table lists its own strategy's trades and their exit reasons.
    expect(reasons).toEqual(run.live!.strategies.map((x) => (x.result.trades.length ? x.result.trades.map((t) => t.exitReason ?? 'open') : ['No trades.'])));
  }, 120_000);
});
