/**
 * A minimal HTTPS caller for the few gateway endpoints that login and supervision need (tickle, auth
 * status, brokerage session init). It exists so `src/auth` and `src/gateway` do not depend on the
 * full IBKR client; the client's session layer can be used instead where it is available.
 *
 * The gateway serves a self-signed certificate; it is accepted only when the host is loopback, so a
 * gateway reached over a network still needs a certificate the system trusts.
 */
import { Agent, request } from 'undici';
import { assertSecureGatewayUrl, isLoopbackUrl } from '../util/loopback.ts';

export { isLoopbackUrl };

const loopbackAgent = new Agent({ connect: { rejectUnauthorized: false }, keepAliveTimeout: 1_000 });
const strictAgent = new Agent({ keepAliveTimeout: 1_000 });

export interface GatewayResponse {
  status: number;
  /** Parsed JSON body, or undefined when the body is empty or not JSON (the gateway sometimes sends HTML). */
  json: unknown;
  text: string;
}

export interface GatewayCallOptions {
  method?: 'GET' | 'POST';
  body?: unknown;
  timeoutMs?: number;
}

/** Calls `baseUrl + path` (e.g. `https://localhost:5000` + `/v1/api/tickle`). Network errors throw. */
export async function callGateway(baseUrl: string, path: string, opts: GatewayCallOptions = {}): Promise<GatewayResponse> {
  const url = new URL(path, baseUrl).toString();
  assertSecureGatewayUrl(url);
  const method = opts.method ?? 'POST';
  // The gateway answers 403 without a User-Agent and 411 for a POST without Content-Length.
  const payload = opts.body === undefined ? (method === 'POST' ? '' : undefined) : JSON.stringify(opts.body);
  const headers: Record<string, string> = { 'user-agent': 'tandem/0.1', accept: '*/*' };
  if (payload !== undefined) {
    headers['content-type'] = 'application/json';
    headers['content-length'] = String(Buffer.byteLength(payload));
  }
  const timeout = opts.timeoutMs ?? 10_000;
  const res = await request(url, {
    method,
    headers,
    body: payload,
    dispatcher: isLoopbackUrl(url) ? loopbackAgent : strictAgent,
    headersTimeout: timeout,
    bodyTimeout: timeout,
    signal: AbortSignal.timeout(timeout),
  });
  const text = await res.body.text();
  let json: unknown;
  try {
    json = text ? JSON.parse(text) : undefined;
  } catch {
    json = undefined;
  }
  return { status: res.statusCode, json, text };
}
