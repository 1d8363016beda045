/**
 * The dashboard's line per strategy: the state it trades under and its market, as the node's status
 * record has them (a strategy can be halted while the account trades: positions disputed, a naked
 * leg). A real SQLite journal, the status record written as the node writes it, the dashboard server
 * (`tandem dashboard`) and the page in real headless Chromium: a halted strategy and a closed market
 * are shown as such, a change is shown without a reload, and a stopped node says so.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Browser } from 'playwright-core';
import { afterEach, describe, expect, it } from 'vitest';
import { launchChromium } from '../src/auth/chromium.ts';
import { startDashboard } from '../src/observe/dashboard/server.ts';
import { emptyStatus, writeNodeStatus, type NodeStatus, type StrategyStatus } from '../src/observe/node-status.ts';
import { Journal } from '../src/store/journal.ts';

const cleanups: (() => Promise<unknown> | unknown)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

const NEXT_OPEN = Date.UTC(2026, 11, 7, 14, 30);

function strategy(id: string, y: string, x: string, trading: StrategyStatus['trading'], market: StrategyStatus['market']): StrategyStatus {
  return {
    id, y, x, bar: '5min', thresholds: { entry: 2, exit: 0.5, stop: 4 }, warmup: { have: 120, need: 120 }, lastBar: null, z: [],
    ...(trading ? { trading } : {}), ...(market ? { market } : {}),
  };
}

describe('observe: dashboard strategy states', () => {
  it('shows each strategy halted or active and its market open or closed until the next open; updates without a reload; a stopped node says so', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'tandem-dash-states-'));
    cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
    const journalFile = join(dir, 'journal.sqlite');
    const journal = new Journal(journalFile);
    cleanups.push(() => journal.close());

    const status: NodeStatus = {
      ...emptyStatus('paper', 'DU123'),
      session: { state: 'up', since: Date.now(), reason: null, drops: 0, relogins: 0 },
      trading: { state: 'active', reason: null },
      strategies: {
        stocks: strategy('stocks', 'ETHA', 'ETHV', { state: 'halted', reason: 'positions disputed' }, { open: false, marketTime: Date.now(), nextOpen: NEXT_OPEN }),
        crypto: strategy('crypto', 'BTC', 'ETH', { state: 'active', reason: null }, { open: true, marketTime: Date.now(), nextOpen: null }),
      },
    };
    const write = () => writeNodeStatus(journalFile, { ...status, updatedAt: Date.now() });
    write();
    // The node rewrites its record (its heartbeat) while it runs.
    const beat = setInterval(write, 500);
    cleanups.push(() => clearInterval(beat));

    const dash = await startDashboard({ journalFile, pollMs: 200 });
    cleanups.push(() => dash.close());
    const browser: Browser = await launchChromium(process.env.TANDEM_CHROMIUM ?? '/usr/bin/chromium');
    cleanups.push(() => browser.close());
    const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    const problems: string[] = [];
    page.on('console', (m) => {
      if (m.type() === 'error') problems.push(m.text());
    });
    page.on('pageerror', (e) => problems.push(e.message));
    await page.goto(dash.pageUrl);

    /** The badges of a strategy's line once its text matches `want` (texts and classes). */
    const line = async (id: string, want: RegExp) => {
      await page.waitForFunction(
        ([sel, src]) => new RegExp(src).test((globalThis as unknown as { document: { querySelector(s: string): { textContent: string } | null } }).document.querySelector(sel)?.textContent ?? ''),
        [`#state-${id}`, want.source] as const,
        { timeout: 60_000 },
      );
      return page.locator(`#state-${id} .badge`).evaluateAll((els) => els.map((e) => ({ text: e.textContent, cls: e.className })));
    };

    expect(await line('stocks', /halted/)).toEqual([
      { text: 'trading halted (positions disputed)', cls: 'badge bad' },
      { text: 'market closed until 2026-12-07 14:30:00Z UTC', cls: 'badge ' },
    ]);
    expect(await line('crypto', /active/)).toEqual([
      { text: 'trading active', cls: 'badge ok' },
      { text: 'market open', cls: 'badge ok' },
    ]);
    // The account trades on: its own badge stays active while one strategy is halted.
    expect(await page.locator('#health').textContent()).toMatch(/trading active/);

    // The node resolves the dispute and the crypto strategy halts on a naked leg: shown without a reload.
    const snapshots = await page.evaluate(() => (globalThis as unknown as { __dash: { snapshots: number } }).__dash.snapshots);
    status.strategies.stocks!.trading = { state: 'active', reason: null };
    status.strategies.crypto!.trading = { state: 'halted', reason: 'naked leg' };
    write();
    expect(await line('crypto', /halted/)).toEqual([
      { text: 'trading halted (naked leg)', cls: 'badge bad' },
      { text: 'market open', cls: 'badge ok' },
    ]);
    expect((await line('stocks', /active/))[0]).toEqual({ text: 'trading active', cls: 'badge ok' });
    expect(await page.evaluate(() => (globalThis as unknown as { __dash: { snapshots: number } }).__dash.snapshots)).toBe(snapshots);

    // The node stops: its last record says so, and no strategy state is claimed any more.
    clearInterval(beat);
    writeNodeStatus(journalFile, { ...status, updatedAt: Date.now(), stoppedAt: Date.now() });
    expect(await line('stocks', /node not running/)).toEqual([{ text: 'node not running', cls: 'badge warn' }]);
    expect(await line('crypto', /node not running/)).toEqual([{ text: 'node not running', cls: 'badge warn' }]);
    expect(problems).toEqual([]);
  });
});
