/**
 * The engine trades through the OAuth connection exactly as through the gateway: the real engine,
 * the IBKR broker and the journal against the simulator serving IBKR's direct OAuth API over HTTPS
 * (every request signed), from start-up to filled pair orders, with no refused request on the way.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { generateOAuthKeys, loadOAuthCredentials, oauthFiles } from '../src/ibkr/oauth/index.ts';
import { pairParams, runNode, startHarness, type Harness } from './helpers/engine-harness.ts';

describe('engine over OAuth', () => {
  let h: Harness | undefined;
  const keyDir = mkdtempSync(join(tmpdir(), 'tandem-oauth-engine-'));
  afterAll(async () => {
    await h?.close();
    rmSync(keyDir, { recursive: true, force: true });
  });

  it('from start-up to the first filled pair orders, every request signed', async () => {
    generateOAuthKeys(keyDir, { dh: 'rfc3526', force: true });
    const read = (f: string) => readFileSync(join(keyDir, f), 'utf8');
    h = await startHarness({
      authenticated: false,
      oauth: { consumerKey: 'TDMTEST01', signingPem: read('public_signature.pem'), encryptionPem: read('public_encryption.pem'), dhPem: read('dhparam.pem') },
    });
    const issued = h.sim.oauth!.issued;
    const oauth = loadOAuthCredentials(
      { consumerKey: 'TDMTEST01', accessToken: issued.accessToken, realm: 'limited_poa', ...oauthFiles({ keyDir }) },
      { IBKR_OAUTH_ACCESS_TOKEN_SECRET: issued.encryptedSecretB64 },
    );
    const { node: engine, journal } = h.newNode({ params: pairParams(), maxBars: 36, client: { oauth } });
    const summary = await runNode(h, engine, 600);
    expect(summary.stopReason).toBe('max-bars');
    const fills = journal.fills();
    expect(fills.length).toBeGreaterThanOrEqual(2);
    expect(new Set(fills.map((f) => f.cOID)).size).toBe(fills.length);
    const stats = h.sim.oauth!.gate.stats;
    expect(stats.lstIssued).toBe(1);
    expect(stats.verified).toBeGreaterThan(50);
    expect(stats.refused).toBe(0);
  }, 240_000);
});
