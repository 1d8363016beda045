/**
 * Session handling: auth status, brokerage session (`ssodh/init`), keep-alive, priming, events.
 *
 * Two tiers (§2.1): the read-only SSO session (browser login; enough for /portfolio) and the
 * brokerage session (needed for /iserver: market data, orders). The session object:
 *  - primes the gateway: `GET /iserver/accounts` once per brokerage session before any other /iserver
 *    data call, `GET /portfolio/accounts` once before other /portfolio calls (§11.2, §11.22);
 *  - opens the brokerage session with `ssodh/init` when the gateway is connected but not
 *    authenticated, or when another login competes (compete:true takes it back), and retries while
 *    the gateway answers "no bridge";
 *  - calls `/tickle` on a timer (the session dies after ~5-6 minutes without requests);
 *  - emits `lost` when the session goes away (401, authenticated:false, competing) and `restored`
 *    when it is back, re-priming after every new brokerage session.
 */
import { EventEmitter } from 'node:events';
import { z } from 'zod';
import type { GatewayApi, ApiHooks, Priming } from './api.ts';
import { sleep } from './api.ts';
import { ApiError, NotAuthenticatedError } from './errors.ts';
import { lenientBool, lenientString } from './decode.ts';
import { registerSecret } from '../log/logger.ts';

const authStatusSchema = z.looseObject({
  authenticated: lenientBool,
  connected: lenientBool,
  competing: lenientBool,
  established: lenientBool.optional(),
  message: lenientString.optional(),
  fail: lenientString.optional(),
  serverInfo: z.looseObject({ serverName: lenientString.optional(), serverVersion: lenientString.optional() }).nullish(),
});

export interface AuthStatus {
  authenticated: boolean;
  connected: boolean;
  competing: boolean;
  established?: boolean;
  message: string;
  fail: string;
  serverVersion?: string;
}

function toAuthStatus(s: z.output<typeof authStatusSchema>): AuthStatus {
  return {
    authenticated: s.authenticated ?? false,
    connected: s.connected ?? false,
    competing: s.competing ?? false,
    established: s.established,
    message: s.message ?? '',
    fail: s.fail ?? '',
    serverVersion: s.serverInfo?.serverVersion,
  };
}

const tickleSchema = z.looseObject({
  session: lenientString,
  ssoExpires: z.unknown().optional(),
  iserver: z.looseObject({ authStatus: authStatusSchema.optional() }).nullish(),
  error: z.unknown().optional(),
});

export interface TickleResult {
  /** Session token: the websocket expects it in the `api` cookie. */
  session: string | undefined;
  authStatus: AuthStatus | undefined;
}

const iserverAccountsSchema = z.looseObject({
  accounts: z.array(z.string()).optional(),
  selectedAccount: lenientString.optional(),
  isPaper: lenientBool.optional(),
  aliases: z.record(z.string(), z.unknown()).nullish(),
  allowFeatures: z.looseObject({ allowCrypto: lenientBool.optional() }).nullish(),
  acctProps: z.record(z.string(), z.looseObject({ supportsCashQty: lenientBool.optional(), supportsFractions: lenientBool.optional() })).nullish(),
  sessionId: lenientString.optional(),
  groups: z.array(z.unknown()).nullish(),
  profiles: z.array(z.unknown()).nullish(),
});

/**
 * Splits `/iserver/accounts` entries into real accounts and the rest. An advisor (FA) login lists
 * `All`, its allocation groups and its profiles among the accounts (they also appear in `groups` /
 * `profiles`; reference §8.3 `act` shape); those can never be traded as an account. When `acctProps`
 * describes the accounts, an entry it does not describe is not an account either.
 */
