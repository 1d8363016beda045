/**
 * One node per journal (src/store/lock.ts), with real processes: a second `tandem run` on the same
 * journal exits 2 naming the PID that holds it, before connecting anywhere; after the holder is
 * SIGKILLed the next start takes the journal over without anyone deleting a file.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { existsSync, statSync } from 'node:fs';
import { join, dirname } from 'node:path';
import { exitWithin, NodeProcesses } from './helpers/run-node.ts';

const nodes = new NodeProcesses();
afterEach(() => nodes.cleanup());

describe('journal lock', () => {
  it('journal lock: a second node on the same journal exits 2 naming the holder; a SIGKILLed holder leaves no lock', async () => {
    const sim = await nodes.startSim(true);
    const config = nodes.engineConfig(sim.url);
    const env = { IBKR_PAPER_ACCOUNT_ID: sim.accounts.paper };
    const first = nodes.start(['run', '--config', config], env);
    await first.waitLine(/engine running/, 120_000);

    const second = nodes.start(['run', '--config', config], env);
    expect(await exitWithin(second, 90_000)).toBe(2);
    const err = second.lines.join('\n');
    expect(err).toMatch(new RegExp(`in use by Tandem process ${first.proc.pid}\\b`));
    expect(err).toMatch(/kill -TERM \d+/);
    expect(err).not.toMatch(/^\s+at /m);
    // It stopped before doing anything: no log line, only the error.
    expect(second.lines.filter((l) => l.startsWith('{'))).toEqual([]);

    // The lock and its owner record are private to the user.
    const dataDir = join(dirname(config), 'data');
    expect(statSync(join(dataDir, 'journal.sqlite.lock')).mode & 0o777).toBe(0o600);
    expect(statSync(dataDir).mode & 0o777).toBe(0o700);

    first.proc.kill('SIGKILL');
    await first.exited;
    expect(existsSync(join(dataDir, 'journal.sqlite.lock.owner'))).toBe(true); // left behind by the kill
    const third = nodes.start(['run', '--config', config], env);
    await third.waitLine(/engine running/, 120_000);
    third.proc.kill('SIGTERM');
    expect(await exitWithin(third, 60_000)).toBe(0);
    expect(existsSync(join(dataDir, 'journal.sqlite.lock.owner'))).toBe(false);
  }, 300_000);
});
