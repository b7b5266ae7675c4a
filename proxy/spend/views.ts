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
import { windowOf } from '../core/period.js';
import type { BudgetFields } from '../../wire/admin.js';

export type { BudgetFields };

/** Settled spend and requests of `t` in its own budget period. */
export function periodSpend(db: DB, t: Token, now: number): { spentMicros: number; requests: number } {
  const r = db.prepare('SELECT spent_micros, requests FROM spend WHERE token_id = ? AND period = ?').get(t.id, windowOf(t.budgetPeriod, now).key) as
    | { spent_micros: number; requests: number }
    | undefined;
  return { spentMicros: r?.spent_micros ?? 0, requests: r?.requests ?? 0 };
}

/** Spend rows of the current day, week, month and total windows, by `token_id period-key`, for a whole list at once. */
export function spendByWindow(db: DB, now: number): Map<string, { spent_micros: number; requests: number }> {
  const keys = (['day', 'week', 'month', 'total'] as const).map((p) => windowOf(p, now).key);
  const rows = db.prepare('SELECT token_id, period, spent_micros, requests FROM spend WHERE period IN (?, ?, ?, ?)').all(...keys) as Array<{
    token_id: string;
    period: string;
    spent_micros: number;
    requests: number;
  }>;
  return new Map(rows.map((r) => [`${r.token_id} ${r.period}`, r]));
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
