/**
 * `tandem oauth init --dir DIR`: makes the key material IBKR's self-service OAuth page asks for (two
 * RSA key pairs and Diffie-Hellman parameters, with node:crypto; directory 0700, files 0600) and
 * prints the exact steps on that page and what to paste back into the config and `.env`.
 */
import { randomInt } from 'node:crypto';
import { join, resolve } from 'node:path';
import type { Command } from 'commander';
import { Option } from 'commander';
import { UserError } from '../util/errors.ts';

interface InitOptions {
  dir: string;
  dh: 'generate' | 'rfc3526';
  force?: boolean;
  encrypt?: boolean;
}

/** IBKR's page takes a 9-character consumer key, upper-case letters (ibind's guide). */
function suggestConsumerKey(): string {
  return Array.from({ length: 9 }, () => String.fromCharCode(65 + randomInt(26))).join('');
}

export function oauthSteps(dir: string, consumerKey: string): string {
  const f = (name: string) => join(dir, name);
  return [
    `Next, on IBKR's self-service OAuth page (IBKR Pro username; paper usernames are reported refused):`,
    `  1. Open https://ndcdyn.interactivebrokers.com/oauth/?loginType=1&action=OAUTH&clt=0#/configuration and log in`,
    `     (if your region uses another login page, open it, add &action=OAUTH to its URL, then log in). Accept the terms.`,
    `  2. Consumer Key: type 9 capital letters of your choice, e.g. ${consumerKey}; click "Save Key".`,
    `  3. Public Signing Key: upload ${f('public_signature.pem')}`,
    `     Public Encryption Key: upload ${f('public_encryption.pem')}`,
    `     Diffie-Hellman Parameters: upload ${f('dhparam.pem')}`,
    `  4. Click "Generate Token". Copy the Access Token and the Access Token Secret now: the page does not show them again.`,
    `  5. Switch on "Enable OAuth Access" at the top of the page.`,
    `  6. In the engine config (configs/engine/Engine.yaml):`,
    `       connection: oauth`,
    `       oauth:`,
    `         consumerKey: ${consumerKey}        # the one you saved in step 2`,
    `         accessToken: <Access Token from step 4>`,
    `         keyDir: ${dir}`,
    `     In .env (never in the config):`,
    `       IBKR_OAUTH_ACCESS_TOKEN_SECRET=<Access Token Secret from step 4>`,
    `  7. IBKR activates new keys within about a day (reports range from minutes to weeks). Then check:`,
    `       tandem doctor --config configs/engine/Engine.yaml`,
    `Keep the private_*.pem files private: never upload or share them. docs/oauth.md has the whole walk-through.`,
  ].join('\n');
}

export function registerOAuthCommand(program: Command): void {
  const oauth = program.command('oauth').description("IBKR's OAuth 1.0a direct connection (no gateway)");
  oauth
    .command('init')
    .description("Generate the signing/encryption key pairs and DH parameters for IBKR's OAuth page, and print the steps")
    .requiredOption('--dir <dir>', 'directory for the key files (created with mode 0700)')
    .addOption(new Option('--dh <kind>', 'DH parameters: a new 2048-bit safe prime, or RFC 3526 group 14 (instant)').choices(['generate', 'rfc3526']).default('generate'))
    .option('--force', 'replace existing key files (you must then upload the new public files to IBKR)')
    .option('--encrypt', 'encrypt the private keys with the passphrase in IBKR_OAUTH_KEY_PASSPHRASE (.env or environment)')
    .action(async (o: InitOptions) => {
      const { generateOAuthKeys, OAUTH_ENV } = await import('../ibkr/oauth/index.ts');
      const { loadEnv } = await import('../config/env.ts');
      let passphrase: string | undefined;
      if (o.encrypt) {
        passphrase = loadEnv()[OAUTH_ENV.keyPassphrase];
        if (!passphrase) throw new UserError(`--encrypt needs a passphrase. Fix: set ${OAUTH_ENV.keyPassphrase} in .env (or the environment) and run again.`, 'TANDEM_CONFIG_INVALID');
      }
      const dir = resolve(o.dir);
      if (o.dh === 'generate') process.stderr.write('Generating a 2048-bit safe prime for the DH parameters (seconds to minutes; --dh rfc3526 is instant)...\n');
      const paths = generateOAuthKeys(dir, { dh: o.dh, force: o.force, ...(passphrase ? { passphrase } : {}) });
      process.stdout.write(
        [
          `Wrote (directory mode 0700, files 0600${passphrase ? ', private keys encrypted' : ''}):`,
          `  ${paths.signingPrivate}    private: signs the live-session-token request`,
          `  ${paths.signingPublic}     upload as "Public Signing Key"`,
          `  ${paths.encryptionPrivate}   private: decrypts the access token secret`,
          `  ${paths.encryptionPublic}    upload as "Public Encryption Key"`,
          `  ${paths.dhParams}              upload as "Diffie-Hellman Parameters"`,
          '',
          oauthSteps(dir, suggestConsumerKey()),
          '',
        ].join('\n'),
      );
    });
}
