/**
 * The server half of OAuth 1.0a message parsing (RFC 5849): the `Authorization: OAuth …` header
 * (§3.5.1) and the signature base string (§3.4.1) rebuilt from what arrived on the wire. Written
 * from the RFC for the simulator; it shares no code with the client.
 */

/** RFC 3986 percent-encoding of everything outside the unreserved set (§3.6). */
export function rfcEncode(s: string): string {
  const bytes = Buffer.from(s, 'utf8');
  let out = '';
  for (const b of bytes) {
    const c = String.fromCharCode(b);
    out += /[A-Za-z0-9\-._~]/.test(c) ? c : `%${b.toString(16).toUpperCase().padStart(2, '0')}`;
  }
  return out;
}

export function rfcDecode(s: string): string {
  return decodeURIComponent(s.replace(/\+/g, '%20'));
}

/** `OAuth realm="x", oauth_consumer_key="…", …` → decoded name/value pairs; undefined when malformed. */
export function parseAuthorization(header: string | undefined): Map<string, string> | undefined {
  const m = header ? /^\s*OAuth\s+(.*)$/is.exec(header) : null;
  if (!m) return undefined;
  const out = new Map<string, string>();
  const body = m[1]!;
  const re = /([^=,\s]+)="([^"]*)"/g;
  try {
    for (const match of body.matchAll(re)) out.set(rfcDecode(match[1]!), rfcDecode(match[2]!));
  } catch {
    return undefined;
  }
  return body.replace(re, '').replace(/[\s,]/g, '') === '' ? out : undefined;
}

/** §3.4.1.2: scheme://host[:port]/path, lower-case scheme and host, default port omitted. */
export function baseUri(scheme: string, hostHeader: string, path: string): string {
  const host = hostHeader.toLowerCase();
  const [name, port] = host.startsWith('[') ? [host.slice(0, host.indexOf(']') + 1), host.slice(host.indexOf(']') + 2)] : host.split(':');
  const keepPort = port && !((scheme === 'https' && port === '443') || (scheme === 'http' && port === '80'));
  return `${scheme}://${name}${keepPort ? `:${port}` : ''}${path}`;
}

/** §3.4.1: METHOD & enc(base URI) & enc(sorted, encoded name=value pairs). */
export function baseString(method: string, uri: string, pairs: [string, string][]): string {
  const encoded = pairs.map(([k, v]) => `${rfcEncode(k)}=${rfcEncode(v)}`);
  encoded.sort((a, b) => {
    const [ak, av] = a.split('=') as [string, string];
    const [bk, bv] = b.split('=') as [string, string];
    return ak === bk ? (av < bv ? -1 : av > bv ? 1 : 0) : ak < bk ? -1 : 1;
  });
  return `${method.toUpperCase()}&${rfcEncode(uri)}&${rfcEncode(encoded.join('&'))}`;
}
