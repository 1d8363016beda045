/**
 * `tandem sim`: runs the gateway simulator in the foreground. The first stdout line is the URL (or,
 * with --json, one JSON object with url, port, accounts), so a parent process can start it with
 * `--port 0` and read where it listens.
 */
import { readFileSync } from 'node:fs';
import type { Command } from 'commander';
import type { RealismFlags, SimOAuthSetup, SimOptions, SimUser } from '../gateway-sim/index.ts';
import { UserError } from '../util/errors.ts';

function int(name: string, v: string, min = 0): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n < min) throw new UserError(`--${name} ${v}: expected an integer >= ${min}`, 'TANDEM_BAD_OPTION');
  return n;
}

function port(v: string): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0 || n > 65535) throw new UserError(`--port ${v}: not a TCP port. Fix: give a port from 1 to 65535 (0 = any free port), e.g. --port 5000`, 'TANDEM_BAD_OPTION');
  return n;
}

function parseUser(spec: string): SimUser {
  // user:password[:none|totp=SECRET|push[=hook|never|MS]]
  const [username, password, factor] = spec.split(':');
  if (!username || !password) throw new UserError(`--user ${spec}: expected user:password[:totp=SECRET|push[=MS|never]]`, 'TANDEM_BAD_OPTION');
  if (!factor || factor === 'none') return { username, password, secondFactor: 'none' };
  if (factor.startsWith('totp=')) return { username, password, secondFactor: 'totp', totpSecret: factor.slice(5) };
  if (factor.startsWith('push')) {
    const v = factor.split('=')[1];
    return { username, password, secondFactor: 'push', push: v === undefined || v === 'hook' ? 'hook' : v === 'never' ? 'never' : int('user', v) };
  }
  throw new UserError(`--user ${spec}: unknown second factor ${factor}`, 'TANDEM_BAD_OPTION');
}

/** `--realism flag=value,...` → partial realism flags (booleans and numbers). */
function parseRealism(spec: string, defaults: RealismFlags): Partial<RealismFlags> {
  const out: Record<string, boolean | number> = {};
  for (const item of spec.split(',').map((x) => x.trim()).filter(Boolean)) {
    const [k, v] = item.split('=');
    if (!k || v === undefined || !(k in defaults)) {
      throw new UserError(`--realism ${item}: expected flag=value with a flag among ${Object.keys(defaults).join(', ')}`, 'TANDEM_BAD_OPTION');
    }
    const kind = typeof defaults[k as keyof RealismFlags];
    if (kind === 'boolean') {
      if (v !== 'true' && v !== 'false') throw new UserError(`--realism ${item}: ${k} takes true or false`, 'TANDEM_BAD_OPTION');
      out[k] = v === 'true';
    } else {
      const n = Number(v);
      if (!Number.isFinite(n) || n < 0) throw new UserError(`--realism ${item}: ${k} takes a number >= 0`, 'TANDEM_BAD_OPTION');
      out[k] = n;
    }
  }
  return out as Partial<RealismFlags>;
}

/** `--oauth KEYDIR`: the public files a user uploads to IBKR's OAuth page. */
async function simOAuthSetup(dir: string, consumerKey: unknown, lstTtl: unknown): Promise<SimOAuthSetup> {
  const { readUploadedKeys } = await import('../gateway-sim/index.ts');
  let keys;
  try {
    keys = readUploadedKeys(dir);
  } catch (err) {
    throw new UserError(`--oauth ${dir}: ${(err as Error).message}. Fix: point --oauth at the directory \`tandem oauth init --dir\` wrote.`, 'TANDEM_BAD_OPTION');
  }
  return {
    ...keys,
    ...(typeof consumerKey === 'string' ? { consumerKey } : {}),
    ...(typeof lstTtl === 'string' ? { lstTtlMs: int('lst-ttl', lstTtl, 1000) } : {}),
  };
}

