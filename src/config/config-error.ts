/**
 * A problem in a configuration file or the environment, reported as one paragraph:
 * `FILE:LINE:COL: key.path: what is wrong. Fix: what to do.`
 */
import { UserError } from '../util/errors.ts';

export interface ConfigProblem {
  file: string;
  line?: number;
  col?: number;
  /** Dotted key path inside the file, e.g. `pacing.maxRequestsPerSecond`. */
  keyPath?: string;
  message: string;
  fix?: string;
}

export function formatProblem(p: ConfigProblem): string {
  const where = p.line !== undefined ? `${p.file}:${p.line}:${p.col ?? 1}` : p.file;
  const key = p.keyPath ? ` ${p.keyPath}:` : '';
  const fix = p.fix ? ` Fix: ${p.fix}` : '';
  return `${where}:${key} ${p.message}${/[.!?]$/.test(p.message) ? '' : '.'}${fix}`;
}

export class ConfigError extends UserError {
  override name = 'ConfigError';
  constructor(readonly problems: ConfigProblem[]) {
    super(problems.map(formatProblem).join('\n'), 'TANDEM_CONFIG_INVALID');
  }
}
