/**
 * Stage 6, estimate: the worst-case cost of a request before it goes upstream: prompt tokens counted
 * with the tokenizer, plus the most completion tokens it may produce
 * (`max_completion_tokens`, `max_tokens`, or the configured default) times `n`.
 * The fields that feed the estimate are validated here, since a wrong type
 * there would be a way around the budget.
 */
import { z } from 'zod';
import { parseInput } from '../core/validate.js';
import type { PriceBook } from '../pricing/prices.js';
import { countChatPromptTokens, countInputTokens, countTokens, tokenizerReady, upperBoundTokens, type Counter } from '../pricing/tokenizer.js';
import type { RequestBody } from './body.js';
import type { RequestContext } from './context.js';
import type { Meter } from './routes.js';

export interface Estimate {
  model: string | undefined;
  /** Counted with the tokenizer when `exact`; otherwise an upper bound (UTF-8 bytes). */
  promptTokens: number;
  exact: boolean;
  maxCompletionTokens: number;
  worstCaseMicros: number;
  stream: boolean;
}

const count = z.number().int().positive().max(10_000_000);
const base = z.looseObject({
  model: z.string().min(1).max(256).optional(),
  stream: z.boolean().nullish(),
  n: z.number().int().min(1).max(128).nullish(),
  best_of: z.number().int().min(1).max(128).nullish(),
  max_tokens: count.nullish(),
  max_completion_tokens: count.nullish(),
  max_output_tokens: count.nullish(),
});
const SCHEMAS: Record<Exclude<Meter, 'reported' | 'call'>, z.ZodType<Record<string, unknown>>> = {
  chat: base.extend({ model: z.string().min(1).max(256), messages: z.array(z.unknown()).min(1) }),
  completion: base.extend({ model: z.string().min(1).max(256), prompt: z.unknown() }),
  embedding: base.extend({ model: z.string().min(1).max(256), input: z.unknown() }),
  responses: base.extend({ model: z.string().min(1).max(256), input: z.unknown() }),
};

/** The estimate a forwarded request reserves against. */
export async function estimateRequest(ctx: RequestContext, body: RequestBody): Promise<Estimate> {
  const { deps, principal } = ctx;
  const meter = ctx.route.def.forward!.meter;
  // Without a budget anywhere in the chain nothing needs the prompt counted up front: an upper bound
  // validates the body and the upstream's usage settles it. With one, count exactly, since reserving
  // an upper bound would refuse concurrent requests that fit.
  const budgeted = principal.chain.some((t) => t.monthlyBudget !== null);
  if (budgeted && meter !== 'reported' && meter !== 'call') await tokenizerReady();
  return estimate(meter, body.json, deps.prices, deps.limits.defaultMaxTokens, budgeted ? 'exact' : 'upper');
}

/** The same estimate with the prompt counted exactly, for charging a prompt whose usage never came. */
export async function exactEstimate(ctx: RequestContext, body: RequestBody, est: Estimate): Promise<Estimate> {
  if (est.exact) return est;
  await tokenizerReady();
  const exact = estimate(ctx.route.def.forward!.meter, body.json, ctx.deps.prices, ctx.deps.limits.defaultMaxTokens, 'exact');
  return { ...est, promptTokens: exact.promptTokens, exact: true };
}

/**
 * `precision: 'upper'` bounds the prompt by its UTF-8 length without loading
 * the tokenizer: a safe worst case whenever the budget has plenty of room,
 * which is most requests. `'exact'` needs `await tokenizerReady()` first.
 */
export function estimate(
  meter: Meter,
  json: Record<string, unknown> | undefined,
  prices: PriceBook,
  defaultMaxTokens: number,
  precision: 'exact' | 'upper' = 'exact',
): Estimate {
  if (meter === 'reported' || meter === 'call' || !json) {
    const model = typeof json?.model === 'string' ? json.model : undefined;
    // A per-call route reserves the default call price: what it is charged when the upstream reports no cost.
    const worst = meter === 'call' ? prices.callPriceMicros() : 0;
    return { model, promptTokens: 0, exact: true, maxCompletionTokens: 0, worstCaseMicros: worst, stream: false };
  }
  const count: Counter = precision === 'exact' ? countTokens : upperBoundTokens;
  const body = parseInput(SCHEMAS[meter], json);
  const model = body.model as string;
  const n = (body.n as number | null | undefined) ?? 1;
  const stream = body.stream === true;
  let promptTokens: number;
  let maxOut: number;
  switch (meter) {
    case 'chat':
      promptTokens = countChatPromptTokens(body.messages, body.tools ?? body.functions, count);
      maxOut = maxTokensOf(body, defaultMaxTokens) * n;
      break;
    case 'completion':
      promptTokens = countInputTokens(body.prompt, count);
      // best_of completions are generated (and billed) upstream even though only n come back.
      maxOut = maxTokensOf(body, defaultMaxTokens) * Math.max(n, (body.best_of as number | null | undefined) ?? 1) * promptCount(body.prompt);
      break;
    case 'embedding':
      promptTokens = countInputTokens(body.input, count);
      maxOut = 0;
      break;
    case 'responses':
      promptTokens = countInputTokens(body.input, count) + (typeof body.instructions === 'string' ? count(body.instructions) : 0);
      maxOut = (body.max_output_tokens ?? defaultMaxTokens) as number;
      break;
  }
  const { micros } = prices.cost(model, promptTokens, maxOut);
  return { model, promptTokens, exact: precision === 'exact', maxCompletionTokens: maxOut, worstCaseMicros: micros, stream };
}

/**
 * The most completion tokens one choice may produce. When a body sets both
 * `max_tokens` and `max_completion_tokens`, the larger counts: an upstream
 * that honours the other field must not be able to outrun the reservation.
 */
function maxTokensOf(body: Record<string, unknown>, defaultMaxTokens: number): number {
  const a = body.max_completion_tokens as number | null | undefined;
  const b = body.max_tokens as number | null | undefined;
  if (a == null && b == null) return defaultMaxTokens;
  return Math.max(a ?? 0, b ?? 0);
}

/** How many prompts a completions request carries (an array of token ids is one prompt). */
function promptCount(prompt: unknown): number {
  if (!Array.isArray(prompt) || prompt.length === 0 || typeof prompt[0] === 'number') return 1;
  return prompt.length;
}
