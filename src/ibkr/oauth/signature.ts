/**
 * OAuth 1.0a request signing as IBKR's Web API expects it (RFC 5849 §3.4-3.5, with IBKR's two
 * extensions: the live-session-token request carries a `diffie_hellman_challenge` parameter and its
 * base string is preceded by the "prepend", and every later request is signed with HMAC-SHA256 keyed by
 * the live session token instead of RFC 5849's HMAC-SHA1 over consumer and token secrets).
 *
 * Pure functions: they hold no keys and send nothing, so they can be checked against the RFC's own
 * example base string. The header values are percent-encoded once (RFC 5849 §3.5.1), which is what
 * IBKR's own sample code produces (`quote_plus` of the base64 signature).
 *
 * Query parameters are NOT part of the signed parameters: IBKR does not document them in the base
 * string, and ibind (the Python client whose OAuth users sign without them) works in production with
 * query-string GETs. The simulator accepts both forms.
 */
import { createHmac, createSign, randomBytes, type KeyObject } from 'node:crypto';

/** RFC 3986 unreserved characters stay; everything else is %XX with upper-case hex (RFC 5849 §3.6). */
export function percentEncode(value: string): string {
  return encodeURIComponent(value).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
}

/** Base string URI (RFC 5849 §3.4.1.2): lower-case scheme and host, default ports dropped, no query. */
export function baseStringUri(url: URL): string {
  const scheme = url.protocol.replace(/:$/, '').toLowerCase();
  const host = url.hostname.toLowerCase();
  const port = url.port && !((scheme === 'https' && url.port === '443') || (scheme === 'http' && url.port === '80')) ? `:${url.port}` : '';
  return `${scheme}://${host}${port}${url.pathname}`;
}

/** The normalized parameter string (RFC 5849 §3.4.1.3.2): encoded, sorted by name then value, joined. */
export function normalizeParams(params: [string, string][]): string {
  return params
    .map(([k, v]) => [percentEncode(k), percentEncode(v)] as const)
    .sort(([ak, av], [bk, bv]) => (ak < bk ? -1 : ak > bk ? 1 : av < bv ? -1 : av > bv ? 1 : 0))
    .map(([k, v]) => `${k}=${v}`)
    .join('&');
}

/** `METHOD&uri&params`, each part percent-encoded (RFC 5849 §3.4.1.1), optionally preceded by IBKR's prepend. */
export function signatureBaseString(method: string, url: URL, params: [string, string][], prepend = ''): string {
  return `${prepend}${method.toUpperCase()}&${percentEncode(baseStringUri(url))}&${percentEncode(normalizeParams(params))}`;
}

/** RSA-SHA256 (PKCS#1 v1.5) signature, base64: signs the live-session-token request. */
export function rsaSha256(baseString: string, signingKey: KeyObject): string {
  return createSign('sha256').update(baseString, 'utf8').sign(signingKey).toString('base64');
}

/** HMAC-SHA256 keyed by the base64-decoded live session token, base64: signs every other request. */
export function hmacSha256(baseString: string, liveSessionToken: string): string {
  return createHmac('sha256', Buffer.from(liveSessionToken, 'base64')).update(baseString, 'utf8').digest('base64');
}

/** `OAuth realm="…", k="v", …` with every value percent-encoded once; parameters sorted by name. */
export function authorizationHeader(realm: string, oauthParams: Record<string, string>): string {
  const parts = Object.entries(oauthParams)
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([k, v]) => `${percentEncode(k)}="${percentEncode(v)}"`);
  return `OAuth realm="${percentEncode(realm)}", ${parts.join(', ')}`;
}

/** 32 hex characters from the OS random source. */
export function newNonce(): string {
  return randomBytes(16).toString('hex');
}
