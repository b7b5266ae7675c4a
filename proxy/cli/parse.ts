/**
 * Numbers and names from command-line flags, held to the field rules every
 * other path uses (wire/fields.ts): an amount of money is more than 0, at
 * most 1,000,000 USD, at most 6 decimals, in plain decimal (no hex `0x10`,
 * exponent `1e3`, sign, `Infinity` or empty string, all of which `Number()`
 * accepts), so the CLI refuses exactly what the API refuses, in the same
 * words, with the flag named.
 */
import { BUDGET_PERIODS, parseAmount, parseCount, parsePeriod, parsePort, parsePositive, parseUsd, type BudgetPeriod, type Parsed } from '../../wire/fields.js';
import { usdToMicros } from '../core/money.js';
import { escapeUnprintable } from '../core/text.js';
import { CliError } from './context.js';

const shown = (s: string) => escapeUnprintable(JSON.stringify(s));

function take<T>(r: Parsed<T>, s: string, flag: string, what: string): T {
  if (r.ok) return r.value;
  throw new CliError(`${flag} ${r.error}; it takes ${what}, not ${shown(s)}`);
}

/** An amount of money (`25`, `2.50`, `$5`) in micro-USD; `none` → null unless `none: false`. */
export function parseUsdFlag(s: string, flag: string, opts: { none?: boolean } = {}): number | null {
  const none = opts.none !== false;
  if (s === 'none' && none) return null;
  return usdToMicros(take(parseAmount(s), s, flag, `an amount in USD more than 0, such as 25 or 2.50${none ? ', or none' : ''}`));
}

/** A price in USD (0 allowed: a free model), e.g. per million tokens. */
export function parsePriceFlag(s: string, flag: string, what: string): number {
  return take(parseUsd(s), s, flag, what);
}

/** A positive whole number up to `max` (`min` 0 where 0 means off); `none` → null where allowed. */
export function parseCountFlag(s: string, flag: string, max: number, opts: { min?: number; none?: boolean } = {}): number | null {
  const none = opts.none !== false;
  const min = opts.min ?? 1;
  if (s === 'none' && none) return null;
  return take(parseCount(s, min, max), s, flag, `a whole number from ${min} to ${max}${none ? ', or none' : ''}`);
}

export function parsePortFlag(s: string, flag = '--port'): number {
  return take(parsePort(s), s, flag, 'a port from 0 to 65535 (0 picks a free one)');
}

/** A positive plain number (seconds, minutes, MiB). */
export function parsePositiveFlag(s: string, flag: string, what: string): number {
  return take(parsePositive(s), s, flag, what);
}

export function parsePeriodFlag(s: string, flag = '--period'): BudgetPeriod {
  const r = parsePeriod(s);
  if (r.ok) return r.value;
  throw new CliError(`${flag} takes one of ${BUDGET_PERIODS.join(', ')}, not ${shown(s)}`);
}
