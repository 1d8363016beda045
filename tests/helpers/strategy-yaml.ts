/** The ETHA/ETHV test strategy the engine and history tests write to disk, with short parameters so it trades within a few simulated hours. */
export interface PairStrategyOptions {
  name?: string;
  lookback?: number;
  entryZ?: number;
  exitZ?: number;
  stopZ?: number;
}

export function pairStrategyYaml(o: PairStrategyOptions = {}): string {
  return `kind: strategy
${o.name ? `name: ${o.name}\n` : ''}strategy:
  type: cointegration
  legs:
    y: { symbol: ETHA, secType: STK, exchange: SMART, currency: USD }
    x: { symbol: ETHV, secType: STK, exchange: SMART, currency: USD }
  bar: 5min
  lookback: ${o.lookback ?? 20}
  entryZ: ${o.entryZ ?? 1.2}
  exitZ: ${o.exitZ ?? 0.2}
  stopZ: ${o.stopZ ?? 3.5}
  sizing: { capitalFraction: 0.5 }
`;
}

/** The BTC/ETH crypto test strategy (long-only, PAXOS), short parameters so it trades within a simulated hour or two. */
export function cryptoStrategyYaml(o: PairStrategyOptions = {}): string {
  return `kind: strategy
${o.name ? `name: ${o.name}\n` : ''}strategy:
  type: cointegration
  legs:
    y: { symbol: BTC, secType: CRYPTO, exchange: PAXOS, currency: USD }
    x: { symbol: ETH, secType: CRYPTO, exchange: PAXOS, currency: USD }
  bar: 5min
  lookback: ${o.lookback ?? 20}
  entryZ: ${o.entryZ ?? 1.0}
  exitZ: ${o.exitZ ?? 0.2}
  stopZ: ${o.stopZ ?? 3.5}
  sizing: { capitalFraction: 0.5 }
  shortMode: long-only
`;
}
