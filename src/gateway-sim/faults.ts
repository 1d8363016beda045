/**
 * Fault injection. A compact spec, given on the command line (`--faults`) or posted to /sim/faults:
 *
 *   latency=200            add 200 ms to every API answer (latency=100-300: uniform in the range)
 *   error5xx=0.1           share of API requests answered 500 or 503 (half each)
 *   error500=0.05          share answered 500 {"error":"Internal Server Error","statusCode":500}
 *   error503=0.05          share answered 503 {"error":"Service Unavailable","statusCode":503}
 *   hang=0.02              share of API requests that never get an answer
 *   order503=1             share of order placements that answer 503 with an empty body after
 *                          order503Delay ms (default 10000) although the order WAS placed (§11 item 15)
 *   order503Delay=10000
 *   reject=265598          reject the next order for conid 265598 (reject=*: any conid; reject=265598:3: next 3)
 *   inactive=265598        accept the next order for that conid, then turn it Inactive (rejected downstream)
 *   prompt=265598          answer the next order for that conid with an advanced order reject (p12 prompt)
 *   wsDrop=0.01            share of websocket frames after which the socket is dropped
 *   positionsEmpty=3       the next 3 reads of /portfolio/{acct}/positions/{page} answer `[]` although
 *                          positions are held (a cold or lagging positions cache; n omitted: 1)
 *   positionsJunk=3        the next 3 reads answer `{}` (a malformed answer)
 *   dropSession@30s        at 30 s after start (real time): drop the brokerage session
 *   competing@60s          competing login; reset@90s nightly reset; logout@2m SSO session ends;
 *   wsDrop@45s             close every websocket
 *
 * Items are separated by commas. Probabilities draw from a PRNG seeded with the simulator's seed.
 */
import { SeededRandom } from './rng.ts';

export type ScheduledAction = 'dropSession' | 'competing' | 'reset' | 'logout' | 'wsDrop';
const ACTIONS: ReadonlySet<string> = new Set(['dropSession', 'competing', 'reset', 'logout', 'wsDrop']);

export interface FaultConfig {
  latencyMs: [number, number];
  error500: number;
  error503: number;
  hang: number;
  order503: number;
  order503DelayMs: number;
  wsDrop: number;
  /** Next reads of the paged positions answered `[]` / `{}` although positions are held. */
  positionsEmpty: number;
  positionsJunk: number;
  /** conid (or '*') → number of next orders to reject. */
  reject: Map<string, number>;
  /** conid (or '*') → number of next orders accepted and then turned Inactive. */
  inactive: Map<string, number>;
  /** conid (or '*') → number of next orders answered with an advanced order reject. */
  prompt: Map<string, number>;
  scheduled: { atMs: number; action: ScheduledAction }[];
}

export function emptyFaults(): FaultConfig {
  return { latencyMs: [0, 0], error500: 0, error503: 0, hang: 0, order503: 0, order503DelayMs: 10_000, wsDrop: 0, positionsEmpty: 0, positionsJunk: 0, reject: new Map(), inactive: new Map(), prompt: new Map(), scheduled: [] };
}

function prob(key: string, v: string): number {
  const p = Number(v);
  if (!Number.isFinite(p) || p < 0 || p > 1) throw new Error(`fault ${key}=${v}: expected a probability between 0 and 1`);
  return p;
}

function duration(s: string): number {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m)?$/.exec(s.trim());
  if (!m) throw new Error(`fault time "${s}": expected e.g. 30s, 500ms or 2m`);
  const n = Number(m[1]);
  return m[2] === 'ms' ? n : m[2] === 'm' ? n * 60_000 : n * 1_000;
}