export function splitAccounts(r: { accounts?: string[] | undefined; groups?: unknown[] | null | undefined; profiles?: unknown[] | null | undefined; acctProps?: Record<string, unknown> | null | undefined }): { accounts: string[]; notAccounts: string[] } {
  const names = (xs: unknown[] | null | undefined) => (xs ?? []).map((x) => (typeof x === 'string' ? x : typeof x === 'object' && x && 'name' in x ? String((x as { name: unknown }).name) : String(x)));
  const special = new Set(['All', ...names(r.groups), ...names(r.profiles)]);
  const props = r.acctProps && Object.keys(r.acctProps).length ? r.acctProps : undefined;
  const accounts: string[] = [];
  const notAccounts: string[] = [];
  for (const a of r.accounts ?? []) {
    if (special.has(a) || (props && !(a in props))) notAccounts.push(a);
    else accounts.push(a);
  }
  return { accounts, notAccounts };
}

export interface BrokerageAccounts {
  /** Tradable accounts only. */
  accounts: string[];
  /** Entries of an advisor (FA) login that are not accounts (`All`, allocation groups, profiles). */
  notAccounts: string[];
  selectedAccount: string | undefined;
  isPaper: boolean | undefined;
  allowCrypto: boolean | undefined;
}

export interface SessionEvents {
  /** The session went away; `reason` says how (401, authenticated:false, competing, ...). */
  lost: [{ reason: string; competing: boolean }];
  /** A brokerage session is (again) authenticated and primed. */
  restored: [AuthStatus];
  /** Another login holds the brokerage session (TWS, mobile, portal with the same username). */
  competing: [AuthStatus];
  /** Every status the session saw (tickle or auth/status). */
  status: [AuthStatus];
}

export interface SessionOptions {
  /** How often `/tickle` runs once `startKeepAlive` is called; default 60 s (§2.2). */
  tickleIntervalMs?: number;
  /** Re-open the brokerage session automatically when it drops; default true. */
  autoReauthenticate?: boolean;
  /** Take the brokerage session back from a competing login (ssodh/init compete:true); default true. */
  compete?: boolean;
  /** How long `ensureBrokerage` waits for the bridge after ssodh/init; default 20 s. */
  brokerageWaitMs?: number;
  /**
   * Called after each new brokerage session is primed (e.g. to suppress order questions). Calls made
   * here must use `requires: 'none'`: other /iserver calls wait for this step.
   */
  onBrokerageReady?: () => Promise<void>;
}

export class Session extends EventEmitter<SessionEvents> implements ApiHooks {
  /** Last known state; `undefined` until the first status call. */
  state: AuthStatus | undefined;
  /** Session token from the last /tickle (websocket cookie). */
  token: string | undefined;
  brokerageAccounts: BrokerageAccounts | undefined;
  private iserverPrimed: Promise<void> | undefined;
  private portfolioPrimed: Promise<void> | undefined;
  private iserverDone = false;
  private portfolioDone = false;
  private lost = false;
  /** Whether a brokerage session was ever seen: "lost" only makes sense after that. */
  private hadSession = false;
  private timer: NodeJS.Timeout | undefined;
  private recovering: Promise<void> | undefined;
  private readonly opts: Required<Omit<SessionOptions, 'onBrokerageReady'>> & Pick<SessionOptions, 'onBrokerageReady'>;

  constructor(
    private readonly api: GatewayApi,
    opts: SessionOptions = {},
  ) {
    super();
    this.opts = {
      tickleIntervalMs: opts.tickleIntervalMs ?? 60_000,
      autoReauthenticate: opts.autoReauthenticate ?? true,
      compete: opts.compete ?? true,
      brokerageWaitMs: opts.brokerageWaitMs ?? 20_000,
      onBrokerageReady: opts.onBrokerageReady,
    };
    api.setHooks(this);
  }

  /** `POST /iserver/auth/status`. */
  async status(): Promise<AuthStatus> {
    const s = toAuthStatus(
      await this.api.request({ method: 'POST', path: '/iserver/auth/status', schema: authStatusSchema, idempotent: true }),
    );
    this.observe(s);
    return s;
  }

