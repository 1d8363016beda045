/**
 * Portfolio: accounts, summary (balances for sizing), ledger, positions (paged), cache invalidation,
 * and a sync that returns one consistent picture of positions, cash and open orders.
 *
 * These endpoints need only the read-only session, but `/portfolio/accounts` must be called first
 * (done by the pipeline). Positions are served from a cache that lags fills, so `sync` invalidates it
 * first and checks that no fill landed while it was reading (open orders' filled quantities unchanged
 * before and after); otherwise it reads again.
 */
import { z } from 'zod';
import type { GatewayApi } from './api.ts';
import { lenientId, lenientNumber, lenientString, lenientBool } from './decode.ts';
import type { LiveOrder, OrdersApi } from './orders.ts';
import { isTerminalStatus } from './decode.ts';

const portfolioAccountSchema = z.looseObject({
  id: lenientString,
  accountId: lenientString.optional(),
  currency: lenientString.optional(),
  type: lenientString.optional(),
  displayName: lenientString.optional(),
  'PrepaidCrypto-P': lenientBool.optional(),
  'PrepaidCrypto-Z': lenientBool.optional(),
});
const portfolioAccountsSchema = z.array(portfolioAccountSchema);

export interface PortfolioAccount {
  id: string;
  currency?: string;
  type?: string;
  displayName?: string;
  /** Paper accounts start with DU (DF for FA paper masters). */
  isPaper: boolean;
  cryptoProvider?: 'PAXOS' | 'ZEROHASH';
}

const summaryValueSchema = z.looseObject({
  amount: lenientNumber.optional(),
  currency: lenientString.optional(),
  value: lenientString.optional(),
  isNull: lenientBool.optional(),
});
const summarySchema = z.record(z.string(), z.union([summaryValueSchema, z.null().transform(() => undefined)]));

export interface AccountSummary {
  accountId: string;
  currency?: string;
  netLiquidation?: number;
  totalCash?: number;
  availableFunds?: number;
  buyingPower?: number;
  excessLiquidity?: number;
  grossPositionValue?: number;
  /** Every key as received (amount or text value). */
  raw: Record<string, { amount?: number; currency?: string; value?: string }>;
}

const ledgerSchema = z.record(
  z.string(),
  z.looseObject({
    currency: lenientString.optional(),
    cashbalance: lenientNumber.optional(),
    settledcash: lenientNumber.optional(),
    netliquidationvalue: lenientNumber.optional(),
    stockmarketvalue: lenientNumber.optional(),
    cryptocurrencyvalue: lenientNumber.optional(),
    unrealizedpnl: lenientNumber.optional(),
    realizedpnl: lenientNumber.optional(),
    exchangerate: lenientNumber.optional(),
  }),
);

export interface LedgerEntry {
  currency: string;
  cashBalance?: number;
  settledCash?: number;
  netLiquidation?: number;
  stockMarketValue?: number;
  cryptoValue?: number;
  unrealizedPnl?: number;
  realizedPnl?: number;
  exchangeRate?: number;
}

const positionSchema = z.looseObject({
  acctId: lenientString.optional(),
  conid: lenientId,
  contractDesc: lenientString.optional(),
  ticker: lenientString.optional(),
  position: lenientNumber,
  mktPrice: lenientNumber.optional(),
  mktValue: lenientNumber.optional(),
  currency: lenientString.optional(),
  avgCost: lenientNumber.optional(),
  avgPrice: lenientNumber.optional(),
  realizedPnl: lenientNumber.optional(),
  unrealizedPnl: lenientNumber.optional(),
  assetClass: lenientString.optional(),
  listingExchange: lenientString.optional(),
  strike: lenientNumber.optional(),
  multiplier: lenientNumber.optional(),
});
const positionsSchema = z.union([z.array(positionSchema), z.looseObject({}).transform(() => [] as z.output<typeof positionSchema>[])]);

export interface Position {
  accountId?: string;
  conid: number;
  symbol?: string;
  quantity: number;
  marketPrice?: number;
  marketValue?: number;
  currency?: string;
  avgCost?: number;
  avgPrice?: number;
  realizedPnl?: number;
  unrealizedPnl?: number;
  assetClass?: string;
  listingExchange?: string;
}

export interface PortfolioSnapshot {
  accountId: string;
  /** Positions with a non-zero quantity. */
  positions: Position[];
  /** Cash per currency (ledger `cashbalance`), plus `BASE`. */
  cash: Record<string, number>;
  netLiquidation?: number;
  /** Orders still working (not Filled/Cancelled/Inactive). */
  openOrders: LiveOrder[];
  /** Epoch ms when the reads finished. */
  asOf: number;
  /** Reads needed to get a picture that no fill changed in between. */
  attempts: number;
}

const PAGE_SIZE = 100;

export class PortfolioApi {
  constructor(
    private readonly api: GatewayApi,
    private readonly orders: OrdersApi,
  ) {}

  /** `GET /portfolio/accounts` (also the priming call of the portfolio endpoints). */
  async accounts(): Promise<PortfolioAccount[]> {
    const rows = await this.api.request({ method: 'GET', path: '/portfolio/accounts', schema: portfolioAccountsSchema });
    return rows.map((a) => ({
      id: a.id ?? a.accountId ?? '',
      currency: a.currency,
      type: a.type,
      displayName: a.displayName,
      isPaper: /^D[UF]/.test(a.id ?? ''),
      cryptoProvider: a['PrepaidCrypto-P'] ? 'PAXOS' : a['PrepaidCrypto-Z'] ? 'ZEROHASH' : undefined,
    }));
  }

