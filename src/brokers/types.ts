/**
 * The one interface through which the engine talks to a broker. The engine imports nothing else
 * from `brokers/` implementations, `ibkr/` or the network: everything it needs about a broker is
 * here, in plain numbers and strings (no gateway formatting, no IBKR field ids).
 *
 * Session keep-alive and recovery belong to the implementation (for IBKR: the client's session);
 * the trading node only listens to `ConnectionEvent`s. Placements are serialised by the
 * implementation when its API needs it (IBKR's question/reply chains).
 */
import { UserError } from '../util/errors.ts';

export type Side = 'BUY' | 'SELL';
export type SecType = 'STK' | 'CRYPTO';

/** What a strategy file says about an instrument. */
export interface InstrumentSpec {
  symbol: string;
  secType: SecType;
  exchange: string;
  currency: string;
  conid?: number | undefined;
}

/** An instrument the broker knows, with its contract id. */
export interface Instrument extends InstrumentSpec {
  conid: number;
}

/**
 * Normalised order status. `Unknown` means the broker could not say (e.g. a placement whose answer
 * was lost): the order manager resolves it by looking the cOID up.
 */
export type BrokerOrderStatus =
  | 'PendingSubmit'
  | 'PreSubmitted'
  | 'Submitted'
  | 'PendingCancel'
  | 'Filled'
  | 'Cancelled'
  | 'Inactive'
  | 'Unknown';

export interface OrderRequest {
  /** Client order id: unique per account, journalled before the order is sent. */
  cOID: string;
  instrument: Instrument;
  side: Side;
  /** Units. Exactly one of quantity / cashQty. */
  quantity?: number | undefined;
  /** Notional in the instrument's currency (crypto market buys). */
  cashQty?: number | undefined;
  orderType: 'MKT' | 'LMT';
  limitPrice?: number | undefined;
  tif: 'DAY' | 'IOC' | 'GTC';
  outsideRth?: boolean | undefined;
}

/** Both legs of a pair as one combo (spread) order; ratios are signed (+ buy, - sell) per unit. */
export interface ComboOrderRequest {
  cOID: string;
  legs: { instrument: Instrument; ratio: number }[];
  /** Number of combo units. */
  quantity: number;
  side: Side;
  orderType: 'MKT';
  tif: 'DAY';
}

export interface PlaceResult {
  brokerOrderId: string;
  status: BrokerOrderStatus;
}

/** An order as the broker sees it. */
export interface BrokerOrder {
  brokerOrderId: string;
  cOID?: string | undefined;
  conid: number;
  side: Side;
  /** 0 when the broker did not say (IBKR `sor` rows may lack `totalSize`). */
  totalQty: number;
  filledQty: number;
  /** Undefined when the update did not carry it (later partial-fill rows): keep the last known. */
  avgPrice?: number | undefined;
  status: BrokerOrderStatus;
  /** Broker's reason for a rejection or cancellation, when it gives one. */
  text?: string | undefined;
}

export interface Fill {
  execId: string;
  /** '' when the broker's execution row does not say (IBKR rows often carry only `order_ref`). */
  brokerOrderId: string;
  cOID?: string | undefined;
  conid: number;
  side: Side;
  qty: number;
  price: number;
  commission: number;
  /** Epoch ms. */
  time: number;
}

export interface Position {
  conid: number;
  symbol?: string | undefined;
  /** Signed: negative is short. */
  qty: number;
  avgCost: number;
}

export interface AccountInfo {
  id: string;
  isPaper: boolean;
}

export interface Balance {
  currency: string;
  cash: number;
  netLiquidation: number;
}

/** One market-data update, stamped with the data's own time (epoch ms), not the local clock. */
export interface Tick {
  conid: number;
  time: number;
  price: number;
  size?: number | undefined;
}

export interface HistoryBar {
  /** Bar start, epoch ms UTC. */
  time: number;
  open: number;
  high: number;
  low: number;
  close: number;
  volume: number;
}

export type ConnectionEvent =
  /** The session or stream went away (reset, timeout, dropped websocket, competing login). */
  | { kind: 'down'; reason: string }
  /**
   * The session was restored, or the stream reconnected by itself. Nothing is replayed after a
   * reconnect, so the listener reconciles orders and positions.
   */
  | { kind: 'up'; what: 'session' | 'stream' };

