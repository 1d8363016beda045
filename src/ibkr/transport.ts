/**
 * HTTP transport to the gateway: undici with keep-alive, the TLS policy, a User-Agent on every call,
 * an explicit body (and so a Content-Length) on every POST (§11.6: 403 without User-Agent, 411 without
 * Content-Length), a time limit on every call, and a small cookie jar (the gateway sets
 * `x-sess-uuid`; harmless to return). It knows nothing about pacing or the API's meaning; network
 * failures become GatewayUnreachableError / GatewayTimeoutError.
 */
import { Agent, buildConnector, errors as undiciErrors, request, type Dispatcher } from 'undici';
import type { TLSSocket } from 'node:tls';
import { GatewayCertificateError, GatewayTimeoutError, GatewayUnreachableError, IbkrError } from './errors.ts';
import { checkFingerprint, resolveTls, type ResolvedTls, type TlsOptions } from './tls.ts';

export const DEFAULT_USER_AGENT = 'tandem/0.1 (+https://github.com/tandem-trading/tandem)';
export const DEFAULT_TIMEOUT_MS = 15_000;
/** Largest answer read into memory (a 700 MB body once grew the process to 1.6 GB). */
export const DEFAULT_MAX_BODY_BYTES = 16 * 1024 * 1024;

/** The gateway sent more than the body cap: the body is dropped unread; not retried (it would again). */
export class ResponseTooLargeError extends IbkrError {
  override name = 'ResponseTooLargeError';
  constructor(endpoint: string, readonly limitBytes: number) {
    super(`the gateway's answer to ${endpoint} is larger than ${Math.round(limitBytes / 1048576)} MiB; it was dropped unread. A gateway does not send that much: check gateway.url points at the Client Portal Gateway.`, endpoint, 'IBKR_RESPONSE_TOO_LARGE');
  }
}

export interface TransportOptions {
  /** Gateway API base, e.g. `https://localhost:5000/v1/api` (a bare origin gets `/v1/api` appended). */
  baseUrl: string;
  tls?: TlsOptions;
  userAgent?: string;
  timeoutMs?: number;
  /** Body cap in bytes; default 16 MiB. */
  maxBodyBytes?: number;
  /** Signs requests (OAuth mode); without it requests go out as they are (gateway mode). */
  authorizer?: RequestAuthorizer;
}

/**
 * A request-signing hook (OAuth): it adds headers to every request and may look at every answer.
 * The transport stays ignorant of what the headers mean.
 */
export interface RequestAuthorizer {
  /** Headers for a request about to be sent (may renew credentials first). `url` includes the query. */
  authorize(req: { method: string; url: URL }): Promise<Record<string, string>>;
  /**
   * Sees each answer; may throw a typed error (e.g. a refused signature), or return 'resend' when the
   * server refused the credentials before processing the request (an expired token) and they were
   * renewed: the transport then signs and sends it once more. `resent` is true on that second try.
   */
  inspect?(res: HttpResponse, endpoint: string, resent: boolean): 'resend' | void;
}

export interface HttpRequest {
  method: 'GET' | 'POST' | 'DELETE' | 'PUT';
  /** Path below the API base, starting with `/`. */
  path: string;
  query?: Record<string, string | number | boolean | undefined>;
  /** JSON body; POST/PUT without one sends an empty body with `Content-Length: 0`. */
  body?: unknown;
  timeoutMs?: number;
  /** Extra headers; an `authorization` here bypasses the authorizer (the OAuth token request signs itself). */
  headers?: Record<string, string>;
}

export interface HttpResponse {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  text: string;
  /** Parsed JSON, or undefined when the body is empty or not JSON (HTML error pages, plain text). */
  json: unknown;
}

