/**
 * The agent request path, in order:
 *   route → authenticate → authorize → body → (local answer | rate limit →
 *   estimate + reserve → forward → meter + settle).
 * Each stage is its own module; this file only calls them in order and makes
 * sure every authenticated request leaves exactly one ledger row.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { randomUUID } from 'node:crypto';
import { asSidecarError, unavailable, type SidecarError } from '../core/errors.js';
import { authenticate, type Principal } from './authenticate.js';
import { authorize } from './authorize.js';
import { readBody } from './body.js';
import type { LedgerRow } from './budget.js';
import type { PipelineDeps } from './context.js';
import { forwardRoute } from './proxy.js';
import { handleLocal, handleOpen } from './local.js';
import { sendError } from './respond.js';
import { matchRoute, type MatchedRoute } from './routes.js';

export interface RequestContext {
  req: IncomingMessage;
  res: ServerResponse;
  deps: PipelineDeps;
  requestId: string;
  /** performance.now() when the request arrived. */
  startedAt: number;
  now: number;
  route: MatchedRoute;
  principal: Principal;
}

/** The context of a route that needs no token (`auth: false`): there is no principal. */
export type OpenRequestContext = Omit<RequestContext, 'principal'>;

/** Access requests are small; their bodies are held to this whatever the general limit. */
const OPEN_BODY_LIMIT = 16 * 1024;

const pausedError = () => unavailable('sidecar_paused', 'The human has paused all agents in the SkillBoss sidecar. Wait until they resume it.', 60);

export async function handleAgentRequest(req: IncomingMessage, res: ServerResponse, deps: PipelineDeps): Promise<void> {
  const startedAt = performance.now();
  const now = deps.clock();
  let route: MatchedRoute | undefined;
  let principal: Principal | undefined;
  const requestId = randomUUID();
  try {
    route = matchRoute(req.method ?? 'GET', req.url ?? '/');
    if (route.def.auth === false) return await handleOpenRoute({ req, res, deps, requestId, startedAt, now, route });
    principal = authenticate(req, deps.principals, now, deps.authLimiter);
    if (deps.paused()) throw pausedError();
    authorize(principal, route.def);
    const body = await readBody(req, route.def.body, deps.limits.maxBodyBytes, deps.limits.maxJsonDepth);
    const ctx: RequestContext = { req, res, deps, requestId, startedAt, now, route, principal };
    if (route.def.local) await handleLocal(ctx, body);
    else await forwardRoute(ctx, body);
  } catch (err) {
    const e = asSidecarError(err);
    if (e.status >= 500 && (e.code === 'internal_error' || e.code.startsWith('storage_'))) deps.log.error({ err: e.cause, requestId }, 'internal error in the agent pipeline');
    sendError(res, e);
    if (principal && route) recordRefusal(deps, principal, route, requestId, startedAt, now, e, req.method ?? 'GET');
  }
}

/** Agents without a token asking for one (issue 9): nothing to authenticate, authorize or meter. */
async function handleOpenRoute(ctx: OpenRequestContext): Promise<void> {
  if (ctx.deps.paused()) throw pausedError();
  const body = await readBody(ctx.req, ctx.route.def.body, Math.min(ctx.deps.limits.maxBodyBytes, OPEN_BODY_LIMIT), ctx.deps.limits.maxJsonDepth);
  await handleOpen(ctx, body);
}

function recordRefusal(
  deps: PipelineDeps,
  principal: Principal,
  route: MatchedRoute,
  requestId: string,
  startedAt: number,
  now: number,
  e: SidecarError,
  method: string,
): void {
  const row: LedgerRow = {
    ts: now,
    request_id: requestId,
    token_id: principal.token.id,
    method,
    route: route.def.path,
    model: null,
    prompt_tokens: 0,
    completion_tokens: 0,
    cost_micros: 0,
    status: e.status,
    latency_ms: performance.now() - startedAt,
    streamed: 0,
    usage_source: 'none',
    cost_source: 'none',
    error_code: e.code,
  };
  deps.budgets.settle(null, principal.chain, row).catch((err: unknown) => {
    deps.log.error({ err, requestId }, 'could not record a refused request in the ledger');
  });
}
