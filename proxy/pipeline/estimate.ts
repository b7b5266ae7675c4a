/**
 * Stages 6 and 7, estimate and reserve: the worst-case cost of a request before it goes upstream:
 * its prompt tokens (bounded by bytes, or counted in the tokenizer pool when the bound does not fit
 * the budget; see `reserveFor`), plus the most completion tokens it may produce
 * (`max_completion_tokens`, `max_tokens`, or the configured default) times `n`.
 * The fields that feed the estimate are validated here, since a wrong type
 * there would be a way around the budget.
 */
import { z } from 'zod';
import { badRequest, SidecarError } from '../core/errors.js';
import { parseInput } from '../core/validate.js';
import { callUnits } from '../pricing/calls.js';
import type { PriceBook } from '../pricing/prices.js';
import { countChatPromptTokens, countInputTokens, countTokens, upperBoundTokens, type Counter } from '../pricing/tokenizer.js';
import { tokenizerPool } from '../pricing/tokenizer-pool.js';
import type { Token } from '../tokens/token.js';
import type { RequestBody } from './body.js';
import type { Reservation } from './budget.js';
import type { RequestContext } from './context.js';
import type { Meter } from './routes.js';
import type { BodyScan } from './scan.js';

export interface Estimate {
  model: string | undefined;
  /** Counted with the tokenizer when `exact`; otherwise an upper bound (UTF-8 bytes). */
  promptTokens: number;
  exact: boolean;
  maxCompletionTokens: number;
  worstCaseMicros: number;
  stream: boolean;
  /** Billed calls of a per-call route (n images, large or fine ones counted more; pricing/calls.ts); 1 elsewhere. */
  units: number;
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

/**
 * Estimates a forwarded request and reserves its worst case. The prompt is
 * first bounded by its bytes (free: no tokenizer, nothing proportional to the
 * prompt on the event loop), which fits whenever the budget has room. Only
 * when that bound does not fit is the prompt counted exactly, in the
 * tokenizer pool; and before a request is refused, the bounds other requests
 * of the same budget hold are tightened to their exact counts too, so no
 * request that fits is refused because of an over-estimate. Once a budget
 * has little room left (less than a few more such bounds), a bound is
 * tightened right away, in the background, so what is held (and what
 * `/v1/balance` reports as reserved) is the exact worst case when it matters.
 */
export async function reserveFor(ctx: RequestContext, body: RequestBody): Promise<{ est: Estimate; reservation: Reservation }> {
  const { deps, principal } = ctx;
  const meter = ctx.route.def.forward!.meter;
  const first = body.scan ? estimateFromScan(meter, body.scan, deps.prices, deps.limits.defaultMaxTokens) : estimate(meter, body.json, deps.prices, deps.limits.defaultMaxTokens, 'upper');
  const est = meter === 'call' ? withCallUnits(ctx, body, first) : first;
  const budgeted = principal.chain.some((t) => t.monthlyBudget !== null);
  // A hold threshold trips when a reservation would cross it, and a tripped hold waits for a person: an
  // over-estimate must not trip one, so a chain with a threshold reserves the exact count (from the pool).
  const holds = principal.chain.some((t) => t.holdAbove !== null || t.holdRate !== null);
  if (est.exact || (!budgeted && !holds)) return { est, reservation: deps.budgets.reserve(principal.chain, est.worstCaseMicros, ctx.now, cheaperHint(ctx, est)) };
  if (!holds) {
    try {
      const reservation = deps.budgets.reserve(principal.chain, est.worstCaseMicros, ctx.now, cheaperHint(ctx, est));
      const l = holdLoose(ctx, body, est, reservation);
      const left = deps.budgets.remaining(principal.chain, ctx.now).remainingMicros;
      if (l && left !== null && left < TIGHTEN_WITHIN * est.worstCaseMicros) void l.tighten();
      return { est, reservation };
    } catch (err) {
      if (!isBudgetRefusal(err)) throw err;
    }
  }
  const exact = await exactEstimate(ctx, body, est);
  for (let attempt = 0; ; attempt++) {
    try {
      return { est: exact, reservation: deps.budgets.reserve(principal.chain, exact.worstCaseMicros, ctx.now, cheaperHint(ctx, exact)) };
    } catch (err) {
      const others = isBudgetRefusal(err) && attempt < 3 ? looseIn(principal.chain) : [];
      if (others.length === 0) throw err;
      await Promise.all(others.map((l) => l.tighten()));
    }
  }
}

/**
 * What the agent can change to make a refused request cheaper, for the 402's
 * message: the output bound where one is reserved for, the image multipliers
 * on a per-call image route, nothing (null) on other per-call routes.
 */
export function cheaperHint(ctx: RequestContext, est: Estimate): string | null {
  switch (ctx.route.def.forward!.meter) {
    case 'chat':
    case 'completion':
      return 'Lower max_tokens';
    case 'responses':
      return 'Lower max_output_tokens';
    case 'embedding':
      return 'Send less input';
    case 'call':
      if (!ctx.route.def.path.startsWith('/v1/images/')) return null;
      return est.units > 1 ? `It is billed as ${est.units} image calls: ask for fewer images (a smaller n), a smaller size or a lower quality` : null;
    default:
      return null;
  }
}

/** A per-call route reserves its price for every call the upstream will bill (issue 17: n = 10 is ten images). */
function withCallUnits(ctx: RequestContext, body: RequestBody, est: Estimate): Estimate {
  const { units } = callUnits(ctx.route.def.path, body.json, body.raw, ctx.req.headers['content-type']);
  return { ...est, units, worstCaseMicros: est.worstCaseMicros * units };
}

/** A bound is tightened at once when fewer than this many more of it would fit in what is left. */
const TIGHTEN_WITHIN = 4;

function isBudgetRefusal(err: unknown): boolean {
  return err instanceof SidecarError && err.code === 'budget_exhausted';
}

/** A reservation made with the byte bound, which can be tightened to the exact count while its request runs. */
interface Loose {
  reservation: Reservation;
  tighten(): Promise<void>;
}
const loose = new Set<Loose>();

function holdLoose(ctx: RequestContext, body: RequestBody, est: Estimate, reservation: Reservation): Loose | null {
  if (reservation.chain.length === 0) return null;
  let done: Promise<void> | undefined;
  const l: Loose = {
    reservation,
    tighten: () =>
      (done ??= exactEstimate(ctx, body, est).then(
        (x) => {
          loose.delete(l);
          ctx.deps.budgets.shrink(reservation, x.worstCaseMicros);
        },
        () => {
          loose.delete(l);
        },
      )),
  };
  loose.add(l);
  // An entry holds its request's body: it leaves when tightened, or when the response is over (settled or not).
  ctx.res.once('close', () => loose.delete(l));
  return l;
}

function looseIn(chain: readonly Token[]): Loose[] {
  const ids = new Set(chain.filter((t) => t.monthlyBudget !== null).map((t) => t.id));
  const out: Loose[] = [];
  for (const l of loose) {
    if (l.reservation.released) loose.delete(l);
    else if (l.reservation.chain.some((t) => ids.has(t.id))) out.push(l);
  }
  return out;
}

/** The same estimate with the prompt counted exactly (in the tokenizer pool): to reserve under a tight budget, or to charge a prompt whose usage never came. */
export async function exactEstimate(ctx: RequestContext, body: RequestBody, est: Estimate): Promise<Estimate> {
  const meter = ctx.route.def.forward!.meter;
  if (est.exact || meter === 'reported' || meter === 'call') return est;
  let tokens: number;
  try {
    tokens = await tokenizerPool().countPrompt(meter, body.raw);
  } catch (err) {
    if ((err as { code?: string }).code === 'invalid_json') throw badRequest('invalid_json', 'The request body is not valid JSON.');
    ctx.deps.log.warn({ err, requestId: ctx.requestId }, 'could not count the prompt exactly; its upper bound stands');
    return est;
  }
  const { micros } = ctx.deps.prices.cost(est.model, tokens, est.maxCompletionTokens);
  return { ...est, promptTokens: tokens, exact: true, worstCaseMicros: micros };
}

/** Routes whose large bodies are scanned, not parsed (a completions prompt array's length feeds the estimate, so it is parsed). */
export const SCANNED_METERS: ReadonlySet<Meter> = new Set(['chat', 'embedding', 'responses']);
/** The top-level fields a scan parses: what the estimate and the forwarding read. */
export const SCANNED_FIELDS: ReadonlySet<string> = new Set(['model', 'stream', 'stream_options', 'n', 'best_of', 'max_tokens', 'max_completion_tokens', 'max_output_tokens']);

/** The estimate of a scanned body: the fields validated as in `estimate`, the prompt bounded by the scan. */
export function estimateFromScan(meter: Meter, scan: BodyScan, prices: PriceBook, defaultMaxTokens: number): Estimate {
  if (meter !== 'chat' && meter !== 'embedding' && meter !== 'responses') return estimate(meter, undefined, prices, defaultMaxTokens, 'upper');
  // Stand-ins of the same kind for the big values, so the schema says what it would say of the real ones.
  const standIn = (k: string): unknown => {
    const kind = scan.kinds[k];
    return kind === undefined ? undefined : kind === '[]' ? [] : kind === 'array' ? [null] : kind === 'object' ? {} : kind === 'string' ? '' : kind === 'number' ? 0 : null;
  };
  const body = parseInput(SCHEMAS[meter], { ...scan.fields, messages: standIn('messages'), input: standIn('input') });
  const model = body.model as string;
  const n = (body.n as number | null | undefined) ?? 1;
  const maxOut = meter === 'chat' ? maxTokensOf(body, defaultMaxTokens) * n : meter === 'responses' ? ((body.max_output_tokens ?? defaultMaxTokens) as number) : 0;
  const { micros } = prices.cost(model, scan.promptBound, maxOut);
  return { model, promptTokens: scan.promptBound, exact: false, maxCompletionTokens: maxOut, worstCaseMicros: micros, stream: body.stream === true, units: 1 };
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
    return { model, promptTokens: 0, exact: true, maxCompletionTokens: 0, worstCaseMicros: worst, stream: false, units: 1 };
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
  return { model, promptTokens, exact: precision === 'exact', maxCompletionTokens: maxOut, worstCaseMicros: micros, stream, units: 1 };
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
