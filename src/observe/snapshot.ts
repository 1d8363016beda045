/**
 * The state of a run, from its journal and node status record: what `tandem status` prints and
 * the dashboard shows first — per strategy its positions (marked at the last bar), cash and
 * equity, the last bar and z; open orders; session health, trading state and heartbeat; recent
 * incidents. Read-only; safe while the node runs.
 */
import type { JournalReader, ReaderIncident, ReaderOrder } from './journal-reader.ts';
import { isStale, readNodeStatus, type NodeStatus } from './node-status.ts';
import { roundTrips } from './round-trips.ts';
import { healthy, JournalWatcher, type Health } from './watcher.ts';

export interface StrategyPair {
  id: string;
  y: string;
  x: string;
  thresholds: { entry: number; exit: number; stop: number } | null;
}

export interface StrategySnapshot extends StrategyPair {
  equity: { time: number; equity: number; cash: number } | null;
  positions: { symbol: string; qty: number; avgCost: number; mark: number | null; value: number | null }[];
  lastBar: { time: number; z: number | null; position: string } | null;
  trades: { closed: number; open: number; realisedPnl: number };
  warmup: { have: number; need: number } | null;
  /** The state this strategy trades under and its market, as the running node last reported them. */
  trading: { state: string; reason: string | null } | null;
  market: { open: boolean; nextOpen: number | null } | null;
}

export interface StatusSnapshot {
  journal: string;
  generatedAt: number;
  node: { running: boolean; pid: number | null; updatedAt: number | null; mode: string | null; account: string | null; heartbeat: string | null };
  session: Health['session'];
  trading: Health['trading'];
  healthy: { ok: boolean; reasons: string[] };
  pacing: { queue: number } | null;
  strategies: StrategySnapshot[];
  openOrders: ReaderOrder[];
  lastBars: { symbol: string; time: number; close: number }[];
  incidents: ReaderIncident[];
  counts: { orders: number; fills: number; decisions: number };
}

// 'sending' is no state of the node any more; journals written before the node (issue 13) may hold it.
const OPEN = new Set(['new', 'sending', 'unknown', 'working', 'partial']);

/** Which symbols each strategy trades: the node's record, else the orders' y/x legs, else the bars' two symbols. */
export function strategyPairs(reader: JournalReader, status: NodeStatus | null = readNodeStatus(reader.file)): StrategyPair[] {
  if (status && Object.keys(status.strategies).length) {
    return Object.values(status.strategies).map((s) => ({ id: s.id, y: s.y, x: s.x, thresholds: s.thresholds }));
  }
  const legs = new Map<string, { y?: string; x?: string }>();
  for (const o of reader.orders()) {
    const l = legs.get(o.strategyId) ?? {};
    if (o.leg === 'y') l.y ??= o.symbol;
    if (o.leg === 'x') l.x ??= o.symbol;
    legs.set(o.strategyId, l);
  }
  const out = [...legs.entries()].filter(([, l]) => l.y && l.x).map(([id, l]) => ({ id, y: l.y!, x: l.x!, thresholds: null }));
  if (out.length) return out;
  const symbols = [...new Set(reader.bars({ includeWarmup: true }).map((b) => b.symbol))];
  return symbols.length === 2 ? [{ id: reader.defaultStrategyId, y: symbols[0]!, x: symbols[1]!, thresholds: null }] : [];
}

export function buildStatus(reader: JournalReader, now = Date.now()): StatusSnapshot {
  const status = readNodeStatus(reader.file);
  const health = new JournalWatcher(reader, { now: () => now }).health;
  const running = status !== null && !isStale(status, now);
  const lastBars = reader.lastBars();
  const marks = Object.fromEntries(lastBars.map((b) => [b.symbol, b.close]));
  const orders = reader.orders();
  const fills = reader.fills();
  const decisions = reader.decisions();
  const trips = roundTrips(fills, orders, decisions, { marks });
  const equity = reader.latestEquity();
  const positions = reader.positions();
  const pairs = strategyPairs(reader, status);
  const ids = new Set([...pairs.map((p) => p.id), ...equity.map((e) => e.strategyId), ...positions.filter((p) => p.qty !== 0).map((p) => p.strategyId)]);
  const strategies: StrategySnapshot[] = [...ids].map((id) => {
    const pair = pairs.find((p) => p.id === id) ?? { id, y: '?', x: '?', thresholds: null };
    const st = status?.strategies[id];
    const mine = trips.filter((t) => t.strategyId === id);
    const e = equity.find((q) => q.strategyId === id);
    return {
      ...pair,
      equity: e ? { time: e.time, equity: e.equity, cash: e.cash } : null,
      positions: positions.filter((p) => p.strategyId === id && p.qty !== 0).map((p) => {
        const mark = marks[p.symbol] ?? null;
        return { symbol: p.symbol, qty: p.qty, avgCost: p.avgCost, mark, value: mark === null ? null : Math.round(p.qty * mark * 100) / 100 };
      }),
      lastBar: st?.lastBar ? { time: st.lastBar.time, z: st.lastBar.z, position: st.lastBar.position } : null,
      trades: { closed: mine.filter((t) => !t.open).length, open: mine.filter((t) => t.open).length, realisedPnl: Math.round(mine.reduce((s, t) => s + (t.open ? 0 : t.pnl ?? 0), 0) * 100) / 100 },
      warmup: st ? st.warmup : null,
      trading: running && st?.trading ? st.trading : null,
      market: running && st?.market ? { open: st.market.open, nextOpen: st.market.nextOpen } : null,
    };
  });
  const incidents = reader.incidents();
  return {
    journal: reader.file,
    generatedAt: now,
    node: { running, pid: status?.pid ?? null, updatedAt: status?.updatedAt ?? null, mode: status?.mode ?? reader.meta('mode') ?? null, account: status?.account ?? reader.meta('account') ?? null, heartbeat: running ? status.heartbeat : null },
    session: health.session,
    trading: health.trading,
    healthy: healthy(health),
    pacing: running ? status.pacing : null,
    strategies,
    openOrders: orders.filter((o) => OPEN.has(o.state)),
    lastBars,
    incidents: incidents.slice(-10),
    counts: { orders: orders.length, fills: fills.length, decisions: decisions.length },
  };
}

