/**
 * One call that gives a node in this process its observation layer: the node status record, the
 * trade lines on stderr, metrics (gateway requests, pacing queue, journal-derived counters), alerts
 * (when `notify:` is configured) and, when asked, the dashboard server with /metrics and /healthz.
 * `tandem run` calls it; the multi-strategy node calls it the same way with its strategies.
 */
import type { TandemConfig } from '../config/load.ts';
import { loadEnv, type Env } from '../config/env.ts';
import type { Logger } from '../log/logger.ts';
import type { CointegrationParams } from '../strategies/cointegration/params.ts';
import { strategyRequirements } from '../strategies/registry.ts';
import { renderOptionsFor } from './log-lines.ts';
import { NodeMetrics } from './metrics.ts';
import { Notifier } from './notify.ts';
import { RunObserver, type ObservedStrategy } from './run-observer.ts';
import type { RunningDashboard } from './dashboard/server.ts';

export interface ObservationOptions {
  config: TandemConfig;
  accountId: string | null;
  logger: Logger;
  /** The IBKR client's pacer, for the queue-length gauge. */
  pacingQueue?: () => number;
  dashboard?: { port?: number; host?: string; allowRemote?: boolean };
  /** Where the trade lines go (default stderr; null: nowhere). */
  lines?: NodeJS.WriteStream | null;
  /** The environment secrets come from (default: .env overlaid by the process environment). */
  env?: Env;
}

export interface Observation {
  observer: RunObserver;
  metrics: NodeMetrics;
  notifier: Notifier | null;
  dashboard: RunningDashboard | null;
  close(stopReason: string | null): Promise<void>;
}

/** What the observers need to know of each strategy the config lists. */
export function observedStrategies(config: TandemConfig): ObservedStrategy[] {
  return config.strategies.map((sc) => {
    const p = sc.strategy as unknown as CointegrationParams;
    return {
      id: sc.name, y: p.legs.y.symbol, x: p.legs.x.symbol, bar: p.bar, entryZ: p.entryZ, exitZ: p.exitZ, stopZ: p.stopZ,
      warmupBars: strategyRequirements(sc.strategy).warmupBars,
      market: p.legs.y.secType === 'CRYPTO' && p.legs.x.secType === 'CRYPTO' ? 'crypto' : 'stock',
      params: sc.strategy as unknown as Record<string, unknown>,
    };
  });
}

export async function attachObservation(o: ObservationOptions): Promise<Observation> {
  const e = o.config.engine;
  const metrics = new NodeMetrics();
  metrics.watchGatewayRequests(e.gateway.url);
  if (o.pacingQueue) metrics.watchPacingQueue(o.pacingQueue);
  const notifier = e.notify.webhook || e.notify.telegram ? new Notifier(e.notify, o.env ?? loadEnv(), o.logger) : null;
  const out = o.lines === undefined ? process.stderr : o.lines;
  const observer = new RunObserver({
    journalFile: e.journal.path, mode: o.config.mode, account: o.accountId, strategies: observedStrategies(o.config),
    logger: o.logger, metrics, ...(notifier ? { notifier } : {}),
    ...(out ? { lines: { write: (t: string) => void out.write(t), render: renderOptionsFor(out) } } : {}),
    ...(o.pacingQueue ? { pacingQueue: o.pacingQueue } : {}),
  });
  let dashboard: RunningDashboard | null = null;
  if (o.dashboard) {
    const watcher = observer.journalWatcher();
    const { startDashboard } = await import('./dashboard/server.ts');
    dashboard = await startDashboard({ journalFile: e.journal.path, ...o.dashboard, metrics, ...(watcher ? { watcher } : {}), logger: o.logger });
  }
  return {
    observer, metrics, notifier, dashboard,
    async close(stopReason) {
      await dashboard?.close();
      await observer.close(stopReason);
      metrics.close();
    },
  };
}

