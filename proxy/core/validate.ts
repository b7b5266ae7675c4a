/**
 * Input validation, the same everywhere input enters (agent routes, access
 * requests, the admin API): a zod schema in, the parsed value out, or a 400
 * with one message per field in `error.details` (unknown fields named and
 * refused). Messages never repeat the submitted values: one may be a key.
 */
import type * as z from 'zod';
import { badRequest } from './errors.js';

/**
 * `what` names the input in the message ("request body", "query", "access
 * request"); `hint` is appended to it, e.g. an example of a valid body.
 */
export function parseInput<T>(schema: z.ZodType<T>, input: unknown, what = 'request body', hint?: string): T {
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
  throw badRequest('invalid_request', `Invalid ${what}: ${summary}.${hint ? ` ${hint}` : ''}`, details);
}
