/**
 * Stages 6 and 7, estimate and reserve: the worst-case cost of a request before it goes upstream:
 * its prompt tokens (bounded by bytes, or counted in the tokenizer pool when the bound does not fit
 * the budget; see `reserveFor`), plus the most completion tokens it may produce
 * (`max_completion_tokens`, `max_tokens`, or the model's output limit or the configured default)
 * times `n`; for a limited chain that bound is also the one the request is sent with (`fitted`).
 * The fields that feed the estimate are validated here, by the schema of the
 * route's meter kind (meters.ts), since a wrong type there would be a way
 * around the budget.
 */
import { badRequest, notFound, SidecarError } from '../core/errors.js';
import type { PriceBook } from '../pricing/prices.js';
import { promptTokensOf } from '../pricing/prompt.js';
import { countTokens, upperBoundTokens, type Counter } from '../pricing/tokenizer.js';
import type { RequestBody } from './body.js';
import type { Reservation } from './budget.js';
import type { RequestContext } from './context.js';
import { METERS, validBody, type MeterSpec } from './meters.js';
import type { Meter } from './routes.js';
import type { BodyScan } from './scan.js';

export { SCANNED_FIELDS } from './meters.js';

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
  /** The completion bound the agent gave, per choice (the larger of the fields it set); null: none, or null. */
  agentBound: number | null;
  /** Completions the upstream generates for the request (n, best_of, prompts); the bound holds for each. */
  choices: number;
  /** The fields a bound is written into for this body (meters.ts `boundFields`); empty: nothing to bound. */
  boundFields: readonly string[];
  /** The bound the request goes upstream with, when it is not the agent's own (forward.ts writes it); null: as it came. */
  bound: { fields: readonly string[]; perChoice: number } | null;
  /**
   * Input the upstream adds that the body does not hold (meters.ts `carried`), inside `promptTokens`: the
   * tokens of a relayed previous response (added to a recount too), or the model's whole context window.
   */
  carried?: { tokens: number } | { window: number };
  /**
   * A request priced per request (`/v1/run`): `worstCaseMicros` is also what it
   * is charged when its answer reports no cost, and this says whether that is
   * a synced price or the fallback (flagged `default`).
   */
  perRequest?: 'price' | 'default';
}

/** Fewer completion tokens than this (or than the agent's own smaller bound) is not a useful answer: refused with 402 instead. */
export const MIN_USEFUL_COMPLETION = 256;

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
  if (METERS[meter].perRequest) {
    const est = perRequestEstimate(meter, body, deps.prices, deps.limits.defaultMaxTokens);
    return { est, reservation: deps.budgets.reserve(principal.chain, est.worstCaseMicros, ctx.now, cheaperHint(ctx, est)) };
  }
  const first = body.scan ? estimateFromScan(meter, body.scan, deps.prices, deps.limits.defaultMaxTokens) : estimate(meter, body.json, deps.prices, deps.limits.defaultMaxTokens, 'upper');
  const budgeted = principal.chain.some((t) => t.budget !== null);
  // A hold threshold trips when a reservation would cross it, and a tripped hold waits for a person: an
  // over-estimate must not trip one, so a chain with a threshold reserves the exact count (from the pool).
  const holds = principal.chain.some((t) => t.holdAbove !== null || t.holdRate !== null);
  const est = withUnits(ctx, body, withCarried(ctx, body, first, budgeted || holds));
  if (!budgeted && !holds) return { est, reservation: deps.budgets.reserve(principal.chain, est.worstCaseMicros, ctx.now, cheaperHint(ctx, est)) };
  if (est.exact) return reserveFitted(ctx, est, true);
  if (!holds) {
    try {
      // The byte bound may not lower the completion bound: only an exact count below may (else an over-estimate would cut answers short).
      const { est: fit, reservation } = reserveFitted(ctx, est, false);
      const l = deps.looseBounds.hold(
        reservation,
        () => exactEstimate(ctx, body, fit).then((x) => x.worstCaseMicros),
        (micros) => deps.budgets.shrink(reservation, micros),
        ctx.res,
      );
      const left = deps.budgets.remaining(principal.chain, ctx.now).remainingMicros;
      if (l && left !== null && left < TIGHTEN_WITHIN * fit.worstCaseMicros) void l.tighten();
      return { est: fit, reservation };
    } catch (err) {
      if (!isBudgetRefusal(err)) throw err;
    }
  }
  const exact = await exactEstimate(ctx, body, est);
  for (let attempt = 0; ; attempt++) {
    try {
      return reserveFitted(ctx, exact, true);
    } catch (err) {
      const others = isBudgetRefusal(err) && attempt < 3 ? deps.looseBounds.in(principal.chain) : [];
      if (others.length === 0) throw err;
      await Promise.all(others.map((l) => l.tighten()));
    }
  }
}

