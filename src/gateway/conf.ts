/**
 * Reads what Tandem needs from a downloaded Client Portal Gateway directory: where `bin/run.sh` and
 * `root/conf.yaml` are, and the port/TLS settings that give the gateway's URL.
 */
import { existsSync, readFileSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parse } from 'yaml';
import { UserError } from '../util/errors.ts';

export interface GatewayDir {
  dir: string;
  runScript: string;
  confFile: string;
  listenPort: number;
  listenSsl: boolean;
  /** `https://127.0.0.1:<port>` (or http when listenSsl is false): 127.0.0.1 is in the shipped ips.allow, ::1 is not. */
  baseUrl: string;
}

export function readGatewayDir(dirArg: string): GatewayDir {
  const dir = resolve(dirArg);
  if (!existsSync(dir) || !statSync(dir).isDirectory()) {
    throw new UserError(`gateway directory ${dir} does not exist: download the Client Portal Gateway (clientportal.gw.zip) from IBKR, unzip it and pass that folder with --dir.`, 'TANDEM_FILE_NOT_FOUND');
  }
  const runScript = join(dir, 'bin', 'run.sh');
  const confFile = join(dir, 'root', 'conf.yaml');
  for (const [file, what] of [[runScript, 'bin/run.sh'], [confFile, 'root/conf.yaml']] as const) {
    if (!existsSync(file)) {
      throw new UserError(`${dir} is not a Client Portal Gateway folder: ${what} is missing. Pass the folder that contains bin/ and root/ (the unzipped clientportal.gw).`, 'TANDEM_FILE_NOT_FOUND');
    }
  }
  let conf: unknown;
  try {
    conf = parse(readFileSync(confFile, 'utf8'));
  } catch (err) {
    throw new UserError(`${confFile} is not valid YAML (${(err as Error).message.split('\n')[0]}): restore the conf.yaml shipped with the gateway.`, 'TANDEM_FILE_INVALID');
  }
  const c = (conf ?? {}) as Record<string, unknown>;
  const listenPort = c['listenPort'] === undefined ? 5000 : Number(c['listenPort']);
  if (!Number.isInteger(listenPort) || listenPort <= 0 || listenPort > 65535) {
    throw new UserError(`${confFile}: listenPort must be a port number (1-65535), got ${JSON.stringify(c['listenPort'])}.`, 'TANDEM_FILE_INVALID');
  }
  const listenSsl = c['listenSsl'] === undefined ? true : c['listenSsl'] !== false && c['listenSsl'] !== 'false';
  return { dir, runScript, confFile, listenPort, listenSsl, baseUrl: `${listenSsl ? 'https' : 'http'}://127.0.0.1:${listenPort}` };
}
