/**
 * What the dashboard page shows, as one snapshot (sent first on every connection) and then small
 * updates as the journal grows: new price-ratio points, z-score points (from the node status
 * record), equity points, decision markers, orders, fills, incidents, positions and health.
 *
 * It listens to a `JournalWatcher`; it never writes anything.
 */
import { EventEmitter } from 'node:events';
import type { JournalReader, ReaderDecision, ReaderFill, ReaderIncident, ReaderOrder } from '../journal-reader.ts';
import { readNodeStatus } from '../node-status.ts';
import { strategyPairs, type StrategyPair } from '../snapshot.ts';
import { healthy, type Health, type JournalWatcher } from '../watcher.ts';
import { pairBars, replayZ } from '../live-report.ts';
import { cointegrationParamsSchema } from '../../strategies/cointegration/params.ts';

/** [epoch seconds, value]. */
export type Point = [number, number];

export interface Marker {
  time: number;
  kind: 'enter' | 'close' | 'refused';
  side: 'LONG' | 'SHORT' | null;
  reason: string | null;
}

export interface StrategyView extends StrategyPair {
  ratio: Point[];
  z: Point[];
  equity: Point[];
  markers: Marker[];
  positions: { symbol: string; qty: number; avgCost: number }[];
}

export interface HealthView {
  session: Health['session'];
  trading: Health['trading'];
  ok: boolean;
  reasons: string[];
  nodeRunning: boolean;
  pacingQueue: number | null;
  heartbeat: string | null;
  mode: string | null;
  account: string | null;
  /** Per strategy, while the node runs: the state it trades under and its market (from the node's status record). */
  strategies: StrategyHealth[];
}

export interface StrategyHealth {
  id: string;
  /** The stricter of the account's and the strategy's own state; null until the node reported it. */
  trading: { state: string; reason: string | null } | null;
  /** Its market at the node's last check; when closed, the next open (market time, ms). */
  market: { open: boolean; nextOpen: number | null } | null;
}

export interface DashboardSnapshot {
  journal: string;
  strategies: StrategyView[];
  orders: ReaderOrder[];
  fills: ReaderFill[];
  incidents: ReaderIncident[];
  health: HealthView;
}

export type FeedUpdate =
  | { type: 'ratio'; strategy: string; points: Point[] }
  | { type: 'z'; strategy: string; points: Point[] }
  | { type: 'equity'; strategy: string; points: Point[] }
  | { type: 'marker'; strategy: string; marker: Marker }
  | { type: 'order'; order: ReaderOrder }
  | { type: 'fill'; fill: ReaderFill }
  | { type: 'incident'; incident: ReaderIncident }
  | { type: 'positions'; strategy: string; positions: StrategyView['positions'] }
  | { type: 'health'; health: HealthView };

/** Points kept per series in a snapshot. */
const MAX_POINTS = 3000;
const ROWS = 200;
const sec = (ms: number): number => Math.floor(ms / 1000);

function marker(d: ReaderDecision): Marker {
  if (d.action === 'refused') return { time: sec(d.barTime), kind: 'refused', side: null, reason: typeof d.detail?.reason === 'string' ? d.detail.reason : null };
  const m = /^(enter|close)-(LONG|SHORT)(?:-(.+))?$/.exec(d.action);
  return { time: sec(d.barTime), kind: m?.[1] === 'close' ? 'close' : 'enter', side: (m?.[2] as 'LONG' | 'SHORT' | undefined) ?? null, reason: m?.[3] ?? null };
}

export class DashboardFeed extends EventEmitter<{ update: [FeedUpdate] }> {
  private pairs: StrategyPair[];
  private readonly lastZ = new Map<string, number>();
  private readonly closes = new Map<number, Map<string, number>>();
  private readonly timer: NodeJS.Timeout;

  constructor(private readonly reader: JournalReader, private readonly watcher: JournalWatcher) {
    super();
    this.setMaxListeners(100);
    this.pairs = strategyPairs(reader);
    const status = readNodeStatus(reader.file);
    for (const s of Object.values(status?.strategies ?? {})) this.lastZ.set(s.id, sec(s.z.at(-1)?.[0] ?? 0));
    watcher.on('bars', (bars) => {
      this.refreshPairs();
      const touched = new Set<number>();
      for (const b of bars) {
        const m = this.closes.get(b.time) ?? new Map<string, number>();
        m.set(b.symbol, b.close);
        this.closes.set(b.time, m);
        touched.add(b.time);
      }
      if (this.closes.size > 50) for (const t of [...this.closes.keys()].sort((a, b) => a - b).slice(0, this.closes.size - 50)) this.closes.delete(t);
      for (const p of this.pairs) {
        const points: Point[] = [];
        for (const t of [...touched].sort((a, b) => a - b)) {
          const m = this.closes.get(t);
          const y = m?.get(p.y);
          const x = m?.get(p.x);
          if (y !== undefined && x !== undefined && x !== 0) points.push([sec(t), y / x]);
        }
        if (points.length) this.emit('update', { type: 'ratio', strategy: p.id, points });
      }
      this.pushZ();
    });
    watcher.on('equity', (e) => this.emit('update', { type: 'equity', strategy: e.strategyId, points: [[sec(e.time), e.equity]] }));
    watcher.on('decision', (d) => this.emit('update', { type: 'marker', strategy: d.strategyId, marker: marker(d) }));
    watcher.on('order', (o) => this.emit('update', { type: 'order', order: o }));
    watcher.on('fill', (f) => {
      this.emit('update', { type: 'fill', fill: f });
      this.emit('update', { type: 'positions', strategy: f.strategyId, positions: this.positions(f.strategyId) });
    });
    watcher.on('incident', (i) => this.emit('update', { type: 'incident', incident: i }));
    watcher.on('health', () => this.emit('update', { type: 'health', health: this.health() }));
    // z points and the heartbeat come from the node status record, which has no journal rows.
    this.timer = setInterval(() => {
      this.pushZ();
      this.emit('update', { type: 'health', health: this.health() });
    }, 2_000);
    this.timer.unref();
  }

