/**
 * The live dashboard as `tandem run --dashboard` serves it (attachObservation, the same call the run
 * command makes), driven in real headless Chromium while the node trades on the simulator: the page
 * loads without console errors, the z-score chart gains points and fills appear without a reload;
 * /metrics parses as strict Prometheus text and counts the gateway requests, fills, orders, equity;
 * Telegram alerts reach a local bot API with the token from the environment, which never reaches
 * the log. Saves a screenshot to artifacts/dashboard.png (and, with TANDEM_UPDATE_SCREENSHOTS=1, to
 * docs/img/dashboard.png, the README's picture).
 */
import { afterEach, describe, expect, it } from 'vitest';
import { createServer, type Server } from 'node:http';
import { copyFileSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Browser } from 'playwright-core';
import { launchChromium } from '../src/auth/chromium.ts';
import { loadConfig } from '../src/config/load.ts';
import { createLogger } from '../src/log/logger.ts';
import { attachObservation, type Observation } from '../src/observe/attach.ts';
import { pairParams, runNode, spec, startHarness, waitFor, type Harness } from './helpers/engine-harness.ts';
import { pairStrategyYaml } from './helpers/strategy-yaml.ts';
import { parsePrometheusText } from './helpers/prom-text.ts';

const BROWSER = process.env.TANDEM_CHROMIUM ?? '/usr/bin/chromium';
const TOKEN = '123456789:AAE-test-bot-token-for-tandem';

let h: Harness | undefined;
let browser: Browser | undefined;
let observation: Observation | undefined;
let bot: Server | undefined;
afterEach(async () => {
  await browser?.close();
  await observation?.close('test end');
  await h?.close();
  if (bot) await new Promise<void>((r) => bot!.close(() => r()));
  browser = undefined;
  observation = undefined;
  h = undefined;
  bot = undefined;
});

