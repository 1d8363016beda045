/**
 * Options of the simulator and the two realism profiles. Every behaviour of §12.3 of the reference
 * that a client has to survive sits behind one flag here, so a test can pick 'ideal' (a well-behaved
 * gateway) or 'realistic' (the default: the quirks switched on) and override single flags.
 */
import type { Logger } from '../log/logger.ts';

export interface RealismFlags {
  /** 403 for requests without a User-Agent (§1.3, §11 item 6). */
  requireUserAgent: boolean;
  /** 411 for POSTs without Content-Length (§1.3, §11 item 6). */
  requireContentLength: boolean;
  /** First snapshot of a conid returns identity only (§5.1). */
  snapshotPreflight: boolean;
  /** Minimum real time between the pre-flight and the first snapshot with data. */
  snapshotWarmupMs: number;
  /** First /iserver/account/orders of a session is `{"orders":[],"snapshot":false}` (§6.7). */
  liveOrdersPreflight: boolean;
  /** First /iserver/account/trades read of a session is `[]` (§11 item 21). */
  tradesEmptyFirstRead: boolean;
  /** First pnl/partitioned read of a session is `{"upnl":{}}` (§3.7). */
  pnlColdFirstRead: boolean;
  /** First positions read of a session lacks contract details (§7.1). */
  positionsSparseFirstRead: boolean;
  /** Cached positions are refreshed only this often (ms) or on invalidate; 0 = always fresh (§7.6). */
  positionsCacheMs: number;
  /** /iserver market data and order routes refuse service before GET /iserver/accounts (§11 item 2). */
  requireAccountsFirst: boolean;
  /** HTTP status of "Please query /accounts first" (the reference is unsure between 400 and 500). */
  accountsFirstStatus: number;
  /** /portfolio routes before GET /portfolio/accounts answer 500 (§7, §12.3 item 5). */
  requirePortfolioAccountsFirst: boolean;
  /** "no bridge" window (ms) after ssodh/init during which /iserver routes answer "no bridge" (§11 item 3). */
  noBridgeMs: number;
  /** Reply ids expire after this long (ms) (§6.2). */
  replyTtlMs: number;
  /** Any other order request invalidates a pending reply id (§6.2, §11 item 14). */
  replyInvalidatedByOtherOrders: boolean;
  /** Ask the reply questions of §6.3 at all. */
  questions: boolean;
  /** `smd` subscriptions end after this long (ms); 0 = never (§8.5, April 2026). */
  smdExpiryMs: number;
  /** Brokerage session reset at 01:00 New York time on the simulated clock (§2.2). */
  nightlyReset: boolean;
  /** Delay (real ms) from PreSubmitted to Submitted/first fill check (§6.13). */
  submitDelayMs: number;
  /** Delay (real ms) from PendingCancel to Cancelled (§6.6). */
  cancelDelayMs: number;
  /** Send websocket frames as binary messages (§8.2). */
  wsBinaryFrames: boolean;
  /** The websocket needs the session token (cookie `api` or a first `{"session":...}` frame) (§8.1). */
  wsRequireSession: boolean;
  /** A live-orders read with `filters` pauses `sor` pushes until a `force=true` read (§6.7). */
  filtersPauseSor: boolean;
  /**
   * Paper user without shared market data (§5.2, §10): snapshots, `smd` and history show data 15
   * minutes old with availability `DPB` / `D`, while orders still fill at the current market. Off in
   * both profiles; switch it on to test a client against delayed data.
   */
  delayedMarketData: boolean;
  /** HTTP status of "no bridge" during the init window: 400 `Bad Request: no bridge` (reference §1.7 catalog; ibind #104) or 503. */
  noBridgeStatus: number;
  /** Live orders answer empty while US stocks are outside regular hours (Voyz/ibind #43): crypto orders vanish every night. */
  liveOrdersEmptyOutsideRth: boolean;
  /** Live orders answer empty for this long (real ms) after a brokerage session starts (ibind #43, §6.7). */
  liveOrdersEmptyAfterLoginMs: number;
  /** `force=true` answers `{}` instead of `{"orders":[],"snapshot":false}` (Voyz/ibind #90). */
  liveOrdersForceEmptyObject: boolean;
  /** Execution rows (trades, `str`) carry `order_id` (false: only `order_ref` + `execution_id`, as in IBKR's trades example). */
  executionOrderId: boolean;
  /** `str` rows name the contract by `conidex` (no `conid`) and trades rows give `conid` as a string (§6.9, §8.9: types vary). */
  executionConidVariants: boolean;
  /** `sor` rows leave out `totalSize`, and partial-fill deltas leave out `avgPrice` (§8.8: deltas carry only what changed). */
  sorSparse: boolean;
  /** The websocket greeting (system/act/sts) comes this long (real ms) after the session is known; commands before it are dropped. */
  wsGreetingDelayMs: number;
  /** An advisor (FA) login: `/iserver/accounts` lists `All`, allocation groups and profiles besides the accounts. */
  advisorLogin: boolean;
}

