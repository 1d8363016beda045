/**
 * The request pipeline every sub-API goes through:
 *
 *   prime (accounts first) → pacer (shared budget, priority) → transport → error mapping → decode
 *
 * Reads (GETs and POSTs that change nothing) are retried with backoff on timeouts, 5xx, "no bridge"
 * and 429 (after the penalty). Writes are never retried here, with one exception: "no bridge"
 * (real gateways answer HTTP 400 `{"error":"Bad Request: no bridge"}` right after login and after a
 * reset; reference §1.7 catalog, Voyz/ibind #104) means the brokerage session is not ready and the
 * request never reached it, so it is repeated once the session had time to come up. Any other
 * failed order placement is resolved by the orders module, by looking its cOID up.
 */
import type { z } from 'zod';
import type { Logger } from '../log/logger.ts';
import { silentLogger } from '../log/logger.ts';
import { isRetryable } from '../util/errors.ts';
import { ApiError, IbkrError, NotAuthenticatedError, RateLimitedError } from './errors.ts';
import { decode } from './decode.ts';
import { OAuthError } from './oauth/errors.ts';
import type { Pacer, Priority } from './pacing.ts';
import type { HttpRequest, HttpResponse, HttpTransport } from './transport.ts';

export type Priming = 'none' | 'iserver' | 'portfolio';

export interface ApiRequest<S extends z.ZodType> extends HttpRequest {
  schema: S;
  priority?: Priority;
  /** True for calls that can be repeated without effect (all GETs are). */
  idempotent?: boolean;
  /** Which "call this first" rule applies (§11.2, §11.22). */
  requires?: Priming;
  /** Keep a 2xx `{error: ...}` body for the caller instead of throwing (order endpoints). */
  allowErrorBody?: boolean;
  /** Override the number of retries of an idempotent call. */
  retries?: number;
}

export interface ApiHooks {
  /** Makes sure `/iserver/accounts` or `/portfolio/accounts` was called in this session. */
  ensurePrimed(kind: Exclude<Priming, 'none'>): Promise<void>;
  /** True when the priming of `kind` is done (no need to wait). */
  isPrimed(kind: Exclude<Priming, 'none'>): boolean;
  /** Forgets the priming (the gateway said "Please query /accounts first"). */
  resetPriming(kind: Exclude<Priming, 'none'>): void;
  /** A 401 arrived: the session is gone. */
  onUnauthenticated(endpoint: string): void;
  /** A call succeeded (the session is alive). */
  onSuccess(): void;
}

export interface ApiOptions {
  logger?: Logger;
  /** Backoff after a 429 when the answer carries no Retry-After; default 60 s (§9.4). */
  rateLimitBackoffMs?: number;
  /** Base delay of read retries; default 250 ms, doubling. */
  retryBaseMs?: number;
  /** Retries of idempotent calls; default 3. */
  retries?: number;
  /** Time without a 429 after which the halved budget returns to full; default 60 s. */
  rateLimitRestoreMs?: number;
}

/** Reads are repeated after this many 429s at most (each waits out the penalty first). */
const MAX_RATE_LIMIT_RETRIES = 6;


export class GatewayApi {
  readonly log: Logger;
  private hooks: ApiHooks | undefined;
  private readonly rateLimitBackoffMs: number;
  private readonly retryBaseMs: number;
  private readonly retries: number;
  private readonly rateLimitRestoreMs: number;

  constructor(
    readonly transport: HttpTransport,
    readonly pacer: Pacer,
    opts: ApiOptions = {},
  ) {
    this.log = opts.logger ?? silentLogger;
    this.rateLimitBackoffMs = opts.rateLimitBackoffMs ?? 60_000;
    this.retryBaseMs = opts.retryBaseMs ?? 250;
    this.retries = opts.retries ?? 3;
    this.rateLimitRestoreMs = opts.rateLimitRestoreMs ?? 60_000;
  }

  setHooks(hooks: ApiHooks): void {
    this.hooks = hooks;
  }

  get baseUrl(): string {
    return this.transport.baseUrl;
  }

  /** Sends a request through the whole pipeline and returns the decoded body. */
  async request<S extends z.ZodType>(req: ApiRequest<S>): Promise<z.output<S>> {
    const res = await this.requestRaw(req);
    return decode(req.schema, res.json ?? (res.text.trim() === '' ? null : res.text), this.transport.endpointName(req));
  }

