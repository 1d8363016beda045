/**
 * OAuth 1.0a direct connection, against the simulator over HTTPS: the same client flows in gateway
 * and OAuth mode (auth status, accounts, contract search, snapshot, an order with a reply question,
 * positions, the websocket), LST renewal, and a clear error for each way a signature can be wrong.
 * The simulator's OAuth side (src/gateway-sim/oauth) is written from IBKR's documentation and
 * RFC 5849 and shares no code with the client's.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateKeyPairSync, getDiffieHellman } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { request, Agent } from 'undici';
import WebSocket from 'ws';
import { startSimulator, type SimOptions } from '../src/gateway-sim/index.ts';
import { IbkrClient, type IbkrClientOptions } from '../src/ibkr/client.ts';
import { generateOAuthKeys, loadOAuthCredentials, OAuthError, OAuthSigner, oauthFiles, type OAuthCredentials } from '../src/ibkr/oauth/index.ts';
import type { Quote } from '../src/ibkr/market-data.ts';

type Sim = Awaited<ReturnType<typeof startSimulator>>;
const BTC = 479624278;
const AAPL = 265598;
const START = '2026-11-23T15:10:00Z'; // a Monday, US market open
const CONSUMER = 'TDMTEST01';

let keyDir: string;
let uploaded: { signingPem: string; encryptionPem: string; dhPem: string };

async function waitFor<T>(what: string, fn: () => T | undefined | Promise<T | undefined>, timeoutMs = 20_000): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v !== undefined && v !== false) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

function oauthSim(extra: Partial<SimOptions> = {}, lstTtlMs?: number): Promise<Sim> {
  return startSimulator({
    seed: 11, startTime: START, realism: { noBridgeMs: 300 },
    oauth: { consumerKey: CONSUMER, ...uploaded, ...(lstTtlMs ? { lstTtlMs } : {}) },
    ...extra,
  });
}

function credentialsFor(sim: Sim, over: Partial<OAuthCredentials> = {}): OAuthCredentials {
  const files = oauthFiles({ keyDir });
  return {
    ...loadOAuthCredentials(
      { consumerKey: CONSUMER, accessToken: sim.oauth!.issued.accessToken, realm: 'limited_poa', ...files },
      { IBKR_OAUTH_ACCESS_TOKEN_SECRET: sim.oauth!.issued.encryptedSecretB64 },
    ),
    ...over,
  };
}

function oauthClient(sim: Sim, over: Partial<OAuthCredentials> = {}, extra: Partial<IbkrClientOptions> = {}): IbkrClient {
  return new IbkrClient({ baseUrl: sim.url, timeoutMs: 12_000, retries: 1, ...extra, oauth: extra.oauth ?? credentialsFor(sim, over) });
}

beforeAll(() => {
  keyDir = mkdtempSync(join(tmpdir(), 'tandem-oauth-'));
  generateOAuthKeys(join(keyDir), { dh: 'rfc3526', force: true });
  const read = (f: string) => readFileSync(join(keyDir, f), 'utf8');
  uploaded = { signingPem: read('public_signature.pem'), encryptionPem: read('public_encryption.pem'), dhPem: read('dhparam.pem') };
});

afterAll(() => rmSync(keyDir, { recursive: true, force: true }));

describe.each(['gateway', 'oauth'] as const)('the IBKR client flows through %s', (mode) => {
  let sim: Sim;
  let client: IbkrClient;

  beforeAll(async () => {
    sim = mode === 'oauth' ? await oauthSim() : await startSimulator({ seed: 11, startTime: START, realism: { noBridgeMs: 300 }, authenticated: true });
    client = mode === 'oauth' ? oauthClient(sim) : new IbkrClient({ baseUrl: sim.url, timeoutMs: 12_000 });
    await client.connect();
  });

  afterAll(async () => {
    await client?.close();
    await sim?.close();
  });

  it('authentication: brokerage session open, tickle token', async () => {
    expect(await client.session.status()).toMatchObject({ authenticated: true, connected: true, competing: false });
    expect((await client.session.tickle()).session).toMatch(/^[0-9a-f]{8,}$/);
    if (mode === 'oauth') {
      expect(sim.oauth!.gate.stats.lstIssued).toBe(1);
      expect(sim.oauth!.gate.stats.verified).toBeGreaterThan(3);
      expect(sim.oauth!.gate.stats.refused).toBe(0);
      expect(client.oauth!.current!.expiresAt).toBeGreaterThan(Date.now());
    }
  });

  it('accounts, contract search, snapshot', async () => {
    expect(client.session.brokerageAccounts!.accounts).toContain(sim.accounts.paper);
    const accounts = await client.portfolio.accounts();
    expect(accounts.map((a) => a.id)).toContain(sim.accounts.paper);
    expect((await client.contracts.resolve({ symbol: 'AAPL' })).conid).toBe(AAPL);
    expect((await client.contracts.resolve({ symbol: 'BTC', secType: 'CRYPTO' })).conid).toBe(BTC);
    const [q] = await client.marketData.snapshot([BTC]);
    expect(q!.last ?? q!.bid).toBeGreaterThan(0);
  });

  it('an order with a reply question, then positions', async () => {
    const [q] = await client.marketData.snapshot([AAPL]);
    const far = Math.round(q!.last! * 0.9 * 100) / 100;
    const placed = await client.orders.place({ accountId: sim.accounts.paper, conid: AAPL, side: 'BUY', type: 'LMT', quantity: 1, price: far });
    expect(placed.orderId).toBeGreaterThan(0);
    expect(placed.confirmed.flatMap((c) => c.messageIds)).toContain('o163');
    const bought = await client.orders.place({ accountId: sim.accounts.paper, conid: BTC, secType: 'CRYPTO', side: 'BUY', type: 'MKT', cashQty: 200 });
    await waitFor('the BTC fill', async () => ((await client.orders.status(bought.orderId)).status === 'Filled' ? true : undefined));
    const positions = await waitFor('the BTC position', async () => {
      client.portfolio.invalidate(sim.accounts.paper);
      const p = await client.portfolio.positions(sim.accounts.paper);
      return p.some((x) => x.conid === BTC) ? p : undefined;
    });
    expect(positions.find((p) => p.conid === BTC)!.quantity).toBeGreaterThan(0);
  });

  it('websocket market data (smd)', async () => {
    await client.stream.connect();
    const got: Quote[] = [];
    client.stream.on('marketData', (x) => got.push(x));
    client.stream.subscribeMarketData(BTC, ['31', '84', '86']);
    const q = await waitFor('an smd quote', () => got.find((x) => x.conid === BTC && x.last !== undefined));
    expect(q.last).toBeGreaterThan(0);
    if (mode === 'oauth') expect(client.stream.url).toContain(`oauth_token=${sim.oauth!.issued.accessToken}`);
  });
});

describe('OAuth session lifetime', () => {
  it('renews the live session token before it expires, without a refused request', async () => {
    const sim = await oauthSim({}, 3_000);
    const client = oauthClient(sim, {}, { oauth: { ...credentialsFor(sim), renewBeforeMs: 1_000 } });
    try {
      await client.connect();
      const first = client.oauth!.current!;
      await waitFor('a renewed LST', async () => {
        await client.session.tickle();
        return sim.oauth!.gate.stats.lstIssued >= 2 ? true : undefined;
      });
      expect(client.oauth!.current!.token).not.toBe(first.token);
      expect(sim.oauth!.gate.stats.refused).toBe(0);
      expect((await client.session.status()).authenticated).toBe(true);
    } finally {
      await client.close();
      await sim.close();
    }
  });

  it('an expired LST: the refused request is sent again with a new one; when that fails too, a clear error', async () => {
    const sim = await oauthSim();
    const client = oauthClient(sim);
    try {
      await client.connect();
      sim.oauth!.gate.expireTokens();
      expect((await client.session.status()).authenticated).toBe(true);
      expect(sim.oauth!.gate.stats).toMatchObject({ lstIssued: 2, refused: 1 });
      // A server that expires every token at once: the second refusal is reported, with its cause.
      const signer = client.oauth!;
      client.transport.setAuthorizer({
        authorize: async (r) => {
          const h = await signer.authorize(r);
          sim.oauth!.gate.expireTokens();
          return h;
        },
        inspect: (res, e, resent) => signer.inspect(res, e, resent),
      });
      const err = await client.session.status().catch((e: unknown) => e);
      expect(err).toBeInstanceOf(OAuthError);
      expect(err).toMatchObject({ code: 'oauth-refused', retryable: true });
      expect((err as Error).message).toMatch(/HTTP 401, "Access token expired"\).*Fix: the live session token expired; the client renews it/);
      expect(sim.oauth!.gate.stats.lstIssued).toBe(3); // the resend got a new one, which expired too
    } finally {
      await client.close();
      await sim.close();
    }
  });
});

describe('OAuth refusals', () => {
  let sim: Sim;
  beforeAll(async () => {
    sim = await oauthSim();
  });
  afterAll(async () => sim?.close());

  it('a wrong signing key: the LST request is refused with the fix', async () => {
    const other = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey;
    const client = oauthClient(sim, { signingKey: other });
    try {
      const err = await client.connect().catch((e: unknown) => e);
      expect(err).toBeInstanceOf(OAuthError);
      expect(err).toMatchObject({ code: 'oauth-lst-refused', retryable: false });
      expect((err as Error).message).toMatch(/refused the live session token request .*HTTP 401, "id: \d+, error: invalid signature".*Fix: the signing key does not match/);
    } finally {
      await client.close();
    }
  });

  it('a wrong encryption key: the secret cannot be decrypted, said before anything is sent', async () => {
    const other = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey;
    const client = oauthClient(sim, { encryptionKey: other });
    try {
      const err = await client.connect().catch((e: unknown) => e);
      expect(err).toMatchObject({ code: 'oauth-secret' });
      expect((err as Error).message).toMatch(/cannot be decrypted with the private encryption key.*Fix: IBKR_OAUTH_ACCESS_TOKEN_SECRET/);
    } finally {
      await client.close();
    }
  });

  it('DH parameters other than the registered ones: the LST fails validation, never used', async () => {
    const modp5 = getDiffieHellman('modp5');
    const client = oauthClient(sim, { dh: { prime: BigInt(`0x${modp5.getPrime('hex')}`), generator: 2n } });
    try {
      const err = await client.connect().catch((e: unknown) => e);
      expect(err).toMatchObject({ code: 'oauth-lst-invalid' });
      expect((err as Error).message).toMatch(/does not match IBKR's signature of it.*Fix: check IBKR_OAUTH_ACCESS_TOKEN_SECRET, oauth.encryptionKeyFile and oauth.dhParamFile/);
      expect(client.oauth!.current).toBeUndefined();
    } finally {
      await client.close();
    }
  });

  it('a wrong consumer key', async () => {
    const client = oauthClient(sim, { consumerKey: 'NOTMINE99' });
    try {
      const err = await client.connect().catch((e: unknown) => e);
      expect((err as Error).message).toMatch(/error: invalid consumer.*Fix: check oauth.consumerKey; a newly registered key can take a day/);
    } finally {
      await client.close();
    }
  });

  it('a tampered signature', async () => {
    const client = oauthClient(sim);
    try {
      await client.connect();
      const signer = client.oauth!;
      client.transport.setAuthorizer({
        authorize: async (r) => {
          const h = await signer.authorize(r);
          return { authorization: h.authorization!.replace(/oauth_signature="(.)/, (_m, c: string) => `oauth_signature="${c === 'A' ? 'B' : 'A'}`) };
        },
        inspect: (res, e, resent) => signer.inspect(res, e, resent),
      });
      const err = await client.session.status().catch((e: unknown) => e);
      expect(err).toMatchObject({ code: 'oauth-refused', retryable: false });
      expect((err as Error).message).toMatch(/refused the OAuth signature of POST \/iserver\/auth\/status \(HTTP 401, "id: \d+, error: invalid signature"\)/);
    } finally {
      await client.close();
    }
  });

  it('a replayed nonce and a stale timestamp', async () => {
    const client = oauthClient(sim);
    try {
      await client.connect();
      const signer = client.oauth!;
      // The same signed request twice: the second is a replay.
      let saved: Record<string, string> | undefined;
      client.transport.setAuthorizer({
        authorize: async (r) => (saved ??= await signer.authorize(r)),
        inspect: (res, e, resent) => signer.inspect(res, e, resent),
      });
      expect((await client.session.tickle()).session).toBeTruthy();
      const replay = await client.session.tickle().catch((e: unknown) => e);
      expect((replay as Error).message).toMatch(/HTTP 401, "id: \d+, error: invalid nonce: already used".*Fix: a request was replayed/);
      // A clock an hour slow: the LST request itself is refused, and the fix is about the clock.
      const slow = new OAuthSigner(credentialsFor(sim), { now: () => Date.now() - 3_600_000 });
      slow.attach(client.transport);
      const stale = await slow.liveSessionToken().catch((e: unknown) => e);
      expect(stale).toMatchObject({ code: 'oauth-lst-refused' });
      expect((stale as Error).message).toMatch(/invalid timestamp.*Fix: the computer's clock is off/);
    } finally {
      await client.close();
    }
  });

  it('unsigned requests and websocket upgrades without the access token are refused', async () => {
    const agent = new Agent({ connect: { rejectUnauthorized: false } });
    const res = await request(`${sim.apiUrl}/iserver/auth/status`, { method: 'POST', dispatcher: agent, headers: { 'user-agent': 't', 'content-length': '0' } });
    expect(res.statusCode).toBe(401);
    expect(await res.body.json()).toMatchObject({ error: expect.stringMatching(/missing or malformed OAuth/), statusCode: 401 });
    for (const query of ['', '?oauth_token=wrong']) {
      const refused = await new Promise<number>((resolve, reject) => {
        const ws = new WebSocket(`${sim.wsUrl}${query}`, { rejectUnauthorized: false, headers: { 'user-agent': 't' } });
        ws.once('unexpected-response', (_req, r) => resolve(r.statusCode ?? 0));
        ws.once('open', () => reject(new Error('the upgrade was accepted')));
        ws.once('error', () => undefined);
      });
      expect(refused).toBe(401);
    }
  });
});
