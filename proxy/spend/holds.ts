/**
 * Stored budget changes beyond the token store's own: top-ups of prepaid
 * (`total`) budgets, hold thresholds, and holds: tripped by the daemon when a
 * reservation would cross a threshold, then approved or denied by a person.
 * Every change is audited in the same transaction, bumps `hold_version` where
 * it touches a hold, and bumps the `tokens` generation so a running daemon
 * (or a CLI's change seen by it) reloads within a second.
 */
import type { DB } from '../db/database.js';
import { audit, bumpGeneration } from '../db/records.js';
import { ledgerStore } from '../db/ledger-store.js';
import { badRequest, forbidden, notFound, SidecarError } from '../core/errors.js';
import { formatUsd } from '../core/money.js';
import { checkChildRules } from '../tokens/rules.js';
import type { Token, TokenStore } from '../tokens/store.js';
import { windowOf } from '../core/period.js';

export type HoldKind = 'above' | 'rate';

export interface HoldRecord {
  id: number;
  token_id: string;
  held_at: number;
  kind: HoldKind;
  reason: string;
  spent_micros: number;
  threshold_micros: number;
  decision: 'approved' | 'denied' | null;
  decided_at: number | null;
  decided_by: string | null;
  new_hold_above: number | null;
}

const conflict = (code: string, message: string) => new SidecarError(409, 'invalid_request_error', code, message);

/** Puts a token on hold (the daemon, at reservation time); returns the new hold version. */
export function tripHold(db: DB, t: Token, kind: HoldKind, reason: string, spentMicros: number, thresholdMicros: number, now: number): number {
  return db
    .transaction(() => {
      const v = db
        .prepare("UPDATE tokens SET hold_state = 'held', held_at = ?, held_reason = ?, hold_version = hold_version + 1 WHERE id = ? RETURNING hold_version")
        .pluck()
        .get(now, reason, t.id) as number;
      db.prepare('INSERT INTO holds (token_id, held_at, kind, reason, spent_micros, threshold_micros) VALUES (?, ?, ?, ?, ?, ?)').run(t.id, now, kind, reason, spentMicros, thresholdMicros);
      audit(db, now, { actor: 'daemon', event: 'token.hold', tokenId: t.id, detail: { kind, reason, spent_micros: spentMicros, threshold_micros: thresholdMicros } });
      bumpGeneration(db, 'tokens');
      return v;
    })
    .immediate();
}

export function latestHold(db: DB, tokenId: string): HoldRecord | undefined {
  return db.prepare('SELECT * FROM holds WHERE token_id = ? ORDER BY id DESC LIMIT 1').get(tokenId) as HoldRecord | undefined;
}

/**
 * Approves or denies a held token. Approval lifts the hold: with `holdAbove`
 * the threshold becomes that (it must be above this period's spend, or the
 * next request would trip it again); without, a hold that tripped on the
 * threshold is waived for the rest of the period. A rate hold's rolling hour
 * starts afresh either way (the daemon forgets spend before the approval).
 * Denial keeps the token refused until a person approves it or changes it.
 */
