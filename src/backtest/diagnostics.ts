/**
 * "Why nothing happened": counts, bar by bar, what kept a backtest from trading, so a run with no
 * (or few) trades explains itself instead of printing zeros. The strategy already reports per bar
 * whether its z-score exists, whether its gate is open (and the p-value when it tested), whether
 * it is cooling down and its position; this module only tallies those reports against the
 * thresholds and, at the end, turns the tally into a one-line hint ("the gate needs 390 bars; the
 * data has 390: ...") when the run made no trade.
 *
 * The refusal counters (risk limits, market hours) belong to the runner that executes orders: the
 * in-process runner refuses nothing today, so they stay zero until a runner that can refuse
 * reports into them (`refused()`).
 */
import type { Decision, Diagnostics } from '../strategies/types.ts';

/** What the hint needs to know of the strategy's parameters. */
export interface ExplainParams {
  lookback: number;
  entryZ: number;
  stopZ: number;
  gate?: { every: number; lookback: number; maxPValue: number } | undefined;
}

export interface GateDiagnostics {
  /** Tests run (check bars). */
  checks: number;
  /** Tests without a p-value: too few bars yet, or a degenerate window. */
  checksWithoutPValue: number;
  pValueMin: number | null;
  pValueMedian: number | null;
  pValueMax: number | null;
  maxPValue: number | null;
  /** Bars after the warm-up on which the gate was open. */
  openBars: number;
  /** Bars after the warm-up on which a flat strategy could not enter because the gate was closed. */
  blockedBars: number;
  /** Of those, bars whose z was an entry signal (entryZ ≤ |z| < stopZ). */
  blockedSignals: number;
}

export interface BacktestDiagnostics {
  /** Aligned bars in the data. */
  bars: number;
  /** Bars the strategy decided on (all but the last: the last bar only fills and marks). */
  barsDecided: number;
  /** Bars before the first z-score (the hedge's look-back filling up). */
  warmupBars: number;
  /** Bars after the warm-up with no z (a constant leg, an exact fit): nothing can happen on them. */
  undefinedZBars: number;
  /** null without a gate. */
  gate: GateDiagnostics | null;
  /** Flat bars with an entry signal while the gate was open and no cool-down held it back. */
  signals: number;
  /** Entry signals held back by the cool-down after a stop. */
  cooldownBlockedSignals: number;
  /** Entry signals sized to zero (equity too small for one quantity increment). */
  sizingSkipped: number;
  entries: number;
  /** Largest |z| on bars where a flat strategy could have entered (gate open, no cool-down). */
  maxAbsZWhileEligible: number | null;
  /** Orders refused by the executing runner (zero while the in-process runner refuses nothing). */
  refused: { risk: number; marketHours: number };
  /** One line saying why there were no trades, and what to change; null when there were trades. */
  hint: string | null;
}

const fmtP = (p: number | null): string => (p === null ? 'none' : p < 0.0001 ? p.toExponential(1) : p.toFixed(4));

export class DiagnosticsCounter {
  private decided = 0;
  private warmup = 0;
  private seenZ = false;
  private undefinedZ = 0;
  private checks = 0;
  private checksNoP = 0;
  private readonly pValues: number[] = [];
  private openBars = 0;
  private blockedBars = 0;
  private blockedSignals = 0;
  private signals = 0;
  private cooldownBlocked = 0;
  private sizingSkipped = 0;
  private entries = 0;
  private maxAbsZ: number | null = null;
  private readonly refusals = { risk: 0, marketHours: 0 };

  constructor(private readonly params: ExplainParams | null) {}

  /** One decided bar: the strategy's diagnostics and its decision. */
  observe(d: Diagnostics, decision: Decision): void {
    this.decided++;
    if (d.gate.checkedThisBar) {
      this.checks++;
      if (d.gate.pValue === null) this.checksNoP++;
      else this.pValues.push(d.gate.pValue);
    }
    if (d.z === null) {
      if (this.seenZ) this.undefinedZ++;
      else this.warmup++;
      return;
    }
    this.seenZ = true;
    if (this.params?.gate && d.gate.open) this.openBars++;
    if (decision.action === 'enter') {
      this.entries++;
      this.signals++;
      this.noteEligible(d.z);
      return;
    }
    // Only a bar that was flat and stayed flat could have entered.
    if (decision.action !== 'none' || d.position !== 'FLAT') return;
    const p = this.params;
    const a = Math.abs(d.z);
    const signal = p !== null && a >= p.entryZ && a < p.stopZ;
    if (!d.gate.open) {
      this.blockedBars++;
      if (signal) this.blockedSignals++;
      return;
    }
    if (d.coolingDown) {
      if (signal) this.cooldownBlocked++;
      return;
    }
    this.noteEligible(d.z);
    if (signal) {
      this.signals++;
      this.sizingSkipped++;
    }
  }

  /** An order the executing runner refused (risk limits or market hours). */
  refused(reason: 'risk' | 'marketHours'): void {
    this.refusals[reason]++;
  }

  private noteEligible(z: number): void {
    const a = Math.abs(z);
    if (this.maxAbsZ === null || a > this.maxAbsZ) this.maxAbsZ = a;
  }

