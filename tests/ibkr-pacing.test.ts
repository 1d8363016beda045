import { describe, expect, it } from 'vitest';
import { Pacer, SlidingWindow, maxInAnyWindow, validateBudget, MAX_REQUESTS_PER_SECOND } from '../src/ibkr/pacing.ts';

const tick = () => new Promise<void>((r) => setTimeout(r, 5));

describe('ibkr pacing', () => {
  it('pacing: never sends more than the budget in any rolling second (recorded send times)', async () => {
    const times: number[] = [];
    const pacer = new Pacer({ maxRequestsPerSecond: 40, onSend: (e) => times.push(e.time) });
    await Promise.all(Array.from({ length: 130 }, (_, i) => pacer.schedule({ method: 'GET', path: `/x/${i}` }, async () => i)));
    expect(times).toHaveLength(130);
    expect(maxInAnyWindow(times, 1000)).toBeLessThanOrEqual(40);
    // The 130 sends had to spread over more than three windows.
    expect(times[129]! - times[0]!).toBeGreaterThanOrEqual(3000);
  });

  it('pacing: a burst after an idle period does not exceed the budget (sliding window, not a bucket)', async () => {
    const times: number[] = [];
    const pacer = new Pacer({ maxRequestsPerSecond: 10, onSend: (e) => times.push(e.time) });
    await Promise.all(Array.from({ length: 10 }, () => pacer.schedule({ method: 'GET', path: '/a' }, async () => 0)));
    await new Promise((r) => setTimeout(r, 600));
    await Promise.all(Array.from({ length: 15 }, () => pacer.schedule({ method: 'GET', path: '/a' }, async () => 0)));
    expect(maxInAnyWindow(times, 1000)).toBeLessThanOrEqual(10);
  });

  it('pacing: per-endpoint limits hold while other endpoints keep flowing', async () => {
    const log: { time: number; path: string }[] = [];
    const pacer = new Pacer({
      maxRequestsPerSecond: 40,
      endpointRules: [{ name: 'slow', pattern: /^\/slow$/, limit: 1, windowMs: 400 }],
      onSend: (e) => log.push({ time: e.time, path: e.path }),
    });
    await Promise.all([
      ...Array.from({ length: 3 }, () => pacer.schedule({ method: 'GET', path: '/slow' }, async () => 0)),
      ...Array.from({ length: 5 }, () => pacer.schedule({ method: 'GET', path: '/fast' }, async () => 0)),
    ]);
    const slow = log.filter((l) => l.path === '/slow').map((l) => l.time);
    const fast = log.filter((l) => l.path === '/fast').map((l) => l.time);
    expect(maxInAnyWindow(slow, 400)).toBe(1);
    // the fast ones did not wait behind the slow endpoint
    expect(Math.max(...fast) - Math.min(...slow)).toBeLessThan(300);
  });

  it('pacing: order calls go ahead of queued bulk calls', async () => {
    const order: string[] = [];
    const pacer = new Pacer({ maxRequestsPerSecond: 5, onSend: (e) => order.push(e.path) });
    const jobs = Array.from({ length: 12 }, (_, i) => pacer.schedule({ method: 'GET', path: `/bulk${i}`, priority: 'bulk' }, async () => 0));
    await tick();
    jobs.push(pacer.schedule({ method: 'POST', path: '/order', priority: 'order' }, async () => 0));
    await Promise.all(jobs);
    // 5 bulk calls went out at once; the order call is the very next one.
    expect(order.indexOf('/order')).toBe(5);
  });

  it('pacing: concurrency cap (history: 5 in flight)', async () => {
    let inFlight = 0;
    let peak = 0;
    const pacer = new Pacer({
      maxRequestsPerSecond: 40,
      concurrencyRules: [{ name: 'h', pattern: /^\/h$/, max: 2 }],
    });
    await Promise.all(
      Array.from({ length: 6 }, () =>
        pacer.schedule({ method: 'GET', path: '/h' }, async () => {
          inFlight++;
          peak = Math.max(peak, inFlight);
          await new Promise((r) => setTimeout(r, 50));
          inFlight--;
        }),
      ),
    );
    expect(peak).toBe(2);
  });

  it('pacing: penalize holds every send until the penalty is over', async () => {
    const times: number[] = [];
    const pacer = new Pacer({ maxRequestsPerSecond: 10, onSend: (e) => times.push(e.time) });
    const t0 = Date.now();
    pacer.penalize(300);
    await pacer.schedule({ method: 'GET', path: '/a' }, async () => 0);
    expect(times[0]! - t0).toBeGreaterThanOrEqual(295);
  });

  it('pacing: budgets above the 40/s ceiling or not positive are refused', () => {
    expect(() => validateBudget(41)).toThrow(/ceiling of 40/);
    expect(() => validateBudget(0)).toThrow(/positive/);
    expect(validateBudget(undefined)).toBe(10);
    expect(validateBudget(MAX_REQUESTS_PER_SECOND)).toBe(40);
    expect(() => new Pacer({ maxRequestsPerSecond: 100 })).toThrow();
  });

  it('pacing: sliding window arithmetic (a request counts until a window after its answer)', () => {
    const w = new SlidingWindow(2, 1000);
    expect(w.waitMs(0)).toBe(0);
    const a = w.record(0);
    const b = w.record(100);
    expect(w.waitMs(150)).toBe(Infinity); // both still in flight
    SlidingWindow.release(a, 10);
    SlidingWindow.release(b, 120);
    expect(w.waitMs(500)).toBe(511);
    expect(w.waitMs(1011)).toBe(0);
    expect(maxInAnyWindow([0, 100, 999, 1000, 1500], 1000)).toBe(3);
  });
});
