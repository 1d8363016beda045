/**
 * `IbkrClient`: the typed client of the Client Portal Web API, assembled from the layers:
 *
 *   transport (undici, TLS, headers) → pacer (shared budget) → api (errors, retries, priming, decode)
 *   → sub-APIs: session, contracts, marketData, orders, portfolio, stream
 *
 * One client = one pacing budget: every sub-API and the engine's callers share it.
 */
import { join } from 'node:path';
import { UserError } from '../util/errors.ts';
import type { Logger } from '../log/logger.ts';
import { silentLogger } from '../log/logger.ts';
import { GatewayApi } from './api.ts';
import { ContractCache, CONTRACT_CACHE_FILE } from './contract-cache.ts';
import { ContractsApi } from './contracts.ts';
import { MarketDataApi } from './market-data.ts';
import { OrdersApi, type ReplyPolicy } from './orders.ts';
import { Pacer, type PacerOptions } from './pacing.ts';
import { PortfolioApi } from './portfolio.ts';
import { Session, type SessionOptions } from './session.ts';
import { IbkrStream, type StreamOptions } from './stream.ts';
import type { TlsOptions } from './tls.ts';
import { HttpTransport } from './transport.ts';
import { OAuthSigner, type OAuthCredentials } from './oauth/signer.ts';
import { DIRECT_ACCESS_REQUESTS_PER_SECOND, MAX_REQUESTS_PER_SECOND } from './pacing.ts';

export interface IbkrClientOptions {
  /** Gateway URL, e.g. `https://localhost:5000` (the `/v1/api` base is added when missing). */
  baseUrl: string;
  tls?: TlsOptions;
  /** Global request budget; default 10/s through the gateway, 40/s with OAuth; at most `maxRequestsCeiling`. */
  maxRequestsPerSecond?: number;
  /** Highest accepted budget: 40 unless raised; OAuth connections may raise it up to IBKR's 50/s. */
  maxRequestsCeiling?: number;
  /** Direct OAuth 1.0a connection to api.ibkr.com instead of the gateway (`baseUrl` is then IBKR's API). */
  oauth?: OAuthCredentials & { renewBeforeMs?: number };
  /** Time limit of every HTTP call; default 15 s. */
  timeoutMs?: number;
  logger?: Logger;
  /** Directory of `ibkr_contract_cache.json`; without it the contract cache lives in memory only. */
  dataDir?: string;
  userAgent?: string;
  replyPolicy?: ReplyPolicy;
  session?: SessionOptions;
  /** Stream tuning (heartbeat, renewal, reconnect). */
  stream?: Partial<Pick<StreamOptions, 'heartbeatTimeoutMs' | 'ticIntervalMs' | 'renewMs' | 'reconnectBaseMs' | 'reconnectMaxMs'>> & {
    /** Bar size used to fill an outage after a reconnect; default `1min`; `false` disables it. */
    gapFillBar?: string | false;
  };
  /** Backoff after a 429 without Retry-After; default 60 s. */
  rateLimitBackoffMs?: number;
  /** A 429 halves the budget; it returns to full after this long without another 429 (default 60 s). */
  rateLimitRestoreMs?: number;
  /** Pacer internals (tests and the benchmark record send times through `onSend`). */
  pacing?: Omit<PacerOptions, 'maxRequestsPerSecond'>;
  /** Live-orders reads when looking a cOID up after an uncertain placement; default 3. */
  orderLookupReads?: number;
  /** Retries of idempotent calls (default 3) and their base delay (default 250 ms). */
  retries?: number;
  retryBaseMs?: number;
}

export class IbkrClient {
  readonly transport: HttpTransport;
  readonly pacer: Pacer;
  readonly api: GatewayApi;
  readonly session: Session;
  readonly contracts: ContractsApi;
  readonly contractCache: ContractCache;
  readonly marketData: MarketDataApi;
  readonly orders: OrdersApi;
  readonly portfolio: PortfolioApi;
  readonly stream: IbkrStream;
  readonly log: Logger;
  /** The OAuth signer (live session token) in OAuth mode; undefined through the gateway. */
  readonly oauth: OAuthSigner | undefined;