export interface BrokerListeners {
  onTick?: (tick: Tick) => void;
  /** The data source's time moved (any market-data update, a trade or not): epoch ms. */
  onTime?: (time: number) => void;
  onOrder?: (order: BrokerOrder) => void;
  onFill?: (fill: Fill) => void;
  onConnection?: (event: ConnectionEvent) => void;
}

/**
 * Every error a `Broker` throws carries a stable `code` and whether repeating the same call later
 * may succeed (`retryable`), in the manner of undici's `code` and zod's issue codes: callers decide
 * by these, never by the message text. It extends `UserError` because the usual causes (gateway
 * down, not logged in, a refusal) are for the user to fix; the CLI prints the message.
 */
export class BrokerError extends UserError {
  override name = 'BrokerError';
  override readonly brokerSide = true;
  declare readonly code: BrokerErrorCode;
  constructor(message: string, code: BrokerErrorCode, retryable: boolean, options?: { cause?: unknown }) {
    super(message, { code, retryable, cause: options?.cause });
  }
}

export type BrokerErrorCode =
  /** No answer in time, connection refused or reset, 5xx, 429: the same call may work later. */
  | 'BROKER_UNAVAILABLE'
  /** No (brokerage) session: a login or session recovery is needed first. */
  | 'NOT_AUTHENTICATED'
  /** The broker answered with an error about the request itself (4xx, unknown contract). */
  | 'BROKER_REQUEST_FAILED'
  /** The answer does not decode (junk, a missing or impossible quantity): not to be believed; read again. */
  | 'BROKER_BAD_ANSWER'
  /** The order was refused and not placed. */
  | 'ORDER_REJECTED'
  /** The broker already has an order with this cOID: the first send went through. */
  | 'DUPLICATE_COID'
  /** The placement's outcome is unknown: look the cOID up, never send it again. */
  | 'PLACEMENT_UNCERTAIN';

/** Whether an error says the same call may succeed later (by its `retryable` flag only). */
export { isRetryable } from '../util/errors.ts';

/**
 * A placement whose outcome is unknown (timeout, 5xx, dropped connection after sending). The order
 * may or may not exist at the broker: the caller must look its cOID up, never send it again blindly.
 */
export class PlacementUncertainError extends BrokerError {
  override name = 'PlacementUncertainError';
  constructor(
    readonly cOID: string,
    readonly reason: string,
    options?: { cause?: unknown },
  ) {
    super(`placement of ${cOID} has an unknown outcome: ${reason}`, 'PLACEMENT_UNCERTAIN', false, options);
  }
}

/**
 * The broker refused the order (rejection text, invalid order, duplicate cOID): the one rejection
 * error of every layer (code ORDER_REJECTED or DUPLICATE_COID), defined in util/errors.ts so the
 * IBKR client below this interface throws the same class.
 */
export { OrderRejectedError } from '../util/errors.ts';

export interface Broker {
  readonly name: string;
  /** Checks the session and primes it (accounts). Throws a clear error when it cannot. */
  connect(): Promise<void>;
  accounts(): Promise<AccountInfo[]>;
  /** Selects the account every later call trades and reads. */
  useAccount(accountId: string): void;
  resolveInstrument(spec: InstrumentSpec): Promise<Instrument>;
  balance(): Promise<Balance>;
  positions(): Promise<Position[]>;
  /** Orders of the current session (working and finished). */
  orders(): Promise<BrokerOrder[]>;
  /**
   * The order placed with this cOID, if the broker shows it (by order status when `brokerOrderId`
   * is known, live orders, executions). Undefined is NOT a proof that it does not exist.
   */
  findOrderByCoid(cOID: string, brokerOrderId?: string): Promise<BrokerOrder | undefined>;
  placeOrder(req: OrderRequest): Promise<PlaceResult>;
  placeCombo?(req: ComboOrderRequest): Promise<PlaceResult>;
  cancelOrder(brokerOrderId: string): Promise<void>;
  /** Executions of the recent days. */
  fills(): Promise<Fill[]>;
  history(instrument: Instrument, barMinutes: number, bars: number): Promise<HistoryBar[]>;
  /** Latest prices, stamped with the data's own time (for polled bars). */
  snapshot(instruments: Instrument[]): Promise<Tick[]>;
  /** Starts the stream: market data for these instruments, orders and fills. Called once per node. */
  subscribe(instruments: Instrument[], listeners: BrokerListeners): Promise<void>;
  close(): Promise<void>;
}
