/**
 * A token's budget as every view shows it (CLI, admin API, dashboard,
 * /v1/balance, MCP): its period, spend in it, when it resets, holds, and the
 * forecast. Spend is read from the `spend` table, where the budget stage keeps
 * a row per token for its own period (and one per month for every token).
 */
import type { DB } from '../db/database.js';
import { microsToUsd } from '../core/money.js';
import type { Token } from '../tokens/store.js';
import { forecast, forecastJson } from './forecast.js';
import { BUDGET_PERIODS, windowOf } from '../core/period.js';
import { ledgerStore } from '../db/ledger-store.js';
import type { BudgetFields } from '../../wire/admin.js';

export type { BudgetFields };

/** Settled spend and requests of `t` in its own budget period. */
export function periodSpend(db: DB, t: Token, now: number): { spentMicros: number; requests: number } {
  return ledgerStore(db).spendOf(t.id, windowOf(t.budgetPeriod, now).key);
}

/** Spend rows of the current day, week, month and total windows, by `token_id period-key`, for a whole list at once. */
export function spendByWindow(db: DB, now: number): Map<string, { spent_micros: number; requests: number }> {
  const keys = BUDGET_PERIODS.map((p) => windowOf(p, now).key);
  return new Map(ledgerStore(db).spendInWindows(keys).map((r) => [`${r.token_id} ${r.period}`, r]));
}

export function budgetFields(t: Token, spentMicros: number, now: number): BudgetFields {
  const w = windowOf(t.budgetPeriod, now);
  return {
    budget_period: t.budgetPeriod,
    resets_at: w.end === null ? null : new Date(w.end).toISOString(),
    topped_up_usd: microsToUsd(t.toppedUp),
    hold_above_usd: t.holdAbove === null ? null : microsToUsd(t.holdAbove),
    hold_rate_usd: t.holdRate === null ? null : microsToUsd(t.holdRate),
    held: t.hold !== null,
    hold: t.hold ? { state: t.hold.state, since: new Date(t.hold.since).toISOString(), reason: t.hold.reason } : null,
    forecast: forecastJson(forecast({ spentMicros, budgetMicros: t.budget, period: t.budgetPeriod, createdAt: t.createdAt, now })),
  };
}
