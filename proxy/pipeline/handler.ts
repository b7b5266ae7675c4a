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
import { handleLocal } from './local.js';
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

export async function handleAgentRequest(req: IncomingMessage, res: ServerResponse, deps: PipelineDeps): Promise<void> {
  const startedAt = performance.now();
  const now = deps.clock();
  let route: MatchedRoute | undefined;
  let principal: Principal | undefined;
  const requestId = randomUUID();
  try {
    route = matchRoute(req.method ?? 'GET', req.url ?? '/');
    principal = authenticate(req, deps.principals, now);
    if (deps.paused()) throw unavailable('sidecar_paused', 'The human has paused all agents in the SkillBoss sidecar. Wait until they resume it.', 60);
    authorize(principal, route.def);
    const body = await readBody(req, route.def.body, deps.limits.maxBodyBytes);
    const ctx: RequestContext = { req, res, deps, requestId, startedAt, now, route, principal };
    if (route.def.local) await handleLocal(ctx, body);
    else await forwardRoute(ctx, body);
  } catch (err) {
    const e = asSidecarError(err);
    if (e.status >= 500 && e.code === 'internal_error') deps.log.error({ err: e.cause, requestId }, 'internal error in the agent pipeline');
    sendError(res, e);
    if (principal && route) recordRefusal(deps, principal, route, requestId, startedAt, now, e, req.method ?? 'GET');
  }
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
  try {
    deps.budgets.settle(null, principal.chain, row);
  } catch (err) {
    deps.log.error({ err, requestId }, 'could not record a refused request in the ledger');
  }
}
