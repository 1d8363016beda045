/** Contract endpoints (§4): secdef search, contract info, trsrv stocks and secdef. */
import type { SimCore } from '../core.ts';
import type { Instrument } from '../instruments.ts';
import { errorBody, type ApiRequest, type Router } from '../router.ts';

export function secdefRow(i: Instrument): Record<string, unknown> {
  return {
    conid: i.conid, currency: 'USD', time: 43, chineseName: null,
    allExchanges: i.secType === 'CRYPTO' ? 'PAXOS' : `SMART,AMEX,NYSE,CBOE,ARCA,ISLAND,BATS,IEX,${i.listingExchange}`,
    listingExchange: i.listingExchange, countryCode: 'US', name: i.companyName, assetClass: i.secType, expiry: null, lastTradingDay: null,
    group: i.industry, putOrCall: null, sector: i.category, sectorGroup: i.industry, strike: '0', ticker: i.symbol, undConid: 0,
    multiplier: 0.0, type: i.type, hasOptions: i.secType === 'STK', fullName: i.symbol, isUS: true,
    incrementRules: [{ lowerEdge: 0.0, increment: i.tick }],
    displayRule: { magnification: 0, displayRuleStep: [{ decimalDigits: i.tick < 0.01 ? 4 : 2, lowerEdge: 0.0, wholeDigits: 6 }] },
    isEventContract: false, pageSize: 100,
  };
}

function searchRow(i: Instrument, byName: boolean): Record<string, unknown> {
  if (i.secType === 'CRYPTO') {
    return { conid: String(i.conid), companyHeader: `${i.companyName} - PAXOS`, companyName: i.companyName, symbol: i.symbol, description: 'PAXOS', restricted: null, sections: [{ secType: 'CRYPTO', exchange: 'PAXOS;' }] };
  }
  if (byName) {
    return { conid: String(i.conid), companyHeader: `${i.companyName} (${i.listingExchange}) `, companyName: `${i.companyName} (${i.listingExchange})`, symbol: i.symbol, description: null, restricted: null, sections: [], secType: 'STK' };
  }
  return {
    conid: String(i.conid), companyHeader: `${i.companyName} - ${i.listingExchange}`, companyName: i.companyName, symbol: i.symbol,
    description: i.listingExchange, restricted: null, fop: null, opt: null, war: null,
    sections: [{ secType: 'STK' }, { secType: 'BAG' }],
  };
}

export function registerContractRoutes(r: Router, core: SimCore): void {
  const search = (req: ApiRequest) => {
    const b = (req.body ?? {}) as Record<string, unknown>;
    const symbol = String(req.query.get('symbol') ?? b.symbol ?? '').trim();
    if (!symbol) return errorBody(400, 'Bad Request: symbol required');
    const secType = String(req.query.get('secType') ?? b.secType ?? '').toUpperCase();
    const byName = String(req.query.get('name') ?? b.name ?? '') === 'true';
    const up = symbol.toUpperCase();
    const hits = core.instruments.list.filter((i) => (byName ? i.companyName.includes(up) : i.symbol === up))
      .filter((i) => !secType || i.secType === secType || (secType === 'STK' && i.secType === 'STK'));
    return { body: hits.map((i) => searchRow(i, byName)) };
  };
  r.add('GET', '/iserver/secdef/search', 'brokerage', search);
  r.add('POST', '/iserver/secdef/search', 'brokerage', search);

  r.add('GET', '/iserver/contract/{conid}/info', 'brokerage', (req) => {
    const i = core.instruments.get(Number(req.params.conid));
    if (!i) return errorBody(400, `Bad Request: conid ${req.params.conid} not found`);
    const crypto = i.secType === 'CRYPTO';
    return {
      body: {
        cfi_code: '', symbol: i.symbol, cusip: null, expiry_full: null, con_id: i.conid, maturity_date: null, industry: i.industry,
        instrument_type: i.secType, trading_class: crypto ? i.symbol : 'NMS',
        valid_exchanges: crypto ? 'PAXOS' : `SMART,AMEX,NYSE,CBOE,ARCA,ISLAND,BATS,IEX,${i.listingExchange}`,
        allow_sell_long: false, is_zero_commission_security: false, local_symbol: i.symbol, contract_clarification_type: null,
        classifier: null, currency: 'USD', text: null, underlying_con_id: 0, r_t_h: !crypto, multiplier: null, underlying_issuer: null,
        contract_month: null, company_name: i.companyName, smart_available: !crypto, exchange: crypto ? 'PAXOS' : 'SMART', category: i.category,
      },
    };
  });

  r.add('GET', '/trsrv/stocks', 'sso', (req) => {
    const syms = String(req.query.get('symbols') ?? '').split(',').map((s) => s.trim().toUpperCase()).filter(Boolean);
    if (!syms.length) return errorBody(400, 'Bad Request: symbols required');
    const out: Record<string, unknown> = {};
    for (const s of syms) {
      const hits = core.instruments.bySymbol(s).filter((i) => i.secType === 'STK');
      if (hits.length) out[s] = hits.map((i) => ({ name: i.companyName, chineseName: null, assetClass: 'STK', contracts: [{ conid: i.conid, exchange: i.listingExchange, isUS: true }] }));
    }
    return { body: out };
  });

  const trsrvSecdef = (req: ApiRequest) => {
    const b = (req.body ?? {}) as { conids?: unknown };
    const raw = req.query.get('conids') ?? (Array.isArray(b.conids) ? b.conids.join(',') : '');
    const ids = String(raw).split(',').map((s) => Number(s.trim())).filter((n) => Number.isFinite(n) && n > 0);
    if (!ids.length) return errorBody(400, 'Bad Request: conids required');
    if (ids.length > 200) return errorBody(400, 'Bad Request: at most 200 conids');
    return { body: { secdef: ids.map((id) => core.instruments.get(id)).filter((i): i is Instrument => !!i).map(secdefRow) } };
  };
  r.add('GET', '/trsrv/secdef', 'sso', trsrvSecdef);
  r.add('POST', '/trsrv/secdef', 'sso', trsrvSecdef);
}