/** Parses a spec into `into` (which is modified and returned). Throws with a clear message on a bad item. */
export function parseFaultSpec(spec: string, into: FaultConfig = emptyFaults()): FaultConfig {
  for (const raw of spec.split(',')) {
    const item = raw.trim();
    if (!item) continue;
    const at = /^([A-Za-z]+)@(.+)$/.exec(item);
    if (at) {
      if (!ACTIONS.has(at[1]!)) throw new Error(`fault "${item}": unknown action ${at[1]} (use ${[...ACTIONS].join(', ')})`);
      into.scheduled.push({ atMs: duration(at[2]!), action: at[1] as ScheduledAction });
      continue;
    }
    const kv = /^([A-Za-z0-9]+)=(.+)$/.exec(item);
    if (!kv) throw new Error(`fault "${item}": expected key=value or action@time`);
    const [, key, v] = kv as unknown as [string, string, string];
    switch (key) {
      case 'latency': {
        const r = /^(\d+)(?:-(\d+))?$/.exec(v);
        if (!r) throw new Error(`fault latency=${v}: expected milliseconds or a range like 100-300`);
        into.latencyMs = [Number(r[1]), Number(r[2] ?? r[1])];
        break;
      }
      case 'error5xx': { const p = prob(key, v); into.error500 = p / 2; into.error503 = p / 2; break; }
      case 'error500': into.error500 = prob(key, v); break;
      case 'error503': into.error503 = prob(key, v); break;
      case 'hang': into.hang = prob(key, v); break;
      case 'order503': into.order503 = prob(key, v); break;
      case 'order503Delay': into.order503DelayMs = duration(v.endsWith('s') || v.endsWith('m') ? v : `${v}ms`); break;
      case 'wsDrop': into.wsDrop = prob(key, v); break;
      case 'positionsEmpty':
      case 'positionsJunk': {
        const n = Number(v);
        if (!Number.isInteger(n) || n < 0) throw new Error(`fault ${key}=${v}: expected a count of reads`);
        into[key] += n;
        break;
      }
      case 'reject':
      case 'prompt':
      case 'inactive': {
        const [target, n] = v.split(':');
        if (!target || (target !== '*' && !/^\d+$/.test(target))) throw new Error(`fault ${key}=${v}: expected a conid or *`);
        const map = key === 'reject' ? into.reject : key === 'prompt' ? into.prompt : into.inactive;
        map.set(target, (map.get(target) ?? 0) + (n ? Number(n) : 1));
        break;
      }
      default:
        throw new Error(`fault "${item}": unknown key ${key}`);
    }
  }
  return into;
}

export class Faults {
  config: FaultConfig = emptyFaults();
  private readonly rng: SeededRandom;

  constructor(seed: number, spec = '') {
    this.rng = new SeededRandom(seed ^ 0xfa17);
    if (spec) parseFaultSpec(spec, this.config);
  }

  apply(spec: string): void {
    parseFaultSpec(spec, this.config);
  }

  clear(): void {
    this.config = emptyFaults();
  }

  latency(): number {
    const [a, b] = this.config.latencyMs;
    return b > a ? a + this.rng.next() * (b - a) : a;
  }

  /** Decides the fate of one API request. */
  draw(): 'hang' | 500 | 503 | null {
    const c = this.config;
    if (c.hang > 0 && this.rng.next() < c.hang) return 'hang';
    if (c.error500 > 0 && this.rng.next() < c.error500) return 500;
    if (c.error503 > 0 && this.rng.next() < c.error503) return 503;
    return null;
  }

  order503(): boolean {
    return this.config.order503 > 0 && this.rng.next() < this.config.order503;
  }

  wsDrop(): boolean {
    return this.config.wsDrop > 0 && this.rng.next() < this.config.wsDrop;
  }

  /** A bad answer for this positions read, if one is due: `[]` (empty) or `{}` (junk). */
  takePositionsFault(): [] | Record<string, never> | undefined {
    const c = this.config;
    if (c.positionsEmpty > 0) { c.positionsEmpty--; return []; }
    if (c.positionsJunk > 0) { c.positionsJunk--; return {}; }
    return undefined;
  }

  private take(map: Map<string, number>, conid: number): boolean {
    for (const key of [String(conid), '*']) {
      const n = map.get(key);
      if (n && n > 0) {
        if (n === 1) map.delete(key); else map.set(key, n - 1);
        return true;
      }
    }
    return false;
  }

  takeRejection(conid: number): string | undefined {
    return this.take(this.config.reject, conid) ? 'Order rejected - reason: the simulator was told to reject this order (fault injection)' : undefined;
  }

  /** True when the next order for this conid must be answered with an advanced order reject. */
  takePrompt(conid: number): boolean {
    return this.take(this.config.prompt, conid);
  }

  /** True when the next accepted order for this conid must turn Inactive. */
  takeInactive(conid: number): boolean {
    return this.take(this.config.inactive, conid);
  }
}
