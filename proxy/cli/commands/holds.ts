/**
 * Tokens on hold for the human's approval, in `requests list|approve|deny`
 * (issue 16): a hold is a request from an agent's spending, answered like an
 * access request, by its token id.
 */
import { formatUsd } from '../../core/money.js';
import { systemClock } from '../../core/time.js';
import { decideHold, heldTokens } from '../../spend/holds.js';
import { TokenStore } from '../../tokens/store.js';
import { CliError, openDb, printJson, printTable, type GlobalOptions } from '../context.js';
import { parsePositiveUsd } from './token-spend.js';
import { escapeUnprintable } from '../../core/text.js';
import { write } from '../daemon.js';

export function isHoldRef(ref: string): boolean {
  return ref.startsWith('tok_');
}

export function heldJson(opts: GlobalOptions) {
  const db = openDb(opts);
  try {
    return heldTokens(new TokenStore(db, systemClock), db).map(({ token, hold }) => ({
      token_id: token.id,
      name: token.name,
      state: token.hold!.state,
      since: new Date(token.hold!.since).toISOString(),
      reason: token.hold!.reason,
      kind: hold?.kind ?? null,
      threshold_usd: hold ? hold.threshold_micros / 1e6 : null,
    }));
  } finally {
    db.close();
  }
}

/** Prints the held tokens above the access requests (nothing when none is held). */
export function printHeld(rows: ReturnType<typeof heldJson>): void {
  if (rows.length === 0) return;
  process.stdout.write('Tokens on hold (their agents get 402 spend_approval_required until you answer):\n');
  printTable(
    rows.map((r) => ({ id: r.token_id, name: r.name, state: r.state, since: r.since, reason: r.reason })),
    ['id', 'name', 'state', 'since', 'reason'],
  );
  process.stdout.write('Approve with `requests approve ID [--hold-above USD]`, or deny with `requests deny ID`.\n\n');
}

export async function decideHoldCli(opts: GlobalOptions, id: string, decision: 'approved' | 'denied', o: { holdAbove?: string; json?: boolean }): Promise<void> {
  const holdAbove = o.holdAbove === undefined ? undefined : parsePositiveUsd(o.holdAbove, '--hold-above')!;
  const tokenOf = () => {
    const db = openDb(opts);
    try {
      const t = new TokenStore(db, systemClock).get(id);
      if (!t) throw new CliError(`no token with id ${id} (see skillboss-sidecar requests list)`);
      return t;
    } finally {
      db.close();
    }
  };
  tokenOf();
  const t = await write(
    opts,
    async (d) => {
      await d.call('POST', `/tokens/${id}/hold/${decision === 'approved' ? 'approve' : 'deny'}`, holdAbove === undefined ? {} : { hold_above_usd: holdAbove / 1e6 });
      return tokenOf();
    },
    () => {
      const db = openDb(opts);
      try {
        return decideHold(db, new TokenStore(db, systemClock), id, decision, 'cli', systemClock(), holdAbove === undefined ? {} : { holdAbove });
      } finally {
        db.close();
      }
    },
  );
  if (o.json) return printJson({ token_id: t.id, decision, held: t.hold !== null, hold_above: t.holdAbove === null ? null : t.holdAbove / 1e6, waived_for: t.holdWaivedPeriod });
  const name = escapeUnprintable(t.name);
  // What the approval did, as decideHold does it: a new threshold, or this period's threshold waived.
  const threshold =
    t.holdAbove === null
      ? ''
      : holdAbove !== undefined
        ? `; it is held again above ${formatUsd(t.holdAbove)} per ${t.budgetPeriod}`
        : t.holdWaivedPeriod !== null
          ? `; its ${formatUsd(t.holdAbove)} per ${t.budgetPeriod} threshold is waived for the rest of this ${t.budgetPeriod === 'total' ? 'budget' : t.budgetPeriod} and applies again from the next`
          : `; its ${formatUsd(t.holdAbove)} per ${t.budgetPeriod} threshold still applies`;
  process.stdout.write(
    decision === 'approved'
      ? `Approved: ${t.id} (${name}) may spend again${threshold}.\n`
      : `Denied: ${t.id} (${name}) stays on hold; its agents are told not to retry. Approve it later with \`requests approve ${t.id}\`.\n`,
  );
}
