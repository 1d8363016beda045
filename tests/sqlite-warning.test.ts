import { describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { ROOT } from './helpers/tandem-cli.ts';

describe('the CLI entry hides Node 22\'s node:sqlite ExperimentalWarning, and only that one', () => {
  it('drops the SQLite warning and prints any other warning as usual', () => {
    // Node 22 emits exactly this warning when node:sqlite loads (Node 24 does not); it is emitted by
    // hand here so that the filter is tested on every Node.
    const script = `
      const { hideSqliteExperimentalWarning } = await import(${JSON.stringify(join(ROOT, 'src/util/sqlite-warning.ts'))});
      hideSqliteExperimentalWarning();
      hideSqliteExperimentalWarning();
      await import('node:sqlite');
      process.emitWarning('SQLite is an experimental feature and might change at any time', 'ExperimentalWarning');
      process.emitWarning('Something else is an experimental feature', 'ExperimentalWarning');
      process.emitWarning('a plain warning', { type: 'Warning', code: 'TANDEM_TEST' });`;
    const r = spawnSync(process.execPath, ['--import', import.meta.resolve('tsx'), '--input-type=module', '-e', script], { encoding: 'utf8' });
    expect(r.status).toBe(0);
    expect(r.stderr).not.toMatch(/SQLite/);
    expect(r.stderr).toMatch(/ExperimentalWarning: Something else is an experimental feature/);
    expect(r.stderr).toMatch(/\[TANDEM_TEST\] Warning: a plain warning/);
  });
});
