/**
 * The agent request path, in order (the numbers are the stages' file headers):
 *
 *   1 route → 2 authenticate → (paused) → 3 authorize → 4 body (translated, on a route of another dialect) →
 *     5 local answer, or
 *     5 rate limit → 6 estimate → 7 reserve → 8 forward → 9 relay → 10 meter → 11 settle
 *
 * Each stage is its own module; this file only calls them in order and makes
 * sure every authenticated request leaves exactly one ledger row, that every
 * path out of a forwarded request settles once, and that its reservation and
 * its rate-limit slot are released on every path.
 */
import { markAuthenticated } from '../core/conn.js';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { randomUUID } from 'node:crypto';
import type { LedgerRow } from '../core/ledger.js';
import { asSidecarError, unavailable } from '../core/errors.js';
import { authenticate, type Principal } from './authenticate.js';
import { authorize, authorizeModel } from './authorize.js';
import { readBody, type RequestBody } from './body.js';
import type { Reservation } from './budget.js';
import type { OpenRequestContext, StageDeps, RequestContext } from './context.js';
import { dialectOf } from './dialect.js';
import { estimate, exactEstimate, perRequestEstimate, reserveFor, type Estimate } from './estimate.js';
import { METERS, SCANNED_FIELDS } from './meters.js';
import { forward } from './forward.js';
import type { KeyClaim } from './jobs.js';
import { answerLocal, answerOpen } from './local.js';
import { ledgerRow, meter } from './meter.js';
import { clientLeft, finish, relay } from './relay.js';
import { sendError } from './respond.js';
import { matchRoute, type MatchedRoute } from './routes.js';

/** Access requests are small; their bodies are held to this whatever the general limit. */
const OPEN_BODY_LIMIT = 16 * 1024;

/** A token (or an ancestor) paused from the dashboard: like the kill switch, for its subtree only. */
const tokenPausedError = (who: string) => unavailable('token_paused', `${who} is paused in the SkillBoss sidecar by the human. Wait until they resume it.`, 60);
const pausedError = () => unavailable('sidecar_paused', 'The human has paused all agents in the SkillBoss sidecar. Wait until they resume it.', 60);

export async function handleAgentRequest(req: IncomingMessage, res: ServerResponse, deps: StageDeps): Promise<void> {
  const startedAt = performance.now();
  const now = deps.clock();
  const requestId = randomUUID();
  let route: MatchedRoute | undefined;
  let principal: Principal | undefined;
  let body: RequestBody | undefined;
  try {
    route = matchRoute(req.method ?? 'GET', req.url ?? '/');
    if (route.def.auth === false) return await handleOpenRoute({ req, res, deps, requestId, startedAt, now, route });
    principal = authenticate(req, deps.principals, now, deps.authLimiter);
    markAuthenticated(req);
    if (deps.paused()) throw pausedError();
    const pausedBy = principal.chain.find((t) => t.meta.pausedAt !== undefined);
    if (pausedBy) throw tokenPausedError(pausedBy.id === principal.token.id ? 'This token' : `Its parent token ${pausedBy.id}`);
    authorize(principal, route.def);
    const dialect = dialectOf(deps.dialects, route.def);
    // Large bodies of metered routes are scanned, not parsed (stage 4); a translated route's are left to its dialect.
    const translated = dialect.request !== undefined && route.def.forward !== undefined;
    const scanned = route.def.forward && !dialect.request && METERS[route.def.forward.meter].scanned ? SCANNED_FIELDS : undefined;
    // A dialect's own routes (count_tokens) get a large body unparsed as well: their handler counts it in the pool.
    body = await readBody(req, route.def.body, deps.limits.maxBodyBytes, deps.limits.maxJsonDepth, scanned, dialect.request !== undefined);
    // A translated route's request becomes the upstream's before anything is estimated or sent (a large one in the worker pool).
    if (translated) body = await dialect.request!(body, { pool: deps.tokenizer, owner: principal.token.id, maxDepth: deps.limits.maxJsonDepth });
    // The model it names is within the token's list (and its ancestors'), before anything is reserved or sent; a large body
    // left whole for a dialect's own route is scanned for its model only when a list needs it.
    authorizeModel(principal, route, body, deps.limits.maxJsonDepth);
    const ctx: RequestContext = { req, res, deps, requestId, startedAt, now, route, principal };
    if (route.def.local) await answerLocal(ctx, body);
    else await forwardRoute(ctx, body);
  } catch (err) {
    const e = asSidecarError(err);
    if (e.status >= 500 && (e.code === 'internal_error' || e.code.startsWith('storage_'))) deps.log.error({ err: e.cause, requestId }, 'internal error in the agent pipeline');
    sendError(res, e, route ? dialectOf(deps.dialects, route.def) : undefined);
    if (principal && route) {
      // A refusal after authentication is in the ledger too; nothing was charged, so the answer does not wait for it.
      // With the model asked for and the message the agent got, so the dashboard can show what happened.
      const asked = body?.json?.model ?? body?.scan?.fields.model ?? (err as { model?: unknown }).model;
      const model = typeof asked === 'string' ? asked.slice(0, 200) : null;
      const row = ledgerRow({ req, requestId, startedAt, route, principal }, now, { status: e.status, error_code: e.code, error_message: e.message, model });
      deps.budgets.record(null, principal.chain, row).catch((err: unknown) => {
        deps.log.error({ err, requestId }, 'could not record a refused request in the ledger');
      });
    } else if (deps.events.listenerCount('refused') > 0) {
      // No token, so no ledger row: watchers (the demo's console) still see it. The route pattern, never the raw path.
      deps.events.emit('refused', { ts: now, method: req.method ?? 'GET', route: route?.def.path ?? null, status: e.status, error_code: e.code });
    }
  }
}

