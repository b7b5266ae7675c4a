/**
 * Worst-case cost of a request before it goes upstream: prompt tokens counted
 * with the tokenizer, plus the most completion tokens it may produce
 * (`max_completion_tokens`, `max_tokens`, or the configured default) times `n`.
 * The fields that feed the estimate are validated here, since a wrong type
 * there would be a way around the budget.
 */
import { z } from 'zod';
import { badRequest } from '../core/errors.js';
import type { PriceBook } from '../pricing/prices.js';
import { countChatPromptTokens, countInputTokens, countTokens } from '../pricing/tokenizer.js';
import type { Meter } from './routes.js';

export interface Estimate {
  model: string | undefined;
  promptTokens: number;
  maxCompletionTokens: number;
  worstCaseMicros: number;
  stream: boolean;
}

const count = z.number().int().positive().max(10_000_000);
const base = z.looseObject({
  model: z.string().min(1).max(256).optional(),
  stream: z.boolean().nullish(),
  n: z.number().int().min(1).max(128).nullish(),
  max_tokens: count.nullish(),
  max_completion_tokens: count.nullish(),
  max_output_tokens: count.nullish(),
});
const SCHEMAS: Record<Exclude<Meter, 'reported'>, z.ZodType<Record<string, unknown>>> = {
  chat: base.extend({ model: z.string().min(1).max(256), messages: z.array(z.unknown()).min(1) }),
  completion: base.extend({ model: z.string().min(1).max(256), prompt: z.unknown() }),
  embedding: base.extend({ model: z.string().min(1).max(256), input: z.unknown() }),
  responses: base.extend({ model: z.string().min(1).max(256), input: z.unknown() }),
};

function validate(meter: Exclude<Meter, 'reported'>, json: Record<string, unknown>): Record<string, unknown> {
  const r = SCHEMAS[meter].safeParse(json);
  if (r.success) return r.data;
  const details: Record<string, string> = {};
  for (const issue of r.error.issues) details[issue.path.join('.') || 'body'] = issue.message;
  const first = Object.entries(details)[0]!;
  throw badRequest('invalid_request', `Invalid request body: ${first[0]}: ${first[1]}.`, details);
}

export function estimate(meter: Meter, json: Record<string, unknown> | undefined, prices: PriceBook, defaultMaxTokens: number): Estimate {
  if (meter === 'reported' || !json) {
    const model = typeof json?.model === 'string' ? json.model : undefined;
    return { model, promptTokens: 0, maxCompletionTokens: 0, worstCaseMicros: 0, stream: false };
  }
  const body = validate(meter, json);
  const model = body.model as string;
  const n = (body.n as number | null | undefined) ?? 1;
  const stream = body.stream === true;
  let promptTokens: number;
  let maxOut: number;
  switch (meter) {
    case 'chat':
      promptTokens = countChatPromptTokens(body.messages, body.tools ?? body.functions);
      maxOut = ((body.max_completion_tokens ?? body.max_tokens ?? defaultMaxTokens) as number) * n;
      break;
    case 'completion':
      promptTokens = countInputTokens(body.prompt);
      maxOut = ((body.max_tokens ?? defaultMaxTokens) as number) * n * promptCount(body.prompt);
      break;
    case 'embedding':
      promptTokens = countInputTokens(body.input);
      maxOut = 0;
      break;
    case 'responses':
      promptTokens = countInputTokens(body.input) + (typeof body.instructions === 'string' ? countTokens(body.instructions) : 0);
      maxOut = (body.max_output_tokens ?? defaultMaxTokens) as number;
      break;
  }
  const { micros } = prices.cost(model, promptTokens, maxOut);
  return { model, promptTokens, maxCompletionTokens: maxOut, worstCaseMicros: micros, stream };
}

/** How many prompts a completions request carries (an array of token ids is one prompt). */
function promptCount(prompt: unknown): number {
  if (!Array.isArray(prompt) || prompt.length === 0 || typeof prompt[0] === 'number') return 1;
  return prompt.length;
}
