/**
 * The simulator's TLS certificate: self-signed (like the gateway's bundled `vertx.jks`, §1.2),
 * generated with the `selfsigned` package. Loading that package costs ~0.3 s, so the pair is cached
 * in the OS temp directory (file mode 0600, a throw-away loopback certificate) and reused while it is
 * valid; `fresh: true` always generates a new one.
 */
import { readFileSync, writeFileSync, renameSync } from 'node:fs';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import { X509Certificate } from 'node:crypto';

export interface TlsPair {
  cert: string;
  key: string;
}

function cachePath(): string {
  let user = 'user';
  try { user = userInfo().username; } catch { /* containers without a passwd entry */ }
  return join(tmpdir(), `tandem-sim-tls-${user}.json`);
}

async function generatePair(): Promise<TlsPair> {
  const { generate } = await import('selfsigned');
  const pems = await generate([{ name: 'commonName', value: 'localhost' }], {
    // EC P-256 keys generate in milliseconds (RSA-2048 takes ~0.4 s).
    keyType: 'ec', curve: 'P-256', algorithm: 'sha256', notAfterDate: new Date(Date.now() + 365 * 86_400_000),
    extensions: [{ name: 'subjectAltName', altNames: [{ type: 2, value: 'localhost' }, { type: 7, ip: '127.0.0.1' }] }],
  });
  return { cert: pems.cert, key: pems.private };
}

export async function selfSignedPair(fresh = false): Promise<TlsPair> {
  const path = cachePath();
  if (!fresh) {
    try {
      const cached = JSON.parse(readFileSync(path, 'utf8')) as TlsPair;
      const x = new X509Certificate(cached.cert);
      if (Date.parse(x.validTo) - Date.now() > 7 * 86_400_000) return cached;
    } catch { /* missing or unreadable: generate */ }
  }
  const pair = await generatePair();
  try {
    const tmp = `${path}.${process.pid}.tmp`;
    writeFileSync(tmp, JSON.stringify(pair), { mode: 0o600 });
    renameSync(tmp, path);
  } catch { /* caching is best-effort */ }
  return pair;
}