export const REALISTIC: RealismFlags = {
  requireUserAgent: true,
  requireContentLength: true,
  snapshotPreflight: true,
  snapshotWarmupMs: 300,
  liveOrdersPreflight: true,
  tradesEmptyFirstRead: true,
  pnlColdFirstRead: true,
  positionsSparseFirstRead: true,
  positionsCacheMs: 5_000,
  requireAccountsFirst: true,
  accountsFirstStatus: 400,
  requirePortfolioAccountsFirst: true,
  noBridgeMs: 1_500,
  replyTtlMs: 30_000,
  replyInvalidatedByOtherOrders: true,
  questions: true,
  smdExpiryMs: 10 * 60_000,
  nightlyReset: true,
  submitDelayMs: 200,
  cancelDelayMs: 200,
  wsBinaryFrames: false,
  wsRequireSession: true,
  filtersPauseSor: true,
  delayedMarketData: false,
  noBridgeStatus: 400,
  liveOrdersEmptyOutsideRth: true,
  liveOrdersEmptyAfterLoginMs: 3_000,
  liveOrdersForceEmptyObject: true,
  executionOrderId: false,
  executionConidVariants: true,
  sorSparse: true,
  wsGreetingDelayMs: 300,
  advisorLogin: false,
};

export const IDEAL: RealismFlags = {
  requireUserAgent: false,
  requireContentLength: false,
  snapshotPreflight: false,
  snapshotWarmupMs: 0,
  liveOrdersPreflight: false,
  tradesEmptyFirstRead: false,
  pnlColdFirstRead: false,
  positionsSparseFirstRead: false,
  positionsCacheMs: 0,
  requireAccountsFirst: false,
  accountsFirstStatus: 400,
  requirePortfolioAccountsFirst: false,
  noBridgeMs: 0,
  replyTtlMs: 30_000,
  replyInvalidatedByOtherOrders: false,
  questions: false,
  smdExpiryMs: 0,
  nightlyReset: false,
  submitDelayMs: 0,
  cancelDelayMs: 0,
  wsBinaryFrames: false,
  wsRequireSession: false,
  filtersPauseSor: false,
  delayedMarketData: false,
  noBridgeStatus: 503,
  liveOrdersEmptyOutsideRth: false,
  liveOrdersEmptyAfterLoginMs: 0,
  liveOrdersForceEmptyObject: false,
  executionOrderId: true,
  executionConidVariants: false,
  sorSparse: false,
  wsGreetingDelayMs: 0,
  advisorLogin: false,
};

export interface PacingOptions {
  enabled: boolean;
  /** Global requests per second (the gateway's limit is 10, §9.1). */
  globalPerSecond: number;
  /** Violations within `violationWindowMs` that put the client in the penalty box. */
  penaltyAfterViolations: number;
  violationWindowMs: number;
  /** Length of the penalty box (10 minutes per current docs, §9.2). */
  penaltyMs: number;
  /** Per-endpoint minimum intervals / rates of §9.3 are applied when true. */
  perEndpoint: boolean;
}

export type SecondFactor = 'none' | 'totp' | 'push';

export interface SimUser {
  username: string;
  password: string;
  secondFactor?: SecondFactor;
  /** Base32 TOTP secret (secondFactor 'totp'). */
  totpSecret?: string;
  /** Push approval: 'hook' waits for POST /sim/login/approve, a number auto-approves after that many ms, 'never' never approves. */
  push?: 'hook' | 'never' | number;
}

export interface SimAccountOptions {
  id?: string;
  cash?: number;
}

