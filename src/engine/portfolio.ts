/**
 * Positions and cash per strategy, and the account total.
 *
 * IBKR holds one net position per contract; the node runs several strategies, so each strategy
 * keeps its own `Book` (holdings and cash moved by the fills of ITS orders, attributed by cOID in
 * the journal). The account position of a contract is the sum of the books; anything the broker
 * holds beyond that is foreign and belongs to no book.
 *
 * Paper mode: a strategy's cash starts at its share of `paper.startingCash` and moves with its fills,
 * so sizing never depends on the paper account's balance. Live mode: a strategy's equity is its share
 * of the account's net liquidation value (refreshed at every portfolio sync).
 */
import type { Side } from '../brokers/types.ts';

export interface Holding {
  conid: number;
  symbol: string;
  qty: number;
  avgCost: number;
}

/** One strategy's holdings and cash. */
export class Book {
  private readonly holdings = new Map<number, Holding>();
  /** The same holdings in the map's order: the mark at every bar walks an array, not a map iterator. */
  private readonly list: Holding[] = [];
  /** The price boxes of `list`'s contracts in the map `markedEquity` was last given (boxes are never replaced). */
  private boxes: ({ price: number } | undefined)[] = [];
  private boxesOf: ReadonlyMap<number, { price: number }> | null = null;

  constructor(
    readonly strategyId: string,
    public cash: number,
  ) {}

  qty(conid: number): number {
    return this.holdings.get(conid)?.qty ?? 0;
  }

  holding(conid: number): Holding | undefined {
    return this.holdings.get(conid);
  }

  all(): Holding[] {
    return [...this.holdings.values()].filter((h) => h.qty !== 0);
  }

  /** Adds the contracts this book holds (non-zero) to a set, in the order of `all()`. */
  heldConids(into: Set<number>): void {
    for (const h of this.holdings.values()) if (h.qty !== 0) into.add(h.conid);
  }

  /** Applies one fill: quantity, average cost and cash. */
  applyFill(conid: number, symbol: string, side: Side, qty: number, price: number, commission: number): Holding {
    const signed = side === 'BUY' ? qty : -qty;
    let h = this.holdings.get(conid);
    if (!h) {
      h = { conid, symbol, qty: 0, avgCost: 0 };
      this.list.push(h);
    }
    const newQty = roundQty(h.qty + signed);
    if (newQty === 0) h.avgCost = 0;
    else if (Math.sign(h.qty) === Math.sign(signed) || h.qty === 0) h.avgCost = (h.avgCost * Math.abs(h.qty) + price * qty) / Math.abs(newQty);
    else if (Math.sign(newQty) !== Math.sign(h.qty)) h.avgCost = price; // crossed through zero
    h.qty = newQty;
    this.holdings.set(conid, h);
    this.cash -= signed * price + commission;
    return h;
  }

  /** Sets a holding (restart: from the journal). */
  setHolding(conid: number, symbol: string, qty: number, avgCost: number): void {
    const h = { conid, symbol, qty: roundQty(qty), avgCost };
    const old = this.holdings.get(conid);
    if (old) this.list[this.list.indexOf(old)] = h;
    else this.list.push(h);
    this.holdings.set(conid, h);
  }

  /** Cash plus positions marked at the given prices (or avg cost when no price yet). */
  markedEquity(prices: ReadonlyMap<number, { price: number }>): number {
    let e = this.cash;
    if (prices !== this.boxesOf) {
      this.boxesOf = prices;
      this.boxes = [];
    }
    const list = this.list;
    const boxes = this.boxes;
    for (let i = 0; i < list.length; i++) {
      const h = list[i]!;
      let box = boxes[i];
      if (box === undefined) box = boxes[i] = prices.get(h.conid);
      e += h.qty * (box?.price ?? h.avgCost);
    }
    return e;
  }
}

const NO_CHANGE: ReadonlyMap<number, number> = new Map();

export class Portfolio {
  private readonly books = new Map<string, Book>();
  /** Latest price per contract, each in a box updated in place (a price a leg a bar: no new number object each time). */
  private readonly prices = new Map<number, { price: number }>();
  /** Live mode: the latest net liquidation value of the account (null until read). */
  accountEquity: number | null = null;

  /** Adds a strategy's book with its starting cash. */
  addBook(strategyId: string, cash: number): Book {
    const b = new Book(strategyId, cash);
    this.books.set(strategyId, b);
    return b;
  }

  book(strategyId: string): Book | undefined {
    return this.books.get(strategyId);
  }

  allBooks(): Book[] {
    return [...this.books.values()];
  }

  setPrice(conid: number, price: number): void {
    this.priceBox(conid).price = price;
  }

  /** A contract's price box, made on first ask and never replaced: a runner keeps its legs' and writes them at every bar. */
  priceBox(conid: number): { price: number } {
    let box = this.prices.get(conid);
    if (!box) this.prices.set(conid, (box = { price: Number.NaN }));
    return box;
  }

  price(conid: number): number | undefined {
    return this.prices.get(conid)?.price;
  }

  /** The account's position in a contract as the books see it: the sum over strategies. */
  accountQty(conid: number): number {
    let q = 0;
    for (const b of this.books.values()) q += b.qty(conid);
    return roundQty(q);
  }

  /** Paper equity of one strategy: its cash plus its positions marked at the latest prices. */
  paperEquity(strategyId: string): number {
    return this.books.get(strategyId)?.markedEquity(this.prices) ?? 0;
  }

  /** Paper equity of a book this portfolio holds (a runner asks at every bar, book in hand). */
  bookEquity(book: Book): number {
    return book.markedEquity(this.prices);
  }

  /** Sum over the books of |qty| x price per contract, after an optional change (asked at every decision). */
  grossNotional(change: ReadonlyMap<number, number> = NO_CHANGE): number {
    const conids = new Set<number>(change.keys());
    for (const b of this.books.values()) b.heldConids(conids);
    let g = 0;
    for (const c of conids) {
      const q = this.accountQty(c) + (change.get(c) ?? 0);
      // Unpriced: the average cost of the first book that has a holding of it.
      let price = this.prices.get(c)?.price;
      if (price === undefined) {
        price = 0;
        for (const b of this.books.values()) {
          const h = b.holding(c);
          if (h) {
            price = h.avgCost;
            break;
          }
        }
      }
      g += Math.abs(q) * price;
    }
    return g;
  }
}

/** Quantities are rounded to 1e-8 so crypto fractions add up without floating dust. */
export function roundQty(q: number): number {
  return Math.round(q * 1e8) / 1e8;
}