/**
 * Issue 25 item 1: the worst case is enforced, not assumed. A request of a
 * limited chain (a budget or a hold threshold) that names no completion
 * bound, or one larger than what is left allows, is reserved for a bound
 * and sent with that bound: the model's synced output limit (else the
 * configured default) or the agent's own smaller one, lowered (when
 * `lower`: the prompt is counted exactly) to the most the room left pays
 * for. Reasoning tokens are completion tokens, so they count inside it. When
 * even the smallest useful answer does not fit, the full bound is reserved
 * and refused with 402, as before. Sized and reserved in one synchronous
 * step, so no concurrent request can take the room in between.
 */
function reserveFitted(ctx: RequestContext, est: Estimate, lower: boolean): { est: Estimate; reservation: Reservation } {
  const fit = fitted(ctx, est, lower);
  return { est: fit, reservation: ctx.deps.budgets.reserve(ctx.principal.chain, fit.worstCaseMicros, ctx.now, cheaperHint(ctx, fit)) };
}

function fitted(ctx: RequestContext, est: Estimate, lower: boolean): Estimate {
  const { deps } = ctx;
  if (est.boundFields.length === 0) return est;
  const room = deps.budgets.room(ctx.principal.chain, ctx.now);
  if (room === null) return est;
  const limit = deps.prices.outputLimit(est.model);
  const target = est.agentBound === null ? (limit ?? deps.limits.defaultMaxTokens) : Math.min(est.agentBound, limit ?? Number.POSITIVE_INFINITY);
  const worst = (perChoice: number) => deps.prices.cost(est.model, est.promptTokens, perChoice * est.choices).micros * est.units;
  let perChoice = target;
  if (lower && worst(target) > room) {
    // The largest bound the room pays for (costs rise with the bound; rounding makes a closed form off by one).
    let lo = 0;
    let hi = target;
    while (lo < hi) {
      const mid = Math.ceil((lo + hi) / 2);
      if (worst(mid) <= room) lo = mid;
      else hi = mid - 1;
    }
    if (lo >= Math.min(target, MIN_USEFUL_COMPLETION)) perChoice = lo;
  }
  const send = est.agentBound === null || perChoice < est.agentBound;
  return { ...est, maxCompletionTokens: perChoice * est.choices, worstCaseMicros: worst(perChoice), bound: send ? { fields: est.boundFields, perChoice } : null };
}

/**
 * The estimate of a request priced per request by its model (meters.ts
 * `perRequest`): nothing to count, the price is known before it goes.
 */
export function perRequestEstimate(meter: Meter, body: RequestBody, prices: PriceBook, defaultMaxTokens: number): Estimate {
  const spec = METERS[meter];
  const json = validBody(spec, body.json ?? {});
  const model = typeof json.model === 'string' ? json.model : undefined;
  const maxOut = spec.maxCompletion(json, defaultMaxTokens);
  const p = spec.perRequest!(prices, model, body.raw.length, maxOut);
  return { model, promptTokens: 0, exact: true, maxCompletionTokens: maxOut, worstCaseMicros: p.micros, stream: json.stream === true, units: 1, perRequest: p.source, agentBound: null, choices: 1, boundFields: [], bound: null };
}

