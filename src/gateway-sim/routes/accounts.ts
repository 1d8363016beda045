/** Account endpoints (§3): iserver/accounts, portfolio accounts, summary, ledger, partitioned P&L. */
import type { SimCore } from '../core.ts';
import { errorBody, type ApiResponse, type Router } from '../router.ts';
import type { Account } from '../portfolio.ts';

export function accountsBody(core: SimCore): Record<string, unknown> {
  const a = core.sessionAccount();
  // An advisor (FA) login also lists `All`, allocation groups and profiles as "accounts".
  const fa = core.opts.realism.advisorLogin;
  return {
    accounts: fa ? ['All', a.id, 'PairsGroup', 'PairsProfile'] : [a.id],
    acctProps: { [a.id]: { hasChildAccounts: false, supportsCashQty: true, liteUnderPro: false, noFXConv: false, isProp: false, supportsFractions: true, allowCustomerTime: false, autoFx: false } },
    aliases: { [a.id]: a.id },
    allowFeatures: {
      showGFIS: true, showEUCostReport: false, allowEventContract: false, allowFXConv: true, allowFinancialLens: false, allowMTA: true,
      allowTypeAhead: true, allowEventTrading: false, snapshotRefreshTimeout: 30, liteUser: false, showWebNews: true, research: true,
      debugPnl: true, showTaxOpt: true, showImpactDashboard: true, allowDynAccount: false, allowCrypto: true, allowFA: false,
      allowLiteUnderPro: false, allowedAssetTypes: 'STK,CFD,OPT,FOP,WAR,FUT,BAG,PDC,CASH,IND,BOND,BILL,FUND,SLB,News,CMDTY,IOPT,ICU,ICS,PHYSS,CRYPTO',
      restrictTradeSubscription: false, showUkUserLabels: true, sideBySide: true,
    },
    chartPeriods: { STK: ['*'], OPT: ['2h', '1d', '2d', '1w', '1m'], CASH: ['*'], CRYPTO: ['*'] },
    groups: fa ? ['All', 'PairsGroup'] : [], profiles: fa ? ['PairsProfile'] : [], selectedAccount: a.id,
    serverInfo: { serverName: 'JifSim001', serverVersion: 'Build 10.25.0m, tandem simulator' },
    sessionId: core.session.sessionId, isFT: false, isPaper: a.paper,
  };
}

function portfolioAccount(a: Account): Record<string, unknown> {
  return {
    id: a.id, 'PrepaidCrypto-Z': false, 'PrepaidCrypto-P': true, brokerageAccess: true, accountId: a.id, accountVan: a.id,
    accountTitle: a.paper ? 'Paper Trader' : 'Live Trader', displayName: a.paper ? 'Paper Trader' : 'Live Trader', accountAlias: null,
    accountStatus: 1678852800000, currency: 'USD', type: a.paper ? 'DEMO' : 'INDIVIDUAL', tradingType: 'STKNOPT',
    businessType: 'INDEPENDENT', category: '', ibEntity: 'IBLLC-US', faclient: false, clearingStatus: 'O', covestor: false,
    noClientTrading: false, trackVirtualFXPortfolio: false, acctCustType: 'INDIVIDUAL',
    parent: { mmc: [], accountId: '', isMParent: false, isMChild: false, isMultiplex: false }, desc: a.id,
  };
}

/** The account named in the path, if it is the session's; otherwise an error response. */
export function pathAccount(core: SimCore, id: string | undefined): Account | ApiResponse {
  const a = core.sessionAccount();
  if (id !== a.id) return errorBody(400, `Bad Request: account ${id ?? ''} is not available in this session`);
  return a;
}

export function isAccount(x: Account | ApiResponse): x is Account {
  return (x as Account).positions !== undefined;
}