  summary(bars: number, trades: number): BacktestDiagnostics {
    const sorted = [...this.pValues].sort((a, b) => a - b);
    const median = sorted.length === 0 ? null : sorted.length % 2 ? sorted[(sorted.length - 1) / 2]! : (sorted[sorted.length / 2 - 1]! + sorted[sorted.length / 2]!) / 2;
    const gateCfg = this.params?.gate;
    const gate: GateDiagnostics | null = gateCfg
      ? {
          checks: this.checks,
          checksWithoutPValue: this.checksNoP,
          pValueMin: sorted[0] ?? null,
          pValueMedian: median,
          pValueMax: sorted[sorted.length - 1] ?? null,
          maxPValue: gateCfg.maxPValue,
          openBars: this.openBars,
          blockedBars: this.blockedBars,
          blockedSignals: this.blockedSignals,
        }
      : null;
    const d: BacktestDiagnostics = {
      bars,
      barsDecided: this.decided,
      warmupBars: this.warmup,
      undefinedZBars: this.undefinedZ,
      gate,
      signals: this.signals,
      cooldownBlockedSignals: this.cooldownBlocked,
      sizingSkipped: this.sizingSkipped,
      entries: this.entries,
      maxAbsZWhileEligible: this.maxAbsZ,
      refused: { ...this.refusals },
      hint: null,
    };
    d.hint = trades > 0 ? null : explainNoTrades(d, this.params);
    return d;
  }
}

/** The first reason, in the order the strategy meets them, that no trade happened. */
export function explainNoTrades(d: BacktestDiagnostics, p: ExplainParams | null): string {
  const has = `the data has ${d.bars} aligned bars (the strategy decides on ${d.barsDecided}: the last bar only fills)`;
  if (p === null) return 'no trades (run through `tandem backtest` for the reason)';
  if (d.warmupBars === d.barsDecided) {
    return `the strategy needs ${p.lookback} bars before its first z-score (lookback); ${has}: use a longer range or a shorter lookback`;
  }
  const g = d.gate;
  if (g && p.gate) {
    if (g.checks > 0 && g.checksWithoutPValue === g.checks) {
      if (d.barsDecided < p.gate.lookback) {
        return `the gate needs ${p.gate.lookback} bars; ${has}: use a longer range or a shorter gate.lookback`;
      }
      return `the gate's cointegration test could not be computed (a constant leg or an exact fit over gate.lookback ${p.gate.lookback} bars): check the data`;
    }
    if (g.checks === 0) {
      return `the gate never tested (first test at bar ${p.lookback - 1}, then every ${p.gate.every}); ${has}: use a longer range`;
    }
    if (g.openBars === 0) {
      return (
        `the gate never opened: ${g.checks - g.checksWithoutPValue} test(s), p-values min ${fmtP(g.pValueMin)}, median ${fmtP(g.pValueMedian)}, ` +
        `all above gate.maxPValue ${p.gate.maxPValue}: the pair did not test as cointegrated; try a longer range, another pair or a higher gate.maxPValue`
      );
    }
  }
  if (d.refused.risk + d.refused.marketHours > 0) {
    return `every entry was refused: ${d.refused.risk} by risk limits, ${d.refused.marketHours} by market hours`;
  }
  if (d.signals === 0) {
    const where = g ? 'while flat with the gate open' : 'while flat';
    const cool = d.cooldownBlockedSignals > 0 ? ` (${d.cooldownBlockedSignals} signal(s) came during a cool-down after a stop)` : '';
    const most = d.maxAbsZWhileEligible === null ? '' : ` (largest |z| there: ${d.maxAbsZWhileEligible.toFixed(2)})`;
    return `|z| never reached entryZ ${p.entryZ} ${where}${most}${cool}: lower entryZ or use a longer range`;
  }
  if (d.sizingSkipped === d.signals) {
    return `all ${d.signals} entry signal(s) were sized to zero (the equity buys less than one quantity increment of a leg): raise --cash or sizing.capitalFraction`;
  }
  return 'no trades';
}

/** The explain parameters of a pair strategy's params. */
export function explainParams(p: ExplainParams): ExplainParams {
  return { lookback: p.lookback, entryZ: p.entryZ, stopZ: p.stopZ, ...(p.gate ? { gate: { every: p.gate.every, lookback: p.gate.lookback, maxPValue: p.gate.maxPValue } } : {}) };
}

/** The diagnostics as label/value lines, for the CLI summary and the report. */
export function describeDiagnostics(d: BacktestDiagnostics): [string, string][] {
  const lines: [string, string][] = [['warm-up', `${d.warmupBars} bars before the first z-score`]];
  if (d.undefinedZBars > 0) lines.push(['no z-score', `${d.undefinedZBars} bars after the warm-up (constant leg or exact fit)`]);
  const g = d.gate;
  if (g) {
    const tested = g.checks - g.checksWithoutPValue;
    const ps = tested > 0 ? `p-values min ${fmtP(g.pValueMin)}, median ${fmtP(g.pValueMedian)}` : 'no p-value yet';
    lines.push(['gate', `open on ${g.openBars} bars, blocked entry on ${g.blockedBars} flat bars (${g.blockedSignals} with an entry signal); ${g.checks} tests (${g.checksWithoutPValue} without a p-value), ${ps}; opens at p ≤ ${g.maxPValue}`]);
  }
  lines.push(['entry signals', `${d.signals} (${d.entries} entered, ${d.sizingSkipped} sized to zero, ${d.cooldownBlockedSignals} more during a cool-down)`]);
  lines.push(['refused', `${d.refused.risk} by risk limits, ${d.refused.marketHours} by market hours`]);
  if (d.hint) lines.push(['why no trades', d.hint]);
  return lines;
}