  /** Like `request` but returns the raw response after error mapping (no decoding). */
  async requestRaw(req: Omit<ApiRequest<z.ZodType>, 'schema'>): Promise<HttpResponse> {
    const idempotent = req.idempotent ?? req.method === 'GET';
    const maxRetries = idempotent ? (req.retries ?? this.retries) : 0;
    const endpoint = this.transport.endpointName(req);
    let primingRetried = false;
    let rateLimited = 0;
    for (let attempt = 0; ; attempt++) {
      // Await only when priming is still to do: an extra await would queue this call behind calls
      // made later, and the pacer serves each priority first come, first served.
      if (req.requires && req.requires !== 'none' && this.hooks && !this.hooks.isPrimed(req.requires)) {
        await this.hooks.ensurePrimed(req.requires);
      }
      try {
        const res = await this.pacer.schedule({ method: req.method, path: req.path, priority: req.priority }, () =>
          this.transport.send(req),
        );
        this.check(res, req, endpoint);
        this.hooks?.onSuccess();
        return res;
      } catch (err) {
        // "Please query /accounts first": prime again and repeat once; the call was not processed.
        if (err instanceof ApiError && err.code === 'IBKR_QUERY_ACCOUNTS_FIRST' && !primingRetried && this.hooks) {
          primingRetried = true;
          const kind = req.path.startsWith('/portfolio') ? 'portfolio' : 'iserver';
          this.hooks.resetPriming(kind);
          await this.hooks.ensurePrimed(kind);
          attempt--;
          continue;
        }
        if (err instanceof RateLimitedError && idempotent && rateLimited < MAX_RATE_LIMIT_RETRIES) {
          // The pacer holds every send until the penalty is over; a 429 is not a failed attempt.
          rateLimited++;
          attempt--;
          continue;
        }
        // "no bridge": the brokerage session is not ready and the request was not processed, so even a POST may repeat.
        const noBridge = err instanceof ApiError && err.code === 'IBKR_NO_BRIDGE';
        // By the error's flag alone; an OAuth refusal was already signed anew and re-sent once by the
        // transport (oauth/signer.ts): its flag is for the caller, not for another round here.
        if (attempt >= (noBridge ? Math.max(maxRetries, this.retries) : maxRetries) || !isRetryable(err) || err instanceof OAuthError) throw err;
        const wait =
          err instanceof RateLimitedError
            ? 0 // the pacer itself holds every send until the penalty is over
            : noBridge
              ? 1000 * (attempt + 1)
              : this.retryBaseMs * 2 ** attempt;
        this.log.debug({ endpoint, attempt: attempt + 1, wait, err: (err as Error).message }, 'retrying gateway read');
        if (wait) await sleep(wait);
      }
    }
  }

  /** Throws the typed error for a failed answer. */
  private check(res: HttpResponse, req: Omit<ApiRequest<z.ZodType>, 'schema'>, endpoint: string): void {
    const message = gatewayMessage(res);
    if (res.status === 401) {
      this.hooks?.onUnauthenticated(endpoint);
      throw new NotAuthenticatedError(this.transport.baseUrl, endpoint, message || 'not authenticated');
    }
    if (res.status === 429) {
      const ra = retryAfterMs(res.headers['retry-after']) ?? this.rateLimitBackoffMs;
      this.log.warn({ endpoint, backoffMs: ra }, 'gateway answered 429; pausing all requests');
      this.pacer.rateLimited(ra, this.rateLimitRestoreMs);
      throw new RateLimitedError(endpoint, ra);
    }
    if (res.status < 200 || res.status >= 300) {
      throw new ApiError(endpoint, res.status, message || `HTTP ${res.status}`);
    }
    if (res.json === undefined && /^\s*</.test(res.text)) {
      // An HTML page where JSON belongs: the "Access Denied" page of the IP allow-list, or the login page.
      throw new ApiError(
        endpoint,
        res.status,
        `the gateway answered an HTML page instead of JSON ("${message.slice(0, 80)}"): allow this machine's IP in ` +
          "the gateway's conf.yaml (ips.allow), and log in at the gateway URL",
      );
    }
    if (!req.allowErrorBody && isErrorBody(res.json)) {
      const msg = String((res.json as { error: unknown }).error);
      if (/^not authenticated$/i.test(msg)) {
        this.hooks?.onUnauthenticated(endpoint);
        throw new NotAuthenticatedError(this.transport.baseUrl, endpoint, msg);
      }
      throw new ApiError(endpoint, res.status, msg);
    }
  }
}

export function isErrorBody(json: unknown): json is { error: unknown } {
  return (
    json !== null &&
    typeof json === 'object' &&
    !Array.isArray(json) &&
    'error' in json &&
    (json as { error: unknown }).error !== null &&
    (json as { error: unknown }).error !== undefined &&
    (json as { error: unknown }).error !== ''
  );
}

/** The gateway's error text: JSON `error`/`detail`/`message`, or the first words of an HTML/text page. */
export function gatewayMessage(res: HttpResponse): string {
  const j = res.json as Record<string, unknown> | undefined;
  if (j && typeof j === 'object' && !Array.isArray(j)) {
    for (const k of ['error', 'detail', 'message', 'title']) {
      const v = j[k];
      if (typeof v === 'string' && v) return v;
      if (v && typeof v === 'object') return JSON.stringify(v);
    }
  }
  const text = res.text.replace(/<[^>]*>/g, ' ').replace(/\s+/g, ' ').trim();
  return text.slice(0, 200);
}

function retryAfterMs(h: string | string[] | undefined): number | undefined {
  const v = Array.isArray(h) ? h[0] : h;
  if (!v) return undefined;
  const secs = Number(v);
  if (Number.isFinite(secs)) return Math.max(0, secs * 1000);
  const at = Date.parse(v);
  return Number.isFinite(at) ? Math.max(0, at - Date.now()) : undefined;
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

export { IbkrError };