export interface SimOptions {
  /** TCP port; 0 picks a free one. Default 0 for startSimulator, 5000 for the CLI. */
  port?: number;
  seed?: number;
  /** Simulated seconds per real second. */
  speed?: number;
  /** Simulated clock start (epoch ms, ISO string or Date); default: now. */
  startTime?: number | string | Date;
  /** Start with an SSO + brokerage session already established (accounts still need priming). */
  authenticated?: boolean;
  /** Which account an `authenticated` start sees: paper (default) or live. */
  paper?: boolean;
  profile?: 'realistic' | 'ideal';
  realism?: Partial<RealismFlags>;
  /** `false` switches pacing off (load benchmarks). */
  pacing?: boolean | Partial<PacingOptions>;
  /** Idle time (real ms) after which the brokerage session ends (default 5 min, §2.2). */
  brokerageTimeoutMs?: number;
  /** Idle time (real ms) after which the SSO session ends (default 6 min, §2.2). */
  ssoTimeoutMs?: number;
  accounts?: { paper?: SimAccountOptions; live?: SimAccountOptions };
  users?: SimUser[];
  /** Fault spec (see faults.ts / docs/simulator.md). */
  faults?: string;
  /** PEM certificate and key; default: a self-signed certificate (cached in the OS temp directory). */
  tls?: { cert: string; key: string };
  /** Generate a new self-signed certificate instead of reusing the cached one. */
  freshCertificate?: boolean;
  logger?: Logger;
  /** Slippage per 100k USD of notional, in basis points (size-dependent fill prices). */
  slippageBpsPer100k?: number;
  /** Split every fill into this many executions (partial fills). */
  partialFillParts?: number;
  /** o383 size limit (units) and o451 value limit (USD). */
  sizeLimit?: number;
  valueLimit?: number;
  /** o163 price constraint, percent away from the last price. */
  priceConstraintPct?: number;
  /** Interval of the engine loop that advances orders (real ms). */
  tickMs?: number;
  /** Websocket heartbeat interval (real ms, §8.3: ~10 s). */
  wsHeartbeatMs?: number;
}

export interface ResolvedOptions {
  port: number;
  seed: number;
  speed: number;
  startTime: number;
  authenticated: boolean;
  paper: boolean;
  profile: 'realistic' | 'ideal';
  realism: RealismFlags;
  pacing: PacingOptions;
  brokerageTimeoutMs: number;
  ssoTimeoutMs: number;
  paperAccount: { id: string; cash: number };
  liveAccount: { id: string; cash: number };
  users: SimUser[];
  faults: string;
  tls?: { cert: string; key: string };
  logger?: Logger;
  slippageBpsPer100k: number;
  partialFillParts: number;
  sizeLimit: number;
  valueLimit: number;
  priceConstraintPct: number;
  tickMs: number;
  wsHeartbeatMs: number;
}

export const DEFAULT_USERS: SimUser[] = [
  { username: 'demo', password: 'demo', secondFactor: 'none' },
  { username: 'totp', password: 'demo', secondFactor: 'totp', totpSecret: 'JBSWY3DPEHPK3PXP' },
  { username: 'push', password: 'demo', secondFactor: 'push', push: 'hook' },
];

function toMs(t: number | string | Date | undefined): number {
  if (t === undefined) return Date.now();
  if (typeof t === 'number') return t;
  const ms = t instanceof Date ? t.getTime() : Date.parse(t);
  if (!Number.isFinite(ms)) throw new Error(`startTime "${String(t)}" is not a date`);
  return ms;
}

export function resolveOptions(o: SimOptions = {}): ResolvedOptions {
  const profile = o.profile ?? 'realistic';
  const base = profile === 'ideal' ? IDEAL : REALISTIC;
  const pacingDefaults: PacingOptions = {
    enabled: profile === 'realistic', globalPerSecond: 10, penaltyAfterViolations: 10, violationWindowMs: 60_000,
    penaltyMs: 10 * 60_000, perEndpoint: true,
  };
  const pacing: PacingOptions = o.pacing === false ? { ...pacingDefaults, enabled: false }
    : o.pacing === true ? { ...pacingDefaults, enabled: true }
    : { ...pacingDefaults, ...(o.pacing ?? {}) };
  return {
    port: o.port ?? 0,
    seed: o.seed ?? 1,
    speed: o.speed ?? 1,
    startTime: toMs(o.startTime),
    authenticated: o.authenticated ?? false,
    paper: o.paper ?? true,
    profile,
    realism: { ...base, ...(o.realism ?? {}) },
    pacing,
    brokerageTimeoutMs: o.brokerageTimeoutMs ?? 5 * 60_000,
    ssoTimeoutMs: o.ssoTimeoutMs ?? 6 * 60_000,
    paperAccount: { id: o.accounts?.paper?.id ?? 'DU1234567', cash: o.accounts?.paper?.cash ?? 1_000_000 },
    liveAccount: { id: o.accounts?.live?.id ?? 'U1234567', cash: o.accounts?.live?.cash ?? 100_000 },
    users: o.users ?? DEFAULT_USERS,
    faults: o.faults ?? '',
    ...(o.tls ? { tls: o.tls } : {}),
    ...(o.logger ? { logger: o.logger } : {}),
    slippageBpsPer100k: o.slippageBpsPer100k ?? 2,
    partialFillParts: o.partialFillParts ?? 1,
    sizeLimit: o.sizeLimit ?? 10_000,
    valueLimit: o.valueLimit ?? 500_000,
    priceConstraintPct: o.priceConstraintPct ?? 3,
    tickMs: o.tickMs ?? 100,
    wsHeartbeatMs: o.wsHeartbeatMs ?? 10_000,
  };
}
