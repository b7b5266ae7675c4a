/**
 * What a human types for money and counts, parsed one way for the dashboard,
 * the admin API and the CLI. Pure (no Node, no DOM), so the renderer imports
 * it as it is. A parse either gives a value or says why not: "no budget" is
 * never what garbage turns into — callers ask for that separately.
 */
export type Parsed<T> = { ok: true; value: T } | { ok: false; error: string };

export const MAX_USD = 1_000_000;

const MONEY = /^(?:\d{1,3}(?:,\d{3})+|\d+)?(?:\.\d+)?$/;

/**
 * An amount in USD: `5`, `5.00`, `$5`, `$ 1,250.50`, `0.005`, `5 usd`. Refuses
 * the empty string, signs, `5,00` (a comma decimal, ambiguous here) and more
 * than six decimals (the ledger counts micro-dollars).
 */
export function parseUsd(input: string | number, max = MAX_USD): Parsed<number> {
  if (typeof input === 'number') {
    if (!Number.isFinite(input)) return { ok: false, error: 'not an amount of money' };
    if (input < 0) return { ok: false, error: 'must be 0 or more' };
    if (input > max) return { ok: false, error: `must be at most ${max.toLocaleString('en-US')} USD` };
    return { ok: true, value: input };
  }
  const text = input.trim().replace(/^\$\s*/, '').replace(/\s*(usd|\$)$/i, '');
  if (input.trim() === '') return { ok: false, error: 'enter an amount' };
  if (/^-/.test(text)) return { ok: false, error: 'must be 0 or more' };
  if (/^\d+,\d{1,2}$/.test(text)) return { ok: false, error: 'use a dot for cents, e.g. 5.00' };
  if (text === '' || text === '.' || !MONEY.test(text)) return { ok: false, error: 'not an amount of money (e.g. 5, 5.00 or $5)' };
  if (/\.\d{7,}$/.test(text)) return { ok: false, error: 'at most 6 decimals' };
  return parseUsd(Number(text.replace(/,/g, '')), max);
}

/** A whole number from `min` to `max`, typed (`1,000` allowed) or given as a number. */
export function parseCount(input: string | number, min: number, max: number): Parsed<number> {
  let n: number;
  if (typeof input === 'number') n = input;
  else {
    const text = input.trim();
    if (text === '') return { ok: false, error: 'enter a number' };
    if (!/^-?(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?$/.test(text)) return { ok: false, error: 'must be a whole number' };
    n = Number(text.replace(/,/g, ''));
  }
  if (!Number.isFinite(n) || !Number.isInteger(n)) return { ok: false, error: 'must be a whole number' };
  if (n < min) return { ok: false, error: min === 1 ? 'must be more than 0' : `must be at least ${min}` };
  if (n > max) return { ok: false, error: `must be at most ${max}` };
  return { ok: true, value: n };
}
