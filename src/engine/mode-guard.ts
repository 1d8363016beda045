/**
 * Modes and accounts: paper trades the paper account and sizes from `paper.startingCash`; live
 * trades the live account, sizes from the account's balance, and needs `live.enabled: true` plus a
 * confirmation (typing the account id at a terminal, or `--yes` when not interactive).
 */
import { createInterface } from 'node:readline/promises';
import { UserError } from '../util/errors.ts';

export type Mode = 'paper' | 'live';

/** Paper account ids start with DU (DF for paper advisor masters). */
export function isPaperAccountId(id: string): boolean {
  return /^D[UF]/i.test(id.trim());
}

export function checkAccountForMode(mode: Mode, accountId: string): void {
  const paper = isPaperAccountId(accountId);
  if (mode === 'paper' && !paper) {
    throw new UserError(
      `paper mode refuses account ${accountId}: paper account ids start with DU (or DF). ` +
        'Set IBKR_PAPER_ACCOUNT_ID to your paper account, or run with --mode live on purpose.',
      'TANDEM_MODE_MISMATCH',
    );
  }
  if (mode === 'live' && paper) {
    throw new UserError(
      `live mode refuses account ${accountId}: it is a paper account (DU/DF). ` +
        'Set IBKR_LIVE_ACCOUNT_ID to your live account id, or run with --mode paper.',
      'TANDEM_MODE_MISMATCH',
    );
  }
}

export interface LiveConfirmation {
  liveEnabled: boolean;
  yes: boolean;
  interactive: boolean;
  /** Reads one line from the user (a terminal prompt); injected so a test can type into a real pty-less stream. */
  ask?: (question: string) => Promise<string>;
}

export async function confirmLive(accountId: string, c: LiveConfirmation): Promise<void> {
  if (!c.liveEnabled) {
    throw new UserError(
      'live trading is disabled: set `live.enabled: true` in the engine config to trade real money ' +
        '(or run with --mode paper).',
      'TANDEM_MODE_MISMATCH',
    );
  }
  if (c.yes) return;
  if (!c.interactive) {
    throw new UserError(`live mode needs a confirmation: run at a terminal and type the account id, or pass --yes.`, 'TANDEM_MODE_MISMATCH');
  }
  const ask =
    c.ask ??
    (async (q: string) => {
      const rl = createInterface({ input: process.stdin, output: process.stderr });
      try {
        return await rl.question(q);
      } finally {
        rl.close();
      }
    });
  const answer = (await ask(`LIVE TRADING with real money on account ${accountId}. Type the account id to confirm: `)).trim();
  if (answer !== accountId) {
    throw new UserError(`live trading not confirmed (typed '${answer}', expected the account id). Nothing was sent.`, 'TANDEM_MODE_MISMATCH');
  }
}
