/**
 * Request validation for the admin API: the shared `parseInput`
 * (core/validate.ts) and the date fields admin requests use; amounts,
 * counts, periods and token ids are core/fields.ts's, as on every path.
 */
import * as z from 'zod';

export { parseInput } from '../core/validate.js';

/** `YYYY-MM-DD` as a UTC day. */
export const isoDay = z.string().regex(/^\d{4}-\d{2}-\d{2}$/, 'expected a date as YYYY-MM-DD').refine((s) => !Number.isNaN(Date.parse(`${s}T00:00:00Z`)), 'not a real date');

/** A date-time or a date, as accepted by Date.parse, to ms since epoch. */
export const instant = z
  .string()
  .max(40)
  .refine((s) => !Number.isNaN(Date.parse(s)), 'expected an ISO date such as 2027-01-31 or 2027-01-31T12:00:00Z')
  .transform((s) => Date.parse(s));