/** Agents without a token asking for one (issue 9): nothing to authenticate, authorize or meter. */
async function handleOpenRoute(ctx: OpenRequestContext): Promise<void> {
  if (ctx.deps.paused()) throw pausedError();
  const body = await readBody(ctx.req, ctx.route.def.body, Math.min(ctx.deps.limits.maxBodyBytes, OPEN_BODY_LIMIT), ctx.deps.limits.maxJsonDepth);
  await answerOpen(ctx, body);
}

/** A route answered by the upstream: the second half of the path, stage by stage. */
async function forwardRoute(ctx: RequestContext, body: RequestBody): Promise<void> {
  const { deps, principal } = ctx;
  const meterKind = ctx.route.def.forward!.meter;
  const spec = METERS[meterKind];
  if (spec.job) deps.jobs.sweep(ctx.now, deps.budgets);
  // A job is polled only by the token that started it (404 for any other, before anything is sent).
  const job = spec.job === 'poll' ? deps.jobs.owned(ctx.route.params[0] ?? '', principal.token.id) : null;
  const releaseSlot = deps.limiter.acquire(principal.token, ctx.now);
  let reservation: Reservation | null = null;
  let claim: KeyClaim | null = null;
  try {
    let est: Estimate;
    // A poll reserves nothing (its job holds the reservation); a retry of an Idempotency-Key is neither reserved nor charged again.
    claim = spec.job === 'start' ? deps.jobs.claimKey(ctx) : null;
    if (job) est = estimate(meterKind, undefined, deps.prices, deps.limits.defaultMaxTokens);
    else if (claim?.retryOf) est = perRequestEstimate(meterKind, body, deps.prices, deps.limits.defaultMaxTokens);
    else ({ est, reservation } = await reserveFor(ctx, body));
    const sent = await forward(ctx, body, est, reservation?.micros ?? null);
    const outcome = sent ? await relay(ctx, sent, est) : clientLeft(est.stream);
    // Usage never came: the prompt is charged as counted, not as its upper bound.
    if (!outcome.usage && outcome.countedCompletion !== null) est = await exactEstimate(ctx, body, est);
    let row = meter(ctx, est, outcome);
    if (reservation && reservation.chain.length > 0 && row.cost_micros > reservation.micros) overrun(ctx, reservation, row);
    // A run's job keeps its reservation until a poll ends it, and that poll is charged it, once (jobs.ts).
    if (job) ({ row, reservation } = deps.jobs.afterPoll(ctx, job, outcome, row));
    else if (spec.job === 'start') ({ row, reservation } = deps.jobs.afterRun(ctx, est, outcome, row, reservation, claim));
    await settleForwarded(ctx, reservation, row);
    reservation = null;
    if (sent) finish(ctx, outcome);
    // A Responses answer a later previous_response_id may continue: its tokens are that request's hidden input (issue 25).
    // Recorded in the same turn as the last byte (no request continuing it can come first), and never at the answer's
    // cost: a database that will not take it leaves the continuation bounded by the model's context window instead.
    const responseId = outcome.usage?.responseId;
    if (responseId !== undefined && outcome.status < 400) {
      try {
        deps.relayed?.record(responseId, principal.token.id, row.ts, row.prompt_tokens + row.completion_tokens);
      } catch (err) {
        deps.log.warn({ err, requestId: ctx.requestId }, 'could not record a relayed response; a request continuing it is bounded by the model\'s context window');
      }
    }
  } catch (err) {
    // Refused or failed before anything was charged: a retry with the same key is a new request.
    if (claim && !claim.retryOf) deps.jobs.dropClaim(ctx, claim);
    throw err;
  } finally {
    deps.budgets.release(reservation);
    releaseSlot();
  }
}

/**
 * The upstream reported more than the request was reserved for (it ignored the bound it was sent, or
 * priced above the synced price): what it reported is settled and charged, since it is real spend, and
 * the human hears of it with the request named (the daemon records it in the audit log).
 */
function overrun(ctx: RequestContext, reservation: Reservation, row: LedgerRow): void {
  const e = { ts: row.ts, request_id: ctx.requestId, token_id: row.token_id, route: row.route, model: row.model, reserved_micros: reservation.micros, charged_micros: row.cost_micros };
  ctx.deps.log.warn(e, 'the upstream reported more than this request was reserved for; charged as reported');
  ctx.deps.events.emit('overrun', e);
}

/** One ledger row, spend charged to the whole chain, the reservation released once that is committed. */
async function settleForwarded(ctx: RequestContext, reservation: Reservation | null, row: LedgerRow): Promise<void> {
  try {
    await ctx.deps.budgets.record(reservation, ctx.principal.chain, row);
  } catch (err) {
    // The response is already on its way; keep the reservation so the money stays counted, and say so loudly.
    ctx.deps.log.error({ err, requestId: ctx.requestId, tokenId: row.token_id }, 'could not write the ledger row; it and its reservation are held until the disk accepts writes again');
  }
}
