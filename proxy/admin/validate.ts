/**
 * Request validation for the admin API: zod schemas in, a 400 with one
 * message per field out (`error.details`), unknown fields named and refused.
 * Messages never repeat the submitted values (one of them may be a key).
 */
import { z } from 'zod';
import { parseCount, parseUsd, type Parsed } from '../core/amounts.js';
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

/** A value through one of core/amounts.ts's parsers: a typed string or a number, refused with its reason, never null. */
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