  constructor(opts: IbkrClientOptions) {
    this.log = opts.logger ?? silentLogger;
    this.transport = new HttpTransport({ baseUrl: opts.baseUrl, tls: opts.tls, userAgent: opts.userAgent, timeoutMs: opts.timeoutMs });
    if (opts.oauth) {
      this.oauth = new OAuthSigner(opts.oauth, { renewBeforeMs: opts.oauth.renewBeforeMs });
      this.oauth.attach(this.transport);
    }
    if (!opts.oauth && (opts.maxRequestsCeiling ?? MAX_REQUESTS_PER_SECOND) > MAX_REQUESTS_PER_SECOND) {
      throw new UserError(`a pacing ceiling above ${MAX_REQUESTS_PER_SECOND}/s is for OAuth connections only (IBKR allows ${DIRECT_ACCESS_REQUESTS_PER_SECOND}/s there, 10/s through the gateway).`, 'TANDEM_CONFIG_INVALID');
    }
    this.pacer = new Pacer({
      ...opts.pacing,
      maxRequestsPerSecond: opts.maxRequestsPerSecond ?? (opts.oauth ? MAX_REQUESTS_PER_SECOND : undefined),
      ceiling: opts.maxRequestsCeiling,
    });
    this.api = new GatewayApi(this.transport, this.pacer, {
      logger: this.log,
      rateLimitBackoffMs: opts.rateLimitBackoffMs,
      rateLimitRestoreMs: opts.rateLimitRestoreMs,
      retries: opts.retries,
      retryBaseMs: opts.retryBaseMs,
    });
    this.orders = new OrdersApi(this.api, { replyPolicy: opts.replyPolicy, lookupReads: opts.orderLookupReads });
    const userReady = opts.session?.onBrokerageReady;
    this.session = new Session(this.api, {
      ...opts.session,
      // Suppression lasts one brokerage session: re-applied after each new one (§6.3).
      onBrokerageReady: async () => {
        const ids = this.orders.replyPolicy.suppressAtStart;
        if (ids.length) {
          try {
            await this.orders.suppress(ids);
          } catch (err) {
            this.log.warn({ err: (err as Error).message }, 'could not suppress order questions');
          }
        }
        await userReady?.();
      },
    });
    this.contractCache = new ContractCache(opts.dataDir ? join(opts.dataDir, CONTRACT_CACHE_FILE) : undefined, this.log);
    this.contracts = new ContractsApi(this.api, this.contractCache);
    this.marketData = new MarketDataApi(this.api);
    this.portfolio = new PortfolioApi(this.api, this.orders);
    const gapBar = opts.stream?.gapFillBar ?? '1min';
    this.stream = new IbkrStream({
      baseUrl: this.transport.baseUrl,
      tls: this.transport.tls,
      userAgent: this.transport.userAgent,
      getToken: async () => (await this.session.tickle()).session ?? this.session.token,
      cookies: () => this.transport.cookieHeader(),
      ...(this.oauth ? { query: () => ({ oauth_token: this.oauth!.accessToken }) } : {}),
      logger: this.log,
      ...opts.stream,
      fillGap: gapBar === false ? undefined : (conid, from, to) => this.marketData.history(conid, { bar: gapBar, from, to }),
    });
    this.watchStreamStatus(opts.session?.autoReauthenticate ?? true);
  }

  /** Wires the stream's session pushes (`sts`) to the session: a lost session is recovered at once. */
  private watchStreamStatus(autoReauthenticate: boolean): void {
    this.stream.on('status', (st) => {
      if (st.authenticated === false || st.competing === true) {
        this.log.warn({ status: st }, 'the gateway reports the brokerage session lost');
        if (autoReauthenticate) {
          this.session.recover().catch((err: unknown) => this.log.warn({ err: (err as Error).message }, 'session recovery failed'));
        }
      }
    });
  }

  get baseUrl(): string {
    return this.transport.baseUrl;
  }

  /**
   * Start-up for trading: brokerage session open, accounts primed, question suppression applied,
   * keep-alive running.
   */
  async connect(): Promise<void> {
    await this.session.ensureBrokerage();
    this.session.startKeepAlive();
  }

  /** Stops timers, the stream and the pacer; closes the keep-alive connections. */
  async close(): Promise<void> {
    this.session.stopKeepAlive();
    this.stream.close();
    this.pacer.close();
    await this.transport.close();
  }
}
