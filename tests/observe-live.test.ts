/**
 * The observation layer on a real run: the engine trades on the simulator (HTTPS + WSS on
 * loopback) and writes a real SQLite journal while `tandem status` / `tandem trades` (child
 * processes) and in-process readers read it; the trade lines are printed from what it journals;
 * alerts reach a local webhook; the dashboard of a node "running elsewhere" answers from the
 * journal and refuses requests without its token; `tandem report --compare-backtest` renders the run.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { pathToFileURL } from 'node:url';
import { launchChromium } from '../src/auth/chromium.ts';
import { join } from 'node:path';
import { JournalReader } from '../src/observe/journal-reader.ts';
import { RunObserver } from '../src/observe/run-observer.ts';
import { Notifier } from '../src/observe/notify.ts';
import { startDashboard } from '../src/observe/dashboard/server.ts';
import { engineSectionSchema } from '../src/config/engine-schema.ts';
import { createLogger } from '../src/log/logger.ts';
import { pairParams, runNode, spec, startHarness, waitFor, type Harness } from './helpers/engine-harness.ts';
import { startTandem } from './helpers/processes.ts';
import { startWebhookReceiver } from './helpers/webhook-receiver.ts';

let h: Harness | undefined;
const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
  await h?.close();
  h = undefined;
});

/** Runs a tandem command to completion (async: the engine in this process keeps running meanwhile). */
async function tandem(args: string[]): Promise<{ code: number | null; out: string; err: string }> {
  const c = startTandem(args);
  let out = '';
  let err = '';
  c.proc.stdout.removeAllListeners('data');
  c.proc.stdout.on('data', (d: Buffer) => (out += d.toString()));
  c.proc.stderr.on('data', (d: Buffer) => (err += d.toString()));
  const code = await c.exited;
  return { code, out, err };
}

