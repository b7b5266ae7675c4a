/**
 * Reading the usage an upstream answer reports: one JSON object (an answer,
 * or one streamed chunk) in, token counts and the cost it reports out. The
 * readers each meter uses are named in its entry in meters.ts.
 */
import type { TokenClasses } from '../pricing/prices.js';

export interface Usage {
  promptTokens: number;
  completionTokens: number;
  /** The classes inside those counts, as the upstream reported them (0 when it did not). */
  classes: Required<TokenClasses>;
  /** Cost the upstream reported itself, in micro-dollars. */
  reportedCostMicros: number | null;
  model: string | null;
  /** A Responses answer's own id (`object: "response"`), which a later request may continue (issue 25). */
  responseId?: string;
}

function int(v: unknown): number | null {
  return typeof v === 'number' && Number.isFinite(v) && v >= 0 ? Math.round(v) : null;
}

/** A USD amount reported by the upstream (`usage.cost` or the x-skillboss-cost header), in micro-dollars. */
export function reportedCost(v: unknown): number | null {
  const n = typeof v === 'string' && v.trim() !== '' ? Number(v) : v;
  if (typeof n !== 'number' || !Number.isFinite(n) || n < 0) return null;
  // 0.000003 * 1e6 is 2.9999999999999996 in binary floating point: a whole
  // number of micro-dollars is taken as it is; only a real fraction rounds up.
  const x = n * 1_000_000;
  const whole = Math.round(x);
  return Math.abs(x - whole) <= Math.max(1e-6, x * 1e-12) ? whole : Math.ceil(x);
}

function details(v: unknown): Record<string, unknown> | null {
  return v && typeof v === 'object' ? (v as Record<string, unknown>) : null;
}

/** Usage fields of one response object (chat, completions, embeddings, responses). */
export function usageOf(obj: Record<string, unknown>): Usage | null {
  const u = obj.usage;
  if (!u || typeof u !== 'object') return null;
  const usage = u as Record<string, unknown>;
  let prompt = int(usage.prompt_tokens) ?? int(usage.input_tokens);
  const completion = int(usage.completion_tokens) ?? int(usage.output_tokens) ?? 0;
  if (prompt === null) return null;
  const pd = details(usage.prompt_tokens_details) ?? details(usage.input_tokens_details);
  const cd = details(usage.completion_tokens_details) ?? details(usage.output_tokens_details);
  let cached = int(pd?.cached_tokens) ?? 0;
  let cacheWrite = int(pd?.cache_write_tokens) ?? int(pd?.cache_creation_tokens) ?? 0;
  // Anthropic-style counts are in addition to input_tokens, not part of it.
  const read = int(usage.cache_read_input_tokens);
  const created = int(usage.cache_creation_input_tokens);
  if (read !== null || created !== null) {
    prompt += (read ?? 0) + (created ?? 0);
    cached = read ?? 0;
    cacheWrite = created ?? 0;
  }
  return {
    promptTokens: prompt,
    completionTokens: completion,
    classes: { cached, cacheWrite, reasoning: int(cd?.reasoning_tokens) ?? 0 },
    reportedCostMicros: reportedCost(usage.cost),
    model: typeof obj.model === 'string' ? obj.model : null,
    ...(obj.object === 'response' && typeof obj.id === 'string' && obj.id.length <= 200 ? { responseId: obj.id } : {}),
  };
}

/** The usage in one streamed chunk: on the chunk itself, or on its `response` (the Responses API's closing event). */
export function streamUsageOf(obj: Record<string, unknown>): Usage | null {
  return usageOf(obj) ?? usageOf((obj.response as Record<string, unknown>) ?? {});
}
