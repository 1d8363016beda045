/** Market data (§5): snapshot with its pre-flight, history, unsubscribe. */
import type { SimCore } from '../core.ts';
import { fmtSize, fmtVolume, parseDashTime, yyyymmddDashTime } from '../format.ts';
import { nyParts, isMarketOpen } from '../hours.ts';
import type { Instrument } from '../instruments.ts';
import { formatPrice, type Bar } from '../market.ts';
import { errorBody, type Router } from '../router.ts';

const DEFAULT_FIELDS = ['31', '84', '86'];

/**
 * Field values for one conid (§5.3 subset), all as strings, at market-data time `now` (default:
 * the simulated clock now). A frame that also says its time (`_updated`) passes the time it read:
 * the clock read twice could fall on two quotes.
 */
export function fieldValues(core: SimCore, inst: Instrument, fields: Iterable<string>, now = core.mdTime()): Record<string, unknown> {
  const q = core.market.quote(inst.conid, now)!;
  const out: Record<string, unknown> = {};
  const p = (x: number) => formatPrice(x, inst.tick);
  let stats: ReturnType<SimCore['market']['dayStats']> | undefined;
  const day = () => (stats ??= core.market.dayStats(inst.conid, now));
  const acct = core.session.sso ? core.sessionAccount() : undefined;
  const pos = acct?.positions.get(inst.conid);
  const closed = inst.market === 'stock' && !isMarketOpen('stock', now);
  for (const f of fields) {
    switch (f) {
      case '31': out[f] = `${core.halted.has(inst.conid) ? 'H' : closed ? 'C' : ''}${p(q.last)}`; break;
      case '55': out[f] = inst.symbol; break;
      case '58': out[f] = ''; break;
      case '70': out[f] = p(day()!.high); break;
      case '71': out[f] = p(day()!.low); break;
      case '82': { const c = q.last - day()!.prevClose; out[f] = `${c >= 0 ? '+' : ''}${p(c)}`; break; }
      case '83': { const d = day()!; const c = ((q.last - d.prevClose) / d.prevClose) * 100; out[f] = `${c >= 0 ? '+' : ''}${c.toFixed(2)}%`; break; }
      case '84': out[f] = p(q.bid); break;
      case '85': out[f] = fmtSize(q.askSize); break;
      case '86': out[f] = p(q.ask); break;
      case '87': out[f] = fmtVolume(day()!.volume); out['87_raw'] = day()!.volume; break;
      case '88': out[f] = fmtSize(q.bidSize); break;
      case '6004': out[f] = inst.listingExchange; break;
      case '6008': out[f] = inst.conid; break;
      case '6070': out[f] = inst.secType; break;
      case '7051': out[f] = inst.companyName; break;
      case '7059': out[f] = fmtSize(q.lastSize); break;
      case '7219': case '7220': out[f] = inst.symbol; break;
      case '7221': out[f] = inst.listingExchange; break;
      case '7184': case '7768': out[f] = '1'; break;
      case '7295': out[f] = p(day()!.open); break;
      case '7296': if (closed) out[f] = p(q.last); break;
      case '7635': out[f] = p((q.bid + q.ask) / 2); break;
      case '7741': out[f] = p(day()!.prevClose); break;
      case '7762': out[f] = String(day()!.volume); break;
      case '73': if (pos?.qty) out[f] = (pos.qty * q.last).toFixed(2); break;
      case '74': if (pos?.qty) out[f] = p(pos.avgCost); break;
      case '75': if (pos?.qty) out[f] = (pos.qty * (q.last - pos.avgCost)).toFixed(2); break;
      case '76': if (pos?.qty) out[f] = fmtSize(pos.qty); break;
      case '79': if (pos) out[f] = pos.realized.toFixed(2); break;
      default: break; // fields the simulator does not model are left out, as IBKR leaves out unknown values
    }
  }
  return out;
}

const BAR_MS: Record<string, number> = {
  '1min': 60_000, '2min': 120_000, '3min': 180_000, '5min': 300_000, '10min': 600_000, '15min': 900_000, '30min': 1_800_000,
  '1h': 3_600_000, '2h': 7_200_000, '3h': 10_800_000, '4h': 14_400_000, '8h': 28_800_000, '1d': 86_400_000, '1w': 7 * 86_400_000, '1m': 30 * 86_400_000,
};

