/**
 * What most commands start with: the resolved config for `--config` and `--mode`, and a logger at
 * the config's level (DEBUG turns on debug output everywhere), with the config's log file.
 */
import { loadConfig, type LoadOptions, type TandemConfig } from '../config/load.ts';
import type { Mode } from '../config/env.ts';
import { createLogger, type Logger } from '../log/logger.ts';
import { assertSecureGatewayUrl } from '../util/loopback.ts';
import { registerUrlSecrets } from '../util/secrets.ts';

export interface Runtime {
  config: TandemConfig;
  logger: Logger;
}

export function loadRuntime(opts: { config: string; mode?: Mode; gateway?: string }, load: LoadOptions = {}): Runtime {
  const config = loadConfig(opts.config, { ...load, ...(opts.mode ? { mode: opts.mode } : {}) });
  if (opts.gateway) {
    assertSecureGatewayUrl(opts.gateway);
    registerUrlSecrets(opts.gateway);
    config.engine.gateway.url = opts.gateway;
  }
  const logger = createLogger({
    level: config.engine.logging.level,
    ...(config.engine.logging.file ? { file: config.engine.logging.file } : {}),
  });
  return { config, logger };
}
