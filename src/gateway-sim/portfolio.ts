/**
 * Accounts, cash and positions. Cash is USD only; positions carry average cost and realised P&L.
 * Marks come from the market's last price at the simulated time.
 */
export interface Position {
  conid: number;
  qty: number;
  /** Average cost per unit, commissions included. */
  avgCost: number;
  realized: number;
}

export interface Account {
  id: string;
  paper: boolean;
  cash: number;
  /** Net liquidation at the start of the simulated day (the last reset), for daily P&L. */
  startCash: number;
  positions: Map<number, Position>;
  commissions: number;
}

export function newAccount(id: string, paper: boolean, cash: number): Account {
  return { id, paper, cash, startCash: cash, positions: new Map(), commissions: 0 };
}

/** Applies a fill: signed quantity (+ buy, - sell) at a price, with a commission in USD. */
export function applyFill(acct: Account, conid: number, signedQty: number, price: number, commission: number): void {
  acct.cash -= signedQty * price + commission;
  acct.commissions += commission;
  const pos = acct.positions.get(conid) ?? { conid, qty: 0, avgCost: 0, realized: 0 };
  const q0 = pos.qty;
  const q1 = q0 + signedQty;
  const costPerUnit = price + commission / Math.abs(signedQty);
  if (q0 === 0 || Math.sign(q0) === Math.sign(signedQty)) {
    // Opening or adding: weighted average cost.
    pos.avgCost = (pos.avgCost * Math.abs(q0) + costPerUnit * Math.abs(signedQty)) / Math.abs(q1);
  } else {
    // Reducing or flipping: realise P&L on the closed part.
    const closed = Math.min(Math.abs(signedQty), Math.abs(q0));
    pos.realized += closed * (price - pos.avgCost) * Math.sign(q0) - commission * (closed / Math.abs(signedQty));
    if (Math.abs(signedQty) > Math.abs(q0)) pos.avgCost = costPerUnit;
  }
  pos.qty = Math.abs(q1) < 1e-9 ? 0 : Number(q1.toFixed(8));
  acct.positions.set(conid, pos);
}

/** Commission model: IBKR Pro fixed-like for stocks, percentage with a minimum for crypto (§6.12). */
export function commissionFor(secType: string, qty: number, price: number): number {
  const notional = Math.abs(qty) * price;
  if (secType === 'CRYPTO') return Math.max(1.75, notional * 0.0018);
  return Math.min(Math.max(1, Math.abs(qty) * 0.005), notional * 0.01);
}
