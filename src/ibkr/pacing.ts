/**
 * Request pacing shared by every caller of one client.
 *
 * The gateway allows 10 requests/s in total (IBKR's documented limit for the Client Portal Gateway)
 * plus per-endpoint limits (1 per 5 s for live orders, trades, portfolio accounts, ...). A violation
 * costs a 429 and, when repeated, a penalty box of ~10 minutes for every program behind the same IP,
 * so the budget is enforced with sliding windows: a request occupies a slot from its send until one
 * second after its answer, so neither our send times nor the gateway's arrival times ever hold more
 * requests than the budget in any rolling second.
 * A token bucket would let a full bucket burst on top of a refill and briefly exceed the limit.
 *
 * Waiting jobs are served by priority (order calls before ordinary reads before bulk data); a job
 * held back by its endpoint's own limit does not block jobs for other endpoints. The history
 * endpoint also has a cap on concurrent requests (5).
 */
import { UserError } from '../util/errors.ts';

export type Priority = 'order' | 'normal' | 'bulk';
const PRIORITY_RANK: Record<Priority, number> = { order: 0, normal: 1, bulk: 2 };

/** IBKR's documented global limit for the Client Portal Gateway. */
export const DEFAULT_REQUESTS_PER_SECOND = 10;
/** No configuration may set a higher global budget than this (unless it raises the ceiling, below). */
export const MAX_REQUESTS_PER_SECOND = 40;
/**
 * IBKR's documented global limit for direct (OAuth) access to api.ibkr.com. An OAuth connection's
 * default budget is the 40/s ceiling; the ceiling itself may be raised up to this, never above.
 */
export const DIRECT_ACCESS_REQUESTS_PER_SECOND = 50;

export interface EndpointRule {
  name: string;
  method?: string;
  /** Matched against the path below the API base (e.g. `/iserver/account/orders`), without query. */
  pattern: RegExp;
  limit: number;
  windowMs: number;
}

export interface ConcurrencyRule {
  name: string;
  method?: string;
  pattern: RegExp;
  max: number;
}

