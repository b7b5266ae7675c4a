/**
 * Request validation for the admin API: the shared `parseInput`
 * (core/validate.ts) and the field types admin requests use.
 */
import { z } from 'zod';

export { parseInput } from '../core/validate.js';

/** `YYYY-MM-DD` as a UTC day. */
export const isoDay = z.string().regex(/^\d{4}-\d{2}-\d{2}$/, 'expected a date as YYYY-MM-DD').refine((s) => !Number.isNaN(Date.parse(`${s}T00:00:00Z`)), 'not a real date');

/** A date-time or a date, as accepted by Date.parse, to ms since epoch. */
export const instant = z
  .string()
  .max(40)
  .refine((s) => !Number.isNaN(Date.parse(s)), 'expected an ISO date such as 2027-01-31 or 2027-01-31T12:00:00Z')
  .transform((s) => Date.parse(s));

export const usdAmount = z.number().nonnegative('must be 0 or more').max(1_000_000, 'must be at most 1,000,000 USD');
export const positiveInt = (max: number) => z.number().int('must be a whole number').positive('must be more than 0').max(max, `must be at most ${max}`);
