/**
 * Contract discovery: symbol (+ secType, exchange, currency) → conid, cached on disk.
 *
 * Stocks and ETFs (ETFs are `STK` in IBKR's model, §4.3): `/trsrv/stocks` (works on the read-only
 * session), picking the US listing or the requested exchange; `/iserver/secdef/search` as fallback.
 * Crypto (§4.2): `/iserver/secdef/search?secType=CRYPTO`, keeping the record whose symbol matches and
 * whose CRYPTO section lists the venue (PAXOS by default). When nothing matches, the error lists the
 * closest candidates the gateway returned.
 */
import { z } from 'zod';
import type { GatewayApi } from './api.ts';
import type { ContractCache, CachedContract, ContractKey } from './contract-cache.ts';
import { ApiError, ContractNotFoundError, type ContractCandidate } from './errors.ts';
import { lenientBool, lenientId, lenientString } from './decode.ts';

export type SecType = 'STK' | 'ETF' | 'CRYPTO';

export interface ContractQuery {
  symbol: string;
  /** `STK` (default; ETFs too), `ETF` (alias of STK) or `CRYPTO`. */
  secType?: SecType | string;
  /** Listing exchange (e.g. NASDAQ, ARCA) or crypto venue (PAXOS, the default for crypto). */
  exchange?: string;
  /** Default USD. */
  currency?: string;
}

const stocksSchema = z.record(
  z.string(),
  z.array(
    z.looseObject({
      name: lenientString.optional(),
      assetClass: lenientString.optional(),
      contracts: z.array(z.looseObject({ conid: lenientId, exchange: lenientString.optional(), isUS: lenientBool.optional() })).nullish(),
    }),
  ),
);

const searchSchema = z.union([
  z.array(
    z.looseObject({
      conid: lenientId,
      symbol: lenientString.optional(),
      companyName: lenientString.optional(),
      companyHeader: lenientString.optional(),
      description: lenientString.optional(),
      secType: lenientString.optional(),
      sections: z.array(z.looseObject({ secType: lenientString.optional(), exchange: lenientString.optional() })).nullish(),
    }),
  ),
  // Some gateways answer a search without results with an empty object or null.
  z.looseObject({}).transform(() => []),
  z.null().transform(() => []),
]);

const secdefSchema = z.looseObject({
  secdef: z.array(
    z.looseObject({
      conid: lenientId,
      currency: lenientString.optional(),
      listingExchange: lenientString.optional(),
      name: lenientString.optional(),
      assetClass: lenientString.optional(),
      ticker: lenientString.optional(),
      type: lenientString.optional(),
    }),
  ),
});

export interface ContractDetails {
  conid: number;
  currency?: string;
  listingExchange?: string;
  name?: string;
  assetClass?: string;
  ticker?: string;
  type?: string;
}

const US_EXCHANGES = new Set(['NASDAQ', 'NYSE', 'ARCA', 'AMEX', 'BATS', 'ISLAND', 'NYSEARCA', 'CBOE', 'BYX', 'IEX', 'PINK']);

export class ContractsApi {
  constructor(
    private readonly api: GatewayApi,
    private readonly cache: ContractCache,
  ) {}

  /** Resolves a symbol to a contract, from the cache when possible. */
  async resolve(q: ContractQuery): Promise<CachedContract> {
    const key = normalizeQuery(q);
    const hit = this.cache.get(key);
    if (hit) return hit;
    const found = key.secType === 'CRYPTO' ? await this.resolveCrypto(key) : await this.resolveStock(key);
    this.cache.set(key, found);
    return found;
  }

  /** Resolves several; errors name the failing symbol. */
  async resolveAll(qs: ContractQuery[]): Promise<CachedContract[]> {
    const out: CachedContract[] = [];
    for (const q of qs) out.push(await this.resolve(q));
    return out;
  }

  /** `GET /iserver/secdef/search`. */
  async search(symbol: string, secType?: string): Promise<z.output<typeof searchSchema>> {
    return this.api.request({
      method: 'GET',
      path: '/iserver/secdef/search',
      query: { symbol, secType },
      schema: searchSchema,
    });
  }

  /** `GET /trsrv/secdef?conids=...` (≤200 per call). */
  async details(conids: number[]): Promise<ContractDetails[]> {
    const out: ContractDetails[] = [];
    for (let i = 0; i < conids.length; i += 200) {
      const r = await this.api.request({
        method: 'GET',
        path: '/trsrv/secdef',
        query: { conids: conids.slice(i, i + 200).join(',') },
        schema: secdefSchema,
      });
      out.push(...r.secdef);
    }
    return out;
  }