/** What the agent can change to make a refused request cheaper, for the 402's message (null: nothing can). */
export function cheaperHint(ctx: RequestContext, est: Estimate): string | null {
  return METERS[ctx.route.def.forward!.meter].cheaper(ctx.route.def.path, est.units);
}

/**
 * Issue 25: what the upstream prepends is in the prompt bound, enforced rather than assumed. A Responses
 * request naming a `previous_response_id` this sidecar relayed carries that response's input and output
 * tokens (its input already held everything before it); one naming a response the sidecar did not relay,
 * or a `conversation` (whose items the sidecar never sees), is bounded by the model's synced context
 * window, the most input the upstream takes. With neither known, a limited chain (a budget or a hold) is
 * refused 400 `unbounded_prompt`: nothing would bound what it is charged.
 */
function withCarried(ctx: RequestContext, body: RequestBody, est: Estimate, limited: boolean): Estimate {
  const spec = METERS[ctx.route.def.forward!.meter];
  const fields = body.json ?? body.scan?.fields;
  const c = spec.carried && fields ? spec.carried(fields) : null;
  if (!c) return est;
  const relayed = c.previous !== null && !c.conversation ? (ctx.deps.relayed?.tokensOf(c.previous) ?? null) : null;
  const { deps } = ctx;
  // Every token shares the one real key, so the upstream would continue anyone's response: only its own family may.
  if (relayed && !deps.relayed!.related(ctx.principal.token.id, relayed.tokenId)) {
    throw notFound('response_not_found', `No response ${JSON.stringify(c.previous!.slice(0, 80))} was made with this token (or its parent or children).`);
  }
  const known = relayed?.tokens ?? null;
  if (known !== null) {
    const promptTokens = est.promptTokens + known;
    return { ...est, promptTokens, carried: { tokens: known }, worstCaseMicros: deps.prices.cost(est.model, promptTokens, est.maxCompletionTokens).micros };
  }
  const window = deps.prices.contextLimit(est.model);
  if (window === null) {
    if (!limited) return est;
    const what = c.conversation ? 'a `conversation`, whose items' : `\`previous_response_id\` ${JSON.stringify(c.previous!.slice(0, 80))}, a response this sidecar did not relay, whose items`;
    throw badRequest(
      'unbounded_prompt',
      `This request continues ${what} SkillBoss adds to the prompt unseen, and the context window of ${est.model ?? 'this model'} is not known to bound them, so a token with a budget cannot send it. Send the earlier items in \`input\` instead, or continue a response made through this sidecar.`,
    );
  }
  const promptTokens = Math.max(est.promptTokens, window);
  return { ...est, promptTokens, exact: true, carried: { window }, worstCaseMicros: deps.prices.cost(est.model, promptTokens, est.maxCompletionTokens).micros };
}

/** A request reserves its worst case for every call the upstream will bill (issue 17: n = 10 is ten images). */
function withUnits(ctx: RequestContext, body: RequestBody, est: Estimate): Estimate {
  const units = METERS[ctx.route.def.forward!.meter].units(ctx.route.def.path, body.json, body.raw, ctx.req.headers['content-type']);
  return units === 1 && est.units === 1 ? est : { ...est, units, worstCaseMicros: est.worstCaseMicros * units };
}

/** A bound is tightened at once when fewer than this many more of it would fit in what is left. */
const TIGHTEN_WITHIN = 4;

function isBudgetRefusal(err: unknown): boolean {
  return err instanceof SidecarError && err.code === 'budget_exhausted';
}

