/**
 * Test hooks under /sim/ (never under /v1/api): JSON in, JSON out. See docs/simulator.md.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { SimCore } from './core.ts';
import type { LoginPages } from './login-page.ts';
import type { RealismFlags } from './options.ts';
import { sendJson } from './server.ts';

type HookFn = (body: Record<string, unknown>, url: URL) => unknown;

function toTime(v: unknown): number {
  if (typeof v === 'number') return v;
  if (typeof v === 'string') {
    const t = Date.parse(v);
    if (Number.isFinite(t)) return t;
  }
  throw new Error(`expected a time (epoch ms or ISO string), got ${JSON.stringify(v)}`);
}

export function createHooks(core: SimCore, login: LoginPages) {
  const portfolio = () => [...core.accounts.values()].map((a) => {
    const m = core.orders.marks(a);
    return {
      id: a.id, paper: a.paper, cash: a.cash, netLiquidation: m.netLiq, commissions: a.commissions,
      positions: [...a.positions.values()].map((p) => ({ ...p, symbol: core.instruments.get(p.conid)?.symbol })),
    };
  });

  const state = () => ({
    simTime: core.clock.now(), simTimeIso: new Date(core.clock.now()).toISOString(), speed: core.clock.speed,
    session: {
      sso: core.session.sso, brokerage: core.session.brokerage, competing: core.session.competing, connected: core.session.connected,
      isPaper: core.session.isPaper, accountsPrimed: core.session.accountsPrimed, portfolioPrimed: core.session.portfolioPrimed,
      suppressed: [...core.session.suppressed], account: core.sessionAccount().id,
    },
    pacing: { enabled: core.pacing.opts.enabled, penaltyUntil: core.pacing.penaltyUntil },
    login: { failedAttempts: login.failedAttempts, pendingPushes: login.pendingPushes().length },
    realism: core.opts.realism, profile: core.opts.profile, emptyLiveOrderReads: core.emptyLiveOrderReads, halted: [...core.halted],
  });

  const routes: Record<string, HookFn> = {
    'GET /sim/state': state,
    'GET /sim/requests': (_b, url) => {
      const since = Number(url.searchParams.get('since') ?? 0);
      return core.requestLog.filter((e) => e.at >= since);
    },
    'DELETE /sim/requests': () => { core.requestLog.length = 0; return { ok: true }; },
    'GET /sim/orders': () => [...core.orders.orders.values()].map((o) => ({ ...o })),
    'GET /sim/executions': () => core.orders.executions,
    'GET /sim/portfolio': portfolio,
    'GET /sim/faults': () => ({ ...core.faults.config, reject: Object.fromEntries(core.faults.config.reject), inactive: Object.fromEntries(core.faults.config.inactive) }),
    'POST /sim/faults': (b) => {
      if (typeof b.spec !== 'string') throw new Error('body must be {"spec":"latency=200,error5xx=0.1,..."}');
      if (b.replace === true) core.faults.clear();
      core.faults.apply(b.spec);
      return { ok: true };
    },
    'DELETE /sim/faults': () => { core.faults.clear(); return { ok: true }; },
    'GET /sim/clock': () => ({ simTime: core.clock.now(), iso: new Date(core.clock.now()).toISOString(), speed: core.clock.speed }),
    'POST /sim/clock': (b) => {
      if (b.set !== undefined) core.clock.set(toTime(b.set));
      if (b.advance !== undefined) core.clock.advance(Number(b.advance));
      if (b.speed !== undefined) core.clock.setSpeed(Number(b.speed));
      core.tick();
      return { simTime: core.clock.now(), iso: new Date(core.clock.now()).toISOString(), speed: core.clock.speed };
    },
    'GET /sim/quote': (_b, url) => {
      const conid = Number(url.searchParams.get('conid'));
      const t = url.searchParams.get('t') ? Number(url.searchParams.get('t')) : core.clock.now();
      const q = core.market.quote(conid, t);
      if (!q) throw new Error(`unknown conid ${conid}`);
      return q;
    },
    'POST /sim/price': (b) => {
      const conid = Number(b.conid);
      if (!core.instruments.get(conid)) throw new Error(`unknown conid ${String(b.conid)}`);
      if (Array.isArray(b.points)) {
        core.market.setOverride(conid, (b.points as { t: unknown; price: unknown }[]).map((p) => ({ t: toTime(p.t), price: Number(p.price) })));
      } else if (b.price !== undefined) {
        const from = b.from !== undefined ? toTime(b.from) : core.clock.now();
        core.market.setOverride(conid, [{ t: from, price: Number(b.price) }]);
      } else throw new Error('body must be {"conid":N,"price":P} or {"conid":N,"points":[{"t":..,"price":..}]}');
      return { ok: true };
    },
    'DELETE /sim/price': () => { core.market.clearOverrides(); return { ok: true }; },
    'GET /sim/login/pending': () => login.pendingPushes(),
    'POST /sim/login/approve': (b) => ({ approved: login.approvePush(typeof b.token === 'string' ? b.token : undefined) }),
    'POST /sim/login': (b) => {
      core.session.login(typeof b.username === 'string' ? b.username : (core.opts.users[0]?.username ?? 'demo'), b.paper !== false);
      if (b.brokerage === true) core.session.openBrokerage(0);
      return state().session;
    },
    'POST /sim/session/competing': () => { core.session.competingLogin(); return { ok: true }; },
    'POST /sim/session/reset': (b) => { core.simulateReset(b.dropSso === true); return { ok: true }; },
    'POST /sim/session/drop': () => { core.session.dropBrokerage('sts'); return { ok: true }; },
    'POST /sim/session/logout': () => { core.session.logout(); return { ok: true }; },
    'POST /sim/session/expire': () => { core.session.lastRequestAt = 0; core.tick(); return { ok: true }; },
    'POST /sim/ws/drop': () => { core.emit('wsDrop'); return { ok: true }; },
    'POST /sim/ws/bulletin': (b) => {
      if (typeof b.message !== 'string') throw new Error('body must be {"message":"..."}');
      core.emit('bulletin', b.message);
      return { ok: true };
    },
    'POST /sim/realism': (b) => {
      for (const [k, v] of Object.entries(b)) {
        if (!(k in core.opts.realism)) throw new Error(`unknown realism flag ${k}`);
        (core.opts.realism as unknown as Record<string, unknown>)[k] = v as RealismFlags[keyof RealismFlags];
      }
      return core.opts.realism;
    },
    'POST /sim/pacing': (b) => { Object.assign(core.pacing.opts, b); if (b.resetPenalty !== false) core.pacing.reset(); return core.pacing.opts; },
    'POST /sim/fills': (b) => {
      if (b.partialFillParts !== undefined) core.opts.partialFillParts = Math.max(1, Number(b.partialFillParts));
      if (b.slippageBpsPer100k !== undefined) core.opts.slippageBpsPer100k = Number(b.slippageBpsPer100k);
      return { partialFillParts: core.opts.partialFillParts, slippageBpsPer100k: core.opts.slippageBpsPer100k };
    },
    'POST /sim/cash': (b) => {
      const a = core.accounts.get(String(b.account));
      if (!a) throw new Error(`unknown account ${String(b.account)}`);
      a.cash = Number(b.cash);
      return { ok: true };
    },
    'POST /sim/reset': () => { core.resetAll(); return { ok: true }; },
    'POST /sim/halt': (b) => {
      const conid = Number(b.conid);
      if (!core.instruments.get(conid)) throw new Error('body must be {"conid": <known conid>, "halted": true|false}');
      if (b.halted === false) core.halted.delete(conid); else core.halted.add(conid);
      return { halted: [...core.halted] };
    },
    'POST /sim/manual-trade': (b) => {
      // An order entered elsewhere (TWS, mobile): no cOID, so its executions carry no order_ref.
      const a = core.sessionAccount();
      const d = core.orders.parseTicket({ conid: Number(b.conid), side: b.side === 'SELL' ? 'SELL' : 'BUY', orderType: 'MKT', tif: b.tif ?? 'DAY', quantity: Number(b.quantity) }, a.id);
      if (typeof d === 'string') throw new Error(d);
      const r = core.orders.accept(a, d);
      return r.kind === 'accepted' ? r.body : r;
    },
  };

  return (req: IncomingMessage, res: ServerResponse, url: URL, raw: string): void => {
    const fn = routes[`${req.method} ${url.pathname}`];
    if (!fn) return sendJson(res, 404, { error: `no hook ${req.method} ${url.pathname}`, hooks: Object.keys(routes) });
    let body: Record<string, unknown> = {};
    try {
      if (raw.trim()) body = JSON.parse(raw) as Record<string, unknown>;
      sendJson(res, 200, fn(body, url));
    } catch (err) {
      sendJson(res, 400, { error: err instanceof Error ? err.message : String(err) });
    }
  };
}
