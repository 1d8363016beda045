/**
 * `tandem login`: logs the gateway in now (the same automatic login the engine uses when
 * auth.autoLogin is on): opens the brokerage session, or fills the login page in headless Chromium.
 * Exit codes: 0 logged in (or already was), 3 the login failed (message says why), 2 bad setup.
 */
import type { Command } from 'commander';
import { Option } from 'commander';
import { configOption, modeOption } from './options.ts';

interface LoginCliOptions {
  config?: string;
  mode?: 'paper' | 'live';
  gateway?: string;
  dataDir?: string;
  resetFailures?: boolean;
  attempts: string;
  verbose?: boolean;
}

export function registerLoginCommand(program: Command): void {
  program
    .command('login')
    .description('log the Client Portal Gateway in now (headless browser, TOTP or push second factor)')
    .addOption(configOption())
    .addOption(modeOption())
    .option('--gateway <url>', 'gateway URL (default: gateway.url of the config, https://localhost:5000)')
    .option('--data-dir <dir>', 'data directory (default: dataDir of the config, ./data)')
    .option('--reset-failures', 'forget refused logins counted toward the lockout guard, then log in')
    .addOption(new Option('--attempts <n>', 'browser attempts before giving up').default('3'))
    .option('-v, --verbose', 'debug logging')
    .action(async (opts: LoginCliOptions) => {
      // Loaded here, not at the top: `tandem --help` should not pay for them (see commands.ts).
      const { resetFailedLogins } = await import('../auth/failed-logins.ts');
      const { createAutoLogin, resolveAuthSettings } = await import('../auth/settings.ts');
      const { createLogger } = await import('../log/logger.ts');
      const settings = resolveAuthSettings({ config: opts.config, mode: opts.mode, gateway: opts.gateway, dataDir: opts.dataDir });
      const logger = createLogger({ level: opts.verbose ? 'debug' : 'info' });
      if (opts.resetFailures) {
        resetFailedLogins(settings.dataDir);
        logger.info('refused-login count reset');
      }
      const attempts = Math.max(1, Math.min(5, Number.parseInt(opts.attempts, 10) || 3));
      const report = await createAutoLogin(settings, logger, { attemptsPerLogin: attempts }).reauthenticate('tandem login');
      const secs = (report.durationMs / 1000).toFixed(1);
      const line =
        report.action === 'none' ? `already logged in: the ${settings.mode} brokerage session at ${settings.baseUrl} is open`
        : report.action === 'brokerage' ? `brokerage session reopened at ${settings.baseUrl} (the login was still valid) in ${secs} s`
        : `logged in (${settings.mode}, second factor: ${report.secondFactor ?? 'none'}) at ${settings.baseUrl} in ${secs} s`;
      process.stdout.write(`${line}\n`);
    });
}
