/**
 * Node 22 prints "ExperimentalWarning: SQLite is an experimental feature..." on stderr the first
 * time anything loads `node:sqlite` (the journal's storage). For a `tandem` user that line is noise
 * on every `run`, `status` or `trades`, and it would end up in every log. The CLI entry hides that one
 * warning and only that one: every other warning, experimental or not, is printed as usual.
 * Node 24 does not print it.
 *
 * Node emits the warning while it loads the module, so this must run before any module that
 * imports `node:sqlite` is loaded (src/main.ts installs it, then imports the CLI dynamically).
 */

const SQLITE_WARNING = /^SQLite is an experimental feature/;

/** Drops Node's ExperimentalWarning about node:sqlite from process.emitWarning; idempotent. */
export function hideSqliteExperimentalWarning(): void {
  if ((process.emitWarning as { tandemFiltered?: boolean }).tandemFiltered) return;
  const emit = process.emitWarning;
  const filtered = function (this: unknown, warning: string | Error, ...rest: unknown[]): void {
    const options = rest[0];
    const type = typeof options === 'string' ? options : (options as { type?: unknown } | undefined)?.type ?? (warning instanceof Error ? warning.name : undefined);
    const message = typeof warning === 'string' ? warning : warning.message;
    if (type === 'ExperimentalWarning' && SQLITE_WARNING.test(message)) return;
    (emit as (...args: unknown[]) => void).call(process, warning, ...rest);
  };
  process.emitWarning = Object.assign(filtered, { tandemFiltered: true }) as typeof process.emitWarning;
}
