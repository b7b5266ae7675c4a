/**
 * Request validation for the admin API: the shared `parseInput`
 * (core/validate.ts) and the field types admin requests use.
 */
import { z } from 'zod';
import { parseCount, parseUsd, type Parsed } from '../../wire/amounts.js';

export { parseInput } from '../core/validate.js';

/** `YYYY-MM-DD` as a UTC day. */
export const isoDay = z.string().regex(/^\d{4}-\d{2}-\d{2}$/, 'expected a date as YYYY-MM-DD').refine((s) => !Number.isNaN(Date.parse(`${s}T00:00:00Z`)), 'not a real date');

/** A date-time or a date, as accepted by Date.parse, to ms since epoch. */
export const instant = z
  .string()
  .max(40)
  .refine((s) => !Number.isNaN(Date.parse(s)), 'expected an ISO date such as 2027-01-31 or 2027-01-31T12:00:00Z')
  .transform((s) => Date.parse(s));

/** A value through one of wire/amounts.ts's parsers: a typed string or a number, refused with its reason, never null. */
const parsedBy = (parse: (v: string | number) => Parsed<number>) =>
  z.union([z.number(), z.string().max(40)], { message: 'expected a number' }).transform((v, ctx) => {
    const r = parse(v);
    if (r.ok) return r.value;
    ctx.addIssue({ code: 'custom', message: r.error });
    return z.NEVER;
  });

/** USD as a number or as typed ("5", "5.00", "$5"); `null` (no budget) is allowed only where a schema adds `.nullable()`. */
export const usdAmount = parsedBy((v) => parseUsd(v));
export const positiveInt = (max: number) => parsedBy((v) => parseCount(v, 1, max));
