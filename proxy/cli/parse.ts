/**
 * Numbers from command-line flags, held to the admin API's rules: the text
 * must be a plain decimal (no hex `0x10`, exponent `1e-9`, sign, `Infinity`
 * or empty string, all of which `Number()` accepts), and the value then goes
 * through the same zod schema the admin API uses for that field, so the CLI
 * refuses exactly what the API refuses (and a little more: an amount finer
 * than a micro-dollar, which would round to something else).
 */
import { z } from 'zod';
import { positiveInt, usdAmount } from '../admin/validate.js';
import { usdToMicros } from '../core/money.js';
import { escapeUnprintable } from '../core/text.js';
import { CliError } from './context.js';

/** The admin API's rule for approvals, thresholds and top-ups: an amount of more than 0 USD. */
export const positiveUsd = usdAmount.pipe(z.number().positive('must be more than 0 USD'));

const DECIMAL = /^\d+(\.\d+)?$/;
const INTEGER = /^\d+$/;

const shown = (s: string) => escapeUnprintable(JSON.stringify(s));

function check<T>(schema: z.ZodType<T>, n: number, flag: string, what: string): T {
  const r = schema.safeParse(n);
  if (!r.success) throw new CliError(`${flag} ${r.error.issues[0]!.message} (it takes ${what})`);
  return r.data;
}

/** A USD amount (`25`, `2.50`, `$5`) in micro-USD; `none` → null when allowed. */
export function parseUsdFlag(s: string, flag: string, opts: { none?: boolean; schema?: z.ZodType<number> } = {}): number | null {
  const what = `an amount in USD such as 25 or 2.50${opts.none === false ? '' : ', or none'}`;
  if (s === 'none' && opts.none !== false) return null;
  const text = s.startsWith('$') ? s.slice(1) : s;
  if (!DECIMAL.test(text)) throw new CliError(`${flag} takes ${what}, not ${shown(s)}`);
  if ((text.split('.')[1] ?? '').length > 6) throw new CliError(`${flag} takes at most 6 decimal places (a millionth of a dollar), not ${shown(s)}`);
  return usdToMicros(check(opts.schema ?? usdAmount, Number(text), flag, what));
}

/** A plain decimal number checked by `schema` (e.g. a price per million tokens). */
export function parseDecimalFlag(s: string, flag: string, schema: z.ZodType<number>, what: string): number {
  if (!DECIMAL.test(s)) throw new CliError(`${flag} takes ${what}, not ${shown(s)}`);
  return check(schema, Number(s), flag, what);
}

/** A positive whole number up to `max`; `none` → null. */
export function parseCountFlag(s: string, flag: string, max: number): number | null {
  const what = `a whole number from 1 to ${max}, or none`;
  if (s === 'none') return null;
  if (!INTEGER.test(s)) throw new CliError(`${flag} takes ${what}, not ${shown(s)}`);
  return check(positiveInt(max), Number(s), flag, what);
}