  private refreshPairs(): void {
    if (this.pairs.length === 0 || this.pairs.some((p) => p.thresholds === null)) this.pairs = strategyPairs(this.reader);
  }

  private pushZ(): void {
    const status = readNodeStatus(this.reader.file);
    for (const s of Object.values(status?.strategies ?? {})) {
      const after = this.lastZ.get(s.id) ?? 0;
      const points = s.z.filter(([t, z]) => sec(t) > after && z !== null).map(([t, z]) => [sec(t), z!] as Point);
      if (points.length) {
        this.lastZ.set(s.id, points[points.length - 1]![0]);
        this.emit('update', { type: 'z', strategy: s.id, points });
      }
    }
  }

  private positions(strategyId: string): StrategyView['positions'] {
    return this.reader.positions().filter((p) => p.strategyId === strategyId && p.qty !== 0).map((p) => ({ symbol: p.symbol, qty: p.qty, avgCost: p.avgCost }));
  }

  health(): HealthView {
    const h = this.watcher.health;
    const hv = healthy(h);
    return {
      session: h.session, trading: h.trading, ok: hv.ok, reasons: hv.reasons, nodeRunning: h.nodeRunning,
      pacingQueue: h.nodeRunning ? (h.status?.pacing.queue ?? null) : null,
      heartbeat: h.nodeRunning ? (h.status?.heartbeat ?? null) : null,
      mode: h.status?.mode ?? this.reader.meta('mode') ?? null,
      account: h.status?.account ?? this.reader.meta('account') ?? null,
      strategies: h.nodeRunning
        ? Object.values(h.status?.strategies ?? {}).map((s) => ({
            id: s.id,
            trading: s.trading ?? null,
            market: s.market ? { open: s.market.open, nextOpen: s.market.nextOpen } : null,
          }))
        : [],
    };
  }

  /**
   * The z-score of every recorded bar: replayed from the bars when the node recorded the strategy's
   * parameters (the z it computed live is a function of the bars), then the node's own recent points.
   */
  private zHistory(p: StrategyPair, params: Record<string, unknown> | undefined, recent: [number, number | null][]): Point[] {
    const out = new Map<number, number>();
    if (params) {
      try {
        const parsed = cointegrationParamsSchema.parse(params);
        for (const [t, v] of replayZ(pairBars(this.reader.bars({ includeWarmup: true }), p.y, p.x), parsed)) if (v !== null) out.set(sec(t), v);
      } catch {
        // Parameters from another version: the node's recent points only.
      }
    }
    for (const [t, v] of recent) if (v !== null) out.set(sec(t), v);
    return [...out.entries()].sort((a, b) => a[0] - b[0]);
  }

  snapshot(): DashboardSnapshot {
    const r = this.reader;
    this.refreshPairs();
    const status = readNodeStatus(r.file);
    const bars = r.bars({ includeWarmup: true });
    const byTime = new Map<number, Map<string, number>>();
    for (const b of bars) {
      const m = byTime.get(b.time) ?? new Map<string, number>();
      m.set(b.symbol, b.close);
      byTime.set(b.time, m);
    }
    const times = [...byTime.keys()].sort((a, b) => a - b);
    const equity = r.equity();
    const decisions = r.decisions();
    const strategies = this.pairs.map((p): StrategyView => {
      const ratio: Point[] = [];
      for (const t of times) {
        const m = byTime.get(t)!;
        const y = m.get(p.y);
        const x = m.get(p.x);
        if (y !== undefined && x !== undefined && x !== 0) ratio.push([sec(t), y / x]);
      }
      const z = this.zHistory(p, status?.strategies[p.id]?.params, status?.strategies[p.id]?.z ?? []);
      if (z.length) this.lastZ.set(p.id, Math.max(this.lastZ.get(p.id) ?? 0, z[z.length - 1]![0]));
      return {
        ...p,
        ratio: ratio.slice(-MAX_POINTS),
        z: z.slice(-MAX_POINTS),
        equity: equity.filter((e) => e.strategyId === p.id).map((e) => [sec(e.time), e.equity] as Point).slice(-MAX_POINTS),
        markers: decisions.filter((d) => d.strategyId === p.id).map(marker).slice(-ROWS),
        positions: this.positions(p.id),
      };
    });
    return {
      journal: r.file,
      strategies,
      orders: r.orders().slice(-ROWS),
      fills: r.fills().slice(-ROWS),
      incidents: r.incidents().slice(-ROWS),
      health: this.health(),
    };
  }

  close(): void {
    clearInterval(this.timer);
    this.removeAllListeners();
  }
}
