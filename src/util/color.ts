/**
 * Whether to colour terminal output, by the common conventions: `NO_COLOR` (any non-empty value)
 * turns colour off (https://no-color.org), `FORCE_COLOR` turns it on even into a pipe (`0` or
 * `false` turn it off), and otherwise colour goes only to a terminal.
 */
export function useColor(stream: { isTTY?: boolean }, env: NodeJS.ProcessEnv = process.env): boolean {
  const force = env.FORCE_COLOR;
  if (force !== undefined) return force !== '0' && force.toLowerCase() !== 'false';
  if (env.NO_COLOR) return false;
  return Boolean(stream.isTTY);
}
