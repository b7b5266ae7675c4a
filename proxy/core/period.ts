/**
 * Budget periods as UTC windows. A budget is per `day` (00:00 UTC), `week`
 * (ISO weeks: Monday 00:00 UTC), `month` (the 1st, 00:00 UTC) or `total`
 * (prepaid: one window that never resets). Every function takes the time
 * from the caller, so an injected clock moves budgets across boundaries.
 *
 * The key names the window in the `spend` table: `2026-12-04`, `2026-W49`,
 * `2026-12` (the same key monthly spend has always used) or `total`.
 */
import { DAY_MS } from './time.js';

import { BUDGET_PERIODS, isBudgetPeriod, type BudgetPeriod } from '../../wire/fields.js';

// The period list is a field rule (wire/fields.ts), defined there once.
export { BUDGET_PERIODS, isBudgetPeriod, type BudgetPeriod };
export const DEFAULT_PERIOD: BudgetPeriod = 'month';
export const HOUR_MS = 3_600_000;

export interface Window {
  readonly key: string;
  /** Start of the window (ms); for `total`, null: it has no start of its own. */
  readonly start: number | null;
  /** When the next window starts (ms); null for `total`, which never resets. */
  readonly end: number | null;
}

const pad = (n: number) => String(n).padStart(2, '0');

const TOTAL: Window = { key: 'total', start: null, end: null };
/** The last window computed per period: settlement asks for it per token per ledger row, nearly always the same one. */
const recent = new Map<BudgetPeriod, Window>();

/** The UTC window of `period` holding `ms` (the same object while `ms` stays in it: treat it as read-only). */
export function windowOf(period: BudgetPeriod, ms: number): Window {
  if (period === 'total') return TOTAL;
  const w = recent.get(period);
  if (w && ms >= w.start! && ms < w.end!) return w;
  const fresh = computeWindow(period, ms);
  recent.set(period, fresh);
  return fresh;
}

function computeWindow(period: Exclude<BudgetPeriod, 'total'>, ms: number): Window {
  const d = new Date(ms);
  const y = d.getUTCFullYear();
  const m = d.getUTCMonth();
  switch (period) {
    case 'day': {
      const start = Date.UTC(y, m, d.getUTCDate());
      return { key: `${y}-${pad(m + 1)}-${pad(d.getUTCDate())}`, start, end: start + DAY_MS };
    }
    case 'week': {
      // ISO 8601: weeks start on Monday; week 1 holds the year's first Thursday.
      const dayStart = Date.UTC(y, m, d.getUTCDate());
      const start = dayStart - ((d.getUTCDay() + 6) % 7) * DAY_MS;
      const thursday = new Date(start + 3 * DAY_MS);
      const isoYear = thursday.getUTCFullYear();
      const week = Math.floor((start + 3 * DAY_MS - Date.UTC(isoYear, 0, 1)) / (7 * DAY_MS)) + 1;
      return { key: `${isoYear}-W${pad(week)}`, start, end: start + 7 * DAY_MS };
    }
    case 'month':
      return { key: `${y}-${pad(m + 1)}`, start: Date.UTC(y, m, 1), end: Date.UTC(y, m + 1, 1) };
  }
}

/** `daily`, `weekly`, `monthly`, `total`: for messages ("this token's daily budget"). */
export function periodAdjective(period: BudgetPeriod): string {
  return period === 'total' ? 'total (prepaid)' : period === 'day' ? 'daily' : `${period}ly`;
}

/** "It resets at …" or that it never does, for a 402 an agent reads. */
export function resetSentence(period: BudgetPeriod, ms: number, tokenId: string): string {
  const w = windowOf(period, ms);
  if (w.end === null) return `It is prepaid and does not reset; the human can add to it with \`skillboss-sidecar token topup ${tokenId} USD\`.`;
  return `It resets at ${new Date(w.end).toISOString()}.`;
}
