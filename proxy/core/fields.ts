/**
 * The field rules of wire/fields.ts as zod fields, for every schema input
 * enters through: agent routes, access requests, the admin API, settings.
 * The CLI holds its flags to the same rules (cli/parse.ts), and MCP tools
 * pass amounts on to the agent routes, which apply these. One rule per
 * field, so a value refused on one path is refused, in the same words, on
 * every other (issue 22, item 4).
 */
import * as z from 'zod';
import { MAX_MODEL_PATTERNS, MAX_MODEL_PATTERN_LENGTH, parseModelList } from '../../wire/allowlist.js';
import { BUDGET_PERIODS, PERIOD_MESSAGE, TOKEN_ID, TOKEN_ID_MESSAGE, parseAmount, parseCount, parseDuration, parseUsd, type Parsed } from '../../wire/fields.js';

/** A value through one of wire/fields.ts's parsers: a typed string or a number, refused with its reason, never null. */
const parsedBy = (parse: (v: string | number) => Parsed<number>, required = 'expected a number') =>
  z.union([z.number(), z.string().max(40)], { error: (iss) => (iss.input === undefined ? required : 'expected a number') }).transform((v, ctx) => {
    const r = parse(v);
    if (r.ok) return r.value;
    ctx.addIssue({ code: 'custom', message: r.error });
    return z.NEVER;
  });

/** An amount of money in USD (a budget, a top-up, a threshold): more than 0. `null` (no budget) only where a schema adds `.nullable()`. */
export const amountField = parsedBy((v) => parseAmount(v));
/** The same, where a missing amount is refused with `required` (a message for the agent that left it out). */
export const requiredAmount = (required: string) => parsedBy((v) => parseAmount(v), required);
/** A price in USD (per million tokens, or per call): 0 or more. */
export const priceField = parsedBy((v) => parseUsd(v));
/** A whole number from `min` (default 1) to `max`. */
export const countField = (max: number, min = 1) => parsedBy((v) => parseCount(v, min, max));
/** A length of time from 0 to `max` (in the unit the field names, e.g. days). */
export const durationField = (max: number) => parsedBy((v) => parseDuration(v, max));
export const periodField = z.enum(BUDGET_PERIODS, { message: PERIOD_MESSAGE });
export const tokenIdField = z.string().regex(TOKEN_ID, TOKEN_ID_MESSAGE);
/**
 * A model allowlist (wire/allowlist.ts): a JSON array of patterns, validated and de-duplicated (text `a,b` is the CLI's and the dashboard's, parsed there).
 * `null` (every model) only where a schema adds `.nullable()`.
 */
export const modelsField = z
  .array(z.string({ error: 'each model pattern must be a string' }).max(MAX_MODEL_PATTERN_LENGTH * 2), { error: 'expected a list of model patterns (an array of strings)' })
  .max(MAX_MODEL_PATTERNS * 4, `at most ${MAX_MODEL_PATTERNS} model patterns`)
  .transform((v, ctx) => {
    const r = parseModelList(v);
    if (r.ok) return r.value;
    ctx.addIssue({ code: 'custom', message: r.error });
    return z.NEVER;
  });
