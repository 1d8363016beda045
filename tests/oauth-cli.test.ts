/**
 * The OAuth commands as a user runs them: `tandem oauth init` writes the key files with private
 * modes and prints the steps for IBKR's page; `tandem doctor` with `connection: oauth` checks the
 * settings, the files, the secret and the live session token line by line against the simulator
 * over HTTPS, each failure with its fix.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { Agent, request } from 'undici';
import { startSimulator } from '../src/gateway-sim/index.ts';
import { IbkrClient } from '../src/ibkr/client.ts';
import { loadOAuthCredentials, oauthFiles } from '../src/ibkr/oauth/index.ts';
import { startTandem } from './helpers/processes.ts';

const run = promisify(execFile);
type Sim = Awaited<ReturnType<typeof startSimulator>>;

async function tandem(args: string[], env: NodeJS.ProcessEnv = {}): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const r = await run(process.execPath, ['--import', 'tsx', 'src/main.ts', ...args], { env: { ...process.env, ...env }, timeout: 90_000 });
    return { code: 0, stdout: r.stdout, stderr: r.stderr };
  } catch (err) {
    const e = err as { code?: number; stdout?: string; stderr?: string };
    return { code: typeof e.code === 'number' ? e.code : -1, stdout: e.stdout ?? '', stderr: e.stderr ?? '' };
  }
}

describe('tandem oauth init and doctor (connection: oauth)', () => {
  let tmp: string;
  let keyDir: string;
  let sim: Sim;

  beforeAll(async () => {
    tmp = mkdtempSync(join(tmpdir(), 'tandem-oauth-cli-'));
    keyDir = join(tmp, 'keys');
  });

  afterAll(async () => {
    await sim?.close();
    rmSync(tmp, { recursive: true, force: true });
  });

  it('oauth init writes five files (0600) in a 0700 directory and prints the steps', { timeout: 120_000 }, async () => {
    const r = await tandem(['oauth', 'init', '--dir', keyDir, '--dh', 'rfc3526']);
    expect(r.code).toBe(0);
    expect(statSync(keyDir).mode & 0o777).toBe(0o700);
    for (const f of ['private_signature.pem', 'public_signature.pem', 'private_encryption.pem', 'public_encryption.pem', 'dhparam.pem']) {
      expect(statSync(join(keyDir, f)).mode & 0o777).toBe(0o600);
    }
    expect(r.stdout).toContain(`Public Signing Key: upload ${join(keyDir, 'public_signature.pem')}`);
    expect(r.stdout).toContain(`Diffie-Hellman Parameters: upload ${join(keyDir, 'dhparam.pem')}`);
    expect(r.stdout).toContain('IBKR_OAUTH_ACCESS_TOKEN_SECRET=<Access Token Secret from step 4>');
    expect(r.stdout).toMatch(/consumerKey: [A-Z]{9} /);
    // A second run would replace keys IBKR already knows: refused with the fix.
    const again = await tandem(['oauth', 'init', '--dir', keyDir, '--dh', 'rfc3526']);
    expect(again.code).not.toBe(0);
    expect(again.stderr).toMatch(/already exist.*Fix: pick another --dir, or pass --force/);
    expect(again.stderr).not.toMatch(/\n\s+at /);
  });

  it('tandem sim --oauth KEYDIR issues a token a client can use, and refuses unsigned calls', { timeout: 120_000 }, async () => {
    const child = startTandem(['sim', '--port', '0', '--json', '--oauth', keyDir, '--consumer-key', 'TDMCLI001']);
    try {
      const line = await child.waitLine(/^\{/, 60_000);
      const info = JSON.parse(line) as { url: string; apiUrl: string; oauth: { consumerKey: string; accessToken: string; accessTokenSecret: string; realm: string } };
      expect(info.oauth).toMatchObject({ consumerKey: 'TDMCLI001', realm: 'limited_poa' });
      const client = new IbkrClient({
        baseUrl: info.url, timeoutMs: 12_000,
        oauth: loadOAuthCredentials(
          { consumerKey: info.oauth.consumerKey, accessToken: info.oauth.accessToken, realm: info.oauth.realm, ...oauthFiles({ keyDir }) },
          { IBKR_OAUTH_ACCESS_TOKEN_SECRET: info.oauth.accessTokenSecret },
        ),
      });
      try {
        await client.connect();
        expect(client.session.brokerageAccounts!.accounts.length).toBeGreaterThan(0);
      } finally {
        await client.close();
      }
      const agent = new Agent({ connect: { rejectUnauthorized: false } });
      const unsigned = await request(`${info.apiUrl}/tickle`, { method: 'POST', dispatcher: agent, headers: { 'user-agent': 't', 'content-length': '0' } });
      expect(unsigned.statusCode).toBe(401);
      await unsigned.body.text();
    } finally {
      child.proc.kill('SIGTERM');
      await child.exited;
    }
  });

  it('doctor: every OAuth line ok against the simulator, then a wrong secret fails its own line', { timeout: 180_000 }, async () => {
    const read = (f: string) => readFileSync(join(keyDir, f), 'utf8');
    sim = await startSimulator({
      seed: 5, realism: { noBridgeMs: 300 },
      oauth: { consumerKey: 'TDMTEST01', signingPem: read('public_signature.pem'), encryptionPem: read('public_encryption.pem'), dhPem: read('dhparam.pem') },
    });
    const config = join(tmp, 'Engine.yaml');
    writeFileSync(config, [
      'connection: oauth',
      'oauth:',
      `  url: ${sim.url}`,
      '  consumerKey: TDMTEST01',
      `  accessToken: ${sim.oauth!.issued.accessToken}`,
      `  keyDir: ${keyDir}`,
      `dataDir: ${join(tmp, 'data')}`,
      `strategies: [${resolve('configs/strategies/cointegration_btc_eth.yaml')}]`,
      '',
    ].join('\n'));
    const env = { IBKR_OAUTH_ACCESS_TOKEN_SECRET: sim.oauth!.issued.encryptedSecretB64, IBKR_PAPER_ACCOUNT_ID: sim.accounts.paper };
    const ok = await tandem(['doctor', '--config', config, '--json'], env);
    const lines = JSON.parse(ok.stdout) as { check: string; status: string; detail: string; fix?: string }[];
    const status = Object.fromEntries(lines.map((l) => [l.check, l.status]));
    expect(status).toMatchObject({
      'OAuth settings': 'ok', 'OAuth signing key': 'ok', 'OAuth encryption key': 'ok', 'OAuth DH parameters': 'ok',
      'OAuth access token secret': 'ok', 'live session token': 'ok', 'brokerage session': 'ok', accounts: 'ok',
    });
    expect(lines.find((l) => l.check === 'accounts')!.detail).toContain(sim.accounts.paper);
    expect(ok.code).toBe(0);
    expect(ok.stdout).not.toContain(sim.oauth!.issued.encryptedSecretB64);
    // The secret of another access token: its own line fails with the fix, nothing online is tried.
    const other = sim.oauth!.issued.encryptedSecretB64.replace(/^./, (c) => (c === 'A' ? 'B' : 'A'));
    const bad = await tandem(['doctor', '--config', config], { ...env, IBKR_OAUTH_ACCESS_TOKEN_SECRET: other });
    expect(bad.code).toBe(5); // EXIT.checksFailed, as for any failing check (1 is for a bug in Tandem)
    expect(bad.stdout).toMatch(/\[FAIL\] OAuth access token secret: does not decrypt .*\n\s+fix: IBKR_OAUTH_ACCESS_TOKEN_SECRET must be the secret/);
    expect(bad.stdout).toMatch(/\[skip\] live session token/);
    // `config show` (for bug reports) masks the access token; the secret is never in the config.
    const shown = await tandem(['config', 'show', '--config', config], env);
    expect(shown.stdout).toMatch(/accessToken: "?\*\*\*"?/);
    expect(shown.stdout).not.toContain(sim.oauth!.issued.accessToken);
    expect(shown.stdout).toContain('connection: oauth');
    // No secret at all: the settings line says where it goes.
    const none = await tandem(['doctor', '--config', config], { ...env, IBKR_OAUTH_ACCESS_TOKEN_SECRET: '' });
    expect(none.stdout).toMatch(/\[FAIL\] OAuth settings: IBKR_OAUTH_ACCESS_TOKEN_SECRET is not set\.\n\s+fix: add IBKR_OAUTH_ACCESS_TOKEN_SECRET=/);
  });
});