  /** `GET /portfolio/{acct}/summary`: the balances live sizing uses. */
  async summary(accountId: string): Promise<AccountSummary> {
    const r = await this.api.request({
      method: 'GET',
      path: `/portfolio/${encodeURIComponent(accountId)}/summary`,
      schema: summarySchema,
      requires: 'portfolio',
    });
    const raw: AccountSummary['raw'] = {};
    for (const [k, v] of Object.entries(r)) if (v && !v.isNull) raw[k.toLowerCase()] = { amount: v.amount, currency: v.currency, value: v.value };
    const amt = (k: string) => raw[k]?.amount;
    return {
      accountId,
      currency: raw['netliquidation']?.currency ?? raw['totalcashvalue']?.currency,
      netLiquidation: amt('netliquidation'),
      totalCash: amt('totalcashvalue'),
      availableFunds: amt('availablefunds'),
      buyingPower: amt('buyingpower'),
      excessLiquidity: amt('excessliquidity'),
      grossPositionValue: amt('grosspositionvalue'),
      raw,
    };
  }

  /** `GET /portfolio/{acct}/ledger`: cash per currency and `BASE`. */
  async ledger(accountId: string): Promise<LedgerEntry[]> {
    const r = await this.api.request({
      method: 'GET',
      path: `/portfolio/${encodeURIComponent(accountId)}/ledger`,
      schema: ledgerSchema,
      requires: 'portfolio',
    });
    return Object.entries(r).map(([key, v]) => ({
      currency: v.currency ?? key,
      cashBalance: v.cashbalance,
      settledCash: v.settledcash,
      netLiquidation: v.netliquidationvalue,
      stockMarketValue: v.stockmarketvalue,
      cryptoValue: v.cryptocurrencyvalue,
      unrealizedPnl: v.unrealizedpnl,
      realizedPnl: v.realizedpnl,
      exchangeRate: v.exchangerate,
    }));
  }

  /** All positions, reading pages of 100 until a page is not full (§7.1). */
  async positions(accountId: string): Promise<Position[]> {
    const out: Position[] = [];
    for (let page = 0; page < 1000; page++) {
      const rows = await this.api.request({
        method: 'GET',
        path: `/portfolio/${encodeURIComponent(accountId)}/positions/${page}`,
        schema: positionsSchema,
        requires: 'portfolio',
      });
      for (const p of rows) {
        out.push({
          accountId: p.acctId ?? accountId,
          conid: p.conid,
          symbol: p.ticker ?? p.contractDesc,
          // A missing or non-finite quantity is a bad answer, not a flat position: NaN says so to the caller.
          quantity: p.position ?? Number.NaN,
          marketPrice: p.mktPrice,
          marketValue: p.mktValue,
          currency: p.currency,
          avgCost: p.avgCost,
          avgPrice: p.avgPrice,
          realizedPnl: p.realizedPnl,
          unrealizedPnl: p.unrealizedPnl,
          assetClass: p.assetClass,
          listingExchange: p.listingExchange,
        });
      }
      const pageSize = Number((rows[0] as Record<string, unknown> | undefined)?.pageSize) || PAGE_SIZE;
      if (rows.length < pageSize) break;
    }
    return out;
  }

  /** `POST /portfolio/{acct}/positions/invalidate`: the next positions read is fresh. */
  async invalidate(accountId: string): Promise<void> {
    await this.api.request({
      schema: z.looseObject({ message: lenientString.optional() }),
      method: 'POST',
      path: `/portfolio/${encodeURIComponent(accountId)}/positions/invalidate`,
      requires: 'portfolio',
      idempotent: true,
    });
  }

  /**
   * One consistent picture: open orders, then (invalidated) positions and the ledger, then open
   * orders again; if any order's filled quantity or status moved in between, everything is read again
   * (up to 3 times).
   */
  async sync(accountId: string): Promise<PortfolioSnapshot> {
    let before = await this.orders.liveOrders({ force: true });
    for (let attempt = 1; ; attempt++) {
      await this.invalidate(accountId);
      const [positions, ledger] = await Promise.all([this.positions(accountId), this.ledger(accountId)]);
      const after = await this.orders.liveOrders();
      const stable = fingerprint(before, accountId) === fingerprint(after, accountId);
      if (stable || attempt >= 3) {
        const cash: Record<string, number> = {};
        let netLiquidation: number | undefined;
        for (const l of ledger) {
          if (l.cashBalance !== undefined) cash[l.currency] = l.cashBalance;
          if (l.currency === 'BASE') netLiquidation = l.netLiquidation;
        }
        return {
          accountId,
          positions: positions.filter((p) => p.quantity !== 0),
          cash,
          netLiquidation,
          openOrders: after.filter((o) => (!o.account || o.account === accountId) && !isTerminalStatus(o.status)),
          asOf: Date.now(),
          attempts: attempt,
        };
      }
      before = after;
    }
  }
}

function fingerprint(orders: LiveOrder[], accountId: string): string {
  return orders
    .filter((o) => !o.account || o.account === accountId)
    .map((o) => `${o.orderId}:${o.status}:${o.filledQuantity ?? ''}`)
    .sort()
    .join('|');
}
