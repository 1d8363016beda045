/**
 * The one place that turns a strategy config into what a `StrategyRunner` needs: its id, legs, bar
 * size, warm-up length, short rules and capital share. `tandem run`, the demo, the tests and the
 * benchmark all build runners through `runnerSpec`, so they cannot disagree (they used to: four
 * places assembled engine options and two different warm-up lengths).
 *
 * Legs, bar size, warm-up length and short rules are not derived here: they come from the strategy
 * type's own declaration (`requirements` in src/strategies/registry.ts), so a new strategy type states
 * what it needs in one place and every driver honours it.
 */
import type { InstrumentSpec } from '../brokers/types.ts';
import { createStrategy, strategyRequirements, strategyTypes } from '../strategies/registry.ts';
import type { Strategy, StrategyState } from '../strategies/types.ts';
import { UserError } from '../util/errors.ts';

export interface RunnerLeg extends InstrumentSpec {
  qtyIncrement: number;
}

export interface RunnerSpec {
  /** The strategy's name (its config's `name`, default the file name): the journal's strategy_id. */
  id: string;
  legs: { y: RunnerLeg; x: RunnerLeg };
  barMinutes: number;
  warmupBars: number;
  /** `hedge` shorts a leg; `long-only` holds only the leg it would buy (crypto). */
  shortMode: string;
  /** Builds the strategy, from a saved state when the journal has one. */
  createStrategy: (state?: StrategyState) => Strategy;
  /** Share (0..1] of the sizing capital: paper.startingCash in paper mode, the account balance live. */
  capitalShare: number;
  /** Another strategy of the node may trade the same contract (refused at start otherwise). */
  allowSharedContracts: boolean;
}

/** A strategy as the config loader gives it (name, validated `strategy:` section, node settings). */
export interface StrategyEntry {
  file?: string;
  name: string;
  strategy: { type: string } & Record<string, unknown>;
  capitalShare?: number | undefined;
  allowSharedContracts?: boolean | undefined;
}

export function runnerSpec(entry: StrategyEntry, capitalShare: number): RunnerSpec {
  if (!strategyTypes().includes(entry.strategy.type)) {
    throw new UserError(`${entry.file ?? entry.name}: unknown strategy type ${entry.strategy.type} (known: ${strategyTypes().join(', ')}).`, 'TANDEM_CONFIG_INVALID');
  }
  const declared = strategyRequirements(entry.strategy);
  return {
    id: entry.name,
    legs: declared.legs,
    barMinutes: declared.barMinutes,
    warmupBars: declared.warmupBars,
    shortMode: declared.shortMode,
    createStrategy: (state?: StrategyState) => createStrategy(entry.strategy, state),
    capitalShare,
    allowSharedContracts: entry.allowSharedContracts ?? false,
  };
}

/**
 * Runner specs for every strategy of a node. Capital shares: the configured ones, the rest split
 * equally among the strategies without one; they must not add up to more than 1.
 */
export function runnerSpecs(entries: StrategyEntry[]): RunnerSpec[] {
  const ids = new Set<string>();
  for (const e of entries) {
    if (ids.has(e.name)) throw new UserError(`two strategies are named "${e.name}": each strategy of a node needs its own name (the journal keeps its positions and state by name). Set \`name:\` in one of the strategy files.`, 'TANDEM_CONFIG_INVALID');
    ids.add(e.name);
  }
  const fixed = entries.reduce((s, e) => s + (e.capitalShare ?? 0), 0);
  const open = entries.filter((e) => e.capitalShare === undefined).length;
  if (fixed > 1 + 1e-9) {
    throw new UserError(`the strategies' capitalShare values add up to ${Number(fixed.toFixed(6))}, more than 1: lower them so that they share the capital.`, 'TANDEM_CONFIG_INVALID');
  }
  const rest = open > 0 ? (1 - fixed) / open : 0;
  if (open > 0 && rest <= 0) {
    throw new UserError(`the configured capitalShare values use all the capital, leaving nothing for ${open} strategy(ies) without one: give every strategy a capitalShare.`, 'TANDEM_CONFIG_INVALID');
  }
  return entries.map((e) => runnerSpec(e, e.capitalShare ?? rest));
}

/**
 * Two strategies trading the same contract share IBKR's one net position: refused unless both say
 * `allowSharedContracts: true`.
 */
export function checkSharedContracts(specs: RunnerSpec[]): void {
  const key = (l: InstrumentSpec): string => `${l.symbol}/${l.secType}/${l.currency}`;
  const owner = new Map<string, RunnerSpec>();
  for (const s of specs) {
    for (const l of [s.legs.y, s.legs.x]) {
      const k = key(l);
      const other = owner.get(k);
      if (other && other !== s && !(other.allowSharedContracts && s.allowSharedContracts)) {
        throw new UserError(
          `strategies "${other.id}" and "${s.id}" both trade ${l.symbol} (${l.secType}). IBKR holds one net position per contract, ` +
            'so their orders would net against each other. Run them in separate accounts, or set `allowSharedContracts: true` on both entries ' +
            'of the engine config\'s `strategies:` list to accept it.',
          'TANDEM_CONFIG_INVALID',
        );
      }
      owner.set(k, s);
    }
  }
}
