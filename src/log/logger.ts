/**
 * Logging: pino, human-readable on a terminal and JSON lines otherwise. On a terminal each bar's
 * status is one line and time stamps are in the exchange's time zone (terminal.ts); piped output
 * keeps every field.
 *
 * Secrets are removed twice: by key (pino's redact paths for passwords, cookies, tokens, ...) and by
 * value (every registered secret string, e.g. the password from the environment, is replaced
 * wherever it appears in a message or a field), so a secret that slips into an error message or a
 * URL still never reaches the output.
 */
import pino, { type Logger, type Level } from 'pino';
import { createWriteStream } from 'node:fs';
import { dirname } from 'node:path';
import { Writable } from 'node:stream';
import { hasSecrets, registerSecret, scrubSecrets } from '../util/secrets.ts';
import { ensurePrivateDir, PRIVATE_FILE_MODE } from '../util/private-files.ts';
import { useColor } from '../util/color.ts';
import { terminalRenderer } from './terminal.ts';

export type { Logger };
export type LogLevel = 'debug' | 'info' | 'warn' | 'error' | 'silent';

const REDACTED = '[redacted]';

/** Keys whose values are never logged, at any depth pino's wildcards reach. */
const SECRET_KEYS = [
  'password', 'passwd', 'pwd', 'username', 'user', 'cookie', 'cookies', 'set-cookie', 'authorization',
  'token', 'session', 'secret', 'totp', 'totpSecret', 'IBKR_PASSWORD', 'IBKR_USERNAME', 'IBKR_TOTP_SECRET',
];
const REDACT_PATHS = [
  ...SECRET_KEYS.map((k) => (/^[A-Za-z_][A-Za-z0-9_]*$/.test(k) ? k : `["${k}"]`)),
  ...SECRET_KEYS.map((k) => (/^[A-Za-z_][A-Za-z0-9_]*$/.test(k) ? `*.${k}` : `*["${k}"]`)),
  'headers.cookie', 'headers["set-cookie"]', 'headers.authorization',
  '*.headers.cookie', '*.headers["set-cookie"]', '*.headers.authorization',
];

export { registerSecret, scrubSecrets };

/**
 * A stream wrapper that scrubs secret values from each serialized line before it is written,
 * after rendering it for a terminal when `render` is given.
 */
function scrubbing(dest: NodeJS.WritableStream, render?: (line: string) => string): Writable {
  return new Writable({
    write(chunk: Buffer | string, _enc, cb) {
      const raw = typeof chunk === 'string' ? chunk : chunk.toString('utf8');
      const line = render ? render(raw) : raw;
      dest.write(hasSecrets() ? scrubSecrets(line) : line);
      cb();
    },
  });
}

export interface LoggerOptions {
  level?: string;
  /** Optional file that receives JSON lines in addition to the console output. */
  file?: string;
  /** Force pretty (true) or JSON (false) console output; default: pretty on a TTY. */
  pretty?: boolean;
  /** Where console output goes; default stderr, so stdout stays clean for command output. */
  destination?: NodeJS.WritableStream;
}

export function normalizeLevel(level: string | undefined): LogLevel {
  const l = (level ?? 'info').toLowerCase();
  if (l === 'warning') return 'warn';
  if (l === 'debug' || l === 'info' || l === 'warn' || l === 'error' || l === 'silent') return l;
  return 'info';
}

export function createLogger(opts: LoggerOptions = {}): Logger {
  const level = normalizeLevel(opts.level);
  // multistream entries take a real level; 'silent' is applied on the logger itself.
  const streamLevel: Level = level === 'silent' ? 'fatal' : level;
  const consoleDest = opts.destination ?? process.stderr;
  const usePretty = opts.pretty ?? Boolean((consoleDest as NodeJS.WriteStream).isTTY);
  const consoleStream = usePretty
    ? scrubbing(consoleDest, terminalRenderer({ colorize: useColor(consoleDest as NodeJS.WriteStream) }))
    : scrubbing(consoleDest);
  const streams: pino.StreamEntry[] = [{ level: streamLevel, stream: consoleStream }];
  if (opts.file) {
    ensurePrivateDir(dirname(opts.file), 'log directory');
    streams.push({ level: streamLevel, stream: scrubbing(createWriteStream(opts.file, { flags: 'a', mode: PRIVATE_FILE_MODE })) });
  }
  return pino(
    { level, redact: { paths: REDACT_PATHS, censor: REDACTED }, base: undefined },
    pino.multistream(streams),
  );
}

/** A logger that discards everything, for library code used without a configured logger (log/silent.ts). */
export { silentLogger } from './silent.ts';
