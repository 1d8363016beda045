import { describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { Command } from 'commander';
import { withDefaultCommand } from '../src/cli/index.ts';

describe('cli', () => {
  it('prints help and exits 0', () => {
    const out = execFileSync('npx', ['tsx', 'src/main.ts', '--help'], { encoding: 'utf8' });
    expect(out).toContain('Usage: tandem');
    expect(out).toContain('config');
  });

  it('treats `tandem --config FILE` as `tandem run --config FILE`', () => {
    const program = new Command('tandem');
    program.command('run');
    program.command('config');
    expect(withDefaultCommand(program, ['--config', 'x.yaml', '--mode', 'live'])).toEqual(['run', '--config', 'x.yaml', '--mode', 'live']);
    expect(withDefaultCommand(program, ['config', 'show', '--config', 'x.yaml'])).toEqual(['config', 'show', '--config', 'x.yaml']);
    expect(withDefaultCommand(program, ['--help'])).toEqual(['--help']);
  });
});