  private async resolveStock(key: Required<ContractKey>): Promise<CachedContract> {
    const candidates: ContractCandidate[] = [];
    let stocks: z.output<typeof stocksSchema> | undefined;
    try {
      stocks = await this.api.request({ method: 'GET', path: '/trsrv/stocks', query: { symbols: key.symbol }, schema: stocksSchema });
    } catch (err) {
      if (!(err instanceof ApiError)) throw err;
    }
    for (const inst of stocks?.[key.symbol] ?? []) {
      for (const c of inst.contracts ?? []) {
        candidates.push({ conid: c.conid, symbol: key.symbol, description: inst.name ?? '', secType: inst.assetClass, exchange: c.exchange });
        const exchangeOk = key.exchange ? sameExchange(c.exchange, key.exchange) : key.currency === 'USD' ? c.isUS === true : c.isUS !== true;
        if (exchangeOk && (!inst.assetClass || inst.assetClass === 'STK')) {
          return this.finish(key, c.conid, c.exchange ?? key.exchange, inst.name ?? '');
        }
      }
    }
    // Fallback: the iserver search (needs the brokerage session).
    const results = await this.search(key.symbol, 'STK');
    for (const r of results) {
      const exch = (r.description ?? r.companyHeader?.split(' - ').pop() ?? '').trim().toUpperCase();
      candidates.push({ conid: r.conid, symbol: r.symbol ?? '', description: r.companyHeader ?? r.companyName ?? '', exchange: exch });
      if ((r.symbol ?? '').toUpperCase() !== key.symbol) continue;
      const exchangeOk = key.exchange ? sameExchange(exch, key.exchange) : key.currency === 'USD' ? US_EXCHANGES.has(exch) : true;
      if (exchangeOk) return this.finish(key, r.conid, exch, r.companyName ?? r.companyHeader ?? '');
    }
    throw new ContractNotFoundError(describeQuery(key), rank(candidates, key.symbol));
  }

  private async resolveCrypto(key: Required<ContractKey>): Promise<CachedContract> {
    const venue = key.exchange || 'PAXOS';
    const results = await this.search(key.symbol, 'CRYPTO');
    const candidates: ContractCandidate[] = [];
    for (const r of results) {
      const cryptoSections = (r.sections ?? []).filter((s) => (s.secType ?? '').toUpperCase() === 'CRYPTO');
      const venues = cryptoSections.flatMap((s) => (s.exchange ?? '').split(/[;,]/).map((e) => e.trim().toUpperCase()).filter(Boolean));
      candidates.push({ conid: r.conid, symbol: r.symbol ?? '', description: r.companyName ?? r.companyHeader ?? '', secType: cryptoSections.length ? 'CRYPTO' : r.secType, exchange: venues.join(',') });
      if ((r.symbol ?? '').toUpperCase() === key.symbol && venues.includes(venue)) {
        return this.finish({ ...key, exchange: venue }, r.conid, venue, r.companyName ?? '', true);
      }
    }
    throw new ContractNotFoundError(describeQuery({ ...key, exchange: venue }), rank(candidates, key.symbol));
  }

  private async finish(key: Required<ContractKey>, conid: number, exchange: string | undefined, description: string, skipDetails = false): Promise<CachedContract> {
    let currency = key.currency;
    let listing = exchange ?? key.exchange;
    if (!skipDetails) {
      try {
        const [d] = await this.details([conid]);
        if (d?.currency && d.currency.toUpperCase() !== key.currency) {
          throw new ContractNotFoundError(describeQuery(key), [
            { conid, symbol: key.symbol, description: `${description} (trades in ${d.currency})`, exchange: d.listingExchange },
          ]);
        }
        currency = d?.currency?.toUpperCase() ?? currency;
        listing = d?.listingExchange ?? listing;
      } catch (err) {
        if (!(err instanceof ApiError)) throw err; // details are a bonus, not a requirement
      }
    }
    return {
      conid,
      symbol: key.symbol,
      secType: key.secType,
      exchange: (listing ?? '').toUpperCase(),
      currency,
      description,
      resolvedAt: new Date().toISOString(),
    };
  }
}

function normalizeQuery(q: ContractQuery): Required<ContractKey> {
  let secType = (q.secType ?? 'STK').toUpperCase();
  if (secType === 'ETF') secType = 'STK';
  let exchange = (q.exchange ?? '').trim().toUpperCase();
  // SMART is IBKR's router, not a listing: it says nothing about which contract is meant.
  if (exchange === 'SMART') exchange = '';
  return {
    symbol: q.symbol.trim().toUpperCase(),
    secType,
    exchange,
    currency: (q.currency ?? 'USD').trim().toUpperCase(),
  };
}

function describeQuery(k: ContractKey): string {
  return `${k.symbol} (${k.secType}${k.exchange ? ` on ${k.exchange}` : ''}, ${k.currency})`;
}

function sameExchange(a: string | undefined, b: string): boolean {
  const norm = (x: string) => {
    const u = x.toUpperCase().split('.')[0]!;
    return u === 'ISLAND' ? 'NASDAQ' : u === 'NYSEARCA' ? 'ARCA' : u;
  };
  return !!a && norm(a) === norm(b);
}

/** Orders candidates by similarity to the wanted symbol (exact, prefix, then the rest). */
function rank(cs: ContractCandidate[], symbol: string): ContractCandidate[] {
  const score = (c: ContractCandidate) => (c.symbol.toUpperCase() === symbol ? 0 : c.symbol.toUpperCase().startsWith(symbol) ? 1 : 2);
  const seen = new Set<number>();
  return cs.filter((c) => !seen.has(c.conid) && seen.add(c.conid)).sort((a, b) => score(a) - score(b));
}