export function registerAccountRoutes(r: Router, core: SimCore): void {
  const s = core.session;
  r.add('GET', '/iserver/accounts', 'brokerage', () => {
    if (s.competing) return { body: {} };
    s.accountsPrimed = true;
    return { body: accountsBody(core) };
  });

  r.add('POST', '/iserver/account', 'brokerage', (req) => {
    const b = req.body as { acctId?: unknown } | undefined;
    if (!b || typeof b.acctId !== 'string') return errorBody(400, 'Bad Request: acctId is required');
    if (b.acctId !== core.sessionAccount().id) return errorBody(500, `Account ${b.acctId} not found`);
    return { body: { success: 'Account already set' } };
  });

  const portfolioAccounts = () => {
    s.portfolioPrimed = true;
    return { body: [portfolioAccount(core.sessionAccount())] };
  };
  r.add('GET', '/portfolio/accounts', 'sso', portfolioAccounts);
  r.add('GET', '/portfolio/subaccounts', 'sso', portfolioAccounts);

  r.add('GET', '/portfolio/{acct}/meta', 'portfolio', (req) => {
    const a = pathAccount(core, req.params.acct);
    return isAccount(a) ? { body: portfolioAccount(a) } : a;
  });

  r.add('GET', '/portfolio/{acct}/summary', 'portfolio', (req) => {
    const a = pathAccount(core, req.params.acct);
    if (!isAccount(a)) return a;
    const m = core.orders.marks(a);
    const ts = core.clock.now();
    const money = (amount: number) => ({ amount: Math.round(amount * 100) / 100, currency: 'USD', isNull: false, timestamp: ts, value: null, severity: 0 });
    const text = (value: string) => ({ amount: 0.0, currency: null, isNull: false, timestamp: ts, value, severity: 0 });
    const excess = m.netLiq - m.initMargin * 0.8;
    const available = m.netLiq - m.initMargin;
    const body: Record<string, unknown> = {
      accountcode: text(a.id), accountready: text('true'), accounttype: text(a.paper ? 'DEMO' : 'INDIVIDUAL'),
      netliquidation: money(m.netLiq), totalcashvalue: money(a.cash), settledcash: money(a.cash), availablefunds: money(available),
      buyingpower: money(Math.max(0, available) * 2), excessliquidity: money(excess), grosspositionvalue: money(m.gross),
      initmarginreq: money(m.initMargin), maintmarginreq: money(m.initMargin * 0.8), equitywithloanvalue: money(m.netLiq),
      cushion: { amount: m.netLiq > 0 ? Math.round((excess / m.netLiq) * 10000) / 10000 : 0, currency: null, isNull: false, timestamp: ts, value: null, severity: 0 },
      'netliquidation-s': money(m.netLiq), 'totalcashvalue-s': money(a.cash), accruedcash: money(0),
      fullavailablefunds: money(available), fullinitmarginreq: money(m.initMargin), fullmaintmarginreq: money(m.initMargin * 0.8),
      leverage: { amount: m.netLiq > 0 ? Math.round((m.gross / m.netLiq) * 100) / 100 : 0, currency: null, isNull: false, timestamp: ts, value: null, severity: 0 },
      indianstockhaircut: money(0),
    };
    return { body };
  });

  r.add('GET', '/portfolio/{acct}/ledger', 'portfolio', (req) => {
    const a = pathAccount(core, req.params.acct);
    if (!isAccount(a)) return a;
    const m = core.orders.marks(a);
    const ts = Math.floor(core.clock.now() / 1000);
    const row = (currency: string, end: boolean) => ({
      acctcode: a.id, cashbalance: round2(a.cash), cashbalancefxsegment: 0.0, commoditymarketvalue: 0.0, corporatebondsmarketvalue: 0.0,
      cryptocurrencyvalue: round2(m.cryptoValue), currency, dividends: 0.0, ...(end ? { endofbundle: 1 } : {}), exchangerate: 1,
      funds: 0.0, futuremarketvalue: 0.0, futureoptionmarketvalue: 0.0, futuresonlypnl: 0.0, interest: 0.0,
      issueroptionsmarketvalue: 0.0, key: 'LedgerList', moneyfunds: 0.0, netliquidationvalue: round2(m.netLiq), realizedpnl: round2(m.realized),
      secondkey: currency, sessionid: 1, settledcash: round2(a.cash), severity: 0, stockmarketvalue: round2(m.stockValue),
      stockoptionmarketvalue: 0.0, tbillsmarketvalue: 0.0, tbondsmarketvalue: 0.0, timestamp: ts, unrealizedpnl: round2(m.upnl),
      warrantsmarketvalue: 0.0,
    });
    return { body: { USD: row('USD', false), BASE: row('BASE', true) } };
  });

  r.add('GET', '/iserver/account/pnl/partitioned', 'brokerage', () => {
    if (core.opts.realism.pnlColdFirstRead && !s.pnlWarm) {
      s.pnlWarm = true;
      return { body: { upnl: {} } };
    }
    return { body: { upnl: pnlRows(core) } };
  });
}

export function round2(x: number): number {
  return Math.round(x * 100) / 100;
}

/** `{ "<acct>.Core": {rowType, dpl, nl, upl, el, mv} }` for the session's account. */
export function pnlRows(core: SimCore, wsKeys = false): Record<string, unknown> {
  const a = core.sessionAccount();
  const m = core.orders.marks(a);
  const dpl = m.netLiq - a.startCash;
  const el = m.netLiq - m.initMargin * 0.8;
  return {
    [`${a.id}.Core`]: { rowType: 1, dpl: round2(dpl), nl: round2(m.netLiq), upl: round2(m.upnl), [wsKeys ? 'uel' : 'el']: round2(el), mv: round2(m.stockValue + m.cryptoValue) },
  };
}
