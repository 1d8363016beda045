/**
 * The lines a trader reads while a node runs: one per decision (why it trades), one per order, one
 * per fill, one compact line per bar, and a heartbeat when nothing happens. A node that only logs
 * "bar" objects leaves the trader guessing why it entered; these say it in one line each.
 *
 * Each formatter returns a `TradeLine` (kind, time, strategy, fields, text); `renderLine` prints it
 * as text with a human time stamp in the exchange's time zone on a terminal, or as one JSON object
 * per line when the output is piped (the same fields, machine-readable). Pure functions: the node
 * (or the command printing them) decides where they go.
 */
import { isCryptoWindow, isStockRegularHours, nextTradableTime, nyTime } from '../engine/market-hours.ts';

export type LineKind = 'decision' | 'order' | 'fill' | 'bar' | 'heartbeat';

export interface TradeLine {
  kind: LineKind;
  /** Epoch ms the line is about (bar time for decisions and bars, event time otherwise). */
  time: number;
  strategy: string;
  text: string;
  fields: Record<string, unknown>;
}

export interface LegInfo {
  symbol: string;
  side: 'BUY' | 'SELL';
  qty: number;
  price?: number | null;
}

export type DecisionReason = 'entry' | 'exit' | 'stop' | 'max-holding' | 'gate' | 'risk-refused' | string;

export interface DecisionInfo {
  strategy: string;
  time: number;
  /** enter / close / refused. */
  action: 'enter' | 'close' | 'refused';
  side: 'LONG' | 'SHORT' | null;
  reason: DecisionReason;
  z: number | null;
  /** Hedge ratio (beta) at the decision. */
  hedgeRatio: number | null;
  legs: LegInfo[];
  /** For a refused decision: what refused it. */
  note?: string;
}

const num = (v: number | null | undefined, d = 2): string => (v === null || v === undefined || !Number.isFinite(v) ? 'n/a' : v.toFixed(d));
const qtyText = (q: number): string => (Number.isInteger(q) ? String(q) : String(Math.round(q * 1e6) / 1e6));
const legText = (l: LegInfo): string => `${l.side} ${qtyText(l.qty)} ${l.symbol}${l.price ? ` @ ${num(l.price)}` : ''}`;

/** Maps the strategy's close reasons (camelCase) to the words the lines use. */
export function reasonWord(reason: string): DecisionReason {
  return ({ exit: 'exit', stop: 'stop', maxHolding: 'max-holding', gate: 'gate' } as Record<string, string>)[reason] ?? reason;
}

export function decisionLine(d: DecisionInfo): TradeLine {
  const what = d.action === 'enter' ? `ENTER ${d.side ?? ''}` : d.action === 'close' ? `CLOSE ${d.side ?? ''}` : `REFUSED ${d.side ?? ''}`;
  const text = `${d.strategy}  decision ${what.trim()} (${d.reason})  z=${num(d.z)}  hedge=${num(d.hedgeRatio, 3)}  ${d.legs.map(legText).join(', ')}${d.note ? `  — ${d.note}` : ''}`;
  return {
    kind: 'decision', time: d.time, strategy: d.strategy, text,
    fields: { action: d.action, side: d.side, reason: d.reason, z: d.z, hedgeRatio: d.hedgeRatio, legs: d.legs, ...(d.note ? { note: d.note } : {}) },
  };
}

export interface OrderInfo {
  strategy: string;
  time: number;
  cOID: string;
  /** y / x / combo / flatten. */
  leg: string;
  symbol: string;
  side: 'BUY' | 'SELL';
  qty: number | null;
  cashQty: number | null;
  orderType: string;
  state: string;
}

export function orderLine(o: OrderInfo): TradeLine {
  const size = o.qty !== null ? qtyText(o.qty) : `$${num(o.cashQty)}`;
  return {
    kind: 'order', time: o.time, strategy: o.strategy,
    text: `${o.strategy}  order ${o.cOID}  ${o.leg} leg  ${o.side} ${size} ${o.symbol} ${o.orderType}  -> ${o.state}`,
    fields: { cOID: o.cOID, leg: o.leg, symbol: o.symbol, side: o.side, qty: o.qty, cashQty: o.cashQty, orderType: o.orderType, state: o.state },
  };
}

export interface FillInfo {
  strategy: string;
  time: number;
  cOID: string | null;
  symbol: string;
  side: 'BUY' | 'SELL';
  qty: number;
  price: number;
  commission: number;
}