const money = (v: number): string => v.toLocaleString('en-US', { minimumFractionDigits: 2, maximumFractionDigits: 2 });
const when = (t: number | null): string => (t === null ? 'n/a' : new Date(t).toISOString().replace('.000Z', 'Z'));

export function renderStatusText(s: StatusSnapshot): string {
  const lines: string[] = [];
  const node = s.node.running
    ? `running (pid ${s.node.pid}, ${s.node.mode ?? '?'} account ${s.node.account ?? '?'}, status ${Math.round((s.generatedAt - (s.node.updatedAt ?? s.generatedAt)) / 1000)}s old)`
    : `not running${s.node.updatedAt ? ` (last status ${when(s.node.updatedAt)})` : ' (no status record)'}; ${s.node.mode ?? '?'} account ${s.node.account ?? '?'}`;
  lines.push(`journal   ${s.journal}`);
  lines.push(`node      ${node}`);
  lines.push(`session   ${s.session.state}${s.session.since ? ` since ${when(s.session.since)}` : ''}${s.session.reason ? ` (${s.session.reason})` : ''}; drops ${s.session.drops}, re-logins ${s.session.relogins}`);
  lines.push(`trading   ${s.trading.state}${s.trading.reason ? ` (${s.trading.reason})` : ''}${s.healthy.ok ? '' : `  UNHEALTHY: ${s.healthy.reasons.join('; ')}`}`);
  if (s.pacing) lines.push(`pacing    ${s.pacing.queue} request(s) queued`);
  if (s.node.heartbeat) lines.push(`note      ${s.node.heartbeat}`);
  lines.push(`last bar  ${s.lastBars.map((b) => `${b.symbol} ${b.close} @ ${when(b.time)}`).join(', ') || 'none'}`);
  for (const st of s.strategies) {
    lines.push('');
    lines.push(`strategy ${st.id}  (y ${st.y}, x ${st.x})`);
    lines.push(`  equity ${st.equity ? `${money(st.equity.equity)}  cash ${money(st.equity.cash)}  (at bar ${when(st.equity.time)})` : 'n/a'}`);
    lines.push(`  position ${st.positions.length ? (st.lastBar?.position ?? 'open') : 'flat'}${st.lastBar ? `, last z ${st.lastBar.z === null ? 'n/a' : st.lastBar.z.toFixed(2)} at ${when(st.lastBar.time)}` : ''}${st.warmup && st.warmup.have < st.warmup.need ? `, warm-up ${st.warmup.have}/${st.warmup.need}` : ''}`);
    if (st.trading && st.trading.state !== s.trading.state) lines.push(`  trading ${st.trading.state}${st.trading.reason ? ` (${st.trading.reason})` : ''}`);
    if (st.market && !st.market.open) lines.push(`  market closed${st.market.nextOpen !== null ? ` until ${when(st.market.nextOpen)}` : ''}`);
    for (const p of st.positions) lines.push(`    ${p.symbol.padEnd(8)} ${String(p.qty).padStart(10)}  avg ${money(p.avgCost)}${p.mark !== null ? `  mark ${money(p.mark)}  value ${money(p.value!)}` : ''}`);
    lines.push(`  trades ${st.trades.closed} closed (realised ${money(st.trades.realisedPnl)}), ${st.trades.open} open`);
  }
  lines.push('');
  lines.push(`open orders (${s.openOrders.length})`);
  for (const o of s.openOrders) lines.push(`  ${o.cOID}  ${o.strategyId}  ${o.leg}  ${o.side} ${o.quantity ?? `$${o.cashQty}`} ${o.symbol}  ${o.state}  since ${when(o.createdAt)}`);
  if (s.incidents.length) {
    lines.push('');
    lines.push('recent incidents');
    for (const i of s.incidents) lines.push(`  ${when(i.time)}  ${i.kind}${i.detail ? `  ${JSON.stringify(i.detail)}` : ''}`);
  }
  return `${lines.join('\n')}\n`;
}