  /** `POST /tickle`: keeps the session alive and returns the websocket token. */
  async tickle(): Promise<TickleResult> {
    const t = await this.api.request({ method: 'POST', path: '/tickle', schema: tickleSchema, idempotent: true, retries: 1 });
    const authStatus = t.iserver?.authStatus ? toAuthStatus(t.iserver.authStatus) : undefined;
    if (t.session) {
      // The token opens the websocket: never let it reach a log line.
      registerSecret(t.session);
      this.token = t.session;
    }
    if (authStatus) this.observe(authStatus);
    return { session: t.session, authStatus };
  }

  /** `POST /iserver/auth/ssodh/init {"publish":true,"compete":...}`. */
  async initBrokerage(compete = this.opts.compete): Promise<AuthStatus> {
    const s = toAuthStatus(
      await this.api.request({
        method: 'POST',
        path: '/iserver/auth/ssodh/init',
        body: { publish: true, compete },
        schema: authStatusSchema,
        idempotent: true,
        priority: 'order',
      }),
    );
    this.observe(s);
    return s;
  }

  /** `POST /iserver/reauthenticate` (deprecated by IBKR; kept as a fallback). */
  async reauthenticate(): Promise<void> {
    await this.api.request({ method: 'POST', path: '/iserver/reauthenticate', idempotent: true, schema: z.looseObject({ message: lenientString.optional() }) });
  }

  /** `POST /logout`. */
  async logout(): Promise<void> {
    await this.api.request({ method: 'POST', path: '/logout', idempotent: false, schema: z.looseObject({ status: lenientBool.optional(), confirmed: lenientBool.optional() }) });
    this.resetAllPriming();
  }

  /**
   * Read-only session: checks the SSO session with /tickle (401 → NotAuthenticatedError). Enough for
   * the /portfolio endpoints.
   */
  async ensureReadOnly(): Promise<TickleResult> {
    return this.tickle();
  }

  /**
   * Brokerage session: authenticated, connected, not competing, and `/iserver/accounts` called.
   * Opens it with ssodh/init when needed; throws NotAuthenticatedError when there is no SSO session.
   */
  async ensureBrokerage(): Promise<AuthStatus> {
    let s = await this.status();
    const deadline = Date.now() + this.opts.brokerageWaitMs;
    let inits = 0;
    while (!s.authenticated || s.competing || !s.connected) {
      if (s.competing && !this.opts.compete) {
        throw new NotAuthenticatedError(
          this.api.baseUrl,
          'POST /iserver/auth/status',
          'another login (TWS, IBKR Mobile or Client Portal with the same username) holds the brokerage session',
        );
      }
      if (Date.now() > deadline) {
        throw new NotAuthenticatedError(
          this.api.baseUrl,
          'POST /iserver/auth/ssodh/init',
          `the brokerage session did not open within ${this.opts.brokerageWaitMs} ms (${s.fail || s.message || 'authenticated:false'})`,
        );
      }
      if (inits < 3) {
        inits++;
        try {
          s = await this.initBrokerage();
        } catch (err) {
          if (!(err instanceof ApiError)) throw err; // "no bridge" etc.: wait and look again
        }
        if (s.authenticated && !s.competing && s.connected) break;
      }
      await sleep(1000);
      s = await this.status();
    }
    await this.ensurePrimed('iserver');
    if (this.lost) {
      this.lost = false;
      this.emit('restored', s);
    }
    return s;
  }

  /** Accounts of the brokerage session (`GET /iserver/accounts`, re-read). */
  async iserverAccounts(): Promise<BrokerageAccounts> {
    const r = await this.api.request({ method: 'GET', path: '/iserver/accounts', schema: iserverAccountsSchema, priority: 'order' });
    const split = splitAccounts(r);
    const accounts: BrokerageAccounts = {
      accounts: split.accounts,
      notAccounts: split.notAccounts,
      selectedAccount: r.selectedAccount,
      isPaper: r.isPaper,
      allowCrypto: r.allowFeatures?.allowCrypto ?? undefined,
    };
    // A competing session answers `{}` (§2.10): no accounts is not a primed session.
    if (accounts.accounts.length === 0) {
      throw new ApiError('GET /iserver/accounts', 200, 'no brokerage accounts returned (competing session or no brokerage session)');
    }
    this.brokerageAccounts = accounts;
    return accounts;
  }

