/**
 * The observation layer's pure parts: the trade log lines (text in the exchange's time zone, JSON
 * when piped, heartbeats), round trips from fills, --since, metric labels and the strict
 * Prometheus parser used by the live tests, and the notify: config section.
 */
import { describe, expect, it } from 'vitest';
import { barLine, decisionLine, exchangeTime, fillLine, marketClosedText, orderLine, renderLine, renderOptionsFor, warmupText } from '../src/observe/log-lines.ts';
import { roundTrips } from '../src/observe/round-trips.ts';
import type { ReaderDecision, ReaderFill, ReaderOrder } from '../src/observe/journal-reader.ts';
import { parseSince } from '../src/cli/trades.ts';
import { endpointLabel, NodeMetrics } from '../src/observe/metrics.ts';
import { engineSectionSchema } from '../src/config/engine-schema.ts';
import { Notifier } from '../src/observe/notify.ts';
import { parsePrometheusText } from './helpers/prom-text.ts';
import { startWebhookReceiver } from './helpers/webhook-receiver.ts';

/** Tuesday 3 March 2026 09:35 New York (EST). */
const T = Date.UTC(2026, 2, 3, 14, 35);

describe('observe log lines', () => {
  it('decision line says strategy, side, reason, z, hedge ratio, quantities and prices; text in New York time, JSON when piped', () => {
    const l = decisionLine({ strategy: 'etha_ethv', time: T, action: 'enter', side: 'LONG', reason: 'entry', z: -2.134, hedgeRatio: 0.98765, legs: [{ symbol: 'ETHA', side: 'BUY', qty: 950, price: 25.1 }, { symbol: 'ETHV', side: 'SELL', qty: 940, price: 24.87 }] });
    const text = renderLine(l, { json: false });
    expect(text).toBe('2026-03-03 09:35:00 EST  etha_ethv  decision ENTER LONG (entry)  z=-2.13  hedge=0.988  BUY 950 ETHA @ 25.10, SELL 940 ETHV @ 24.87');
    const json = JSON.parse(renderLine(l, { json: true })) as Record<string, unknown>;
    expect(json).toMatchObject({ time: '2026-03-03T14:35:00.000Z', kind: 'decision', strategy: 'etha_ethv', side: 'LONG', reason: 'entry', z: -2.134, hedgeRatio: 0.98765 });
    expect((json.legs as unknown[]).length).toBe(2);
    const refused = decisionLine({ strategy: 's', time: T, action: 'refused', side: null, reason: 'risk-refused', z: null, hedgeRatio: null, legs: [], note: 'gross notional above the limit' });
    expect(refused.text).toContain('REFUSED (risk-refused)');
    expect(refused.text).toContain('gross notional above the limit');
  });

  it('order, fill and one-line bar status', () => {
    expect(orderLine({ strategy: 's', time: T, cOID: 'tdm-1', leg: 'y', symbol: 'ETHA', side: 'BUY', qty: 10, cashQty: null, orderType: 'MKT', state: 'filled' }).text).toBe('s  order tdm-1  y leg  BUY 10 ETHA MKT  -> filled');
    expect(orderLine({ strategy: 's', time: T, cOID: 'tdm-2', leg: 'x', symbol: 'ETH.USD', side: 'BUY', qty: null, cashQty: 1500.5, orderType: 'MKT', state: 'working' }).text).toContain('BUY $1500.50 ETH.USD');
    expect(fillLine({ strategy: 's', time: T, cOID: 'tdm-1', symbol: 'ETHA', side: 'SELL', qty: 3, price: 25.123, commission: 1 }).text).toBe('s  fill  SELL 3 ETHA @ 25.12  commission 1.00  (tdm-1)');
    const b = barLine({ strategy: 's', time: T, symbols: ['ETHA', 'ETHV'], closes: [25.1, 24.87], z: 1.234, position: 'FLAT', equity: 100012.4 });
    expect(b.text).toBe('s  ETHA 25.10 / ETHV 24.87  z=+1.23  FLAT  equity 100,012.40');
    expect(b.text.includes('\n')).toBe(false);
  });

  it('heartbeats: market closed until the next open in New York; warm-up progress', () => {
    const sunday = Date.UTC(2026, 2, 1, 15, 0); // Sunday 10:00 New York
    expect(marketClosedText(sunday, 'stock')).toBe('market closed until Mon 09:30 New York');
    expect(marketClosedText(T, 'stock')).toBeNull();
    expect(marketClosedText(Date.UTC(2026, 2, 7, 20, 0), 'crypto')).toBe('market closed until Sun 03:00 New York'); // Saturday 15:00
    const friday = Date.UTC(2026, 2, 6, 21, 30); // Friday 16:30
    expect(marketClosedText(friday, 'stock')).toBe('market closed until Mon 09:30 New York');
    expect(warmupText(37, 120)).toBe('waiting for warm-up: 37/120 bars');
    // Summer time: the abbreviation follows the date.
    expect(exchangeTime(Date.UTC(2026, 6, 1, 13, 30))).toBe('2026-07-01 09:30:00 EDT');
    expect(renderOptionsFor({ isTTY: true }).json).toBe(false);
    expect(renderOptionsFor({}).json).toBe(true);
  });
});

