/** Positions (§7): paged cached positions, single position, invalidate, portfolio2. */
import type { SimCore } from '../core.ts';
import type { Position } from '../portfolio.ts';
import { errorBody, type Router } from '../router.ts';
import { isAccount, pathAccount, round2 } from './accounts.ts';
import { secdefRow } from './contracts.ts';

export function registerPortfolioRoutes(r: Router, core: SimCore): void {
  const s = core.session;

  /** Cached copy of the positions: refreshed every positionsCacheMs or after invalidate (§7.6). */
  const cached = (acctId: string, positions: Map<number, Position>): Position[] => {
    const ttl = core.opts.realism.positionsCacheMs;
    const c = core.positionsCache.get(acctId);
    if (ttl > 0 && c && Date.now() - c.at < ttl) return c.rows;
    const rows = [...positions.values()].map((p) => ({ ...p }));
    core.positionsCache.set(acctId, { at: Date.now(), rows });
    return rows;
  };

  const row = (acctId: string, p: Position, enriched: boolean): Record<string, unknown> => {
    const inst = core.instruments.get(p.conid);
    const q = core.market.quote(p.conid, core.clock.now());
    const px = q?.last ?? 0;
    const out: Record<string, unknown> = {
      acctId, conid: p.conid, contractDesc: inst?.symbol ?? String(p.conid), position: p.qty, mktPrice: px,
      mktValue: round2(p.qty * px), currency: 'USD', avgCost: p.avgCost, avgPrice: p.avgCost, realizedPnl: round2(p.realized),
      unrealizedPnl: round2(p.qty * (px - p.avgCost)), exchs: null, expiry: null, putOrCall: null,
      multiplier: enriched ? 0.0 : null, strike: enriched ? '0' : 0.0, exerciseStyle: null, conExchMap: [],
      assetClass: inst?.secType ?? 'STK', undConid: 0, model: '',
    };
    if (enriched && inst) {
      Object.assign(out, {
        baseMktValue: out.mktValue, baseMktPrice: px, baseAvgCost: p.avgCost, baseAvgPrice: p.avgCost, baseRealizedPnl: out.realizedPnl,
        baseUnrealizedPnl: out.unrealizedPnl, ...secdefRow(inst),
      });
      delete out.currency; out.currency = 'USD';
      out.strike = '0';
      out.multiplier = 0.0;
    }
    return out;
  };

  r.add('GET', '/portfolio/{acct}/positions/{page}', 'portfolio', (req) => {
    const a = pathAccount(core, req.params.acct);
    if (!isAccount(a)) return a;
    const page = Number(req.params.page);
    if (!Number.isInteger(page) || page < 0) return errorBody(400, 'Bad Request: page must be a non-negative integer');
    const bad = core.faults.takePositionsFault();
    if (bad) return { body: bad };
    const enriched = !core.opts.realism.positionsSparseFirstRead || s.positionsWarm;
    s.positionsWarm = true;
    const rows = cached(a.id, a.positions).filter((p) => p.qty !== 0 || p.realized !== 0).sort((x, y) => x.conid - y.conid);
    return { body: rows.slice(page * 100, page * 100 + 100).map((p) => row(a.id, p, enriched)) };
  });

  r.add('GET', '/portfolio/{acct}/position/{conid}', 'portfolio', (req) => {
    const a = pathAccount(core, req.params.acct);
    if (!isAccount(a)) return a;
    const p = cached(a.id, a.positions).find((x) => x.conid === Number(req.params.conid));
    const enriched = !core.opts.realism.positionsSparseFirstRead || s.positionsWarm;
    s.positionsWarm = true;
    return { body: p && (p.qty !== 0 || p.realized !== 0) ? [row(a.id, p, enriched)] : [] };
  });

  r.add('GET', '/portfolio/positions/{conid}', 'portfolio', (req) => {
    const a = core.sessionAccount();
    const p = cached(a.id, a.positions).find((x) => x.conid === Number(req.params.conid));
    return { body: p && p.qty !== 0 ? { [a.id]: [row(a.id, p, true)] } : {} };
  });

  r.add('POST', '/portfolio/{acct}/positions/invalidate', 'portfolio', (req) => {
    const a = pathAccount(core, req.params.acct);
    if (!isAccount(a)) return a;
    core.positionsCache.delete(a.id);
    return { body: { message: 'success' } };
  });

  r.add('GET', '/portfolio2/{acct}/positions', 'sso', (req) => {
    const a = pathAccount(core, req.params.acct);
    if (!isAccount(a)) return a;
    const ts = Math.floor(core.clock.now() / 1000);
    return {
      body: [...a.positions.values()].filter((p) => p.qty !== 0).map((p) => {
        const inst = core.instruments.get(p.conid);
        const px = core.market.quote(p.conid, core.clock.now())?.last ?? 0;
        return {
          position: p.qty, conid: String(p.conid), avgCost: p.avgCost, avgPrice: p.avgCost, currency: 'USD', description: inst?.symbol ?? '',
          isLastToLoq: false, marketPrice: px, marketValue: p.qty * px, realizedPnl: p.realized, secType: inst?.secType ?? 'STK',
          timestamp: ts, unrealizedPnl: p.qty * (px - p.avgCost), assetClass: inst?.secType ?? 'STK', sector: null, group: null, model: '',
        };
      }),
    };
  });
}
