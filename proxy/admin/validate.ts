/**
 * Request validation for the admin API: zod schemas in, a 400 with one
 * message per field out (`error.details`), unknown fields named and refused.
 * Messages never repeat the submitted values (one of them may be a key).
 */
import { z } from 'zod';
import { badRequest } from '../core/errors.js';

export function parseInput<T>(schema: z.ZodType<T>, input: unknown, what = 'request body'): T {
  const r = schema.safeParse(input ?? {});
  if (r.success) return r.data;
  const details: Record<string, string> = {};
  for (const issue of r.error.issues) {
    if (issue.code === 'unrecognized_keys') {
      const prefix = issue.path.length ? `${issue.path.join('.')}.` : '';
      for (const k of issue.keys) details[prefix + k] ??= 'unknown field';
      continue;
    }
    const field = issue.path.join('.') || 'body';
    details[field] ??= issue.message;
  }
  const summary = Object.entries(details)
    .slice(0, 3)
    .map(([f, m]) => `${f}: ${m}`)
    .join('; ');
  throw badRequest('invalid_request', `Invalid ${what}: ${summary}.`, details);
}

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
