/**
 * How each kind of forwarded request is metered, as a table like routes.ts:
 * for each meter kind, how its request is bounded (the body fields validated,
 * where its prompt is, the most it may complete), whether a large body is
 * scanned instead of parsed, how usage is read from a JSON answer and from a
 * stream, and how it is priced when the upstream reports nothing. The stages
 * (estimate, forward, relay, meter) read their entry and never ask which kind
 * a route is: this is the one place the kinds differ, so a new kind (`run`,
 * `job`) is one entry here and one name in `Meter`.
 */
import * as z from 'zod';
import { parseInput } from '../core/validate.js';
import { callUnits } from '../pricing/calls.js';
import type { PriceBook } from '../pricing/prices.js';
import type { PromptShape } from '../pricing/prompt.js';
import type { Meter } from './routes.js';
import { reportedCost, streamUsageOf, usageOf, type Usage } from './usage.js';

type Json = Record<string, unknown>;

export interface MeterSpec {
  /**
   * The body fields that feed the estimate, validated before anything is
   * estimated (a wrong type there would be a way around the budget); null:
   * the body is not read (priced per call, or by the cost reported).
   */
  schema: z.ZodType<Json> | null;
  /**
   * The common case of `schema`, checked by hand (zod costs ~40 µs a request): true only for a body the
   * schema passes, which is then used as it is; anything else goes to the schema, which says what is wrong.
   */
  accepts?: (body: Json) => boolean;
  /** Where the prompt is, to count it (pricing/prompt.ts); null: nothing is counted. */
  prompt: PromptShape | null;
  /**
   * A large body is scanned (only `SCANNED_FIELDS` parsed, the prompt bounded
   * by its bytes) instead of parsed; false where the estimate needs more of
   * it (a completions prompt array's length).
   */
  scanned: boolean;
  /**
   * The body fields that bound the completion, as the upstream reads them; the
   * larger of those set counts. Empty: the request produces no completion.
   */
  completionFields: readonly string[];
  /** The most completion tokens the validated body may produce, all choices together. */
  maxCompletion(body: Json, defaultMaxTokens: number): number;
  /** How many completions the upstream generates (and bills) for one request: the bound holds for each. */
  choices(body: Json): number;
  /**
   * The fields the sidecar writes the bound it reserved for into (issue 25): those of `completionFields`
   * the body has (set or null), else the one the model's family takes.
   */
  boundFields(body: Json, model: string): readonly string[];
  /** Billed calls of one request (n images…); 1 unless priced per call. */
  units(path: string, json: Json | undefined, raw: Buffer, contentType: string | undefined): number;
  /**
   * What a request costs when the upstream reports neither a cost nor tokens,
   * for `units` billed calls, and what it reserves at least; null: nothing
   * (it is free unless a cost is reported).
   */
  unpricedMicros(prices: PriceBook, units: number): number | null;
  /** A stream is asked for its usage chunk (`stream_options.include_usage`), hidden from a client that did not ask. */
  streamUsage: boolean;
  /** Usage of a JSON answer, and of one streamed chunk. */
  usage: { json(obj: Json): Usage | null; stream(obj: Json): Usage | null };
  /** Text a JSON answer delivered, counted when it reports no usage; null: not counted. */
  answerText: ((obj: Json) => string) | null;
  /**
   * Input the upstream adds that the body does not hold (issue 25): the Responses API prepends the items of
   * `previous_response_id` and of a `conversation`. Read from the validated body (or the scan's fields);
   * absent or null: everything the prompt holds is in the body.
   */
  carried?(body: Json): { previous: string | null; conversation: boolean } | null;
  /** The body fields `carried` reads (always parsed by the scan). */
  carriedFields?: readonly string[];
  /** What the agent can change to make a refused request cheaper (for the 402), null when nothing can. */
  cheaper(path: string, units: number): string | null;
  /**
   * Priced per request by its model (`/v1/run`, `/v1/pilot`): what it
   * reserves, and what it is charged when its answer reports neither a cost
   * nor tokens (binary audio, a stream without one). `source` flags a
   * fallback (`default`). Absent: priced by tokens, or by `unpricedMicros`.
   */
  perRequest?(prices: PriceBook, model: string | undefined, bodyBytes: number, maxTokens: number): { micros: number; source: 'price' | 'default' };
  /**
   * `start`: a 202 answer is a job that keeps its reservation until a poll
   * settles it; `poll`: polls a job, answered only for the token that started
   * it, and settles it once (jobs.ts). Absent: the request settles itself.
   */
  job?: 'start' | 'poll';
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
const model = z.string().min(1).max(256);

/** `base`'s fields, as its schema checks them (zod's int is a safe integer; its string length is in UTF-16 units). */
const isModel = (v: unknown) => typeof v === 'string' && v.length >= 1 && v.length <= 256;
const isInt = (v: unknown, min: number, max: number) => typeof v === 'number' && Number.isSafeInteger(v) && v >= min && v <= max;
const nullishInt = (v: unknown, min: number, max: number) => v === undefined || v === null || isInt(v, min, max);
function baseAccepts(body: Json): boolean {
  const s = body.stream;
  return (
    isModel(body.model) &&
    (s === undefined || s === null || typeof s === 'boolean') &&
    nullishInt(body.n, 1, 128) &&
    nullishInt(body.best_of, 1, 128) &&
    nullishInt(body.max_tokens, 1, 10_000_000) &&
    nullishInt(body.max_completion_tokens, 1, 10_000_000) &&
    nullishInt(body.max_output_tokens, 1, 10_000_000)
  );
}
/** A plain object as zod's object sees one, with `base`'s fields right. */
const baseObject = (body: unknown): body is Json => typeof body === 'object' && body !== null && !Array.isArray(body) && baseAccepts(body as Json);

/** The body checked against its kind's schema: the hand-written check first, zod for the rest (and for the error). */
export function validBody(spec: MeterSpec, body: Json): Json {
  if (spec.accepts?.(body)) return body;
  return spec.schema ? parseInput(spec.schema, body) : body;
}

/**
 * The most completion tokens one choice may produce. When a body sets
 * several bounding fields (`max_tokens` and `max_completion_tokens`), the
 * larger counts: an upstream that honours the other field must not be able
 * to outrun the reservation.
 */
function bound(body: Json, fields: readonly string[], defaultMaxTokens: number): number {
  let max: number | null = null;
  for (const f of fields) {
    const v = body[f] as number | null | undefined;
    if (v != null) max = Math.max(max ?? 0, v);
  }
  return max ?? defaultMaxTokens;
}

/** How many prompts a completions request carries (an array of token ids is one prompt). */
function promptCount(prompt: unknown): number {
  if (!Array.isArray(prompt) || prompt.length === 0 || typeof prompt[0] === 'number') return 1;
  return prompt.length;
}

const n = (body: Json) => (body.n as number | null | undefined) ?? 1;

/** Text of a chat or completions answer: message contents, tool calls, completion texts. */
function choicesText(obj: Json): string {
  let s = '';
  if (Array.isArray(obj.choices)) {
    for (const c of obj.choices as Json[]) {
      const msg = c?.message as Json | undefined;
      if (typeof msg?.content === 'string') s += msg.content;
      if (msg?.tool_calls) s += JSON.stringify(msg.tool_calls);
      if (typeof c?.text === 'string') s += c.text;
    }
  }
  return s;
}

const READ_USAGE = { json: usageOf, stream: streamUsageOf };
const one = () => 1;
const free = () => null;

/** The shared part of the token-metered kinds: priced by their tokens, one call each. */
const TOKENS = { units: one, unpricedMicros: free, usage: READ_USAGE } as const;

const CHAT_BOUND = ['max_completion_tokens', 'max_tokens'] as const;

/**
 * OpenAI's reasoning families take `max_completion_tokens` (reasoning counts inside it) and refuse
 * `max_tokens`; every other chat model takes the `max_tokens` SkillBoss documents.
 */
const REASONING_FAMILY = /^(?:[a-z-]+\/)?(?:o\d|gpt-5)/i;

/** The bounding fields a body names (even as null), else `fallback`. */
function fieldsOf(body: Json, fields: readonly string[], fallback: string): readonly string[] {
  const given = fields.filter((f) => f in body);
  return given.length > 0 ? given : [fallback];
}

/**
 * A run answer's usage: the top-level `cost_usd` SkillBoss reports (the OCP
 * plugin reads it there), with chat-shaped `usage` tokens where the vendor
 * gives them; null when it reports neither.
 */
function runUsage(obj: Json): Usage | null {
  const u = usageOf(obj);
  const cost = reportedCost(obj.cost_usd);
  if (cost === null) return u;
  return { ...(u ?? { promptTokens: 0, completionTokens: 0, classes: { cached: 0, cacheWrite: 0, reasoning: 0 }, model: null }), reportedCostMicros: cost };
}
const RUN_USAGE = { json: runUsage, stream: runUsage };

/**
 * A run's worst case: its model's synced `per_request_usd`; for a model
 * priced per token (`unit: token`), its body's bytes as prompt tokens plus
 * the most it may complete, like chat; else the default call price, flagged.
 */
function runPrice(prices: PriceBook, model: string | undefined, bodyBytes: number, maxTokens: number): { micros: number; source: 'price' | 'default' } {
  const p = prices.runPrice(model);
  if (p.unit !== 'token' && p.perRequestMicros !== null) return { micros: p.perRequestMicros, source: 'price' };
  if (p.unit === 'token' && model !== undefined && prices.known(model)) return { micros: prices.cost(model, bodyBytes, maxTokens).micros, source: 'price' };
  return { micros: prices.callPriceMicros(), source: 'default' };
}

const runSchema = z.looseObject({
  model: z.string().min(1).max(256).optional(),
  type: z.string().max(64).optional(),
  inputs: z.looseObject({ max_tokens: count.nullish() }).optional(),
  stream: z.boolean().nullish(),
});

/** Completions generated per request: best_of ones are generated (and billed) upstream even though only n come back, for each prompt. */
function completionChoices(body: Json): number {
  return Math.max(n(body), (body.best_of as number | null | undefined) ?? 1) * promptCount(body.prompt);
}

export const METERS: Record<Meter, MeterSpec> = {
  chat: {
    ...TOKENS,
    schema: base.extend({ model, messages: z.array(z.unknown()).min(1) }),
    accepts: (b) => baseObject(b) && Array.isArray(b.messages) && b.messages.length >= 1,
    prompt: 'messages',
    scanned: true,
    completionFields: CHAT_BOUND,
    maxCompletion: (body, d) => bound(body, CHAT_BOUND, d) * n(body),
    choices: n,
    boundFields: (body, m) => fieldsOf(body, CHAT_BOUND, REASONING_FAMILY.test(m) ? 'max_completion_tokens' : 'max_tokens'),
    streamUsage: true,
    answerText: choicesText,
    cheaper: () => 'Lower max_tokens',
  },
  completion: {
    ...TOKENS,
    schema: base.extend({ model, prompt: z.unknown() }),
    accepts: (b) => baseObject(b) && 'prompt' in b,
    prompt: 'prompt',
    scanned: false,
    completionFields: CHAT_BOUND,
    maxCompletion: (body, d) => bound(body, CHAT_BOUND, d) * completionChoices(body),
    choices: completionChoices,
    boundFields: (body) => fieldsOf(body, CHAT_BOUND, 'max_tokens'),
    streamUsage: true,
    answerText: choicesText,
    cheaper: () => 'Lower max_tokens',
  },
  embedding: {
    ...TOKENS,
    schema: base.extend({ model, input: z.unknown() }),
    accepts: (b) => baseObject(b) && 'input' in b,
    prompt: 'input',
    scanned: true,
    completionFields: [],
    maxCompletion: () => 0,
    choices: one,
    boundFields: () => [],
    streamUsage: false,
    answerText: null,
    cheaper: () => 'Send less input',
  },
  responses: {
    ...TOKENS,
    schema: base.extend({ model, input: z.unknown() }),
    accepts: (b) => baseObject(b) && 'input' in b,
    prompt: 'input+instructions',
    scanned: true,
    completionFields: ['max_output_tokens'],
    maxCompletion: (body, d) => bound(body, ['max_output_tokens'], d),
    choices: one,
    boundFields: () => ['max_output_tokens'],
    streamUsage: false,
    answerText: (obj) => (typeof obj.output_text === 'string' ? obj.output_text : ''),
    carried: (body) => {
      const previous = typeof body.previous_response_id === 'string' && body.previous_response_id !== '' ? body.previous_response_id : null;
      const conversation = body.conversation !== undefined && body.conversation !== null;
      return previous === null && !conversation ? null : { previous, conversation };
    },
    carriedFields: ['previous_response_id', 'conversation'],
    cheaper: () => 'Lower max_output_tokens',
  },
  // Images, audio, services: the cost the upstream reports, else the default call price per billed call, never free.
  call: {
    schema: null,
    prompt: null,
    scanned: false,
    completionFields: [],
    maxCompletion: () => 0,
    choices: one,
    boundFields: () => [],
    // Issue 17: n = 10 is ten images, and large or fine ones count more (pricing/calls.ts).
    units: (path, json, raw, contentType) => callUnits(path, json, raw, contentType).units,
    unpricedMicros: (prices, units) => prices.callPriceMicros() * units,
    streamUsage: false,
    usage: READ_USAGE,
    answerText: null,
    cheaper: (path, units) =>
      path.startsWith('/v1/images/') && units > 1 ? `It is billed as ${units} image calls: ask for fewer images (a smaller n), a smaller size or a lower quality` : null,
  },
  // SkillBoss services (`/v1/run`, `/v1/pilot`): reserved at the model's per-request price, settled at the `cost_usd` reported.
  run: {
    schema: runSchema,
    prompt: null,
    scanned: false,
    // A run is priced per call (or, for a token-priced model, bounded by its inputs' max_tokens): nothing is written into it.
    choices: one,
    boundFields: () => [],
    completionFields: [],
    maxCompletion: (body, d) => ((body.inputs as Json | undefined)?.max_tokens as number | null | undefined) ?? d,
    units: one,
    unpricedMicros: free,
    perRequest: runPrice,
    job: 'start',
    streamUsage: false,
    usage: RUN_USAGE,
    answerText: null,
    cheaper: () => null,
  },
  // A poll of a run's job: free itself; the poll that sees it end charges the job's reservation once.
  job: {
    schema: null,
    prompt: null,
    choices: one,
    boundFields: () => [],
    scanned: false,
    completionFields: [],
    maxCompletion: () => 0,
    units: one,
    unpricedMicros: free,
    job: 'poll',
    streamUsage: false,
    usage: RUN_USAGE,
    answerText: null,
    cheaper: () => null,
  },
  // Listings, moderations, stored responses: free unless the upstream reports a cost.
  reported: {
    schema: null,
    prompt: null,
    scanned: false,
    completionFields: [],
    maxCompletion: () => 0,
    choices: one,
    boundFields: () => [],
    units: one,
    unpricedMicros: free,
    streamUsage: false,
    usage: READ_USAGE,
    answerText: null,
    cheaper: () => null,
  },
};

/** The top-level fields a scan parses: what the estimate and the forwarding read, of every scanned kind. */
export const SCANNED_FIELDS: ReadonlySet<string> = new Set(['model', 'stream', 'stream_options', 'n', 'best_of', ...Object.values(METERS).flatMap((m) => [...m.completionFields, ...(m.carriedFields ?? [])])]);
