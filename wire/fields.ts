/**
 * The field rules: what a human or an agent may send for money, counts,
 * ports, durations, token ids and budget periods, parsed one way on every
 * path in (the agent API, access requests, MCP, the admin API, the CLI and
 * its serve flags, settings and the dashboard). Pure (no Node, no DOM), so
 * the renderer imports it as it is; proxy/core/fields.ts wraps these as zod
 * fields. A parse either gives a value or says why not: "no budget" is never
 * what garbage turns into — callers ask for that separately.
 *
 * The one money rule (issue 22, item 4), where the paths used to disagree:
 * an amount of money (a budget, a top-up, a threshold, an approval) is more
 * than 0 and at most 1,000,000 USD, with at most 6 decimals (the ledger
 * counts micro-dollars: a finer amount would silently become another one),
 * given as a JSON number or as plain decimal text (`5`, `2.50`, `$5`).
 * Refused everywhere: 0 (a budget of nothing is a paused or revoked token;
 * say that instead), signs, `1e3`, `0x10`, `Infinity`, the empty string,
 * digit grouping (`1,250`) and units (`5 usd`). Where the paths disagreed
 * the strict answer won: the agent routes and MCP's create_child took 0 and
 * any decimals, the admin API and dashboard took 0, `1,250.50` and `5 usd`,
 * and a number's decimals were never checked. Counts are plain digits too.
 * Prices are the one money field that may be 0 (a free model): `parseUsd`.
 */
export type Parsed<T> = { ok: true; value: T } | { ok: false; error: string };

export const MAX_USD = 1_000_000;

/** Plain decimal text: digits, at most one dot (no sign, exponent, hex, or digit grouping). */
const DECIMAL = /^(?:\d+(?:\.\d*)?|\.\d+)$/;

/** A number given as such has no more decimals than six (0.1 is 0.1, 1.234567891 is not). */
const sixDecimals = (n: number) => Number(n.toFixed(6)) === n;

/**
 * A price or other amount in USD that may be 0: `5`, `5.00`, `$5`, `0.005`,
 * ` 5 ` (surrounding blanks are ignored). Refuses the empty string, signs,
 * exponents, hex, `5,00` and `1,250` (a comma is a decimal in some places
 * and a thousands separator in others), and more than six decimals.
 */
export function parseUsd(input: string | number, max = MAX_USD): Parsed<number> {
  if (typeof input === 'number') {
    if (!Number.isFinite(input)) return { ok: false, error: 'not an amount of money' };
    if (input < 0) return { ok: false, error: 'must be 0 or more' };
    if (input > max) return { ok: false, error: `must be at most ${max.toLocaleString('en-US')} USD` };
    if (!sixDecimals(input)) return { ok: false, error: 'at most 6 decimals' };
    return { ok: true, value: input };
  }
  const text = input.trim().replace(/^\$\s*/, '');
  if (input.trim() === '') return { ok: false, error: 'enter an amount' };
  if (/^-/.test(text)) return { ok: false, error: 'must be 0 or more' };
  if (/^\d+,\d{1,2}$/.test(text)) return { ok: false, error: 'use a dot for cents, e.g. 5.00' };
  if (!DECIMAL.test(text)) return { ok: false, error: 'not an amount of money (e.g. 5, 5.00 or $5)' };
  if (/\.\d{7,}$/.test(text)) return { ok: false, error: 'at most 6 decimals' };
  return parseUsd(Number(text), max);
}

export const MORE_THAN_ZERO = 'must be more than 0 USD';

/** An amount of money: a budget, a top-up, a threshold (the one money rule above). */
export function parseAmount(input: string | number, max = MAX_USD): Parsed<number> {
  const r = parseUsd(input, max);
  if (!r.ok) return r.error === 'must be 0 or more' ? { ok: false, error: MORE_THAN_ZERO } : r;
  return r.value > 0 ? r : { ok: false, error: MORE_THAN_ZERO };
}

/** A whole number from `min` to `max`, typed as plain digits or given as a number. */
export function parseCount(input: string | number, min: number, max: number): Parsed<number> {
  let n: number;
  if (typeof input === 'number') n = input;
  else {
    const text = input.trim();
    if (text === '') return { ok: false, error: 'enter a number' };
    if (!/^-?\d+(?:\.\d+)?$/.test(text)) return { ok: false, error: 'must be a whole number' };
    n = Number(text);
  }
  if (!Number.isFinite(n) || !Number.isInteger(n)) return { ok: false, error: 'must be a whole number' };
  if (n < min) return { ok: false, error: min === 1 ? 'must be more than 0' : `must be at least ${min}` };
  if (n > max) return { ok: false, error: `must be at most ${max}` };
  return { ok: true, value: n };
}

/** A TCP port to listen on; 0 picks a free one. */
export function parsePort(input: string | number): Parsed<number> {
  const r = parseCount(input, 0, 65_535);
  return r.ok ? r : { ok: false, error: 'must be a whole number from 0 to 65535' };
}

/** A positive number (a duration in seconds or minutes, a size in MiB), as plain decimal text or a number, at most `max`. */
export function parsePositive(input: string | number, max = Number.MAX_SAFE_INTEGER): Parsed<number> {
  const n = typeof input === 'number' ? input : DECIMAL.test(input.trim()) ? Number(input.trim()) : Number.NaN;
  if (!Number.isFinite(n)) return { ok: false, error: 'must be a plain number such as 30 or 2.5' };
  if (n <= 0) return { ok: false, error: 'must be more than 0' };
  if (n > max) return { ok: false, error: `must be at most ${max}` };
  return { ok: true, value: n };
}

/** A length of time that may be 0 (a rotation's grace, in days), plain decimal or a number, at most `max`. */
export function parseDuration(input: string | number, max: number): Parsed<number> {
  if (input === 0 || (typeof input === 'string' && /^0*(?:\.0*)?$/.test(input.trim()) && input.trim() !== '')) return { ok: true, value: 0 };
  const r = parsePositive(input, max);
  return r.ok || r.error !== 'must be more than 0' ? r : { ok: false, error: 'must be 0 or more' };
}

/** What a budget is per: a UTC day, an ISO week, a calendar month, or `total` (prepaid, never resets). */
export const BUDGET_PERIODS = ['day', 'week', 'month', 'total'] as const;
export type BudgetPeriod = (typeof BUDGET_PERIODS)[number];
export const PERIOD_MESSAGE = `expected one of ${BUDGET_PERIODS.join(', ')}`;

export function isBudgetPeriod(v: unknown): v is BudgetPeriod {
  return typeof v === 'string' && (BUDGET_PERIODS as readonly string[]).includes(v);
}

export function parsePeriod(input: string): Parsed<BudgetPeriod> {
  return isBudgetPeriod(input) ? { ok: true, value: input } : { ok: false, error: PERIOD_MESSAGE };
}

/** A local token's id (not its secret): `tok_` and 16 base-62 characters. */
export const TOKEN_ID = /^tok_[0-9A-Za-z]{16}$/;
export const TOKEN_ID_MESSAGE = 'expected a token id (tok_…)';

export function isTokenId(v: unknown): v is string {
  return typeof v === 'string' && TOKEN_ID.test(v);
}
