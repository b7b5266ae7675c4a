/**
 * Stage 10, meter: what a request cost, turned into its ledger row. Usage is
 * read from a JSON body (usage.ts) and from a stream by the tap in sse.ts; when it
 * never arrives (upstream died, client left, usage omitted) the delivered
 * text is counted instead. `meter()` prices it, and `ledgerRow()` is the one
 * place a ledger row is built, for answered, local and refused requests alike.
 */
import type { LedgerRow } from '../core/ledger.js';
import type { RequestContext } from './context.js';
import type { Estimate } from './estimate.js';
import { METERS } from './meters.js';
import type { Usage } from './usage.js';

export { reportedCost, usageOf, type Usage } from './usage.js';

/** What the relay saw of the upstream's answer: the input to metering. */
export interface Outcome {
  status: number;
  usage: Usage | null;
  /** Completion tokens counted from what was delivered, when usage is missing. */
  countedCompletion: number | null;
  reportedCostMicros: number | null;
  streamed: boolean;
  errorCode: string | null;
  /** The error message the agent got, where the relay built one. */
  errorMessage?: string | null;
  /** The JSON object the upstream answered, where the relay parsed one (a job's status is read from it). */
  answer?: Record<string, unknown> | null;
  /**
   * What the client gets last, written only after the request is settled (a
   * JSON body, or a stream's `[DONE]`): whoever saw the end of a response can
   * rely on it being in the ledger, even if the daemon dies a moment later.
   */
  trailer?: Buffer | string | null;
}

/** Who and what a ledger row is about: known from the moment a request is authenticated. */
export type RowSubject = Pick<RequestContext, 'req' | 'requestId' | 'startedAt' | 'route' | 'principal'>;
type RowFigures = Pick<LedgerRow, 'status'> & Partial<Omit<LedgerRow, 'ts' | 'request_id' | 'token_id' | 'method' | 'route' | 'latency_ms'>>;

/** The one builder of a ledger row: it sets every column, so the insert binds it as it is; whatever is not given was not used and not charged. */
export function ledgerRow(s: RowSubject, ts: number, f: RowFigures): LedgerRow {
  return {
    ts,
    request_id: s.requestId,
    token_id: s.principal.token.id,
    method: s.req.method ?? 'GET',
    route: s.route.def.path,
    model: f.model ?? null,
    prompt_tokens: f.prompt_tokens ?? 0,
    completion_tokens: f.completion_tokens ?? 0,
    cached_tokens: f.cached_tokens ?? 0,
    cache_write_tokens: f.cache_write_tokens ?? 0,
    reasoning_tokens: f.reasoning_tokens ?? 0,
    cost_micros: f.cost_micros ?? 0,
    status: f.status,
    latency_ms: performance.now() - s.startedAt,
    streamed: f.streamed ?? 0,
    usage_source: f.usage_source ?? 'none',
    cost_source: f.cost_source ?? 'none',
    error_code: f.error_code ?? null,
    error_message: f.error_message ?? null,
  };
}

/** The ledger row of a forwarded request: tokens from the upstream's usage or as counted, priced by the most specific figure. */
export function meter(ctx: RequestContext, est: Estimate, o: Outcome): LedgerRow {
  const { deps } = ctx;
  let prompt = 0;
  let completion = 0;
  let usageSource: LedgerRow['usage_source'] = 'none';
  if (o.usage) {
    prompt = o.usage.promptTokens;
    completion = o.usage.completionTokens;
    usageSource = 'upstream';
  } else if (o.countedCompletion !== null && est.perRequest === undefined) {
    // Usage never arrived (or the client or upstream left first): charge the prompt and what was actually delivered.
    prompt = est.promptTokens;
    completion = o.countedCompletion;
    usageSource = prompt + completion > 0 ? 'counted' : 'none';
  }
  const model = o.usage?.model ?? est.model ?? null;
  let cost = 0;
  let costSource: LedgerRow['cost_source'] = 'none';
  // The cost in the response's own usage is the most specific figure; a header cost comes next.
  const reported = o.usage?.reportedCostMicros ?? o.reportedCostMicros ?? null;
  if (reported !== null) {
    cost = reported;
    costSource = 'upstream';
  } else if (prompt + completion > 0) {
    // Upstream usage says which tokens were cached or reasoning (none, when it says nothing); counted tokens are priced at their dearest class.
    const c = deps.prices.cost(est.model ?? model ?? undefined, prompt, completion, o.usage?.classes);
    cost = c.micros;
    costSource = c.source === 'upstream' ? 'price' : c.source;
  } else if (o.status < 400 && est.perRequest !== undefined) {
    // A service run whose answer reports no cost (binary audio, a stream): charged what it reserved, its price (or the flagged fallback).
    cost = est.worstCaseMicros;
    costSource = est.perRequest;
  } else if (o.status < 400 && ctx.route.def.forward) {
    // Images, audio and services the upstream did not price: the default call price per billed call, flagged, never free.
    const flat = METERS[ctx.route.def.forward.meter].unpricedMicros(deps.prices, est.units);
    if (flat !== null) {
      cost = flat;
      costSource = 'default';
    }
  }
  return ledgerRow(ctx, deps.clock(), {
    model,
    prompt_tokens: prompt,
    completion_tokens: completion,
    ...(o.usage ? { cached_tokens: o.usage.classes.cached, cache_write_tokens: o.usage.classes.cacheWrite, reasoning_tokens: o.usage.classes.reasoning } : {}),
    cost_micros: cost,
    status: o.status,
    streamed: o.streamed ? 1 : 0,
    usage_source: usageSource,
    cost_source: costSource,
    error_code: o.errorCode,
    error_message: o.errorMessage ?? null,
  });
}
