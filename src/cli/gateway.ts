/**
 * `tandem gateway start --dir PATH`: runs a downloaded Client Portal Gateway under supervision
 * (restart on exit, tickle health checks, logs in <dataDir>/logs/gateway.log), optionally keeping it
 * logged in (auth.autoLogin of --config). `tandem gateway unit` prints a systemd unit for it.
 */
import type { Command } from 'commander';
import { join, resolve } from 'node:path';
import { UserError } from '../util/errors.ts';
import { packageRoot } from '../util/package-root.ts';
import { configOption, modeOption } from './options.ts';

interface StartOptions {
  dir: string;
  config?: string;
  mode?: 'paper' | 'live';
  dataDir?: string;
  healthInterval: string;
  unhealthyAfter: string;
  loginCheck: string;
  verbose?: boolean;
}

function positiveInt(value: string, flag: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n <= 0) throw new UserError(`${flag} must be a positive whole number, got "${value}".`, 'TANDEM_BAD_OPTION');
  return n;
}

export function registerGatewayCommand(program: Command): void {
  const gateway = program.command('gateway').description('run and supervise the IBKR Client Portal Gateway');

  gateway
    .command('start')
    .description('run the gateway in --dir (bin/run.sh root/conf.yaml), restart it when it dies or stops answering')
    .requiredOption('--dir <path>', 'the unzipped Client Portal Gateway folder (contains bin/ and root/)')
    .addOption(configOption())
    .addOption(modeOption())
    .option('--data-dir <dir>', 'data directory for logs (default: dataDir of the config, ./data)')
    .option('--health-interval <seconds>', 'seconds between /tickle health checks', '30')
    .option('--unhealthy-after <n>', 'failed health checks in a row before a restart', '3')
    .option('--login-check <seconds>', 'with auth.autoLogin: seconds between session checks', '60')
    .option('-v, --verbose', 'debug logging')
    .action(async (opts: StartOptions) => {
      // Loaded here, not at the top: `tandem --help` should not pay for them (see commands.ts).
      const { createAutoLogin, resolveAuthSettings } = await import('../auth/settings.ts');
      const { readGatewayDir } = await import('../gateway/conf.ts');
      const { GatewaySupervisor } = await import('../gateway/supervisor.ts');
      const { createLogger } = await import('../log/logger.ts');
      const gw = readGatewayDir(opts.dir);
      const settings = resolveAuthSettings({ config: opts.config, mode: opts.mode, dataDir: opts.dataDir });
      const logFile = join(settings.dataDir, 'logs', 'gateway.log');
      const logger = createLogger({ level: opts.verbose ? 'debug' : 'info' });
      const supervisor = new GatewaySupervisor({
        dir: gw.dir,
        baseUrl: gw.baseUrl,
        logFile,
        healthIntervalMs: positiveInt(opts.healthInterval, '--health-interval') * 1000,
        unhealthyThreshold: positiveInt(opts.unhealthyAfter, '--unhealthy-after'),
        logger,
      });
      supervisor.start();
      logger.info({ dir: gw.dir, url: gw.baseUrl, log: logFile }, 'gateway supervised; Ctrl-C stops it');

      let stopWatch: (() => void) | undefined;
      if (settings.autoLogin) {
        // Keep the gateway logged in: the login page is on the gateway just started.
        const login = createAutoLogin({ ...settings, baseUrl: gw.baseUrl }, logger);
        login.watch(positiveInt(opts.loginCheck, '--login-check') * 1000);
        stopWatch = () => login.stop();
        logger.info('auto-login on: the session is checked and renewed while the gateway runs');
      } else if (opts.config) {
        logger.info(`auto-login is off: log in at ${gw.baseUrl.replace('127.0.0.1', 'localhost')} in a browser, or run "tandem login"`);
      }

      await new Promise<void>((done) => {
        const stop = (signal: string): void => {
          logger.info({ signal }, 'stopping the gateway');
          stopWatch?.();
          void supervisor.stop().then(done);
        };
        process.once('SIGINT', () => stop('SIGINT'));
        process.once('SIGTERM', () => stop('SIGTERM'));
      });
    });

  gateway
    .command('unit')
    .description('print a systemd unit that runs "tandem gateway start" at boot')
    .requiredOption('--dir <path>', 'the unzipped Client Portal Gateway folder')
    .addOption(configOption())
    .option('--data-dir <dir>', 'data directory for logs', 'data')
    .option('--system <user>', 'print a system unit running as this user (default: a user unit)')
    .action(async (opts: { dir: string; config?: string; dataDir: string; system?: string }) => {
      const { readGatewayDir } = await import('../gateway/conf.ts');
      const { renderSystemdUnit } = await import('../gateway/systemd-unit.ts');
      const gw = readGatewayDir(opts.dir);
      const tandemBin = join(packageRoot(), 'bin', 'tandem.js');
      process.stdout.write(renderSystemdUnit({
        gatewayDir: gw.dir,
        dataDir: resolve(opts.dataDir),
        workingDir: process.cwd(),
        nodePath: process.execPath,
        tandemBin,
        ...(opts.config ? { configFile: resolve(opts.config) } : {}),
        path: process.env.PATH ?? '/usr/local/bin:/usr/bin:/bin',
        ...(opts.system ? { system: { user: opts.system } } : {}),
      }));
    });
}