/** Normalizes a configured gateway URL to its API base (`.../v1/api`, no trailing slash). */
export function normalizeBaseUrl(input: string): URL {
  let u: URL;
  try {
    u = new URL(input);
  } catch {
    throw new GatewayUnreachableError(input, '', 'the URL is not valid (expected e.g. https://localhost:5000)');
  }
  let p = u.pathname.replace(/\/+$/, '');
  if (p === '' || p === '/') p = '/v1/api';
  u.pathname = p;
  u.search = '';
  u.hash = '';
  return u;
}

export class HttpTransport {
  readonly base: URL;
  readonly baseUrl: string;
  readonly tls: ResolvedTls;
  readonly userAgent: string;
  readonly timeoutMs: number;
  readonly maxBodyBytes: number;
  private readonly agent: Agent;
  private readonly cookies = new Map<string, string>();
  private authorizer: RequestAuthorizer | undefined;

  constructor(opts: TransportOptions) {
    this.authorizer = opts.authorizer;
    this.base = normalizeBaseUrl(opts.baseUrl);
    this.baseUrl = this.base.toString().replace(/\/$/, '');
    this.tls = resolveTls(this.base, opts.tls);
    this.userAgent = opts.userAgent ?? DEFAULT_USER_AGENT;
    this.timeoutMs = opts.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    this.maxBodyBytes = opts.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES;
    const tls = this.tls;
    const baseConnector = buildConnector({
      rejectUnauthorized: tls.rejectUnauthorized,
      ...(tls.ca ? { ca: tls.ca } : {}),
      timeout: this.timeoutMs,
    });
    const connect: buildConnector.connector = (options, callback) => {
      baseConnector(options, (err, socket) => {
        if (err || !socket) return callback(err ?? new Error('no socket'), null);
        if (tls.mode === 'fingerprint' && tls.fingerprint) {
          const bad = checkFingerprint(socket as TLSSocket, tls.fingerprint);
          if (bad) {
            socket.destroy();
            return callback(new GatewayCertificateError(this.baseUrl, bad), null);
          }
        }
        callback(null, socket);
      });
    };
    this.agent = new Agent({ connect, keepAliveTimeout: 30_000, keepAliveMaxTimeout: 60_000, connections: 8 });
  }

  /** The cookie header value we would send (the websocket upgrade reuses it). */
  cookieHeader(extra: Record<string, string> = {}): string {
    const all = new Map(this.cookies);
    for (const [k, v] of Object.entries(extra)) all.set(k, v);
    return [...all].map(([k, v]) => `${k}=${v}`).join('; ');
  }

  setAuthorizer(authorizer: RequestAuthorizer | undefined): void {
    this.authorizer = authorizer;
  }

  endpointName(req: Pick<HttpRequest, 'method' | 'path'>): string {
    return `${req.method} ${req.path}`;
  }

  async send(req: HttpRequest): Promise<HttpResponse> {
    const first = await this.sendOnce(req, false);
    return first === 'resend' ? ((await this.sendOnce(req, true)) as HttpResponse) : first;
  }

  private async sendOnce(req: HttpRequest, resent: boolean): Promise<HttpResponse | 'resend'> {
    const url = new URL(this.base.pathname + req.path, this.base);
    for (const [k, v] of Object.entries(req.query ?? {})) if (v !== undefined) url.searchParams.set(k, String(v));
    const headers: Record<string, string> = {
      'user-agent': this.userAgent,
      accept: 'application/json, */*',
      ...req.headers,
    };
    const authorizer = req.headers?.authorization ? undefined : this.authorizer;
    if (authorizer) Object.assign(headers, await authorizer.authorize({ method: req.method, url }));
    const cookie = this.cookieHeader();
    if (cookie) headers.cookie = cookie;
    let body: string | undefined;
    if (req.method === 'POST' || req.method === 'PUT' || req.body !== undefined) {
      body = req.body === undefined ? '' : JSON.stringify(req.body);
      headers['content-type'] = 'application/json';
      headers['content-length'] = String(Buffer.byteLength(body));
    }
    const timeoutMs = req.timeoutMs ?? this.timeoutMs;
    const endpoint = this.endpointName(req);
    const signal = AbortSignal.timeout(timeoutMs);
    try {
      const res = await request(url, {
        method: req.method,
        headers,
        body,
        dispatcher: this.agent,
        signal,
        headersTimeout: timeoutMs,
        bodyTimeout: timeoutMs,
      });
      const text = await readCapped(res, this.maxBodyBytes, endpoint);
      this.storeCookies(res.headers['set-cookie']);
      let json: unknown;
      if (text.trim() !== '') {
        try {
          json = JSON.parse(text);
        } catch {
          json = undefined;
        }
      }
      const out: HttpResponse = { status: res.statusCode, headers: res.headers, text, json };
      if (authorizer?.inspect?.(out, endpoint, resent) === 'resend' && !resent) return 'resend';
      return out;
    } catch (err) {
      if (err instanceof IbkrError) throw err; // from the authorizer's inspection
      throw this.mapError(err, endpoint, timeoutMs, signal);
    }
  }

