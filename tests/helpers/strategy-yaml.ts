/** The ETHA/ETHV test strategy the engine and history tests write to disk, with short parameters so it trades within a few simulated hours. */
export interface PairStrategyOptions {
  name?: string;
  lookback?: number;
  entryZ?: number;
  exitZ?: number;
  stopZ?: number;
}

function strategyYaml(legs: string, o: PairStrategyOptions, defaults: { entryZ: number; extra: string }): string {
  return `kind: strategy
${o.name ? `name: ${o.name}\n` : ''}strategy:
  type: cointegration
  legs:
${legs}
  bar: 5min
  lookback: ${o.lookback ?? 20}
  entryZ: ${o.entryZ ?? defaults.entryZ}
  exitZ: ${o.exitZ ?? 0.2}
  stopZ: ${o.stopZ ?? 3.5}
  sizing: { capitalFraction: 0.5 }
${defaults.extra}`;
}

export function pairStrategyYaml(o: PairStrategyOptions = {}): string {
  return strategyYaml(`    y: { symbol: ETHA, secType: STK, exchange: SMART, currency: USD }
    x: { symbol: ETHV, secType: STK, exchange: SMART, currency: USD }`, o, { entryZ: 1.2, extra: '' });
}

/** The BTC/ETH crypto test strategy (long-only, PAXOS), short parameters so it trades within a simulated hour or two. */
export function cryptoStrategyYaml(o: PairStrategyOptions = {}): string {
  return strategyYaml(`    y: { symbol: BTC, secType: CRYPTO, exchange: PAXOS, currency: USD }
    x: { symbol: ETH, secType: CRYPTO, exchange: PAXOS, currency: USD }`, o, { entryZ: 1.0, extra: '  shortMode: long-only\n' });
}
