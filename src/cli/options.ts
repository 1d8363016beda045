/** Options several commands share, so they read and validate the same way everywhere. */
import { Option } from 'commander';
import { UserError } from '../util/errors.ts';

export const modeOption = () =>
  new Option('--mode <mode>', 'paper or live (overrides the config)').choices(['paper', 'live']);

export const configOption = () => new Option('-c, --config <file>', 'a strategy, engine or legacy main config file');

/**
 * A `--gateway` URL, checked before anything connects: the Client Portal Gateway (and the
 * simulator) speak HTTPS only, so `http://...` would fail later with a confusing TLS or reset error.
 */
export function gatewayUrl(text: string): string {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new UserError(`--gateway ${text}: not a URL. Fix: give the gateway's address, e.g. --gateway https://localhost:5000`, 'TANDEM_BAD_OPTION');
  }
  if (url.protocol === 'http:') {
    url.protocol = 'https:';
    throw new UserError(`--gateway ${text}: the Client Portal Gateway speaks HTTPS only. Fix: use --gateway ${url.href.replace(/\/$/, '')}`, 'TANDEM_BAD_OPTION');
  }
  if (url.protocol !== 'https:') throw new UserError(`--gateway ${text}: expected an https:// URL, e.g. --gateway https://localhost:5000`, 'TANDEM_BAD_OPTION');
  return text;
}