function fill(i: number, strategyId: string, symbol: string, side: 'BUY' | 'SELL', qty: number, price: number, cOID: string): ReaderFill {
  return { rowid: i, execId: `e${i}`, cOID, strategyId, conid: symbol === 'Y' ? 1 : 2, symbol, side, qty, price, commission: 1, time: T + i * 60_000 };
}
function order(cOID: string, strategyId: string, intentId: string, leg: string, symbol: string): ReaderOrder {
  return { rowid: 0, cOID, strategyId, intentId, leg, conid: leg === 'y' ? 1 : 2, symbol, side: 'BUY', quantity: 1, cashQty: null, orderType: 'MKT', tif: 'DAY', state: 'filled', brokerOrderId: null, filledQty: 1, avgPrice: 0, createdAt: 0, updatedAt: 0, lastError: null };
}

describe('round trips', () => {
  it('flat -> position -> flat is one trip with cash P&L net of commissions; reasons from the decisions; an open trip is marked', () => {
    const b1 = T - 300_000;
    const b2 = T + 600_000;
    const orders = [order('a', 's', `enter-${b1}`, 'y', 'Y'), order('b', 's', `enter-${b1}`, 'x', 'X'), order('c', 's', `close-${b2}`, 'y', 'Y'), order('d', 's', `close-${b2}`, 'x', 'X'), order('e', 's', `enter-${b2 + 300_000}`, 'y', 'Y'), order('f', 's', `enter-${b2 + 300_000}`, 'x', 'X')];
    const decisions: ReaderDecision[] = [
      { id: 1, strategyId: 's', barTime: b1, action: 'enter-SHORT', detail: null },
      { id: 2, strategyId: 's', barTime: b2, action: 'close-SHORT-stop', detail: null },
    ];
    const fills = [
      fill(1, 's', 'Y', 'SELL', 10, 20, 'a'), fill(2, 's', 'X', 'BUY', 5, 40, 'b'),
      fill(3, 's', 'Y', 'BUY', 10, 19, 'c'), fill(4, 's', 'X', 'SELL', 5, 39.5, 'd'),
      fill(5, 's', 'Y', 'BUY', 4, 19, 'e'), fill(6, 's', 'X', 'SELL', 2, 39, 'f'),
    ];
    const trips = roundTrips(fills, orders, decisions, { marks: { Y: 20, X: 38 } });
    expect(trips.length).toBe(2);
    const [a, b] = trips as [typeof trips[0], typeof trips[0]];
    // y: +10 (sold 20, bought 19), x: -2.5 (bought 40, sold 39.5), commissions 4.
    expect(a).toMatchObject({ side: 'SHORT', open: false, pnl: 3.5, fills: 4, commission: 4, entryReason: 'entry', exitReason: 'stop', entryBar: b1, exitBar: b2, legs: { Y: -10, X: 5 } });
    // open: cash -76 + 78 - 2 commissions = 4 - 2 + marks: Y 4*20 = 80, X -2*38 = -76.
    expect(b).toMatchObject({ side: 'LONG', open: true, exitTime: null });
    expect(b.pnl).toBeCloseTo(-76 - 1 + 78 - 1 + 80 - 76, 6);
  });

  it('strategies are kept apart', () => {
    const fills = [fill(1, 'a', 'Y', 'BUY', 1, 10, 'x1'), fill(2, 'b', 'Y', 'SELL', 1, 11, 'x2'), fill(3, 'a', 'Y', 'SELL', 1, 12, 'x3')];
    const trips = roundTrips(fills, [], []);
    expect(trips.filter((t) => t.strategyId === 'a' && !t.open).map((t) => t.pnl)).toEqual([0]); // -10 -1 +12 -1
    expect(trips.filter((t) => t.strategyId === 'b').map((t) => t.open)).toEqual([true]);
  });
});

