/**
 * The node's typed events on a real run against the simulator (HTTPS + WSS on loopback, a real
 * SQLite journal), and what the observation layer makes of them: session up at start, a session
 * drop through the simulator's hook (down, the account halted for it, up again), warm-up progress of
 * a strategy whose history is shorter than its warm-up, the stock market closing at 16:00 New York,
 * a kill switch (a halt, then stopping). The status record, the heartbeat, the metrics and the
 * webhook alerts follow those events (no log text is matched). On a terminal, each bar's log record
 * is one line.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import type { NodeEvent } from '../src/engine/events.ts';
import { engineSectionSchema } from '../src/config/engine-schema.ts';
import { createLogger } from '../src/log/logger.ts';
import { NodeMetrics } from '../src/observe/metrics.ts';
import { readNodeStatus } from '../src/observe/node-status.ts';
import { Notifier } from '../src/observe/notify.ts';
import { RunObserver } from '../src/observe/run-observer.ts';
import { cryptoParams, pairParams, runNode, simHook, spec, startHarness, waitFor, type Harness } from './helpers/engine-harness.ts';
import { parsePrometheusText } from './helpers/prom-text.ts';
import { runTandem } from './helpers/processes.ts';
import { startWebhookReceiver } from './helpers/webhook-receiver.ts';

let h: Harness | undefined;
const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
  await h?.close();
  h = undefined;
});

async function webhook() {
  const hook = await startWebhookReceiver();
  cleanups.push(hook.close);
  return hook;
}

type Of<T extends NodeEvent['type']> = Extract<NodeEvent, { type: T }>;
const ofType = <T extends NodeEvent['type']>(events: NodeEvent[], type: T): Of<T>[] => events.filter((e): e is Of<T> => e.type === type);

/** Tuesday 3 March 2026: 15:57 and (the next open) Wednesday 09:30 New York. */
const BEFORE_CLOSE = Date.UTC(2026, 2, 3, 20, 57);
const WEDNESDAY_OPEN = Date.UTC(2026, 2, 4, 14, 30);

