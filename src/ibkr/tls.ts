/**
 * TLS policy for the gateway connection.
 *
 * The Client Portal Gateway serves a self-signed certificate. It is accepted without checks only on
 * loopback hosts (src/util/loopback.ts; plain http is refused elsewhere) (the usual setup: the gateway on the same machine). For any other host the config
 * must pin the gateway's certificate, by CA file or by SHA-256 fingerprint; otherwise normal
 * certificate verification applies. A pinned fingerprint is checked in the connect hook, before any
 * request byte (and so before any cookie) goes out on the socket.
 */
import { readFileSync } from 'node:fs';
import { connect as tlsConnect, type TLSSocket, type PeerCertificate } from 'node:tls';
import { UserError } from '../util/errors.ts';
import { assertSecureGatewayUrl, isLoopbackHost } from '../util/loopback.ts';

export interface TlsOptions {
  /** PEM file with the CA (or the gateway's own certificate) to trust. */
  caFile?: string;
  /** SHA-256 fingerprint of the gateway certificate, hex with or without colons. */
  fingerprint?: string;
}

export interface ResolvedTls {
  mode: 'loopback-self-signed' | 'ca' | 'fingerprint' | 'system' | 'plain';
  rejectUnauthorized: boolean;
  ca?: string;
  fingerprint?: string;
}

export { isLoopbackHost };

export function normalizeFingerprint(fp: string): string {
  const hex = fp.replace(/^sha256[:=]?/i, '').replace(/[:\s]/g, '').toUpperCase();
  if (!/^[0-9A-F]{64}$/.test(hex)) {
    throw new UserError(
      `tls.fingerprint must be a SHA-256 fingerprint (64 hex digits, colons allowed), got "${fp}".`,
      'TANDEM_CONFIG_INVALID',
    );
  }
  return hex.match(/../g)!.join(':');
}

export function resolveTls(baseUrl: URL, opts: TlsOptions | undefined): ResolvedTls {
  if (baseUrl.protocol === 'http:') {
    assertSecureGatewayUrl(baseUrl);
    return { mode: 'plain', rejectUnauthorized: true };
  }
  if (opts?.fingerprint) {
    return { mode: 'fingerprint', rejectUnauthorized: false, fingerprint: normalizeFingerprint(opts.fingerprint) };
  }
  if (opts?.caFile) {
    let ca: string;
    try {
      ca = readFileSync(opts.caFile, 'utf8');
    } catch (err) {
      throw new UserError(`Cannot read tls.caFile ${opts.caFile}: ${(err as Error).message}`, 'TANDEM_CONFIG_INVALID');
    }
    return { mode: 'ca', rejectUnauthorized: true, ca };
  }
  if (isLoopbackHost(baseUrl.hostname)) return { mode: 'loopback-self-signed', rejectUnauthorized: false };
  return { mode: 'system', rejectUnauthorized: true };
}

/** Null when the socket's certificate matches the pinned fingerprint, else the reason. */
export function checkFingerprint(socket: TLSSocket, expected: string): string | null {
  const cert: PeerCertificate | undefined = socket.getPeerCertificate();
  if (!cert || !cert.fingerprint256) return 'the server presented no certificate';
  if (cert.fingerprint256.toUpperCase() !== expected) {
    return `certificate fingerprint ${cert.fingerprint256} does not match the pinned ${expected}`;
  }
  return null;
}

/**
 * Connects once, checks the fingerprint and returns the certificate as PEM, so that a second client
 * (the websocket) can trust exactly that certificate as its only CA.
 */
export function fetchPinnedCertificate(host: string, port: number, expected: string, timeoutMs: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = tlsConnect({ host, port, servername: isIp(host) ? undefined : host, rejectUnauthorized: false });
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`TLS probe timed out after ${timeoutMs} ms`));
    }, timeoutMs);
    socket.once('secureConnect', () => {
      clearTimeout(timer);
      const bad = checkFingerprint(socket, expected);
      const raw = socket.getPeerCertificate().raw;
      socket.end();
      if (bad) return reject(new Error(bad));
      const b64 = raw.toString('base64').match(/.{1,64}/g)!.join('\n');
      resolve(`-----BEGIN CERTIFICATE-----\n${b64}\n-----END CERTIFICATE-----\n`);
    });
    socket.once('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
  });
}

function isIp(h: string): boolean {
  return /^[\d.]+$/.test(h) || h.includes(':');
}