describe('observe helpers', () => {
  it('--since takes a date/time or a duration ago, and refuses anything else', () => {
    const now = Date.UTC(2026, 2, 3, 12);
    expect(parseSince('90m', now)).toBe(now - 90 * 60_000);
    expect(parseSince('2d', now)).toBe(now - 2 * 86_400_000);
    expect(parseSince('2026-03-03T10:00Z', now)).toBe(Date.UTC(2026, 2, 3, 10));
    expect(() => parseSince('yesterday', now)).toThrow(/--since "yesterday".*Fix:/);
  });

  it('endpoint labels stay bounded (ids become :id)', () => {
    expect(endpointLabel('/v1/api/iserver/account/DU1234567/orders?x=1')).toBe('/v1/api/iserver/account/:id/orders');
    expect(endpointLabel('/v1/api/iserver/marketdata/snapshot')).toBe('/v1/api/iserver/marketdata/snapshot');
  });

  it('the metrics registry exposes valid Prometheus text; the strict parser rejects malformed text', async () => {
    const m = new NodeMetrics();
    m.observeDecisionLatency('s', 3.2);
    m.equity.set({ strategy: 'we"ird\\name' }, 100_000);
    const fams = parsePrometheusText(await m.text());
    expect(fams.get('tandem_decision_latency_seconds')!.samples.find((s) => s.name.endsWith('_count'))!.value).toBe(1);
    expect(fams.get('tandem_equity')!.samples[0]!.labels.strategy).toBe('we"ird\\name');
    m.close();
    expect(() => parsePrometheusText('# TYPE a counter\na{x="1} 1\n')).toThrow(/unterminated/);
    expect(() => parsePrometheusText('b 1\n')).toThrow(/no declared family/);
    expect(() => parsePrometheusText('# TYPE h histogram\nh_bucket{le="1"} 2\nh_bucket{le="+Inf"} 1\nh_count 1\nh_sum 0\n')).toThrow(/cumulative/);
  });

  it('notify: config section validates targets and events', () => {
    const ok = engineSectionSchema.parse({ notify: { webhook: { url: 'http://127.0.0.1:9/hook' }, telegram: { chatId: 12345 }, sessionLostMinutes: 2 } });
    expect(ok.notify.telegram).toMatchObject({ chatId: '12345', tokenEnv: 'TELEGRAM_BOT_TOKEN' });
    expect(ok.notify.events).toEqual(['fill', 'halt', 'legging', 'session-lost', 'foreign-position']);
    expect(engineSectionSchema.safeParse({ notify: { events: ['fills'] } }).success).toBe(false);
    expect(engineSectionSchema.safeParse({ notify: { telegram: { chatId: '1', token: 'x' } } }).success).toBe(false);
  });

  it('notify: a session drop that outlasted sessionLostMinutes alerts even when the node is back before the timer ran; a shorter drop does not', async () => {
    const hook = await startWebhookReceiver();
    try {
      // 0.001 minutes = 60 ms.
      const notifier = new Notifier(engineSectionSchema.parse({ notify: { sessionLostMinutes: 0.001, webhook: { url: hook.url } } }).notify, {});
      notifier.followNode();
      const now = Date.now();
      // Down 1 s, then up in the same tick: the drop's timer cannot have run (a busy event loop).
      notifier.onNodeEvent({ type: 'session', state: 'down', what: 'session', reason: 'sts', time: now - 1_000 });
      notifier.onNodeEvent({ type: 'session', state: 'up', what: 'session', reason: null, time: now });
      // Down 10 ms: shorter than the limit.
      notifier.onNodeEvent({ type: 'session', state: 'down', what: 'session', reason: 'sts', time: now + 100 });
      notifier.onNodeEvent({ type: 'session', state: 'up', what: 'session', reason: null, time: now + 110 });
      await notifier.close();
      expect(hook.got).toEqual([expect.objectContaining({ kind: 'session-lost', data: { since: now - 1_000, reason: 'sts' } })]);
      expect(hook.got[0]!.text).toMatch(/^brokerage session down for 0 min \(sts\)/);
    } finally {
      await hook.close();
    }
  });
});