  private mapError(err: unknown, endpoint: string, timeoutMs: number, signal: AbortSignal): Error {
    if (err instanceof GatewayCertificateError || err instanceof ResponseTooLargeError) return err;
    const e = err as NodeJS.ErrnoException & { cause?: unknown };
    const cause = (e?.cause ?? e) as NodeJS.ErrnoException;
    if (cause instanceof GatewayCertificateError) return cause;
    if (
      signal.aborted ||
      err instanceof undiciErrors.HeadersTimeoutError ||
      err instanceof undiciErrors.BodyTimeoutError ||
      e?.name === 'TimeoutError' ||
      e?.name === 'AbortError'
    ) {
      return new GatewayTimeoutError(endpoint, timeoutMs);
    }
    if (err instanceof undiciErrors.ConnectTimeoutError) return new GatewayTimeoutError(endpoint, timeoutMs);
    const code = cause?.code ?? e?.code;
    let reason = cause?.message ?? e?.message ?? String(err);
    if (code === 'ECONNREFUSED') reason = 'connection refused (nothing is listening there)';
    else if (code === 'ENOTFOUND' || code === 'EAI_AGAIN') reason = 'host name not found';
    else if (code === 'ECONNRESET' || code === 'UND_ERR_SOCKET') reason = 'the connection was reset';
    else if (typeof code === 'string' && /CERT|SELF_SIGNED|UNABLE_TO|ERR_TLS/.test(code)) {
      return new GatewayCertificateError(this.baseUrl, `${code}: ${reason}`);
    }
    // A reset connection may work on the next try; refused or unknown hosts will not soon.
    return new GatewayUnreachableError(this.baseUrl, endpoint, reason, code === 'ECONNRESET' || code === 'UND_ERR_SOCKET');
  }

  private storeCookies(setCookie: string | string[] | undefined): void {
    if (!setCookie) return;
    for (const line of Array.isArray(setCookie) ? setCookie : [setCookie]) {
      const first = line.split(';')[0] ?? '';
      const eq = first.indexOf('=');
      if (eq > 0) this.cookies.set(first.slice(0, eq).trim(), first.slice(eq + 1).trim());
    }
  }

  async close(): Promise<void> {
    await this.agent.close();
  }
}

/** The body as text, refusing (and dropping) one larger than `limit` bytes before buffering it. */
async function readCapped(res: Dispatcher.ResponseData, limit: number, endpoint: string): Promise<string> {
  res.body.on('error', () => undefined); // destroying it below is ours: the error is thrown instead
  const declared = Number(res.headers['content-length']);
  if (Number.isFinite(declared) && declared > limit) {
    res.body.destroy();
    throw new ResponseTooLargeError(endpoint, limit);
  }
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of res.body) {
    size += (chunk as Buffer).length;
    if (size > limit) {
      res.body.destroy();
      throw new ResponseTooLargeError(endpoint, limit);
    }
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks).toString('utf8');
}