export function registerSimCommand(program: Command): void {
  program
    .command('sim')
    .description('Run the Client Portal Gateway simulator (HTTPS + WebSocket on 127.0.0.1)')
    .option('--port <n>', 'TCP port (0 = any free port)', '5000')
    .option('--seed <n>', 'seed of the simulated market', '1')
    .option('--speed <x>', 'simulated seconds per real second', '1')
    .option('--start-time <iso>', 'simulated clock start (ISO date/time); default now')
    .option('--authenticated', 'start with the SSO and brokerage sessions established')
    .option('--live', 'with --authenticated: use the live account instead of the paper account')
    .option('--profile <name>', 'realistic | ideal', 'realistic')
    .option('--realism <flags>', 'override realism flags, e.g. nightlyReset=false,noBridgeMs=0 (see docs/simulator.md)')
    .option('--no-pacing', 'switch off rate limits (load benchmarks)')
    .option('--faults <spec>', 'fault spec, e.g. latency=200,error5xx=0.1,hang=0.02,dropSession@30s')
    .option('--session-timeout <ms>', 'idle time before the brokerage session ends (ms)')
    .option('--paper-cash <usd>', 'starting cash of the paper account')
    .option('--live-cash <usd>', 'starting cash of the live account')
    .option('--user <spec...>', 'login user(s) user:password[:totp=SECRET|push[=MS|never]] (default demo:demo)')
    .option('--cert <file>', 'PEM certificate (default: self-signed generated at start)')
    .option('--key <file>', 'PEM private key for --cert')
    .option('--oauth <keydir>', "serve IBKR's OAuth 1.0a direct API: KEYDIR holds the uploaded public_signature.pem, public_encryption.pem, dhparam.pem")
    .option('--consumer-key <key>', 'with --oauth: the consumer key (default TANDEMSIM)')
    .option('--lst-ttl <ms>', 'with --oauth: live session token lifetime in ms (default 24 h)')
    .option('--json', 'print one JSON line {url, port, accounts} instead of the URL')
    .option('--log-level <level>', 'stderr log level: debug prints every API request', 'warn')
    .action(async (o: Record<string, string | boolean | string[] | undefined>) => {
      // Loaded here, not at the top: `tandem --help` should not pay for the simulator (see commands.ts).
      const { REALISTIC, startSimulator } = await import('../gateway-sim/index.ts');
      const { parseFaultSpec } = await import('../gateway-sim/faults.ts');
      const { createLogger } = await import('../log/logger.ts');
      const profile = String(o.profile);
      if (profile !== 'realistic' && profile !== 'ideal') throw new UserError(`--profile ${profile}: expected realistic or ideal`, 'TANDEM_BAD_OPTION');
      const speed = Number(o.speed);
      if (!(speed > 0)) throw new UserError(`--speed ${String(o.speed)}: expected a positive number`, 'TANDEM_BAD_OPTION');
      if (typeof o.faults === 'string') {
        try { parseFaultSpec(o.faults); } catch (err) { throw new UserError(`--faults: ${(err as Error).message}`, 'TANDEM_BAD_OPTION'); }
      }
      if ((o.cert === undefined) !== (o.key === undefined)) throw new UserError('--cert and --key go together', 'TANDEM_BAD_OPTION');
      let tls: { cert: string; key: string } | undefined;
      if (typeof o.cert === 'string' && typeof o.key === 'string') {
        try { tls = { cert: readFileSync(o.cert, 'utf8'), key: readFileSync(o.key, 'utf8') }; } catch (err) {
          throw new UserError(`cannot read --cert/--key: ${(err as Error).message}`, 'TANDEM_BAD_OPTION');
        }
      }
      const opts: SimOptions = {
        port: port(String(o.port)), seed: int('seed', String(o.seed)), speed, profile,
        authenticated: o.authenticated === true, paper: o.live !== true, pacing: o.pacing !== false,
        ...(typeof o.startTime === 'string' ? { startTime: o.startTime } : {}),
        ...(typeof o.faults === 'string' ? { faults: o.faults } : {}),
        ...(typeof o.realism === 'string' ? { realism: parseRealism(o.realism, REALISTIC) } : {}),
        ...(typeof o.sessionTimeout === 'string' ? { brokerageTimeoutMs: int('session-timeout', o.sessionTimeout, 1), ssoTimeoutMs: int('session-timeout', o.sessionTimeout, 1) * 1.2 } : {}),
        accounts: {
          ...(typeof o.paperCash === 'string' ? { paper: { cash: Number(o.paperCash) } } : {}),
          ...(typeof o.liveCash === 'string' ? { live: { cash: Number(o.liveCash) } } : {}),
        },
        ...(Array.isArray(o.user) ? { users: o.user.map(parseUser) } : {}),
        ...(tls ? { tls } : {}),
        ...(typeof o.oauth === 'string' ? { oauth: await simOAuthSetup(o.oauth, o.consumerKey, o.lstTtl) } : {}),
        logger: createLogger({ level: String(o.logLevel) }),
      };
      if (opts.startTime !== undefined && !Number.isFinite(Date.parse(String(opts.startTime)))) throw new UserError(`--start-time ${String(opts.startTime)}: not a date`, 'TANDEM_BAD_OPTION');
      let sim;
      try {
        sim = await startSimulator(opts);
      } catch (err) {
        const e = err as NodeJS.ErrnoException;
        if (e.code === 'EADDRINUSE') throw new UserError(`port ${opts.port} is in use. Fix: pick another with --port (0 = any free port)`, 'TANDEM_PORT_UNAVAILABLE');
        if (e.code === 'EACCES') throw new UserError(`port ${opts.port} needs privileges to listen on. Fix: use a port above 1023, e.g. --port 5000 (0 = any free port)`, 'TANDEM_PORT_UNAVAILABLE');
        throw err;
      }
      // The simulator plays IBKR's OAuth page too: it issues the access token and its encrypted secret.
      const oauth = sim.oauth ? { consumerKey: sim.oauth.consumerKey, accessToken: sim.oauth.issued.accessToken, accessTokenSecret: sim.oauth.issued.encryptedSecretB64, realm: sim.oauth.realm } : undefined;
      if (o.json) {
        process.stdout.write(`${JSON.stringify({ url: sim.url, port: sim.port, apiUrl: sim.apiUrl, wsUrl: sim.wsUrl, accounts: sim.accounts, profile, seed: opts.seed, ...(oauth ? { oauth } : {}) })}\n`);
      } else if (oauth) {
        process.stdout.write(`${sim.url}\n`);
        process.stdout.write(`  OAuth 1.0a direct API at ${sim.apiUrl} (unsigned requests are refused); websocket ${sim.wsUrl}?oauth_token=...\n`);
        process.stdout.write(`  engine config: connection: oauth, oauth: { url: ${sim.url}, consumerKey: ${oauth.consumerKey}, accessToken: ${oauth.accessToken}, keyDir: <the directory of tandem oauth init> }\n`);
        process.stdout.write(`  .env: IBKR_OAUTH_ACCESS_TOKEN_SECRET=${oauth.accessTokenSecret}\n`);
      } else {
        process.stdout.write(`${sim.url}\n`);
        process.stdout.write(`  API ${sim.apiUrl}   websocket ${sim.wsUrl}   hooks ${sim.url}/sim/state\n`);
        process.stdout.write(`  accounts: paper ${sim.accounts.paper}, live ${sim.accounts.live}; login demo/demo at ${sim.url}/ (profile ${profile}, seed ${opts.seed}${o.authenticated ? ', authenticated' : ''})\n`);
      }
      await new Promise<void>((resolve) => {
        const stop = () => { void sim.close().then(resolve); };
        process.once('SIGINT', stop);
        process.once('SIGTERM', stop);
      });
    });
}