/** The same estimate with the prompt counted exactly (in the tokenizer pool): to reserve under a tight budget, or to charge a prompt whose usage never came. */
export async function exactEstimate(ctx: RequestContext, body: RequestBody, est: Estimate): Promise<Estimate> {
  const shape = METERS[ctx.route.def.forward!.meter].prompt;
  if (est.exact || shape === null) return est;
  let tokens: number;
  try {
    tokens = (await ctx.deps.tokenizer.countPrompt(shape, body.raw)) + (est.carried && 'tokens' in est.carried ? est.carried.tokens : 0);
  } catch (err) {
    if ((err as { code?: string }).code === 'invalid_json') throw badRequest('invalid_json', 'The request body is not valid JSON.');
    ctx.deps.log.warn({ err, requestId: ctx.requestId }, 'could not count the prompt exactly; its upper bound stands');
    return est;
  }
  const { micros } = ctx.deps.prices.cost(est.model, tokens, est.maxCompletionTokens);
  return { ...est, promptTokens: tokens, exact: true, worstCaseMicros: micros };
}

/** The estimate of a scanned body: the fields validated as in `estimate`, the prompt bounded by the scan. */
export function estimateFromScan(meter: Meter, scan: BodyScan, prices: PriceBook, defaultMaxTokens: number): Estimate {
  const spec = METERS[meter];
  if (!spec.scanned || !spec.schema) return estimate(meter, undefined, prices, defaultMaxTokens, 'upper');
  // Stand-ins of the same kind for the big values, so the schema says what it would say of the real ones.
  const standIn = (k: string): unknown => {
    const kind = scan.kinds[k];
    return kind === undefined ? undefined : kind === '[]' ? [] : kind === 'array' ? [null] : kind === 'object' ? {} : kind === 'string' ? '' : kind === 'number' ? 0 : null;
  };
  const body = validBody(spec, { ...scan.fields, messages: standIn('messages'), input: standIn('input') });
  const model = body.model as string;
  const maxOut = spec.maxCompletion(body, defaultMaxTokens);
  const { micros } = prices.cost(model, scan.promptBound, maxOut);
  return { model, promptTokens: scan.promptBound, exact: false, maxCompletionTokens: maxOut, worstCaseMicros: micros, stream: body.stream === true, units: 1, ...boundsOf(spec, body, model) };
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
  const spec = METERS[meter];
  if (!spec.schema || !spec.prompt || !json) {
    const model = typeof json?.model === 'string' ? json.model : undefined;
    // A per-call route reserves the default call price: what it is charged when the upstream reports no cost.
    const worst = spec.unpricedMicros(prices, 1) ?? 0;
    return { model, promptTokens: 0, exact: true, maxCompletionTokens: 0, worstCaseMicros: worst, stream: false, units: 1, agentBound: null, choices: 1, boundFields: [], bound: null };
  }
  const count: Counter = precision === 'exact' ? countTokens : upperBoundTokens;
  const body = validBody(spec, json);
  const model = body.model as string;
  const promptTokens = promptTokensOf(spec.prompt, body, count);
  const maxOut = spec.maxCompletion(body, defaultMaxTokens);
  const { micros } = prices.cost(model, promptTokens, maxOut);
  return { model, promptTokens, exact: precision === 'exact', maxCompletionTokens: maxOut, worstCaseMicros: micros, stream: body.stream === true, units: 1, ...boundsOf(spec, body, model) };
}

/** The agent's own completion bound and what the sidecar would write one into. */
function boundsOf(spec: MeterSpec, body: Record<string, unknown>, model: string): Pick<Estimate, 'agentBound' | 'choices' | 'boundFields' | 'bound'> {
  let agentBound: number | null = null;
  for (const f of spec.completionFields) {
    const v = body[f];
    if (typeof v === 'number') agentBound = Math.max(agentBound ?? 0, v);
  }
  return { agentBound, choices: spec.choices(body), boundFields: spec.completionFields.length > 0 ? spec.boundFields(body, model) : [], bound: null };
}