/** Trading minutes in one unit of a period or a bar, for this market. */
function unitMinutes(unit: string, crypto: boolean): number {
  const dayMin = crypto ? 1440 : 390;
  switch (unit) {
    case 'min': return 1;
    case 'h': return 60;
    case 'd': return dayMin;
    case 'w': return dayMin * (crypto ? 7 : 5);
    case 'm': return dayMin * (crypto ? 30 : 21);
    case 'y': return dayMin * (crypto ? 365 : 252);
    default: return NaN;
  }
}

/** Start (UTC ms) of the bar slot containing `t`, aligned on the New York clock. */
function slotStart(bar: string, t: number): number {
  const p = nyParts(t);
  if (bar === '1d') return p.midnightUtc;
  if (bar === '1w') return nyParts(p.midnightUtc - ((p.weekday + 6) % 7) * 86_400_000 + 3_600_000 * 3).midnightUtc;
  if (bar === '1m') {
    const local = new Date(p.midnightUtc + 12 * 3_600_000);
    const first = Date.UTC(local.getUTCFullYear(), local.getUTCMonth(), 1, 12);
    return nyParts(first).midnightUtc;
  }
  const ms = BAR_MS[bar]!;
  return p.midnightUtc + Math.floor((t - p.midnightUtc) / ms) * ms;
}

function nextSlot(bar: string, start: number): number {
  if (bar === '1d') return nyParts(start + 30 * 3_600_000).midnightUtc;
  if (bar === '1w') return nyParts(start + 7 * 86_400_000 + 6 * 3_600_000).midnightUtc;
  if (bar === '1m') return slotStart('1m', start + 32 * 86_400_000);
  return start + BAR_MS[bar]!;
}

function prevSlot(bar: string, start: number): number {
  return slotStart(bar, start - 1);
}

export function historyBars(core: SimCore, inst: Instrument, bar: string, period: string, end: number): Bar[] | string {
  const crypto = inst.market === 'crypto';
  const pm = /^(\d+)(min|h|d|w|m|y)$/.exec(period);
  if (!pm) return `Bad Request: invalid period '${period}'`;
  if (!(bar in BAR_MS)) return `Bad Request: invalid bar '${bar}'`;
  const periodMin = Number(pm[1]) * unitMinutes(pm[2]!, crypto);
  const bm = /^(\d+)(min|h|d|w|m)$/.exec(bar)!;
  const barMin = Number(bm[1]) * unitMinutes(bm[2]!, crypto);
  const want = Math.min(1000, Math.max(1, Math.ceil(periodMin / barMin)));
  const bars: Bar[] = [];
  let s = slotStart(bar, end - 1);
  // Only complete minutes: a minute still in progress would otherwise show prices of its future steps.
  const lastMinute = Math.floor(end / 60_000) * 60_000 - 60_000;
  let scanned = 0;
  const maxScan = want * 40 + 2000;
  while (bars.length < want && scanned++ < maxScan) {
    const b = core.market.aggregate(inst, s, nextSlot(bar, s), lastMinute);
    if (b) bars.push(b);
    s = prevSlot(bar, s);
  }
  return bars.reverse();
}