describe('observe: the node\'s typed events on a run against the simulator', () => {
  it('session up/down, trading state (account halted while the session is lost, kill switch), warm-up progress, market closed, stopping: emitted and followed by status, heartbeat, metrics and alerts', async () => {
    h = await startHarness();
    const hook = await webhook();
    // 0.0001 minutes: any drop counts as "lost for longer than N minutes".
    const notify = engineSectionSchema.parse({ notify: { sessionLostMinutes: 0.0001, webhook: { url: hook.url } } }).notify;
    const notifier = new Notifier(notify, {});
    const metrics = new NodeMetrics();
    cleanups.push(() => metrics.close());
    // 'pair' never trades (entry at |z| 50); 'slow' needs more bars than the simulator's history gives (1000).
    const pair = pairParams({ entryZ: 50, stopZ: 60 });
    const slow = cryptoParams({ lookback: 1005 });
    const killFile = join(h.dir, 'KILL');
    const lines: string[] = [];
    const observer = new RunObserver({
      lines: { write: (t) => lines.push(t), render: { json: false } },
      journalFile: h.journalFile, mode: 'paper', account: h.sim.accounts.paper, notifier, metrics, heartbeatMs: 20,
      strategies: [
        { id: 'pair', y: 'ETHA', x: 'ETHV', bar: pair.bar, entryZ: pair.entryZ, exitZ: pair.exitZ, stopZ: pair.stopZ, warmupBars: pair.lookback - 1 },
        { id: 'slow', y: 'BTC', x: 'ETH', bar: slow.bar, entryZ: slow.entryZ, exitZ: slow.exitZ, stopZ: slow.stopZ, warmupBars: slow.lookback - 1 },
      ],
    });
    cleanups.push(() => observer.close('test end'));
    const heartbeats = new Set<string>();
    const sampler = setInterval(() => {
      const hb = readNodeStatus(h!.journalFile)?.heartbeat;
      if (hb) heartbeats.add(hb);
    }, 10);
    cleanups.push(() => clearInterval(sampler));
    // The node's log as a terminal shows it (pretty), captured.
    let logText = '';
    const logger = createLogger({ level: 'info', pretty: true, destination: new Writable({ write(c, _e, cb) { logText += String(c); cb(); } }) });
    const { node } = h.newNode({
      strategies: [spec('pair', pair, 0.5), spec('slow', slow, 0.5)], killSwitchFile: killFile, marketCheckMs: 100, logger,
      onEvent: (e) => { h!.events.push(e); observer.onEvent(e); },
    });
    const running = runNode(h, node, 300);
    running.catch(() => undefined);
    const ev = h.events;

    // Start: the session is up, then the node says it started, with its strategies; both markets are open.
    await waitFor(() => ev.some((e) => e.type === 'started'), 150_000, 'the start');
    const started = ofType(ev, 'started')[0]!;
    expect(started).toMatchObject({ mode: 'paper', accountId: h.sim.accounts.paper, strategies: ['pair', 'slow'] });
    expect(ofType(ev, 'session')[0]).toMatchObject({ state: 'up', what: 'start' });
    expect(ev.findIndex((e) => e.type === 'session')).toBeLessThan(ev.indexOf(started));
    expect(ofType(ev, 'market').map((m) => [m.strategyId, m.open])).toEqual([['pair', true], ['slow', true]]);

    // Warm-up: 'pair' was warm from history at once; 'slow' counts up one per live bar to what it needs.
    const warm = (id: string): Of<'warmup'>[] => ofType(ev, 'warmup').filter((w) => w.strategyId === id);
    expect(warm('pair')).toEqual([{ type: 'warmup', strategyId: 'pair', have: 19, need: 19 }]);
    await waitFor(() => warm('slow').some((w) => w.have === w.need), 120_000, 'the slow strategy warmed up');
    const slowWarm = warm('slow');
    expect(slowWarm[0]!.need).toBe(1004);
    expect(slowWarm[0]!.have).toBeLessThan(1004);
    for (let i = 1; i < slowWarm.length; i++) expect(slowWarm[i]!.have).toBe(slowWarm[i - 1]!.have + 1);
    expect([...heartbeats].some((t) => /slow: waiting for warm-up: \d+\/1004 bars/.test(t))).toBe(true);
    expect(readNodeStatus(h.journalFile)!.strategies.slow!.warmup).toEqual({ have: 1004, need: 1004 });
    // Said at once on the terminal, not after a quiet minute.
    expect(lines.join('')).toMatch(/^2026-\d\d-\d\d \d\d:\d\d:\d\d E[SD]T {2}node {2}slow: waiting for warm-up: \d+\/1004 bars$/m);

    // Session drop through the simulator's hook: down, the account halted for it, up again, active.
    // Every answer 20 ms late while it lasts, so the drop outlasts the 6 ms of sessionLostMinutes.
    const nSession = ofType(ev, 'session').length;
    await simHook(h.sim.url, '/sim/faults', 'POST', { spec: 'latency=20' });
    await simHook(h.sim.url, '/sim/session/drop', 'POST', {});
    await waitFor(() => ofType(ev, 'session').slice(nSession).some((s) => s.state === 'up'), 60_000, 'the session back');
    await simHook(h.sim.url, '/sim/faults', 'DELETE');
    const [down, up] = ofType(ev, 'session').slice(nSession);
    expect(down).toMatchObject({ state: 'down', what: 'session' });
    expect(up).toMatchObject({ state: 'up', what: 'session' });
    const accountStates = ofType(ev, 'trading-state').filter((t) => t.strategyId === null);
    expect(accountStates[0]).toMatchObject({ state: 'halted', reasons: [{ reason: 'session down', state: 'halted', kind: 'session' }] });
    expect(accountStates[1]).toMatchObject({ state: 'active', reasons: [] });
    const st1 = readNodeStatus(h.journalFile)!;
    expect(st1.session).toMatchObject({ state: 'up', drops: 1, relogins: 1 });
    expect(st1.trading).toEqual({ state: 'active', reason: null });
    await waitFor(() => hook.got.some((a) => a.kind === 'session-lost'), 30_000, 'the session-lost alert');

    // 16:00 New York: the stock pair's market closes (until Wednesday 09:30), the crypto pair's stays open.
    h.sim.core.clock.set(BEFORE_CLOSE);
    await waitFor(() => ofType(ev, 'market').some((m) => m.strategyId === 'pair' && !m.open), 60_000, 'the stock market closed');
    const closed = ofType(ev, 'market').find((m) => m.strategyId === 'pair' && !m.open)!;
    expect(closed.nextOpen).toBe(WEDNESDAY_OPEN);
    expect(ofType(ev, 'market').filter((m) => m.strategyId === 'slow')).toHaveLength(1);
    await waitFor(() => [...heartbeats].some((t) => t.includes('pair: market closed until Wed 09:30 New York')), 10_000, 'the market-closed heartbeat');
    expect(lines.join('')).toMatch(/ {2}node {2}pair: market closed until Wed 09:30 New York$/m);
    // `tandem status` (another process) shows it per strategy, from the status record.
    const status = await runTandem(['status', '--journal', h.journalFile], process.cwd());
    expect(status.code).toBe(0);
    expect(status.out).toMatch(/strategy pair .*\n(.*\n)*? {2}market closed until 2026-03-04/);
    expect(status.out).toMatch(/note {6}pair: market closed until Wed 09:30 New York/);

    // Kill switch: the account halted (a risk halt), then stopping; a halt alert; halted stays in the record.
    writeFileSync(killFile, '');
    const summary = await running;
    expect(summary.stopReason).toBe('kill-switch');
    const kill = ofType(ev, 'trading-state').find((t) => t.strategyId === null && t.reasons.some((r) => r.reason === 'kill-switch'))!;
    expect(kill).toMatchObject({ state: 'halted', reasons: [{ reason: 'kill-switch', state: 'halted', kind: 'risk' }] });
    expect(ofType(ev, 'stopping')).toEqual([expect.objectContaining({ reason: 'kill-switch' })]);
    expect(ev.indexOf(kill)).toBeLessThan(ev.indexOf(ofType(ev, 'stopping')[0]!));
    await waitFor(() => hook.got.some((a) => a.kind === 'halt'), 30_000, 'the halt alert');
    expect(hook.got.filter((a) => a.kind === 'halt')).toEqual([expect.objectContaining({ kind: 'halt', strategy: null, data: expect.objectContaining({ scope: 'account', reason: 'kill-switch' }) })]);
    expect(hook.got.filter((a) => a.kind === 'session-lost')).toHaveLength(1);

    // Metrics from the events: one drop, one re-login, halted.
    const fams = parsePrometheusText(await metrics.text());
    const value = (name: string): number => fams.get(name)!.samples.find((s) => s.name === name)!.value;
    expect(value('tandem_session_drops_total')).toBe(1);
    expect(value('tandem_session_relogins_total')).toBe(1);
    expect(value('tandem_session_up')).toBe(1);
    expect(value('tandem_trading_halted')).toBe(1);

    await observer.close('kill-switch');
    const final = readNodeStatus(h.journalFile)!;
    expect(final.trading).toEqual({ state: 'halted', reason: 'kill-switch' });
    expect(final.strategies.pair!.trading).toEqual({ state: 'halted', reason: 'kill-switch' });

    // On a terminal each bar's record is one line (time in New York, pair, closes, z, hedge ratio, position).
    // eslint-disable-next-line no-control-regex
    const plain = logText.replace(/\x1b\[[0-9;]*m/g, '');
    const barLines = plain.split('\n').filter((l) => / pair ETHA\/ETHV /.test(l));
    expect(barLines.length).toBeGreaterThan(3);
    for (const l of barLines) expect(l).toMatch(/^\d\d:\d\d pair ETHA\/ETHV \d+\.\d\d\/\d+\.\d\d z=([+-]\d+\.\d\d|n\/a) β=(-?\d+\.\d{3}|n\/a)( p=\d+\.\d{3})? pos=flat eq=[\d,]+\.\d\d$/);
    expect(plain).not.toMatch(/^\s+ySymbol:/m);
    // Other records stay pino-pretty's, stamped in New York time.
    expect(plain).toMatch(/^\[\d\d:\d\d:\d\d\.\d{3} E[SD]T\] (INFO|WARN).*: /m);
  }, 360_000);
});
