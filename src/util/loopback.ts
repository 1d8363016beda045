/**
 * What counts as loopback, decided in one place. Loopback decides two things: whether the
 * gateway's self-signed certificate is accepted, and whether plain `http://` is allowed at all
 * (over any other network a password or session cookie would travel in clear).
 *
 * Only literal loopback addresses count (127.0.0.0/8, ::1, ::ffff:127.x.y.z) and the name
 * `localhost` itself. Other names, `*.localhost` included, are resolved by the system's resolver
 * (hosts file, DNS) and may point anywhere, so they are not trusted.
 */
import { UserError } from './errors.ts';

export function isLoopbackHost(hostname: string): boolean {
  const h = hostname.replace(/^\[|\]$/g, '').toLowerCase();
  if (h === 'localhost' || h === '::1') return true;
  const v4 = /^127\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(h);
  if (v4) return v4.slice(1).every((o) => Number(o) <= 255);
  // IPv4-mapped IPv6 (the URL parser writes ::ffff:127.0.0.1 as ::ffff:7f00:1).
  return /^::ffff:7f[0-9a-f]{2}:[0-9a-f]{1,4}$/.test(h) || /^::ffff:127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(h);
}

export function isLoopbackUrl(url: string | URL): boolean {
  try {
    return isLoopbackHost(new URL(url).hostname);
  } catch {
    return false;
  }
}

/** Why `url` may not be used for the gateway (plain http off loopback), or undefined when it may. */
export function insecureGatewayReason(url: string | URL): string | undefined {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    return undefined; // not a URL: reported by whoever parses it
  }
  if (u.protocol !== 'http:' || isLoopbackHost(u.hostname)) return undefined;
  return `plain http:// to ${u.hostname} would send the session cookie (and, with auto-login, the password) in clear: use https://, or http:// only on this machine (localhost, 127.0.0.1, ::1)`;
}

/** Throws a UserError (exit 2) for a plain-http gateway URL off loopback. */
export function assertSecureGatewayUrl(url: string | URL): void {
  const reason = insecureGatewayReason(url);
  if (reason) throw new UserError(`gateway URL refused: ${reason}.`, 'TANDEM_CONFIG_INVALID');
}
