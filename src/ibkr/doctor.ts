/**
 * `tandem doctor` checklist as a function: each line says what was checked, what was found and,
 * when it failed, how to fix it. Later lines are skipped when a line they depend on failed.
 */
import type { IbkrClient } from './client.ts';
import type { ContractQuery } from './contracts.ts';
import { GatewayCertificateError, GatewayTimeoutError, GatewayUnreachableError, IbkrError, NotAuthenticatedError } from './errors.ts';

export interface DoctorExpectations {
  /** Paper account ids (DU...) the config trades with. */
  paperAccounts?: string[];
  /** Live account ids (U...) the config trades with. */
  liveAccounts?: string[];
  /** Instruments of the configured strategies. */
  instruments?: ContractQuery[];
}

export type DoctorStatus = 'ok' | 'warn' | 'fail' | 'skip';

export interface DoctorLine {
  check: string;
  status: DoctorStatus;
  detail: string;
  fix?: string;
}

export async function runDoctor(client: IbkrClient, exp: DoctorExpectations = {}): Promise<DoctorLine[]> {
  const lines: DoctorLine[] = [];
  const add = (l: DoctorLine) => (lines.push(l), l);
  const base = client.baseUrl;
  const origin = base.replace(/\/v1\/api$/, '');
  const skipRest = (from: string[]) => from.forEach((check) => add({ check, status: 'skip', detail: 'skipped: an earlier check failed' }));
  const LATER = ['TLS', 'authenticated', 'brokerage session', 'accounts', 'instruments', 'market data'];

  // 1-3: reachable, TLS, SSO session — one /tickle answers all three.
  let authenticated = false;
  try {
    await client.session.tickle();
    authenticated = true;
    add({ check: 'gateway reachable', status: 'ok', detail: `the gateway answers at ${base}` });
  } catch (err) {
    if (err instanceof GatewayCertificateError) {
      add({ check: 'gateway reachable', status: 'ok', detail: `something listens at ${base}` });
      add({ check: 'TLS', status: 'fail', detail: err.reason, fix: 'Set tls.fingerprint (SHA-256 of the gateway certificate) or tls.caFile in the config to the gateway you run.' });
      skipRest(LATER.slice(1));
      return lines;
    }
    if (err instanceof GatewayUnreachableError || err instanceof GatewayTimeoutError) {
      add({
        check: 'gateway reachable',
        status: 'fail',
        detail: err instanceof GatewayUnreachableError ? err.reason : `no answer within ${err.timeoutMs} ms`,
        fix: `Start the Client Portal Gateway (needs Java: check \`java -version\`) and make sure it listens at ${origin}; open ${origin} in a browser once to accept its certificate and log in.`,
      });
      skipRest(LATER);
      return lines;
    }
    if (!(err instanceof NotAuthenticatedError)) throw err;
    add({ check: 'gateway reachable', status: 'ok', detail: `the gateway answers at ${base}` });
  }
  const tls = client.transport.tls;
  add({
    check: 'TLS',
    status: 'ok',
    detail:
      tls.mode === 'loopback-self-signed'
        ? 'self-signed certificate accepted on a loopback host'
        : tls.mode === 'fingerprint'
          ? `certificate matches the pinned fingerprint ${tls.fingerprint}`
          : tls.mode === 'ca'
            ? 'certificate verified against the configured CA'
            : tls.mode === 'plain'
              ? 'plain HTTP (no TLS)'
              : 'certificate verified against the system CAs',
  });
  if (!authenticated) {
    add({ check: 'authenticated', status: 'fail', detail: 'the gateway has no logged-in session (401)', fix: `Log in at ${origin} in a browser (paper username for a paper account), or enable automatic login in the config.` });
    skipRest(LATER.slice(2));
    return lines;
  }
  add({ check: 'authenticated', status: 'ok', detail: 'SSO session active (read-only endpoints available)' });

  // 4: brokerage session.
  try {
    const s = await client.session.ensureBrokerage();
    add({ check: 'brokerage session', status: 'ok', detail: `authenticated, connected${s.serverVersion ? ` (${s.serverVersion})` : ''}` });
  } catch (err) {
    add({
      check: 'brokerage session',
      status: 'fail',
      detail: err instanceof IbkrError ? err.message : String(err),
      fix: 'Close other logins with the same username (TWS, IBKR Mobile, Client Portal) or use a second username for them; then run doctor again.',
    });
    skipRest(LATER.slice(3));
    return lines;
  }

  // 5: configured accounts.
  const have = new Set(client.session.brokerageAccounts?.accounts ?? []);
  const wanted = [...(exp.paperAccounts ?? []), ...(exp.liveAccounts ?? [])];
  if (wanted.length === 0) {
    add({ check: 'accounts', status: 'warn', detail: `no accounts configured; the gateway offers ${[...have].join(', ') || 'none'}`, fix: 'Set IBKR_PAPER_ACCOUNT_ID / IBKR_LIVE_ACCOUNT_ID in .env (or pass --paper-account / --live-account).' });
  } else {
    const missing = wanted.filter((a) => !have.has(a));
    const wrongKind = (exp.paperAccounts ?? []).filter((a) => !/^D[UF]/.test(a));
    if (missing.length) {
      add({
        check: 'accounts',
        status: 'fail',
        detail: `not in this session: ${missing.join(', ')} (the gateway offers ${[...have].join(', ') || 'none'})`,
        fix: 'Log in with the username that owns these accounts (paper accounts have their own paper username), or fix the account ids in the config.',
      });
    } else if (wrongKind.length) {
      add({ check: 'accounts', status: 'warn', detail: `configured as paper but not DU…: ${wrongKind.join(', ')}`, fix: 'Paper account ids start with DU; check the config.' });
    } else {
      add({ check: 'accounts', status: 'ok', detail: `present: ${wanted.join(', ')}` });
    }
  }

  const notAccounts = client.session.brokerageAccounts?.notAccounts ?? [];
  if (notAccounts.length) {
    add({
      check: 'accounts', status: 'warn',
      detail: `advisor (FA) login: ${notAccounts.join(', ')} ${notAccounts.length === 1 ? 'is' : 'are'} not an account (All / allocation group / profile) and will never be traded`,
      fix: `Only the configured account is traded${wanted.length ? ` (${wanted.join(', ')})` : ''}; nothing to do unless you meant one of these.`,
    });
  }

  // 6: instruments → conids.
  const conids: number[] = [];
  if (!exp.instruments?.length) {
    add({ check: 'instruments', status: 'skip', detail: 'no instruments configured' });
  } else {
    const bad: string[] = [];
    const good: string[] = [];
    for (const q of exp.instruments) {
      try {
        const c = await client.contracts.resolve(q);
        conids.push(c.conid);
        good.push(`${c.symbol}=${c.conid}`);
      } catch (err) {
        bad.push(err instanceof IbkrError ? err.message : String(err));
      }
    }
    add(
      bad.length
        ? { check: 'instruments', status: 'fail', detail: bad.join(' | '), fix: 'Fix the symbol/secType/exchange/currency in the strategy config (see the closest matches above).' }
        : { check: 'instruments', status: 'ok', detail: good.join(', ') },
    );
  }

  // 7: market data.
  if (conids.length === 0) {
    add({ check: 'market data', status: 'skip', detail: 'no resolved instruments to quote' });
  } else {
    try {
      const quotes = await client.marketData.snapshot(conids);
      const none = quotes.filter((q) => q.last === undefined && q.bid === undefined && q.ask === undefined);
      const delayed = quotes.filter((q) => q.availability && /^[DY]/.test(q.availability));
      if (none.length) {
        add({ check: 'market data', status: 'fail', detail: `no quotes for conids ${none.map((q) => q.conid).join(', ')}`, fix: 'Subscribe to market data for these venues (crypto: PAXOS data), and for a paper account enable "share market data with paper account" in Client Portal settings.' });
      } else if (delayed.length) {
        add({ check: 'market data', status: 'warn', detail: `delayed data for conids ${delayed.map((q) => q.conid).join(', ')}`, fix: 'Real-time data needs the market-data subscriptions on the live username (shared with the paper account).' });
      } else {
        add({ check: 'market data', status: 'ok', detail: `quotes for ${quotes.length} instrument(s)` });
      }
    } catch (err) {
      add({ check: 'market data', status: 'fail', detail: err instanceof Error ? err.message : String(err), fix: 'Check market-data permissions of the username.' });
    }
  }
  return lines;
}

export function formatDoctor(lines: DoctorLine[]): string {
  const mark: Record<DoctorStatus, string> = { ok: '[ok]  ', warn: '[warn]', fail: '[FAIL]', skip: '[skip]' };
  return lines.map((l) => `${mark[l.status]} ${l.check}: ${l.detail}${l.fix && l.status !== 'ok' ? `\n       fix: ${l.fix}` : ''}`).join('\n');
}
