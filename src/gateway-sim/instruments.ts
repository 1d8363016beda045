/**
 * The simulated contract universe and the parameters of each instrument's price process.
 *
 * Real conids from the reference (§4.2, §4.4, §12.4): AAPL 265598, SPY 756733, QQQ 320227571,
 * MSFT 272093, IBM 8314, KO 8894, BTC (PAXOS) 479624278, ETH (PAXOS) 495759171. ETHA and ETHV have no
 * published conid; the simulator assigns 900000001 and 900000002 (documented as invented).
 *
 * Price model (log price = ln(base) + sum of terms):
 *  - `rw`: a random walk (Brownian motion) with the given annual volatility, shared through its key
 *    (two instruments using the same key move together: that is how correlation and cointegration arise);
 *  - `stat`: a stationary deviation with the given standard deviation, mean-reverting over `windowSec`
 *    (the increment of a random walk over the trailing window: stationary, autocorrelated within it).
 * ETHA and ETHV both load on the crypto factor plus their own stationary deviations (a fast one
 * reverting within hours, which 5-minute pair strategies see, and a slow one over days), so they are
 * cointegrated with each other (and with ETH) at intraday and daily horizons; BTC and ETH likewise share
 * the crypto factor with loadings 0.8 and 1, BTC deviating over hours and days. AAPL, MSFT, IBM, KO have own random walks: correlated through the market
 * factor, not cointegrated.
 */
import type { MarketKind } from './hours.ts';

export interface PriceTerm {
  kind: 'rw' | 'stat';
  key: string;
  /** rw: annualised volatility of the term; stat: standard deviation of the deviation (in log price). */
  scale: number;
  /** stat only: reversion window in seconds. */
  windowSec?: number;
}

export interface Instrument {
  conid: number;
  symbol: string;
  secType: 'STK' | 'CRYPTO';
  /** 'ETF' or 'COMMON' for stocks, 'CRYPTO' otherwise (what /trsrv/secdef and positions call `type`). */
  type: 'ETF' | 'COMMON' | 'CRYPTO';
  market: MarketKind;
  listingExchange: string;
  /** Exchange name used in descriptions such as `NASDAQ.NMS`. */
  descExchange: string;
  companyName: string;
  industry: string;
  category: string;
  tick: number;
  /** Half of the quoted spread, in basis points of the price (at least one tick is quoted). */
  halfSpreadBps: number;
  /** Typical volume traded per price step (units), for volume fields and bars. */
  volumePerStep: number;
  /** Displayed size at the bid and ask (units). */
  quoteSize: number;
  minQty: number;
  sizeIncrement: number;
  base: number;
  terms: PriceTerm[];
}

const DAY = 86_400;

function stock(
  conid: number, symbol: string, type: 'ETF' | 'COMMON', exch: string, descExch: string, name: string,
  industry: string, base: number, terms: PriceTerm[], halfSpreadBps = 1, volumePerStep = 600,
): Instrument {
  return {
    conid, symbol, secType: 'STK', type, market: 'stock', listingExchange: exch, descExchange: descExch,
    companyName: name, industry, category: industry, tick: 0.01, halfSpreadBps, volumePerStep, quoteSize: 500,
    minQty: 1, sizeIncrement: 1, base, terms,
  };
}

function crypto(conid: number, symbol: string, name: string, tick: number, base: number, terms: PriceTerm[]): Instrument {
  return {
    conid, symbol, secType: 'CRYPTO', type: 'CRYPTO', market: 'crypto', listingExchange: 'PAXOS', descExchange: 'PAXOS',
    companyName: name, industry: 'Cryptocurrency', category: 'Cryptocurrency', tick, halfSpreadBps: 0.6,
    volumePerStep: symbol === 'BTC' ? 0.8 : 12, quoteSize: symbol === 'BTC' ? 0.5 : 8, minQty: 0.0001,
    sizeIncrement: 0.0001, base, terms,
  };
}