export function fillLine(f: FillInfo): TradeLine {
  return {
    kind: 'fill', time: f.time, strategy: f.strategy,
    text: `${f.strategy}  fill  ${f.side} ${qtyText(f.qty)} ${f.symbol} @ ${num(f.price)}  commission ${num(f.commission)}${f.cOID ? `  (${f.cOID})` : ''}`,
    fields: { cOID: f.cOID, symbol: f.symbol, side: f.side, qty: f.qty, price: f.price, commission: f.commission },
  };
}

export interface BarInfo {
  strategy: string;
  time: number;
  symbols: [string, string];
  closes: [number, number];
  z: number | null;
  position: string;
  equity: number;
}

/** One compact line per bar: `ETHA 25.10 / ETHV 24.87  z=+1.23  flat  equity 100,012.40`. */
export function barLine(b: BarInfo): TradeLine {
  const z = b.z === null ? 'z=n/a' : `z=${b.z >= 0 ? '+' : ''}${b.z.toFixed(2)}`;
  const eq = b.equity.toLocaleString('en-US', { minimumFractionDigits: 2, maximumFractionDigits: 2 });
  return {
    kind: 'bar', time: b.time, strategy: b.strategy,
    text: `${b.strategy}  ${b.symbols[0]} ${num(b.closes[0])} / ${b.symbols[1]} ${num(b.closes[1])}  ${z}  ${b.position}  equity ${eq}`,
    fields: { symbols: b.symbols, closes: b.closes, z: b.z, position: b.position, equity: b.equity },
  };
}

const DAY_NAMES = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'];

/** The next time (ms) the market of this kind opens, searched in 5-minute steps up to 8 days ahead. */
export function nextOpen(now: number, kind: 'stock' | 'crypto'): number | null {
  return nextTradableTime([kind === 'crypto' ? 'CRYPTO' : 'STK'], now);
}

/** `market closed until Mon 09:30 New York`, or null when the market is open. */
export function marketClosedText(now: number, kind: 'stock' | 'crypto'): string | null {
  const isOpen = kind === 'crypto' ? isCryptoWindow : isStockRegularHours;
  if (isOpen(now)) return null;
  return closedUntilText(nextOpen(now, kind));
}

/** `market closed until Mon 09:30 New York` for the next open the node reported (null: not found). */
export function closedUntilText(nextOpenAt: number | null): string {
  if (nextOpenAt === null) return 'market closed';
  const t = nyTime(nextOpenAt);
  const hh = String(Math.floor(t.minutes / 60)).padStart(2, '0');
  const mm = String(t.minutes % 60).padStart(2, '0');
  return `market closed until ${DAY_NAMES[t.weekday]} ${hh}:${mm} New York`;
}

export function warmupText(have: number, need: number): string {
  return `waiting for warm-up: ${have}/${need} bars`;
}

export function heartbeatLine(strategy: string, time: number, text: string): TradeLine {
  return { kind: 'heartbeat', time, strategy, text: `${strategy}  ${text}`, fields: { note: text } };
}

const stampFmt = new Map<string, Intl.DateTimeFormat>();
/** `2026-03-03 09:35:00 EST`: the exchange's local time with its zone abbreviation. */
export function exchangeTime(ms: number, timeZone = 'America/New_York'): string {
  let f = stampFmt.get(timeZone);
  if (!f) {
    f = new Intl.DateTimeFormat('en-CA', { timeZone, year: 'numeric', month: '2-digit', day: '2-digit', hour: '2-digit', minute: '2-digit', second: '2-digit', hourCycle: 'h23', timeZoneName: 'short' });
    stampFmt.set(timeZone, f);
  }
  const p: Record<string, string> = {};
  for (const part of f.formatToParts(new Date(ms))) p[part.type] = part.value;
  return `${p.year}-${p.month}-${p.day} ${p.hour}:${p.minute}:${p.second} ${p.timeZoneName}`;
}

export interface RenderOptions {
  /** JSON lines (piped output) instead of text (terminal). */
  json: boolean;
  timeZone?: string;
}

/** Text on a terminal, JSON when piped: `renderOptionsFor(process.stdout)`. */
export function renderOptionsFor(stream: { isTTY?: boolean }, timeZone?: string): RenderOptions {
  return { json: !stream.isTTY, ...(timeZone ? { timeZone } : {}) };
}

export function renderLine(line: TradeLine, o: RenderOptions): string {
  if (o.json) return JSON.stringify({ time: new Date(line.time).toISOString(), kind: line.kind, strategy: line.strategy, ...line.fields, msg: line.text });
  return `${exchangeTime(line.time, o.timeZone)}  ${line.text}`;
}