const MIN = 60_000;
/** Per-endpoint limits of the reference (§9.3). */
export const DEFAULT_ENDPOINT_RULES: EndpointRule[] = [
  { name: 'snapshot', method: 'GET', pattern: /^\/iserver\/marketdata\/snapshot$/, limit: 10, windowMs: 1000 },
  { name: 'scanner-params', method: 'GET', pattern: /^\/iserver\/scanner\/params$/, limit: 1, windowMs: 15 * MIN },
  { name: 'scanner-run', method: 'POST', pattern: /^\/iserver\/scanner\/run$/, limit: 1, windowMs: 1000 },
  { name: 'trades', method: 'GET', pattern: /^\/iserver\/(account\/)?trades$/, limit: 1, windowMs: 5000 },
  { name: 'live-orders', method: 'GET', pattern: /^\/iserver\/(account\/)?orders$/, limit: 1, windowMs: 5000 },
  { name: 'pnl', method: 'GET', pattern: /^\/iserver\/account\/pnl\/partitioned$/, limit: 1, windowMs: 5000 },
  { name: 'portfolio-accounts', method: 'GET', pattern: /^\/portfolio\/accounts$/, limit: 1, windowMs: 5000 },
  { name: 'portfolio-subaccounts', method: 'GET', pattern: /^\/portfolio\/subaccounts$/, limit: 1, windowMs: 5000 },
  { name: 'pa', method: 'POST', pattern: /^\/pa\/(performance|summary|transactions)$/, limit: 1, windowMs: 15 * MIN },
  { name: 'fyi', pattern: /^\/fyi\//, limit: 1, windowMs: 1000 },
  { name: 'tickle', pattern: /^\/tickle$/, limit: 1, windowMs: 1000 },
  { name: 'sso-validate', method: 'GET', pattern: /^\/sso\/validate$/, limit: 1, windowMs: MIN },
];

export const DEFAULT_CONCURRENCY_RULES: ConcurrencyRule[] = [
  { name: 'history', method: 'GET', pattern: /^\/iserver\/marketdata\/history$/, max: 5 },
];

/** Checks a configured budget: a positive number not above the ceiling (40/s unless raised, 50/s at most). */
export function validateBudget(perSecond: number | undefined, ceiling = MAX_REQUESTS_PER_SECOND): number {
  const v = perSecond ?? DEFAULT_REQUESTS_PER_SECOND;
  if (!Number.isFinite(v) || v <= 0) {
    throw new UserError(`maxRequestsPerSecond must be a positive number (got ${String(perSecond)}).`, 'TANDEM_CONFIG_INVALID');
  }
  if (ceiling > DIRECT_ACCESS_REQUESTS_PER_SECOND) {
    throw new UserError(`the pacing ceiling ${ceiling}/s is above IBKR's documented ${DIRECT_ACCESS_REQUESTS_PER_SECOND}/s for direct access.`, 'TANDEM_CONFIG_INVALID');
  }
  if (v > ceiling) {
    throw new UserError(
      `maxRequestsPerSecond ${v} is above the ceiling of ${ceiling}; the Client Portal Gateway ` +
        `allows ${DEFAULT_REQUESTS_PER_SECOND}/s and exceeding it lands the IP in IBKR's penalty box.`,
      'TANDEM_CONFIG_INVALID',
    );
  }
  return v;
}

/**
 * Requests within a sliding window. A request counts from the moment it is sent until `windowMs`
 * after its answer arrived: the gateway saw it somewhere between those two instants, so counting it
 * until the answer (not just from the send) keeps the gateway's own rolling count within the limit
 * even when one request takes longer to arrive than the next (a new TLS connection, a busy server).
 */
export class SlidingWindow {
  /** Answer times; `Infinity` while the request is in flight. */
  private slots: { t: number }[] = [];
  constructor(
    public limit: number,
    readonly windowMs: number,
  ) {}

  private prune(now: number): void {
    if (this.slots.some((x) => x.t <= now - this.windowMs)) this.slots = this.slots.filter((x) => x.t > now - this.windowMs);
  }

  /** 0 when one more request fits now; else ms to wait (Infinity: until an in-flight request ends). */
  waitMs(now: number): number {
    this.prune(now);
    const excess = this.slots.length - this.limit + 1;
    if (excess <= 0) return 0;
    const done = this.slots.filter((x) => x.t !== Infinity).map((x) => x.t).sort((a, b) => a - b);
    if (done.length < excess) return Infinity;
    return Math.max(1, done[excess - 1]! + this.windowMs - now + 1);
  }

  /** Counts a request sent now; call `release` on the returned slot when its answer arrived. */
  record(_now: number): { t: number } {
    const slot = { t: Infinity };
    this.slots.push(slot);
    return slot;
  }

  static release(slot: { t: number }, now: number): void {
    slot.t = now;
  }
}

export interface PacerOptions {
  maxRequestsPerSecond?: number;
  /** Highest budget accepted; default 40, at most 50 (OAuth connections may raise it). */
  ceiling?: number;
  endpointRules?: EndpointRule[];
  concurrencyRules?: ConcurrencyRule[];
  /** Added to every window: clock granularity between our count and the gateway's. */
  marginMs?: number;
  /** Called at each send (tests and the benchmark record the times). */
  onSend?: (event: { time: number; method: string; path: string }) => void;
}

export interface PaceRequest {
  method: string;
  path: string;
  priority?: Priority;
}

interface Job {
  seq: number;
  rank: number;
  method: string;
  path: string;
  endpoint: SlidingWindow | undefined;
  concurrency: { rule: ConcurrencyRule; inFlight: { n: number } } | undefined;
  start: (slots: { t: number }[]) => void;
  reject: (err: unknown) => void;
}

export class Pacer {
  readonly perSecond: number;
  private readonly global: SlidingWindow;
  private readonly endpointWindows = new Map<EndpointRule, SlidingWindow>();
  private readonly inFlight = new Map<ConcurrencyRule, { n: number }>();
  private readonly endpointRules: EndpointRule[];
  private readonly concurrencyRules: ConcurrencyRule[];
  private readonly marginMs: number;
  private readonly onSend: PacerOptions['onSend'];
  private queue: Job[] = [];
  private seq = 0;
  private timer: NodeJS.Timeout | undefined;
  private timerAt = 0;
  private penaltyUntil = 0;
  private closed = false;
  private restoreTimer: NodeJS.Timeout | undefined;
  private readonly fullLimit: number;

  constructor(opts: PacerOptions = {}) {
    this.perSecond = validateBudget(opts.maxRequestsPerSecond, opts.ceiling);
    this.marginMs = opts.marginMs ?? 10;
    // A fractional budget (e.g. 2.5/s) becomes "n sends per n/rate seconds" with integer n.
    const { limit, windowMs } = toWindow(this.perSecond);
    this.global = new SlidingWindow(limit, windowMs + this.marginMs);
    this.fullLimit = limit;
    this.endpointRules = opts.endpointRules ?? DEFAULT_ENDPOINT_RULES;
    this.concurrencyRules = opts.concurrencyRules ?? DEFAULT_CONCURRENCY_RULES;
    this.onSend = opts.onSend;
  }

  /** Runs `fn` when the budget allows; resolves/rejects with its result. */
  schedule<T>(req: PaceRequest, fn: () => Promise<T>): Promise<T> {
    if (this.closed) return Promise.reject(new Error('client closed'));
    const method = req.method.toUpperCase();
    const rule = this.endpointRules.find((r) => (!r.method || r.method === method) && r.pattern.test(req.path));
    let endpoint: SlidingWindow | undefined;
    if (rule) {
      endpoint = this.endpointWindows.get(rule);
      if (!endpoint) {
        endpoint = new SlidingWindow(rule.limit, rule.windowMs + this.marginMs);
        this.endpointWindows.set(rule, endpoint);
      }
    }
    const crule = this.concurrencyRules.find((r) => (!r.method || r.method === method) && r.pattern.test(req.path));
    let concurrency: Job['concurrency'];
    if (crule) {
      let counter = this.inFlight.get(crule);
      if (!counter) this.inFlight.set(crule, (counter = { n: 0 }));
      concurrency = { rule: crule, inFlight: counter };
    }
    return new Promise<T>((resolve, reject) => {
      const job: Job = {
        seq: this.seq++,
        rank: PRIORITY_RANK[req.priority ?? 'normal'],
        method,
        path: req.path,
        endpoint,
        concurrency,
        reject,
        start: (slots) => {
          fn().then(resolve, reject).finally(() => {
            const now = Date.now();
            for (const slot of slots) SlidingWindow.release(slot, now);
            if (concurrency) concurrency.inFlight.n--;
            this.pump();
          });
        },
      };
      // Keep the queue sorted by (rank, seq): insert after the last job of equal or better rank.
      let i = this.queue.length;
      while (i > 0 && this.queue[i - 1]!.rank > job.rank) i--;
      this.queue.splice(i, 0, job);
      this.pump();
    });
  }

  /** Stops every send until `ms` from now. */
  penalize(ms: number): void {
    this.penaltyUntil = Math.max(this.penaltyUntil, Date.now() + ms);
    this.pump();
  }

  /**
   * After a 429: pause for the penalty and halve the global budget (§9.4: someone else behind the
   * same IP may be using part of it); the full budget returns after `restoreMs` without another 429.
   */
  rateLimited(penaltyMs: number, restoreMs = 60_000): void {
    this.global.limit = Math.max(1, Math.floor(this.global.limit / 2));
    if (this.restoreTimer) clearTimeout(this.restoreTimer);
    this.restoreTimer = setTimeout(() => {
      this.restoreTimer = undefined;
      this.global.limit = this.fullLimit;
      this.pump();
    }, restoreMs);
    this.restoreTimer.unref?.();
    this.penalize(penaltyMs);
  }

  /** The global budget currently applied (sends per window; lower than configured after a 429). */
  get currentLimit(): number {
    return this.global.limit;
  }

  get penaltyRemainingMs(): number {
    return Math.max(0, this.penaltyUntil - Date.now());
  }

  get pending(): number {
    return this.queue.length;
  }

  /** Rejects every queued job; later calls fail at once. */
  close(): void {
    this.closed = true;
    if (this.timer) clearTimeout(this.timer);
    if (this.restoreTimer) clearTimeout(this.restoreTimer);
    this.timer = undefined;
    const jobs = this.queue;
    this.queue = [];
    for (const j of jobs) j.reject(new Error('client closed'));
  }

  private pump(): void {
    if (this.closed) return;
    for (;;) {
      const now = Date.now();
      if (this.queue.length === 0) return;
      if (this.penaltyUntil > now) return this.wakeAt(this.penaltyUntil);
      const globalWait = this.global.waitMs(now);
      if (globalWait === Infinity) return; // woken when an in-flight request ends
      if (globalWait > 0) return this.wakeAt(now + globalWait);
      let soonest = Infinity;
      let picked = -1;
      for (let i = 0; i < this.queue.length; i++) {
        const job = this.queue[i]!;
        if (job.concurrency && job.concurrency.inFlight.n >= job.concurrency.rule.max) continue; // woken on release
        const w = job.endpoint ? job.endpoint.waitMs(now) : 0;
        if (w > 0) {
          if (w !== Infinity) soonest = Math.min(soonest, now + w);
          continue;
        }
        picked = i;
        break;
      }
      if (picked < 0) {
        if (soonest < Infinity) this.wakeAt(soonest);
        return;
      }
      const [job] = this.queue.splice(picked, 1);
      if (!job) return;
      const slots = [this.global.record(now)];
      if (job.endpoint) slots.push(job.endpoint.record(now));
      if (job.concurrency) job.concurrency.inFlight.n++;
      this.onSend?.({ time: now, method: job.method, path: job.path });
      job.start(slots);
    }
  }

  private wakeAt(at: number): void {
    if (this.timer && this.timerAt <= at) return;
    if (this.timer) clearTimeout(this.timer);
    this.timerAt = at;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.pump();
    }, Math.max(1, at - Date.now()));
  }
}

function toWindow(perSecond: number): { limit: number; windowMs: number } {
  if (Number.isInteger(perSecond)) return { limit: perSecond, windowMs: 1000 };
  if (perSecond < 1) return { limit: 1, windowMs: Math.ceil(1000 / perSecond) };
  const limit = Math.floor(perSecond);
  return { limit, windowMs: Math.ceil((1000 * limit) / perSecond) };
}

/**
 * The largest number of events in any window of `windowMs` among sorted times (used by tests and the
 * benchmark to check that a run never went over the budget).
 */
export function maxInAnyWindow(times: number[], windowMs: number): number {
  const t = [...times].sort((a, b) => a - b);
  let best = 0;
  let lo = 0;
  for (let hi = 0; hi < t.length; hi++) {
    while (t[hi]! - t[lo]! >= windowMs) lo++;
    best = Math.max(best, hi - lo + 1);
  }
  return best;
}