/** The seed universe. The crypto factor `crypto` and the market factor `mkt` are shared keys. */
export const DEFAULT_INSTRUMENTS: Instrument[] = [
  crypto(495759171, 'ETH', 'Ethereum cryptocurrency', 0.01, 3000, [
    { kind: 'rw', key: 'crypto', scale: 0.65 },
    { kind: 'stat', key: 'eth-dev', scale: 0.004, windowSec: 6 * 3600 },
  ]),
  crypto(479624278, 'BTC', 'Bitcoin cryptocurrency', 0.25, 90000, [
    { kind: 'rw', key: 'crypto', scale: 0.52 },
    { kind: 'stat', key: 'btc-dev-fast', scale: 0.008, windowSec: 4 * 3600 },
    { kind: 'stat', key: 'btc-dev', scale: 0.012, windowSec: DAY },
  ]),
  stock(900000001, 'ETHA', 'ETF', 'NASDAQ', 'NASDAQ.NMS', 'ISHARES ETHEREUM TRUST ETF', 'Funds', 25, [
    { kind: 'rw', key: 'crypto', scale: 0.65 },
    { kind: 'stat', key: 'etha-dev-fast', scale: 0.0035, windowSec: 90 * 60 },
    { kind: 'stat', key: 'etha-dev', scale: 0.0015, windowSec: 2 * DAY },
  ], 2, 3000),
  stock(900000002, 'ETHV', 'ETF', 'BATS', 'BATS', 'VANECK ETHEREUM ETF', 'Funds', 42, [
    { kind: 'rw', key: 'crypto', scale: 0.65 },
    { kind: 'stat', key: 'ethv-dev-fast', scale: 0.0045, windowSec: 2 * 3600 },
    { kind: 'stat', key: 'ethv-dev', scale: 0.002, windowSec: 3 * DAY },
  ], 3, 400),
  stock(756733, 'SPY', 'ETF', 'ARCA', 'ARCA', 'SPDR S&P 500 ETF TRUST', 'Funds', 600, [
    { kind: 'rw', key: 'mkt', scale: 0.16 },
  ], 0.2, 4000),
  stock(320227571, 'QQQ', 'ETF', 'NASDAQ', 'NASDAQ.NMS', 'INVESCO QQQ TRUST SERIES 1', 'Funds', 520, [
    { kind: 'rw', key: 'mkt', scale: 0.19 },
    { kind: 'rw', key: 'qqq-own', scale: 0.08 },
  ], 0.3, 2500),
  stock(265598, 'AAPL', 'COMMON', 'NASDAQ', 'NASDAQ.NMS', 'APPLE INC', 'Computers', 230, [
    { kind: 'rw', key: 'mkt', scale: 0.17 },
    { kind: 'rw', key: 'aapl-own', scale: 0.2 },
  ], 0.5, 2500),
  stock(272093, 'MSFT', 'COMMON', 'NASDAQ', 'NASDAQ.NMS', 'MICROSOFT CORP', 'Software', 420, [
    { kind: 'rw', key: 'mkt', scale: 0.16 },
    { kind: 'rw', key: 'msft-own', scale: 0.18 },
  ], 0.5, 1500),
  stock(8314, 'IBM', 'COMMON', 'NYSE', 'NYSE', 'INTL BUSINESS MACHINES CORP', 'Computers', 250, [
    { kind: 'rw', key: 'mkt', scale: 0.12 },
    { kind: 'rw', key: 'ibm-own', scale: 0.18 },
  ], 1, 500),
  stock(8894, 'KO', 'COMMON', 'NYSE', 'NYSE', 'COCA-COLA CO/THE', 'Beverages', 70, [
    { kind: 'rw', key: 'mkt', scale: 0.07 },
    { kind: 'rw', key: 'ko-own', scale: 0.14 },
  ], 1.5, 1200),
];

/** The USD spread (combo) conid of §6.11. */
export const USD_SPREAD_CONID = 28812380;

export class InstrumentTable {
  private readonly byConid = new Map<number, Instrument>();
  constructor(readonly list: Instrument[] = DEFAULT_INSTRUMENTS) {
    for (const i of list) this.byConid.set(i.conid, i);
  }
  get(conid: number): Instrument | undefined {
    return this.byConid.get(conid);
  }
  bySymbol(symbol: string): Instrument[] {
    const s = symbol.toUpperCase();
    return this.list.filter((i) => i.symbol === s);
  }
}
