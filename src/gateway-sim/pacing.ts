/**
 * Pacing (§9): a global sliding-window limit (10 requests/s on the gateway) plus the per-endpoint
 * limits of §9.3, answered with 429; repeated violations put the client in a penalty box during which
 * every API request gets 429 (10 minutes per current docs; configurable, short in tests).
 */
import type { PacingOptions } from './options.ts';

interface Limit {
  count: number;
  windowMs: number;
}

/** §9.3, keyed by "METHOD path-pattern" as the router names routes. */
export const ENDPOINT_LIMITS: Record<string, Limit> = {
  'GET /iserver/marketdata/snapshot': { count: 10, windowMs: 1_000 },
  'GET /iserver/account/trades': { count: 1, windowMs: 5_000 },
  'GET /iserver/account/orders': { count: 1, windowMs: 5_000 },
  'GET /iserver/account/pnl/partitioned': { count: 1, windowMs: 5_000 },
  'GET /portfolio/accounts': { count: 1, windowMs: 5_000 },
  'GET /portfolio/subaccounts': { count: 1, windowMs: 5_000 },
  'POST /tickle': { count: 1, windowMs: 1_000 },
  'GET /tickle': { count: 1, windowMs: 1_000 },
  'GET /sso/validate': { count: 1, windowMs: 60_000 },
};

export type PacingVerdict = { ok: true } | { ok: false; reason: 'global' | 'endpoint' | 'penalty'; retryAfterMs: number };

export class Pacing {
  private global: number[] = [];
  private readonly perRoute = new Map<string, number[]>();
  private violations: number[] = [];
  penaltyUntil = 0;

  constructor(public opts: PacingOptions) {}

  reset(): void {
    this.global = [];
    this.perRoute.clear();
    this.violations = [];
    this.penaltyUntil = 0;
  }

  private prune(list: number[], now: number, windowMs: number): number[] {
    let i = 0;
    while (i < list.length && now - list[i]! >= windowMs) i++;
    return i ? list.slice(i) : list;
  }

  check(routeKey: string, now = Date.now()): PacingVerdict {
    if (!this.opts.enabled) return { ok: true };
    if (now < this.penaltyUntil) return { ok: false, reason: 'penalty', retryAfterMs: this.penaltyUntil - now };
    this.global = this.prune(this.global, now, 1_000);
    if (this.global.length >= this.opts.globalPerSecond) return this.violate(now, 'global', 1_000 - (now - this.global[0]!));
    const lim = this.opts.perEndpoint ? ENDPOINT_LIMITS[routeKey] : undefined;
    if (lim) {
      const list = this.prune(this.perRoute.get(routeKey) ?? [], now, lim.windowMs);
      this.perRoute.set(routeKey, list);
      if (list.length >= lim.count) return this.violate(now, 'endpoint', lim.windowMs - (now - list[0]!));
      list.push(now);
    }
    this.global.push(now);
    return { ok: true };
  }

  private violate(now: number, reason: 'global' | 'endpoint', retryAfterMs: number): PacingVerdict {
    this.violations = this.prune(this.violations, now, this.opts.violationWindowMs);
    this.violations.push(now);
    if (this.violations.length >= this.opts.penaltyAfterViolations) {
      this.penaltyUntil = now + this.opts.penaltyMs;
      this.violations = [];
      return { ok: false, reason: 'penalty', retryAfterMs: this.opts.penaltyMs };
    }
    return { ok: false, reason, retryAfterMs: Math.max(1, retryAfterMs) };
  }
}
