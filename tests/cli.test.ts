import { describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';

describe('cli', () => {
  it('prints help and exits 0', () => {
    const out = execFileSync('npx', ['tsx', 'src/main.ts', '--help'], { encoding: 'utf8' });
    expect(out).toContain('Usage: tandem');
  });
});
