/**
 * The simulator's model catalogue. Prices are USD per million tokens, which is
 * the same number as micro-dollars per token. Both price forms SkillBoss uses
 * appear on purpose: a flat `cost` (same price for prompt and completion) and
 * an OpenAI-style `pricing` object.
 */
export interface SimModel {
  readonly id: string;
  readonly object: 'model';
  readonly created: number;
  readonly owned_by: string;
  /** Flat price, USD per 1M tokens, prompt and completion alike. */
  readonly cost?: number;
  /** Split price, USD per 1M tokens; cached prompt and reasoning tokens have their own rates where listed (see classes.ts). */
  readonly pricing?: { readonly prompt: number; readonly completion: number; readonly cached_prompt?: number; readonly reasoning?: number };
  /** A reasoning model: part of its completion tokens are reported as `reasoning_tokens`. */
  readonly reasoning?: boolean;
}

const CREATED = 1_735_689_600; // 2025-01-01T00:00:00Z

export const SIMULATOR_MODELS: readonly SimModel[] = Object.freeze([
  { id: 'gemini/gemini-2.5-flash', object: 'model', created: CREATED, owned_by: 'google', cost: 0.075 },
  { id: 'claude-4-5-sonnet', object: 'model', created: CREATED, owned_by: 'anthropic', cost: 15.0 },
  { id: 'gpt-4o-mini', object: 'model', created: CREATED, owned_by: 'openai', pricing: { prompt: 0.15, completion: 0.6, cached_prompt: 0.075 } },
  { id: 'gpt-4o', object: 'model', created: CREATED, owned_by: 'openai', pricing: { prompt: 2.5, completion: 10, cached_prompt: 1.25 } },
  { id: 'o4-mini', object: 'model', created: CREATED, owned_by: 'openai', reasoning: true, pricing: { prompt: 1.1, completion: 4.4, cached_prompt: 0.275, reasoning: 4.4 } },
  {
    id: 'text-embedding-3-small',
    object: 'model',
    created: CREATED,
    owned_by: 'openai',
    pricing: { prompt: 0.02, completion: 0 },
  },
] satisfies SimModel[]);

/** Prices scaled by 1e6 to integers so cost arithmetic is exact (no float drift before the ceil). */
interface ScaledPrice {
  readonly prompt: number;
  readonly completion: number;
}

const SCALE = 1_000_000;
const byId = new Map<string, { model: SimModel; price: ScaledPrice }>();
for (const m of SIMULATOR_MODELS) {
  const p = m.pricing ?? { prompt: m.cost ?? 0, completion: m.cost ?? 0 };
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

/** The model list body for GET /v1/models, serialised once. */
export const MODELS_LIST_JSON = JSON.stringify({ object: 'list', data: SIMULATOR_MODELS });