describe('observe: a node trading on the simulator', () => {
  it('status and trades read the journal while the node writes it; trade lines, webhook alerts, the remote dashboard and the live report', async () => {
    h = await startHarness();
    const params = pairParams();
    const journalFile = h.journalFile;
    const hook = await startWebhookReceiver();
    cleanups.push(hook.close);
    const notify = engineSectionSchema.parse({ notify: { webhook: { url: hook.url } } }).notify;
    const logLines: string[] = [];
    const logger = createLogger({ level: 'info', pretty: false, destination: { write: (l: string) => logLines.push(l) } as unknown as NodeJS.WritableStream });
    const notifier = new Notifier(notify, {}, logger);
    const lines: string[] = [];
    const killFile = join(h.dir, 'KILL');
    const { node: engine, journal } = h.newNode({ strategies: [spec('etha_ethv', params)], killSwitchFile: killFile, onEvent: (e) => { h!.events.push(e); observer.onEvent(e, 'etha_ethv'); } });
    const observer = new RunObserver({
      journalFile, mode: 'paper', account: h.sim.accounts.paper, notifier,
      strategies: [{ id: 'etha_ethv', y: 'ETHA', x: 'ETHV', bar: params.bar, entryZ: params.entryZ, exitZ: params.exitZ, stopZ: params.stopZ, warmupBars: params.lookback - 1, params: params as unknown as Record<string, unknown> }],
      lines: { write: (t) => lines.push(t), render: { json: false } },
    });
    cleanups.push(() => observer.close('test end'));

    const running = runNode(h, engine, 300);
    await waitFor(() => journal.fills().length >= 2, 120_000, 'a position');

    // Readers in this process and in child processes, while the node keeps writing.
    const reader = new JournalReader(journalFile);
    cleanups.push(() => reader.close());
    let reads = 0;
    const hammer = (async () => {
      while (!engine.isStopping && reads < 400) {
        reader.fills();
        reader.orders();
        reader.bars({ includeWarmup: true });
        reads++;
        await new Promise((r) => setImmediate(r));
      }
    })();
    const [status, trades, csv] = await Promise.all([
      tandem(['status', '--journal', journalFile, '--json']),
      tandem(['trades', '--journal', journalFile, '--json']),
      tandem(['trades', '--journal', journalFile, '--csv']),
    ]);
    await hammer;
    expect(reads).toBeGreaterThan(10);
    for (const r of [status, trades, csv]) {
      expect(r.err).not.toMatch(/SQLITE_BUSY|locked|error/i);
      expect(r.code).toBe(0);
    }
    const s = JSON.parse(status.out) as { node: { running: boolean; account: string }; session: { state: string }; trading: { state: string }; strategies: { id: string; y: string; equity: { equity: number } | null; positions: unknown[] }[]; counts: { fills: number } };
    expect(s.node).toMatchObject({ running: true, account: h.sim.accounts.paper });
    expect(s.session.state).toBe('up');
    expect(s.trading.state).toBe('active');
    expect(s.strategies.map((x) => x.id)).toEqual(['etha_ethv']);
    expect(s.strategies[0]!.y).toBe('ETHA');
    expect(s.strategies[0]!.equity!.equity).toBeGreaterThan(90_000);
    expect(s.counts.fills).toBeGreaterThanOrEqual(2);
    const t = JSON.parse(trades.out) as { fills: { strategyId: string; symbol: string }[]; roundTrips: { side: string; open: boolean }[] };
    expect(t.fills.length).toBeGreaterThanOrEqual(2);
    expect(new Set(t.fills.map((f) => f.strategyId))).toEqual(new Set(['etha_ethv']));
    expect(t.roundTrips.length).toBeGreaterThanOrEqual(1);
    expect(csv.out.split('\n')[0]).toBe('n,strategy,side,entry_time,entry_reason,exit_time,exit_reason,legs,fills,commission,pnl,open');

    // The remote dashboard (its own read-only reader): token required, snapshot from the journal.
    const dash = await startDashboard({ journalFile, pollMs: 200 });
    cleanups.push(() => dash.close());
    expect((await fetch(`${dash.url}/api/snapshot`)).status).toBe(401);
    expect((await fetch(`${dash.url}/api/snapshot?token=wrong${dash.token}`)).status).toBe(401);
    expect((await fetch(`${dash.url}/`)).status).toBe(401);
    const snap = (await (await fetch(`${dash.url}/api/snapshot?token=${dash.token}`)).json()) as { strategies: { id: string; ratio: unknown[]; z: unknown[]; thresholds: unknown }[]; fills: unknown[] };
    expect(snap.strategies[0]).toMatchObject({ id: 'etha_ethv', thresholds: { entry: 1.2, exit: 0.2, stop: 3.5 } });
    expect(snap.strategies[0]!.ratio.length).toBeGreaterThan(20);
    expect(snap.strategies[0]!.z.length).toBeGreaterThan(0);
    expect(snap.fills.length).toBeGreaterThanOrEqual(2);
    expect((await fetch(`${dash.url}/healthz`)).status).toBe(200);

    // Kill switch: flatten, stop; a halt alert; /healthz fails.
    writeFileSync(killFile, '');
    const summary = await running;
    expect(summary.stopReason).toBe('kill-switch');
    await waitFor(() => hook.got.some((x) => x.kind === 'halt'), 30_000, 'the halt alert');
    await waitFor(() => hook.got.filter((x) => x.kind === 'fill').length >= journal.fills().length, 30_000, 'a fill alert per fill');
    const halt = hook.got.find((x) => x.kind === 'halt')!;
    // From the node's trading-state event (a risk halt of the account), not from the journal's incident.
    expect(halt).toMatchObject({ source: 'tandem', kind: 'halt', strategy: null, data: { scope: 'account', reason: 'kill-switch' } });
    expect(hook.got.find((x) => x.kind === 'fill')!).toMatchObject({ source: 'tandem', kind: 'fill', strategy: 'etha_ethv', data: { symbol: expect.stringMatching(/^ETH[AV]$/) } });
    let hz: Response | undefined;
    for (let i = 0; i < 100; i++) {
      hz = await fetch(`${dash.url}/healthz`);
      if (hz.status === 503) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    expect(hz!.status).toBe(503);
    expect(((await hz!.json()) as { reasons: string[] }).reasons.join(' ')).toMatch(/halted \(kill-switch\)/);

    // The trade lines: decisions with reason, z and hedge ratio; orders with cOID and state; fills.
    await observer.close('kill-switch');
    const text = lines.join('');
    expect(text).toMatch(/etha_ethv {2}decision ENTER (LONG|SHORT) \(entry\) {2}z=-?\d+\.\d\d {2}hedge=\d+\.\d{3} {2}(BUY|SELL) \d+ ETHA @ \d+\.\d\d, (BUY|SELL) \d+ ETHV/);
    expect(text).toMatch(/etha_ethv {2}order tdm-\S+ {2}y leg {2}(BUY|SELL) \d+ ETHA MKT {2}-> filled/);
    expect(text).toMatch(/etha_ethv {2}fill {2}(BUY|SELL) \d+ ETH[AV] @ \d+\.\d\d {2}commission/);
    expect(text).toMatch(/^2026-03-03 \d\d:\d\d:\d\d EST {2}/m);
    // Why before what: the first decision line precedes the first order and fill lines.
    expect(text.indexOf('decision ENTER')).toBeLessThan(text.indexOf('  order '));
    expect(text.indexOf('  order ')).toBeLessThan(text.indexOf('  fill  '));
    const fillLines = text.split('\n').filter((l) => / fill {2}/.test(l));
    expect(fillLines.length).toBe(journal.fills().length);

    // Round trips add up to the cash flows of every fill (the kill switch flattened: all closed).
    const all = JSON.parse((await tandem(['trades', '--journal', journalFile, '--json'])).out) as { roundTrips: { open: boolean; pnl: number }[]; totals: { realisedPnl: number } };
    expect(all.roundTrips.every((r) => !r.open)).toBe(true);
    const cash = journal.fills().reduce((acc, f) => acc - (f.side === 'BUY' ? f.qty : -f.qty) * f.price - f.commission, 0);
    expect(all.totals.realisedPnl).toBeCloseTo(cash, 1);

    // The status record says stopped/halted; status exits 7 (unhealthy: halted).
    const after = await tandem(['status', '--journal', journalFile]);
    expect(after.code).toBe(7);
    expect(after.out).toMatch(/trading {3}halted \(kill-switch\)/);
    expect(after.out).toMatch(/node {6}not running/);
    expect(after.out).toMatch(/position flat/);
    expect(after.err).toBe('error: unhealthy: trading halted (kill-switch)\n');

    // The live report, side by side with the backtest of the same bars.
    const out = join(h.dir, 'run.html');
    const rep = await tandem(['report', '--journal', journalFile, '--out', out, '--compare-backtest']);
    expect(rep.err).toBe('');
    expect(rep.code).toBe(0);
    expect(rep.out).toMatch(/wrote .*run\.html: \d+ live bars, \d+ closed trade\(s\).*backtest of the same bars: \d+ trade\(s\).*[1-9]\d* matched/);
    const html = readFileSync(out, 'utf8');
    expect(html).toContain('Paper run: etha_ethv');
    expect(html).toContain('Live vs backtest');
    expect(existsSync(out)).toBe(true);
    // It renders in a browser like a backtest report: four charts, no script error.
    const browser = await launchChromium(process.env.TANDEM_CHROMIUM ?? '/usr/bin/chromium');
    cleanups.push(() => browser.close());
    const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(e.message));
    page.on('console', (m) => {
      if (m.type() === 'error') errors.push(m.text());
    });
    await page.goto(pathToFileURL(out).href);
    await page.waitForFunction('window.__reportReady === 4', undefined, { timeout: 30_000 });
    expect(await page.locator('#comparison tbody tr').count()).toBeGreaterThan(0);
    mkdirSync('artifacts', { recursive: true });
    await page.screenshot({ path: 'artifacts/live-report.png', fullPage: true });
    expect(errors).toEqual([]);

    // The webhook URL never reached the log.
    expect(logLines.join('')).not.toContain(hook.url);
  }, 300_000);
});
