/**
 * The two agent routes that need no token (issue 9):
 *   POST /v1/agents/request-access      {name, scopes, monthly_budget, expiration_days?, reason?} → 201
 *   GET  /v1/agents/request-access/{id}?secret=…   (the poll_url)
 * Poll answers: 200 pending (+ Retry-After), 200 approved with the token
 * (once), 200 denied (once), then 410; 410 expired; 429 slow_down; 404 for an
 * unknown id or a wrong secret alike.
 */
import * as z from 'zod';
import { usdToMicros } from '../core/money.js';
import { parseInput } from '../core/validate.js';
import { countField, modelsField, requiredAmount } from '../core/fields.js';
import type { RequestBody } from '../pipeline/body.js';
import type { LocalAnswer, LocalRoutes, OpenRequestContext } from '../pipeline/context.js';
import { PRINTABLE, PRINTABLE_MESSAGE as printable } from '../core/text.js';
import { SCOPES, isScope, type Scope } from '../tokens/scopes.js';
import { tokenJson } from '../../wire/tokens.js';
import { DEFAULT_EXPIRATION_DAYS, MAX_EXPIRATION_DAYS, type AccessRequest } from './model.js';
import { createOrNote } from './flood.js';
import type { AccessRequests } from './requests.js';

// Names and reasons are shown to the human: the shared rule of core/text.ts.

export const requestAccessSchema = z.strictObject({
  name: z.string({ error: 'required: a short name for this agent' }).trim().min(1, 'required: a short name for this agent').max(64).regex(PRINTABLE, printable),
  scopes: z
    .array(z.string(), { error: `required: a list of scopes from ${SCOPES.join(', ')}` })
    .min(1, 'ask for at least one scope')
    .max(SCOPES.length)
    .refine((list) => list.every(isScope), { error: (iss) => `unknown scope ${(iss.input as string[]).filter((s) => !isScope(s)).map((s) => JSON.stringify(s.slice(0, 40))).join(', ')}; valid scopes: ${SCOPES.join(', ')}` }),
  // The one money rule (core/fields.ts), as on every other path.
  monthly_budget: requiredAmount('required: the most this agent may spend a month, in USD'),
  expiration_days: countField(MAX_EXPIRATION_DAYS).optional(),
  reason: z.string().trim().max(500).regex(PRINTABLE, printable).nullish(),
  /** The models it needs (patterns such as gemini/*); left out: every model. The human may grant fewer. */
  models: modelsField.nullish(),
});

const EXAMPLE = 'Send {"name": "my-agent", "scopes": ["models:read", "models:use"], "monthly_budget": 5, "expiration_days": 30, "reason": "why"}.';

const NO_STORE = { 'cache-control': 'no-store' };

/** The handlers of the two routes, for the route table (the daemon hands them to the pipeline). */
export function accessRoutes(access: AccessRequests): Pick<LocalRoutes, 'request-access' | 'poll-access'> {
  return {
    'request-access': (ctx, body) => requestAccess(access, ctx, body),
    'poll-access': (ctx) => pollAccess(access, ctx),
  };
}

function requestAccess(access: AccessRequests, ctx: OpenRequestContext, body: RequestBody): LocalAnswer {
  const b = parseInput(requestAccessSchema, body.json, 'access request', EXAMPLE);
  const input = {
    name: b.name,
    scopes: b.scopes as Scope[],
    budget: usdToMicros(b.monthly_budget),
    expirationDays: b.expiration_days ?? DEFAULT_EXPIRATION_DAYS,
    reason: b.reason ?? null,
    models: b.models ?? null,
  };
  // A full queue turns the agent away; the human is told (flood.ts).
  const { request, pollSecret } = createOrNote(access, input, ctx.deps.clock());
  ctx.deps.log.info({ event: 'access.create', name: request.name, scopes: request.requested.scopes }, 'an agent asked for access');
  const interval = access.options.pollIntervalS;
  // The Host header was checked by the guards to name this sidecar on loopback, so it is safe to build the URL from.
  const pollUrl = `http://${ctx.req.headers.host}/v1/agents/request-access/${request.id}?secret=${pollSecret}`;
  return {
    status: 201,
    body: {
      object: 'access_request',
      request_id: request.id,
      status: 'pending',
      name: request.name,
      user_code: request.userCode,
      poll_url: pollUrl,
      expires_at: new Date(request.expiresAt).toISOString(),
      interval,
      message:
        `Tell the human: "Please approve SkillBoss access request ${request.userCode} for ${request.name}" ` +
        `(sidecar dashboard, tray, or \`skillboss-sidecar requests approve ${request.userCode}\`). ` +
        `Then GET poll_url every ${interval} seconds until status is not pending. Keep poll_url private: it collects your key.`,
    },
    headers: { ...NO_STORE, location: `/v1/agents/request-access/${request.id}` },
  };
}

function pollAccess(access: AccessRequests, ctx: OpenRequestContext): LocalAnswer {
  const id = ctx.route.params[0] ?? '';
  const q = (ctx.req.url ?? '').indexOf('?');
  const secret = q === -1 ? '' : (new URLSearchParams((ctx.req.url ?? '').slice(q + 1)).get('secret') ?? '');
  const r = access.poll(id, secret);
  const interval = access.options.pollIntervalS;
  switch (r.status) {
    case 'pending':
      return { status: 200, body: { ...common(r.request), status: 'pending', interval }, headers: { ...NO_STORE, 'retry-after': String(interval) } };
    case 'denied':
      ctx.deps.log.info({ event: 'access.collect', name: r.request.name, state: 'denied' }, 'an agent learnt its access request was denied');
      return { status: 200, body: { ...common(r.request), status: 'denied', reason: r.request.denyReason }, headers: NO_STORE };
    case 'approved': {
      const t = r.token;
      const { name, scopes, monthly_budget, expires_at, models } = tokenJson(t);
      ctx.deps.log.info({ event: 'access.collect', name: t.name, token_id: t.id }, 'an agent collected its token');
      return {
        status: 200,
        body: {
          ...common(r.request),
          status: 'approved',
          api_key: r.secret,
          token_id: t.id,
          name,
          scopes,
          monthly_budget,
          expires_at,
          models,
          base_url: `http://${ctx.req.headers.host}/v1`,
          message: 'This key is shown once: store it now (e.g. as OPENAI_API_KEY with OPENAI_BASE_URL set to base_url). Later polls get 410.',
        },
        headers: NO_STORE,
      };
    }
  }
}

function common(r: AccessRequest) {
  return { object: 'access_request', request_id: r.id, user_code: r.userCode, expires_at: new Date(r.expiresAt).toISOString() };
}