export function registerMarketDataRoutes(r: Router, core: SimCore): void {
  r.add('GET', '/iserver/marketdata/snapshot', 'primed', (req) => {
    const conidsRaw = req.query.get('conids') ?? '';
    const ids = conidsRaw.split(',').map((s) => s.trim()).filter(Boolean);
    if (!ids.length) return errorBody(400, 'Bad Request: Conid(s) missing');
    if (ids.length > 100) return errorBody(400, 'Bad Request: at most 100 conids per request');
    const fieldsRaw = req.query.get('fields');
    const fields = fieldsRaw ? fieldsRaw.split(',').map((s) => s.trim()).filter(Boolean) : [];
    if (fields.length > 50) return errorBody(400, 'Bad Request: at most 50 fields per request');
    const realism = core.opts.realism;
    const nowReal = Date.now();
    const rows = ids.map((conidEx) => {
      const conid = Number(conidEx.split('@')[0]);
      const inst = core.instruments.get(conid);
      const base: Record<string, unknown> = { conid, conidEx };
      if (!inst) return base;
      let sub = core.md.get(conid);
      const fresh = !sub;
      if (!sub) {
        sub = { firstSeen: nowReal, fields: new Set(fields.length ? fields : DEFAULT_FIELDS), polls: 0 };
        core.md.set(conid, sub);
      } else {
        for (const f of fields) sub.fields.add(f);
      }
      sub.polls++;
      const now = core.mdTime();
      const q = core.market.quote(conid, now)!;
      base._updated = q.time;
      if (realism.snapshotPreflight && (fresh || nowReal - sub.firstSeen < realism.snapshotWarmupMs)) {
        return { ...base, '6509': core.mdAvailability(), server_id: 'q0' };
      }
      return { ...fieldValues(core, inst, sub.fields, now), '6119': 'q0', '6509': core.mdAvailability(), ...base, server_id: 'q0' };
    });
    return { body: rows };
  });

  r.add('POST', '/iserver/marketdata/unsubscribe', 'brokerage', (req) => {
    const b = (req.body ?? {}) as { conid?: unknown };
    const conid = Number(b.conid);
    if (!core.md.delete(conid)) return { status: 500, body: { error: 'unknown' } };
    return { body: { success: true } };
  });
  r.add('GET', '/iserver/marketdata/{conid}/unsubscribe', 'brokerage', (req) => {
    if (!core.md.delete(Number(req.params.conid))) return errorBody(404, 'no subscription');
    return { body: { confirmed: 'success' } };
  });
  r.add('GET', '/iserver/marketdata/unsubscribeall', 'brokerage', () => {
    core.md.clear();
    return { body: { unsubscribed: true } };
  });

  r.add('GET', '/iserver/marketdata/history', 'primed', (req) => {
    const conid = Number(req.query.get('conid'));
    const bar = req.query.get('bar') ?? '';
    if (!req.query.get('conid') || !bar) return errorBody(400, 'Bad Request: conid and bar are required');
    const inst = core.instruments.get(conid);
    if (!inst) return errorBody(500, `Chart data unavailable for conid ${conid}`);
    const period = req.query.get('period') ?? '1w';
    const st = req.query.get('startTime');
    let end = core.mdTime();
    if (st) {
      const t = parseDashTime(st);
      if (t === undefined) return errorBody(400, `Bad Request: startTime '${st}' is not YYYYMMDD-HH:mm:ss`);
      end = Math.min(t, end);
    }
    const bars = historyBars(core, inst, bar, period, end);
    if (typeof bars === 'string') return errorBody(400, bars);
    if (!bars.length) return errorBody(500, 'Chart data unavailable: No data.');
    const factor = Math.round(1 / Math.min(inst.tick, 0.01));
    let hi = bars[0]!;
    let lo = bars[0]!;
    let vol = 0;
    for (const b of bars) {
      if (b.h > hi.h) hi = b;
      if (b.l < lo.l) lo = b;
      vol += b.v;
    }
    const first = bars[0]!.t;
    const mins = (b: Bar) => Math.round((b.t - first) / 60_000);
    return {
      body: {
        serverId: String(10000 + (conid % 90000)), symbol: inst.symbol, text: inst.companyName, priceFactor: factor,
        startTime: yyyymmddDashTime(first), high: `${Math.round(hi.h * factor)}/${Math.round(vol * 100) / 100}/${mins(hi)}`,
        low: `${Math.round(lo.l * factor)}/${Math.round(vol * 100) / 100}/${mins(lo)}`, timePeriod: period,
        barLength: Math.round(BAR_MS[bar]! / 1000), mdAvailability: core.opts.realism.delayedMarketData ? 'D' : 'S', mktDataDelay: core.opts.realism.delayedMarketData ? 900 : 0, outsideRth: req.query.get('outsideRth') === 'true',
        tradingDayDuration: inst.market === 'crypto' ? 1440 : 390, volumeFactor: 1, priceDisplayRule: 1, priceDisplayValue: '2',
        chartPanStartTime: yyyymmddDashTime(first), direction: -1, negativeCapable: false, messageVersion: 2,
        data: bars.map((b) => ({ o: b.o, c: b.c, h: b.h, l: b.l, v: b.v, t: b.t })), points: bars.length - 1, travelTime: 3,
      },
    };
  });
}