describe('observe: live dashboard in Chromium', () => {
  it('dashboard page updates live (z-score points, fills) without reload; 401 without token; /metrics strict Prometheus text; Telegram alerts without leaking the token', async () => {
    h = await startHarness();
    // A local Telegram bot API: every call for the first alert fails (so it is given up and logged).
    const botCalls: { path: string; body: { chat_id: string; text: string } }[] = [];
    let failText: string | undefined;
    bot = createServer((req, res) => {
      let data = '';
      req.on('data', (d: Buffer) => (data += d.toString()));
      req.on('end', () => {
        const body = JSON.parse(data) as { chat_id: string; text: string };
        botCalls.push({ path: req.url ?? '', body });
        failText ??= body.text;
        res.writeHead(body.text === failText ? 500 : 200, { 'content-type': 'application/json' }).end('{"ok":true}');
      });
    });
    await new Promise<void>((r) => bot!.listen(0, '127.0.0.1', r));
    const botUrl = `http://127.0.0.1:${(bot.address() as { port: number }).port}`;

    writeFileSync(join(h.dir, 'strategy.yaml'), pairStrategyYaml({ name: 'etha_ethv' }));
    writeFileSync(join(h.dir, 'engine.yaml'), `kind: engine
gateway: { url: ${h.sim.url} }
journal: { path: ${h.journalFile} }
dataDir: ${h.dir}
notify:
  events: [fill, halt]
  telegram: { chatId: 4242, apiUrl: ${botUrl} }
strategies: [strategy.yaml]
`);
    const env = { IBKR_PAPER_ACCOUNT_ID: h.sim.accounts.paper, TELEGRAM_BOT_TOKEN: TOKEN };
    const config = loadConfig(join(h.dir, 'engine.yaml'), { env, cwd: h.dir, defaultEngineConfig: null });
    const logLines: string[] = [];
    const logger = createLogger({ level: 'info', pretty: false, destination: { write: (l: string) => logLines.push(l) } as unknown as NodeJS.WritableStream });

    const { node: engine, journal, client } = h.newNode({ strategies: [spec('etha_ethv', pairParams())], logger, onEvent: (e) => { h!.events.push(e); observation?.observer.onEvent(e); } });
    observation = await attachObservation({ config, accountId: h.sim.accounts.paper, logger, env, pacingQueue: () => client.pacer.pending, dashboard: {}, lines: null });
    const dash = observation.dashboard!;
    expect(dash.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(dash.token.length).toBeGreaterThanOrEqual(20);

    const running = runNode(h, engine, 300);
    running.catch(() => undefined);
    await waitFor(() => h!.events.some((e) => e.type === 'bar'), 150_000, 'the first live bar');

    browser = await launchChromium(BROWSER);
    const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    const problems: string[] = [];
    page.on('console', (m) => {
      if (m.type() === 'error') problems.push(m.text());
    });
    page.on('pageerror', (err) => problems.push(err.message));
    const res = await page.goto(dash.pageUrl);
    expect(res!.status()).toBe(200);
    await page.waitForFunction(() => (globalThis as unknown as { __dash?: { snapshots: number } }).__dash?.snapshots === 1, undefined, { timeout: 60_000 });
    type Dash = { snapshots: number; fills: number; zPoints: Record<string, number> };
    const read = (): Promise<Dash> => page.evaluate(() => (globalThis as unknown as { __dash: Dash }).__dash);
    const first = await read();
    const z0 = first.zPoints.etha_ethv ?? 0;
    await page.waitForFunction((z: number) => ((globalThis as unknown as { __dash: Dash }).__dash.zPoints.etha_ethv ?? 0) >= z + 5, z0, { timeout: 120_000 });
    const fills0 = (await read()).fills;
    await waitFor(() => journal.fills().length > fills0, 120_000, 'a fill after the page loaded');
    await page.waitForFunction((f: number) => (globalThis as unknown as { __dash: Dash }).__dash.fills > f, fills0, { timeout: 60_000 });
    const later = await read();
    expect(later.snapshots).toBe(1); // no reload, no reconnect: the points and rows came as events
    // Rows and the page's own fill count, read in one evaluation (fills keep arriving meanwhile).
    // (A string, evaluated in the page: the project's TypeScript has no DOM types.)
    const rows = (await page.evaluate(`({ dom: document.querySelectorAll('#fills tr').length, seen: window.__dash.fills })`)) as { dom: number; seen: number };
    expect(rows.dom).toBe(rows.seen);
    expect(await page.locator('#strategy-etha_ethv h2').textContent()).toBe('etha_ethv: y = ETHA, x = ETHV');
    expect(await page.locator('#health').textContent()).toMatch(/node running.*session up.*trading active/);
    // The strategy's own line: the state it trades under and its market, from the node's status record (health comes every 2 s).
    await page.waitForFunction(() => /trading active.*market (open|closed)/.test((globalThis as unknown as { document: { getElementById(id: string): { textContent: string } | null } }).document.getElementById('state-etha_ethv')?.textContent ?? ''), undefined, { timeout: 60_000 });
    expect(await page.locator('#state-etha_ethv').textContent()).toMatch(/^trading active(market open|market closed until \d{4}-\d\d-\d\d \d\d:\d\d(:\d\d)?Z UTC)$/);
    // A few more trades for the picture.
    await waitFor(() => journal.fills().length >= fills0 + 6, 120_000, 'more fills');
    await page.waitForFunction((f: number) => (globalThis as unknown as { __dash: Dash }).__dash.fills >= f, fills0 + 6, { timeout: 60_000 });
    mkdirSync('artifacts', { recursive: true });
    await page.screenshot({ path: 'artifacts/dashboard.png', fullPage: true });
    // The README's picture is refreshed on request only, so a test run leaves the tree clean.
    if (process.env.TANDEM_UPDATE_SCREENSHOTS === '1') {
      mkdirSync('docs/img', { recursive: true });
      copyFileSync('artifacts/dashboard.png', 'docs/img/dashboard.png');
    }
    expect(problems).toEqual([]);

    // Token: required everywhere but /healthz.
    for (const path of ['/', '/events', '/api/snapshot', '/metrics']) expect((await fetch(`${dash.url}${path}`)).status).toBe(401);
    expect((await fetch(`${dash.url}/?token=${dash.token.slice(1)}`)).status).toBe(401);
    const hz = await fetch(`${dash.url}/healthz`);
    expect(hz.status).toBe(200);
    expect(await hz.json()).toMatchObject({ ok: true, session: 'up', trading: 'active', nodeRunning: true });

    // /metrics: strict Prometheus text.
    const m = await fetch(`${dash.url}/metrics`, { headers: { authorization: `Bearer ${dash.token}` } });
    expect(m.status).toBe(200);
    expect(m.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
    const fams = parsePrometheusText(await m.text());
    const sum = (name: string, pred: (l: Record<string, string>) => boolean = () => true): number => (fams.get(name)?.samples ?? []).filter((s) => s.name === name && pred(s.labels)).reduce((a, s) => a + s.value, 0);
    expect(sum('tandem_gateway_requests_total')).toBeGreaterThan(10);
    expect(sum('tandem_gateway_requests_total', (l) => l.endpoint!.includes('/iserver/') && l.status === '200')).toBeGreaterThan(0);
    expect(fams.get('tandem_gateway_requests_total')!.samples.every((s) => !/DU\d|\d{4,}/.test(s.labels.endpoint!))).toBe(true);
    expect(fams.has('tandem_gateway_rate_limited_total')).toBe(true);
    expect(fams.get('tandem_pacing_queue_length')!.samples.length).toBe(1);
    expect(sum('tandem_fills_total')).toBeGreaterThanOrEqual(6);
    expect(sum('tandem_orders', (l) => l.state === 'filled')).toBeGreaterThanOrEqual(6);
    expect(sum('tandem_equity', (l) => l.strategy === 'etha_ethv')).toBeGreaterThan(90_000);
    expect(sum('tandem_session_up')).toBe(1);
    // Every live bar's decision latency reaches the histogram (the node's bar events carry it).
    const latencyCount = (fams.get('tandem_decision_latency_seconds')?.samples ?? []).filter((x) => x.name === 'tandem_decision_latency_seconds_count' && x.labels.strategy === 'etha_ethv');
    expect(latencyCount.reduce((a, x) => a + x.value, 0)).toBeGreaterThan(0);
    expect(sum('tandem_trading_halted')).toBe(0);
    expect(fams.get('tandem_decision_latency_seconds')!.type).toBe('histogram');
    expect(fams.get('tandem_session_drops_total')!.type).toBe('counter');

    // Telegram: alerts for fills to chat 4242 with the bot token in the API path, never in the log.
    await waitFor(() => botCalls.length >= 4, 30_000, 'Telegram calls');
    expect(botCalls[0]!.path).toBe(`/bot${TOKEN}/sendMessage`);
    expect(botCalls.find((c) => c.body.text !== failText)!.body).toMatchObject({ chat_id: '4242', text: expect.stringMatching(/^Tandem fill: etha_ethv: (BUY|SELL) \d+ ETH[AV] @ /) });
    await waitFor(() => logLines.some((l) => l.includes('alert not delivered')), 30_000, 'the undelivered alert warning');
    expect(logLines.join('')).not.toContain(TOKEN);
    expect(logLines.join('')).not.toContain(TOKEN.split(':')[1]!);

    await engine.stop('signal');
    await running;
  }, 420_000);
});