  // ---- ApiHooks -------------------------------------------------------------------------------

  isPrimed(kind: Exclude<Priming, 'none'>): boolean {
    return kind === 'iserver' ? this.iserverDone : this.portfolioDone;
  }

  ensurePrimed(kind: Exclude<Priming, 'none'>): Promise<void> {
    if (kind === 'iserver') {
      this.iserverPrimed ??= this.iserverAccounts().then(
        async () => {
          await this.opts.onBrokerageReady?.();
          this.iserverDone = true;
        },
        (err: unknown) => {
          this.iserverPrimed = undefined;
          throw err;
        },
      );
      return this.iserverPrimed;
    }
    this.portfolioPrimed ??= this.api
      .request({ method: 'GET', path: '/portfolio/accounts', priority: 'order', schema: z.array(z.looseObject({ id: lenientString })) })
      .then(
        () => {
          this.portfolioDone = true;
        },
        (err: unknown) => {
          this.portfolioPrimed = undefined;
          throw err;
        },
      );
    return this.portfolioPrimed;
  }

  resetPriming(kind: Exclude<Priming, 'none'>): void {
    if (kind === 'iserver') {
      this.iserverPrimed = undefined;
      this.iserverDone = false;
    } else {
      this.portfolioPrimed = undefined;
      this.portfolioDone = false;
    }
  }

  onUnauthenticated(endpoint: string): void {
    this.resetAllPriming();
    this.markLost(`401 not authenticated on ${endpoint}`, false);
  }

  onSuccess(): void {
    /* nothing: liveness is judged from tickle/auth status, not from every call */
  }

  // ---- keep-alive -----------------------------------------------------------------------------

  /** Starts the /tickle timer; session loss and recovery are reported as events. */
  startKeepAlive(): void {
    if (this.timer) return;
    this.timer = setInterval(() => void this.keepAliveTick(), this.opts.tickleIntervalMs);
    this.timer.unref?.();
  }

  stopKeepAlive(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }

  get isLost(): boolean {
    return this.lost;
  }

  /** One keep-alive round (exposed so tests and the engine can run it on demand). */
  async keepAliveTick(): Promise<void> {
    try {
      const t = await this.tickle();
      if (t.authStatus && (!t.authStatus.authenticated || t.authStatus.competing) && this.opts.autoReauthenticate) {
        await this.recover();
      } else if (t.authStatus?.authenticated && this.lost) {
        await this.recover();
      }
    } catch (err) {
      this.api.log.warn({ err: (err as Error).message }, 'tickle failed');
      if (err instanceof NotAuthenticatedError) return; // SSO gone: only a new login helps
    }
  }

  /** Re-opens the brokerage session once (concurrent callers share it). */
  recover(): Promise<void> {
    this.recovering ??= this.ensureBrokerage()
      .then(() => undefined)
      .finally(() => {
        this.recovering = undefined;
      });
    return this.recovering;
  }

  private observe(s: AuthStatus): void {
    const prev = this.state;
    this.state = s;
    this.emit('status', s);
    if (s.authenticated && !s.competing) this.hadSession = true;
    if (s.competing && !prev?.competing) this.emit('competing', s);
    if (!s.authenticated || s.competing) {
      // A new brokerage session must be primed again once it exists.
      this.resetPriming('iserver');
      this.markLost(s.competing ? 'competing session' : 'brokerage session not authenticated', s.competing);
    }
  }

  private markLost(reason: string, competing: boolean): void {
    if (this.lost || !this.hadSession) return;
    this.lost = true;
    this.emit('lost', { reason, competing });
  }

  private resetAllPriming(): void {
    this.resetPriming('iserver');
    this.resetPriming('portfolio');
  }
}
