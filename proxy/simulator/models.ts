/**
 * The simulator's model catalogue. Every entry has the same shape, because
 * clients that list models (agent CLIs, SDKs) parse one entry type: the
 * OpenAI model object (`id`, `object`, `created`, `owned_by`), the flat
 * `cost` the SkillBoss reference shows (USD per million prompt tokens), and
 * `pricing` with the prompt and completion prices (which the sidecar prefers).
 * USD per million tokens is the same number as micro-dollars per token.
 */
export interface SimModel {
  readonly id: string;
  readonly object: 'model';
  readonly created: number;
  readonly owned_by: string;
  /** USD per 1M prompt tokens, as in the reference's model list. */
  readonly cost: number;
  /** USD per 1M tokens; cached prompt and reasoning tokens have their own rates where listed (see classes.ts). */
  readonly pricing: { readonly prompt: number; readonly completion: number; readonly cached_prompt?: number; readonly reasoning?: number };
  /** A reasoning model: part of its completion tokens are reported as `reasoning_tokens`. */
  readonly reasoning?: boolean;
  /**
   * The most completion tokens (reasoning included) one answer may have: what the model generates up to
   * when a request gives no bound, as a real one does (issue 25). Not listed, as SkillBoss lists none.
   */
  readonly outputLimit: number;
}

const CREATED = 1_735_689_600; // 2025-01-01T00:00:00Z

const model = (
  id: string,
  owned_by: string,
  prompt: number,
  completion: number,
  classes: { cached_prompt?: number; reasoning?: number } = {},
  reasoning = false,
  outputLimit = 16_384,
): SimModel => ({
  id,
  object: 'model',
  created: CREATED,
  owned_by,
  cost: prompt,
  pricing: { prompt, completion, ...classes },
  ...(reasoning ? { reasoning } : {}),
  outputLimit,
});

export const SIMULATOR_MODELS: readonly SimModel[] = Object.freeze([
  model('gemini/gemini-2.5-flash', 'google', 0.075, 0.075, {}, false, 65_536),
  model('claude-4-5-sonnet', 'anthropic', 15, 15, {}, false, 64_000),
  model('gpt-4o-mini', 'openai', 0.15, 0.6, { cached_prompt: 0.075 }),
  model('gpt-4o', 'openai', 2.5, 10, { cached_prompt: 1.25 }),
  model('o4-mini', 'openai', 1.1, 4.4, { cached_prompt: 0.275, reasoning: 4.4 }, true, 100_000),
  model('text-embedding-3-small', 'openai', 0.02, 0),
]);

/** Prices scaled by 1e6 to integers so cost arithmetic is exact (no float drift before the ceil). */
interface ScaledPrice {
  readonly prompt: number;
  readonly completion: number;
}

const SCALE = 1_000_000;
const byId = new Map<string, { model: SimModel; price: ScaledPrice }>();
for (const m of SIMULATOR_MODELS) {
  const p = m.pricing;
  byId.set(m.id, { model: m, price: { prompt: Math.round(p.prompt * SCALE), completion: Math.round(p.completion * SCALE) } });
}

export function findModel(id: string): SimModel | undefined {
  return byId.get(id)?.model;
}

/**
 * Cost in micro-dollars, ceil(prompt × promptPrice + completion × completionPrice)
 * with prices in USD per 1M tokens. Unknown models cost 0.
 */
export function costMicros(modelId: string, promptTokens: number, completionTokens: number): number {
  const e = byId.get(modelId);
  if (!e) return 0;
  const scaled = promptTokens * e.price.prompt + completionTokens * e.price.completion;
  return Math.ceil(scaled / SCALE);
}

/**
 * A model as GET /v1/models lists it: always these keys, in this order, so
 * simulator-only fields added to SimModel never leak into the one shape.
 */
export function listEntry(m: SimModel): Record<string, unknown> {
  return { id: m.id, object: m.object, created: m.created, owned_by: m.owned_by, cost: m.cost, pricing: m.pricing };
}

/** The model list body for GET /v1/models, serialised once. */
export const MODELS_LIST_JSON = JSON.stringify({ object: 'list', data: SIMULATOR_MODELS.map(listEntry) });
