/**
 * The package as users get it: `npm pack` (which builds dist/ through the `prepare` script),
 * installed globally into a temporary prefix, then `tandem --version` and a backtest run from an
 * empty directory, on the compiled JavaScript alone (no tsx, no dev dependencies, no sources), with
 * the `node` first on PATH (the bin's shebang is `/usr/bin/env node`): Node 24 in CI.
 *
 * The install is offline from npm's cache (every dependency is there after `npm ci`); only when
 * that fails does it ask the registry. Slow by nature (a build and an install): one test.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { backtestFile, backtestNodeFile } from '../src/backtest/backtest-file.ts';
import { STREAM_MIN_BYTES } from '../src/backtest/bar-stream.ts';
import { backtestJson } from '../src/backtest/output.ts';
import { loadConfig, loadStrategyFile } from '../src/config/load.ts';
import { pairCsv, syntheticPair } from './helpers/pair-data.ts';
import { ROOT } from './helpers/tandem-cli.ts';

describe('package', () => {
  it('packs, installs into a prefix and runs --version and a backtest from the tarball', async () => {
    const tmp = mkdtempSync(join(tmpdir(), 'tandem-pack-'));
    const npm = (args: string[], cwd: string) => spawnSync('npm', args, { cwd, encoding: 'utf8', env: { ...process.env, npm_config_update_notifier: 'false' } });
    const packed = npm(['pack', '--silent', '--pack-destination', tmp], ROOT);
    expect(packed.status, packed.stderr).toBe(0);
    const tgz = readdirSync(tmp).find((f) => /^tandem-.*\.tgz$/.test(f))!;
    const files = execFileSync('tar', ['tzf', join(tmp, tgz)], { encoding: 'utf8' }).split('\n');
    expect(files).toContain('package/dist/main.js');
    expect(files).toContain('package/dist/scan-worker.js');
    expect(files).toContain('package/dist/sweep-worker.js');
    expect(files).toContain('package/dist/bar-stream-worker.js');
    expect(files).toContain('package/configs/strategies/cointegration_etha_ethv.yaml');
    expect(files.filter((f) => f.startsWith('package/src/') || f.startsWith('package/tests/'))).toEqual([]);

    const prefix = join(tmp, 'prefix');
    const install = ['install', '-g', '--prefix', prefix, join(tmp, tgz), '--no-audit', '--no-fund'];
    let inst = npm([...install, '--offline'], tmp);
    if (inst.status !== 0) inst = npm([...install, '--prefer-offline'], tmp);
    expect(inst.status, inst.stderr).toBe(0);
    const bin = join(prefix, 'bin', 'tandem');
    expect(existsSync(join(prefix, 'lib', 'node_modules', 'tandem', 'node_modules', 'tsx'))).toBe(false);
    // No native module (the journal uses Node's built-in node:sqlite): nothing to compile per Node version.
    expect(execFileSync('find', [prefix, '-name', '*.node', '-type', 'f'], { encoding: 'utf8' })).toBe('');

    const work = join(tmp, 'work');
    mkdirSync(work);
    const tandem = (args: string[]) => spawnSync(bin, args, { cwd: work, encoding: 'utf8' });
    const { version } = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string };
    expect(tandem(['--version'])).toMatchObject({ status: 0, stdout: `${version}\n`, stderr: '' });

    writeFileSync(join(work, 'bars.csv'), pairCsv(syntheticPair({ n: 1000, seed: 3 }), 'ETHA', 'ETHV'));
    const strategy = join(prefix, 'lib', 'node_modules', 'tandem', 'configs', 'strategies', 'cointegration_etha_ethv.yaml');
    const bt = tandem(['backtest', '--config', strategy, '--data', 'bars.csv', '--json', 'out.json']);
    expect(bt.stderr).toBe('');
    expect(bt.status).toBe(0);
    expect(bt.stdout).toMatch(/aligned bars\s+1000/);
    expect((JSON.parse(readFileSync(join(work, 'out.json'), 'utf8')) as { equity: unknown[] }).equity).toHaveLength(1000);
    // A file of STREAM_MIN_BYTES or more is read by the compiled bar-stream threads while the
    // backtest runs: the same JSON as the sources' run on the file read first.
    const big = pairCsv(syntheticPair({ n: 170_000, seed: 8 }), 'ETHA', 'ETHV');
    expect(big.length).toBeGreaterThan(STREAM_MIN_BYTES);
    writeFileSync(join(work, 'big.csv'), big);
    const streamed = tandem(['backtest', '--config', strategy, '--data', 'big.csv', '--json', 'big.json', '--spec-rules', '--cash', '100000']);
    expect(streamed.stderr).toBe('');
    expect(streamed.status).toBe(0);
    const readFirst = await backtestFile({ config: loadStrategyFile(strategy), dataFile: join(work, 'big.csv'), startingCash: 100_000, rules: 'spec', progress: false, stream: false });
    expect(readFirst.result.trades.length).toBeGreaterThan(100);
    expect(readFileSync(join(work, 'big.json'), 'utf8')).toBe(backtestJson(readFirst.result));
    // The live node (the default) from the same file: its reading thread started before the config
    // is read, its modules loaded while the stream opens; the same JSON as the file read first, under
    // the risk limits of the engine config the command falls back to (the package's own).
    const live = tandem(['backtest', '--config', strategy, '--data', 'big.csv', '--json', 'live.json', '--cash', '100000']);
    expect(live.stderr).toBe('');
    expect(live.status).toBe(0);
    const cfg = loadConfig(strategy);
    const r = cfg.engine.risk;
    const liveFirst = await backtestNodeFile({
      configs: cfg.strategies, dataFile: join(work, 'big.csv'), startingCash: 100_000, progress: false, stream: false,
      risk: { maxGrossNotional: r.maxGrossNotional, maxPositionNotional: r.maxPositionPerLeg, maxDailyLoss: r.maxDailyLoss, allowOutsideRth: r.allowOutsideRth, maxBarAgeBars: r.maxBarAgeBars },
    });
    expect(liveFirst.result.trades.length).toBeGreaterThan(10);
    expect(readFileSync(join(work, 'live.json'), 'utf8')).toBe(backtestJson(liveFirst.result));
    // scan's and sweep's worker threads load their compiled entries.
    const scan = tandem(['scan', '--data', 'bars.csv', '--workers', '1']);
    expect(scan.stderr).toBe('');
    expect(scan.stdout).toMatch(/1 pair\(s\) ranked/);
    const sweep = tandem(['sweep', '--config', strategy, '--data', 'bars.csv', '--grid', 'entryZ=1.5,2', '--workers', '2']);
    expect(sweep.stderr).toBe('');
    expect(sweep.stdout).toMatch(/2 point\(s\) over 1000 aligned bars/);
    // config show prints YAML (yaml is bundled: its functions must reach the command, named).
    const shown = tandem(['config', 'show', '--config', strategy]);
    expect(shown.stderr).toBe('');
    expect(shown.status).toBe(0);
    expect(shown.stdout).toMatch(/^kind: strategy$/m);
  }, 900_000);
});
