/**
 * A universe for `tandem scan`: many symbols' bars over one range, downloaded one symbol after
 * another through the IBKR client (which paces every request under the gateway's limits) and
 * cached one file per symbol and range, so a second run, or a run that stopped half-way, only
 * downloads what is missing. A symbol that cannot be had (unknown, no bars) is reported and
 * skipped; the others still make the file.
 */
import { existsSync, mkdirSync, renameSync } from 'node:fs';
import { join } from 'node:path';
import type { IbkrClient } from '../ibkr/client.ts';
import { SEC_TYPES, type SecType } from '../strategies/cointegration/params.ts';
import { UserError } from '../util/errors.ts';
import { loadBarsCsv, type BarSeries } from './csv.ts';
import { downloadHistory, writeBarsCsv, type HistoryInstrument } from './history.ts';

/** `ETHA,ETHV,BTC:CRYPTO` → instruments (STK on SMART by default; CRYPTO on PAXOS). */
export function parseSymbols(spec: string): HistoryInstrument[] {
  const out: HistoryInstrument[] = [];
  const seen = new Set<string>();
  for (const item of spec.split(',').map((s) => s.trim()).filter(Boolean)) {
    const [sym, type = 'STK'] = item.split(':').map((s) => s.trim().toUpperCase());
    if (!sym || !/^[A-Z0-9.\-/ ]+$/.test(sym)) throw new UserError(`--symbols: '${item}' is not a symbol (e.g. SPY, or BTC:CRYPTO)`);
    if (!(SEC_TYPES as readonly string[]).includes(type)) throw new UserError(`--symbols: '${item}': security type ${type} is not one of ${SEC_TYPES.join(', ')}`);
    if (seen.has(sym)) continue;
    seen.add(sym);
    const secType = type as SecType;
    out.push({ symbol: sym, secType, currency: 'USD', exchange: secType === 'CRYPTO' ? 'PAXOS' : 'SMART' });
  }
  if (out.length === 0) throw new UserError('--symbols is empty: give a comma-separated list, e.g. --symbols ETHA,ETHV,SPY');
  return out;
}

export interface SymbolOutcome {
  symbol: string;
  bars: number;
  cached: boolean;
  error?: string;
}

export interface UniverseRequest {
  instruments: HistoryInstrument[];
  bar: string;
  from: number;
  to: number;
  /** Directory of the per-symbol cache files. */
  cacheDir: string;
  /** Called once, before the first symbol that is not in the cache (a fully cached run needs no gateway). */
  connect?: () => Promise<void>;
  onSymbol?: (done: number, total: number, outcome: SymbolOutcome) => void;
}

const stamp = (ms: number) => new Date(ms).toISOString().replace(/[-:]/g, '').replace(/\.\d+Z$/, 'Z');

export function cacheFile(dir: string, inst: HistoryInstrument, bar: string, from: number, to: number): string {
  return join(dir, `${inst.symbol.replace(/[^A-Z0-9.-]/gi, '_')}_${inst.secType}_${bar}_${stamp(from)}_${stamp(to)}.csv`);
}

export async function downloadUniverse(client: IbkrClient, req: UniverseRequest): Promise<{ series: BarSeries[]; outcomes: SymbolOutcome[] }> {
  mkdirSync(req.cacheDir, { recursive: true });
  const series: BarSeries[] = [];
  const outcomes: SymbolOutcome[] = [];
  let connected: Promise<void> | null = null;
  for (const inst of req.instruments) {
    const file = cacheFile(req.cacheDir, inst, req.bar, req.from, req.to);
    let outcome: SymbolOutcome;
    try {
      if (existsSync(file)) {
        const s = (await loadBarsCsv(file, { symbols: [inst.symbol] })).get(inst.symbol);
        if (!s) throw new Error(`cache file ${file} holds no ${inst.symbol} bars; delete it`);
        series.push(s);
        outcome = { symbol: inst.symbol, bars: s.length, cached: true };
      } else {
        // A failure to reach the gateway is not one symbol's problem: it ends the run.
        connected ??= req.connect ? req.connect() : Promise.resolve();
        await connected;
        const s = await downloadHistory(client, inst, req.bar, req.from, req.to);
        // Written under a temporary name and renamed: a run stopped mid-write leaves no half file to trust.
        await writeBarsCsv(`${file}.part`, [s]);
        renameSync(`${file}.part`, file);
        series.push(s);
        outcome = { symbol: inst.symbol, bars: s.length, cached: false };
      }
    } catch (err) {
      if (connected && !(await connected.then(() => true, () => false))) throw err;
      outcome = { symbol: inst.symbol, bars: 0, cached: false, error: err instanceof Error ? err.message : String(err) };
    }
    outcomes.push(outcome);
    req.onSymbol?.(outcomes.length, req.instruments.length, outcome);
  }
  return { series, outcomes };
}
