/** The progress bar: drawn on a TTY, silent otherwise. */
import { describe, expect, it } from 'vitest';
import { ProgressBar } from '../src/util/progress.ts';

function fakeStream(isTTY: boolean) {
  const written: string[] = [];
  return { stream: { isTTY, write: (s: string) => written.push(s) } as unknown as NodeJS.WriteStream, written };
}

describe('progress', () => {
  it('is quiet when the stream is not a terminal', () => {
    const { stream, written } = fakeStream(false);
    const bar = new ProgressBar({ label: 'scan', total: 10, stream });
    for (let i = 0; i < 10; i++) bar.tick();
    bar.finish();
    expect(bar.enabled).toBe(false);
    expect(written).toEqual([]);
  });

  it('draws on a terminal and ends with a full bar and a newline', () => {
    const { stream, written } = fakeStream(true);
    const bar = new ProgressBar({ label: 'backtest', total: 4, stream, intervalMs: 0 });
    bar.update(1);
    bar.update(2);
    bar.finish();
    expect(written[0]).toContain('backtest [');
    expect(written[0]).toContain('25.0% 1/4');
    expect(written.at(-2)).toContain('100.0% 4/4');
    expect(written.at(-1)).toBe('\n');
  });

  it('renders an unknown total as a count', () => {
    const { stream } = fakeStream(true);
    const bar = new ProgressBar({ label: 'reading', total: 0, stream });
    bar.update(5);
    expect(bar.render()).toMatch(/^reading 5 \(\d+\.\ds\)$/);
  });
});