export function decideHold(
  db: DB,
  tokens: TokenStore,
  id: string,
  decision: 'approved' | 'denied',
  actor: string,
  now: number,
  opts: { holdAbove?: number | null } = {},
): Token {
  // The spend read below is in a transaction, where the ledger cannot commit what waits for its window: it does now.
  ledgerStore(db).commitWaiting();
  return db
    .transaction(() => {
      const t = tokens.require(id);
      if (t.hold === null) throw conflict('not_held', `token ${id} is not on hold; nothing to ${decision === 'approved' ? 'approve' : 'deny'}`);
      const last = latestHold(db, id);
      const key = windowOf(t.budgetPeriod, now).key;
      if (decision === 'approved') {
        const newAbove = opts.holdAbove;
        if (newAbove !== undefined && newAbove !== null) {
          const spent = ledgerStore(db).spendOf(id, key).spentMicros;
          if (newAbove <= spent) {
            throw badRequest('invalid_hold_above', `the new threshold ${formatUsd(newAbove)} is not above this period's spend of ${formatUsd(spent)}; the next request would be held again`, { hold_above: 'must be above the spend so far' });
          }
        }
        const waive = newAbove === undefined && last?.kind === 'above' ? key : null;
        db.prepare(
          `UPDATE tokens SET hold_state = NULL, held_at = NULL, held_reason = NULL, hold_version = hold_version + 1,
            hold_above = ?, hold_waived_period = ? WHERE id = ?`,
        ).run(newAbove === undefined ? t.holdAbove : newAbove, waive, id);
      } else {
        db.prepare("UPDATE tokens SET hold_state = 'denied', hold_version = hold_version + 1 WHERE id = ?").run(id);
      }
      if (last && last.decision === null) {
        db.prepare('UPDATE holds SET decision = ?, decided_at = ?, decided_by = ?, new_hold_above = ? WHERE id = ?').run(decision, now, actor, opts.holdAbove ?? null, last.id);
      }
      audit(db, now, {
        actor,
        event: decision === 'approved' ? 'token.hold_approved' : 'token.hold_denied',
        tokenId: id,
        detail: { reason: t.hold.reason, ...(opts.holdAbove !== undefined ? { hold_above_micros: opts.holdAbove } : {}) },
      });
      bumpGeneration(db, 'tokens');
      return tokens.require(id);
    })
    .immediate();
}

/** Sets the hold thresholds (µ$ per period / per rolling hour; null removes). A changed threshold restarts the rolling hour. */
export function setHoldLimits(db: DB, tokens: TokenStore, id: string, limits: { holdAbove?: number | null; holdRate?: number | null }, actor: string, now: number): Token {
  return db
    .transaction(() => {
      const t = tokens.require(id);
      const above = limits.holdAbove === undefined ? t.holdAbove : limits.holdAbove;
      const rate = limits.holdRate === undefined ? t.holdRate : limits.holdRate;
      db.prepare('UPDATE tokens SET hold_above = ?, hold_rate = ?, hold_waived_period = NULL, hold_version = hold_version + 1 WHERE id = ?').run(above, rate, id);
      audit(db, now, { actor, event: 'token.hold_limits', tokenId: id, detail: { hold_above_micros: above, hold_rate_micros: rate } });
      bumpGeneration(db, 'tokens');
      return tokens.require(id);
    })
    .immediate();
}

/** Adds `micros` to a prepaid (`total`) budget; still within every ancestor's budget. */
export function topUp(db: DB, tokens: TokenStore, id: string, micros: number, actor: string, now: number): Token {
  if (!Number.isSafeInteger(micros) || micros <= 0) throw badRequest('invalid_amount', 'a top-up must be a positive amount in USD', { amount_usd: 'must be positive' });
  return db
    .transaction(() => {
      const chain = tokens.chain(id);
      const t = chain[0];
      if (!t) throw notFound('token_not_found', `no token with id ${id}`);
      if (t.budgetPeriod !== 'total' || t.budget === null) {
        throw forbidden('not_prepaid', `token ${id} has ${t.budget === null ? 'no budget' : `a budget per ${t.budgetPeriod}`}; only total (prepaid) budgets take top-ups. Use set-budget to change it.`);
      }
      const next = t.budget + micros;
      checkChildRules(chain.slice(1), { scopes: t.scopes, budget: next, expiresAt: t.expiresAt });
      db.prepare('UPDATE tokens SET monthly_budget = ?, topped_up = topped_up + ? WHERE id = ?').run(next, micros, id);
      audit(db, now, { actor, event: 'token.topup', tokenId: id, detail: { amount_micros: micros, from_micros: t.budget, to_micros: next } });
      bumpGeneration(db, 'tokens');
      return tokens.require(id);
    })
    .immediate();
}

/** Tokens on hold now (held or denied), oldest first, with what tripped them. */
export function heldTokens(tokens: TokenStore, db: DB): Array<{ token: Token; hold: HoldRecord | undefined }> {
  return tokens
    .list()
    .filter((t) => t.hold !== null && t.revokedAt === null)
    .sort((a, b) => a.hold!.since - b.hold!.since)
    .map((token) => ({ token, hold: latestHold(db, token.id) }));
}
