/**
 * Where a token's spend is heading: its average rate so far this period,
 * what it will have spent when the period ends at that rate, and when its
 * budget runs out at that rate. Plain arithmetic over numbers the caller
 * already has (settled spend and the clock), so every view shows the same.
 *
 * The rate is spend divided by the time the token has had this period (since
 * the period began, or since the token was created if later; for a `total`
 * budget, since it was created), counted as at least an hour so a first
 * request a minute old does not project an absurd rate.
 */
import { HOUR_MS, windowOf, type BudgetPeriod } from '../core/period.js';

export interface ForecastInput {
  spentMicros: number;
  budgetMicros: number | null;
  period: BudgetPeriod;
  createdAt: number;
  now: number;
}

export interface Forecast {
  /** Average µ$ per hour this period. */
  rateMicrosPerHour: number;
  /** Spend at the end of the period at that rate; null for `total`, which has no end. */
  projectedMicros: number | null;
  periodEndsAt: number | null;
  /** When the budget runs out at that rate: null without a budget, without spend, or not before the period ends. */
  runsOutAt: number | null;
}

export function forecast(f: ForecastInput): Forecast {
  const w = windowOf(f.period, f.now);
  const since = Math.max(w.start ?? f.createdAt, f.createdAt);
  const elapsed = Math.max(HOUR_MS, f.now - since);
  const perMs = f.spentMicros / elapsed;
  const rateMicrosPerHour = Math.round(perMs * HOUR_MS);
  const projectedMicros = w.end === null ? null : Math.round(f.spentMicros + perMs * Math.max(0, w.end - f.now));
  let runsOutAt: number | null = null;
  if (f.budgetMicros !== null && perMs > 0) {
    const left = f.budgetMicros - f.spentMicros;
    const at = left <= 0 ? f.now : f.now + Math.ceil(left / perMs);
    runsOutAt = w.end !== null && at >= w.end ? null : at;
  }
  return { rateMicrosPerHour, projectedMicros, periodEndsAt: w.end, runsOutAt };
}

/** The wire form (USD and ISO times) used by the CLI, the admin API and the dashboard. */
export function forecastJson(fc: Forecast) {
  return {
    spend_rate_usd_per_hour: fc.rateMicrosPerHour / 1e6,
    projected_period_spend_usd: fc.projectedMicros === null ? null : fc.projectedMicros / 1e6,
    period_ends_at: fc.periodEndsAt === null ? null : new Date(fc.periodEndsAt).toISOString(),
    runs_out_at: fc.runsOutAt === null ? null : new Date(fc.runsOutAt).toISOString(),
  };
}