describe('demo strategy file', () => {
  it('configs/strategies/demo_etha_ethv.yaml loads with the short demo parameters', async () => {
    const { loadStrategyFile } = await import('../src/config/load.ts');
    const s = loadStrategyFile('configs/strategies/demo_etha_ethv.yaml');
    expect(s.name).toBe('demo_etha_ethv');
    expect(s.strategy).toMatchObject({ bar: '5min', lookback: 24, entryZ: 1.5, exitZ: 0.25, stopZ: 3.5, maxHoldingBars: 24 });
    expect((s.strategy as { gate?: unknown }).gate).toBeUndefined();
  });
});

describe('dashboard access', () => {
  it('refuses a non-loopback bind without --allow-remote; loopback names are recognised', async () => {
    const { startDashboard, isLoopback } = await import('../src/observe/dashboard/server.ts');
    await expect(startDashboard({ journalFile: 'no-such-journal.sqlite', host: '0.0.0.0' })).rejects.toThrow(/binds to loopback only; 0\.0\.0\.0 .*--allow-remote/);
    expect(['127.0.0.1', '127.1.2.3', '::1', 'localhost'].every(isLoopback)).toBe(true);
    expect(['0.0.0.0', '192.168.1.5', '::'].some(isLoopback)).toBe(false);
  });
});

describe('node heartbeat', () => {
  it('a quiet node says why: warm-up progress and a closed market as the node reports them, in a heartbeat line and in the status record', async () => {
    const { mkdtempSync, rmSync } = await import('node:fs');
    const { tmpdir } = await import('node:os');
    const { join } = await import('node:path');
    const { Journal } = await import('../src/store/journal.ts');
    const { RunObserver } = await import('../src/observe/run-observer.ts');
    const { readNodeStatus } = await import('../src/observe/node-status.ts');
    const dir = mkdtempSync(join(tmpdir(), 'tandem-heartbeat-'));
    const journal = new Journal(join(dir, 'journal.sqlite'));
    const lines: string[] = [];
    const obs = new RunObserver({
      journalFile: journal.file, mode: 'paper', account: 'DU1234567',
      strategies: [{ id: 'etha_ethv', y: 'ETHA', x: 'ETHV', bar: '5min', entryZ: 2, exitZ: 0.5, stopZ: 4, warmupBars: 120 }],
      lines: { write: (t) => lines.push(t), render: { json: false } }, heartbeatMs: 20, quietLineMs: 50,
    });
    // The node's typed events (a real run's are checked in observe-events.test.ts).
    obs.onEvent({ type: 'warmup', strategyId: 'etha_ethv', have: 37, need: 120 });
    obs.onEvent({ type: 'market', strategyId: 'etha_ethv', open: false, marketTime: Date.UTC(2026, 2, 1, 15, 0), nextOpen: Date.UTC(2026, 2, 2, 14, 30) });
    try {
      const { waitFor } = await import('./helpers/engine-harness.ts');
      await waitFor(() => lines.some((l) => l.includes('waiting for warm-up')), 30_000, 'a heartbeat line');
      expect(lines.find((l) => l.includes('waiting for warm-up'))).toMatch(/^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d E[SD]T {2}node {2}etha_ethv: waiting for warm-up: 37\/120 bars/);
      expect(readNodeStatus(journal.file)!.heartbeat).toBe('etha_ethv: waiting for warm-up: 37/120 bars; etha_ethv: market closed until Mon 09:30 New York');
      obs.onEvent({ type: 'warmup', strategyId: 'etha_ethv', have: 120, need: 120 });
      obs.onEvent({ type: 'market', strategyId: 'etha_ethv', open: true, marketTime: Date.UTC(2026, 2, 2, 14, 30), nextOpen: null });
      await waitFor(() => readNodeStatus(journal.file)!.heartbeat === null, 10_000, 'the heartbeat to clear');
    } finally {
      await obs.close('test');
      journal.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
