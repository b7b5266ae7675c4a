/**
 * Token classes as SkillBoss reports them: prompt caching and reasoning.
 *
 * Caching works as OpenAI's does: a prompt of at least 1024 tokens whose
 * leading tokens match a prompt the account sent to the same model in the last
 * five minutes (simulator clock) reports the matched part, in steps of 128
 * tokens, as `cached_tokens`. Prompts are compared by the token ids of their
 * canonical form (tools, then messages or input, as JSON), hashed in blocks.
 * A reasoning model reports part of its completion as `reasoning_tokens`.
 * Each class is charged at the model's listed rate for it (the plain rate
 * where none is listed), so the simulator's balance and reported cost match.
 */
import { createHash } from 'node:crypto';
import type { SimContext } from './context.js';
import { findModel } from './models.js';
import { encodeIds } from './tok.js';

export const CACHE_MIN_TOKENS = 1024;
export const CACHE_BLOCK_TOKENS = 128;
export const CACHE_TTL_MS = 5 * 60_000;
const MAX_ENTRIES = 200_000;

class PromptCache {
  private readonly seen = new Map<string, number>();

  /** Leading tokens of `ids` seen within the TTL (0, or a multiple of 128 of at least 1024); remembers this prompt. */
  hit(model: string, ids: readonly number[], now: number): number {
    if (ids.length < CACHE_MIN_TOKENS) return 0;
    let h = createHash('sha256').update(model).digest();
    let cached = 0;
    let matching = true;
    const blocks = Math.floor(ids.length / CACHE_BLOCK_TOKENS);
    if (this.seen.size > MAX_ENTRIES) this.evict(now);
    for (let b = 1; b <= blocks; b++) {
      const block = Buffer.from(Int32Array.from(ids.slice((b - 1) * CACHE_BLOCK_TOKENS, b * CACHE_BLOCK_TOKENS)).buffer);
      h = createHash('sha256').update(h).update(block).digest();
      if (b * CACHE_BLOCK_TOKENS < CACHE_MIN_TOKENS) continue;
      const key = h.toString('base64');
      const until = this.seen.get(key);
      if (matching && until !== undefined && until > now) cached = b * CACHE_BLOCK_TOKENS;
      else matching = false;
      this.seen.set(key, now + CACHE_TTL_MS);
    }
    return cached;
  }

  private evict(now: number): void {
    for (const [k, until] of this.seen) if (until <= now) this.seen.delete(k);
  }
}

const caches = new WeakMap<SimContext, PromptCache>();

export interface Classes {
  cached: number;
  reasoning: number;
}

/**
 * The classes of one request. `prompt` is what the model reads (tools and
 * messages, or input); `promptTokens` caps the cached count; reasoning is
 * added on top of `replyTokens` within `maxTokens`.
 */
export function classify(ctx: SimContext, model: string, prompt: unknown, promptTokens: number, replyTokens: number, maxTokens: number | undefined): Classes {
  let cache = caches.get(ctx);
  if (!cache) caches.set(ctx, (cache = new PromptCache()));
  // The canonical form has a few more tokens than the prompt counts (JSON quoting): cap in whole blocks.
  const cap = promptTokens - (promptTokens % CACHE_BLOCK_TOKENS);
  let cached = Math.min(cap, cache.hit(model, encodeIds(JSON.stringify(prompt)), ctx.clock()));
  if (cached < CACHE_MIN_TOKENS) cached = 0;
  let reasoning = 0;
  if (findModel(model)?.reasoning) {
    // Deterministic: a little thought per visible token, within what max tokens leaves.
    const room = maxTokens === undefined ? Number.POSITIVE_INFINITY : Math.max(0, maxTokens - replyTokens);
    reasoning = Math.min(room, 16 + 2 * replyTokens);
  }
  return { cached, reasoning };
}

const SCALE = 1_000_000;

/** Cost in micro-dollars with each class at its own rate (rounded up once, exactly). Unknown models cost 0. */
export function classCostMicros(modelId: string, promptTokens: number, completionTokens: number, c: Classes): number {
  const m = findModel(modelId);
  if (!m) return 0;
  const p = m.pricing ?? { prompt: m.cost ?? 0, completion: m.cost ?? 0 };
  const rate = (usd: number) => Math.round(usd * SCALE);
  const cached = Math.min(c.cached, promptTokens);
  const reasoning = Math.min(c.reasoning, completionTokens);
  const scaled =
    (promptTokens - cached) * rate(p.prompt) +
    cached * rate(p.cached_prompt ?? p.prompt) +
    (completionTokens - reasoning) * rate(p.completion) +
    reasoning * rate(p.reasoning ?? p.completion);
  return Math.ceil(scaled / SCALE);
}

/**
 * Chat/completions usage details: `prompt_tokens_details` when something was
 * cached, `completion_tokens_details` for reasoning models (usage stays as it
 * was for everything else).
 */
export function chatDetails(c: Classes, reasoningModel: boolean): Record<string, unknown> {
  const d: Record<string, unknown> = {};
  if (c.cached > 0) d.prompt_tokens_details = { cached_tokens: c.cached };
  if (reasoningModel) d.completion_tokens_details = { reasoning_tokens: c.reasoning };
  return d;
}

/** Responses API usage details, under the same rule. */
export function responsesDetails(c: Classes, reasoningModel: boolean): Record<string, unknown> {
  const d: Record<string, unknown> = {};
  if (c.cached > 0) d.input_tokens_details = { cached_tokens: c.cached };
  if (reasoningModel) d.output_tokens_details = { reasoning_tokens: c.reasoning };
  return d;
}

export function isReasoningModel(model: string): boolean {
  return findModel(model)?.reasoning === true;
}
