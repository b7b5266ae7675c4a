/**
 * Routes answered by the sidecar itself for local tokens, SkillBoss-compatible:
 * balance, minting children, revoking descendants, rotating one's own key.
 */
import { z } from 'zod';
import { badRequest, forbidden, notFound } from '../core/errors.js';
import { microsToUsd, usdToMicros } from '../core/money.js';
import { DAY_MS, periodOf, periodResetAt } from '../core/time.js';
import { hashToken, isWellFormedToken } from '../tokens/format.js';
import { parseScopes, type Scope } from '../tokens/scopes.js';
import { DEFAULT_GRACE_MS, type Created, type Token } from '../tokens/store.js';
import { autoRotate } from '../lifecycle/http.js';
import { lifecycleOf } from '../lifecycle/scheduler.js';
import { handlePollAccess, handleRequestAccess } from '../access/http.js';
import { requireCurrentSecret } from './authorize.js';
import type { RequestBody } from './body.js';
import type { LedgerRow } from './budget.js';
import type { OpenRequestContext, RequestContext } from './handler.js';
import { sendJson } from './respond.js';

const scopesField = z.array(z.string()).min(1).max(7);
const usd = z.number().nonnegative().max(1_000_000);
const days = z.number().int().positive().max(36_500);

const createKeySchema = z.strictObject({
  name: z.string().trim().min(1).max(100),
  scopes: scopesField,
  monthly_budget: usd.nullish(),
  expiration_days: days.nullish(),
});
const createChildSchema = z.strictObject({
  child_name: z.string().trim().min(1).max(100),
  child_budget: usd.nullish(),
  scopes: scopesField,
  expiration_days: days.nullish(),
});
const rotateSchema = z.strictObject({ grace_days: z.number().min(0).max(30).optional() });

function parse<T>(schema: z.ZodType<T>, json: unknown): T {
  const r = schema.safeParse(json ?? {});
  if (r.success) return r.data;
  const details: Record<string, string> = {};
  for (const i of r.error.issues) details[i.path.join('.') || 'body'] = i.message;
  const [field, msg] = Object.entries(details)[0]!;
  throw badRequest('invalid_request', `Invalid request body: ${field}: ${msg}.`, details);
}

export async function handleLocal(ctx: RequestContext, body: RequestBody): Promise<void> {
  switch (ctx.route.def.local) {
    case 'balance':
      return sendJson(ctx.res, 200, balance(ctx));
    case 'create-key': {
      const b = parse(createKeySchema, body.json);
      return mint(ctx, b.name, b.scopes, b.monthly_budget, b.expiration_days);
    }
    case 'create-child': {
      const b = parse(createChildSchema, body.json);
      return mint(ctx, b.child_name, b.scopes, b.child_budget, b.expiration_days);
    }
    case 'revoke':
      return revoke(ctx);
    case 'rotate':
      return rotate(ctx, parse(rotateSchema, body.json));
    case 'auto-rotate': {
      const out = await autoRotate(ctx.deps, ctx.principal, body.json);
      record(ctx, 200);
      return sendJson(ctx.res, 200, out);
    }
    default:
      throw notFound('unknown_route', 'unknown route');
  }
}

/** Routes for agents without a token (`auth: false`): asking for access and collecting the answer. */
export async function handleOpen(ctx: OpenRequestContext, body: RequestBody): Promise<void> {
  switch (ctx.route.def.local) {
    case 'request-access':
      return handleRequestAccess(ctx, body);
    case 'poll-access':
      return handlePollAccess(ctx);
    default:
      throw notFound('unknown_route', 'unknown route');
  }
}

function record(ctx: RequestContext, status: number): void {
  const row: LedgerRow = {
    ts: ctx.now,
    request_id: ctx.requestId,
    token_id: ctx.principal.token.id,
    method: ctx.req.method ?? 'GET',
    route: ctx.route.def.path,
    model: null,
    prompt_tokens: 0,
    completion_tokens: 0,
    cost_micros: 0,
    status,
    latency_ms: performance.now() - ctx.startedAt,
    streamed: 0,
    usage_source: 'none',
    cost_source: 'none',
    error_code: null,
  };
  // Nothing was charged: the answer need not wait for the commit.
  ctx.deps.budgets.settle(null, ctx.principal.chain, row).catch((err: unknown) => {
    ctx.deps.log.error({ err, requestId: ctx.requestId }, 'could not record a local request in the ledger');
  });
}

function balance(ctx: RequestContext) {
  const { deps, principal, now } = ctx;
  const t = principal.token;
  const rem = deps.budgets.remaining(principal.chain, now);
  const up = deps.upstreamState.get();
  const spent = deps.budgets.spent(t.id, now);
  record(ctx, 200);
  const remainingUsd = rem.remainingMicros === null ? null : microsToUsd(Math.max(0, rem.remainingMicros));
  return {
    object: 'balance',
    token_id: t.id,
    name: t.name,
    currency: 'USD',
    // SkillBoss's own field: what this key can still spend (the account balance when it has no budget).
    balance: remainingUsd ?? up.balanceUsd,
    period: periodOf(now),
    monthly_budget: t.monthlyBudget === null ? null : microsToUsd(t.monthlyBudget),
    spent: microsToUsd(spent),
    reserved: microsToUsd(deps.budgets.reservedFor(t.id)),
    remaining: remainingUsd,
    remaining_limited_by: rem.tokenId,
    resets_at: new Date(periodResetAt(now)).toISOString(),
    auto_recharge_enabled: false,
    upstream: { balance: up.balanceUsd, synced_at: up.balanceSyncedAt === null ? null : new Date(up.balanceSyncedAt).toISOString() },
  };
}

function tokenJson(t: Token) {
  return {
    id: t.id,
    name: t.name,
    scopes: t.scopes,
    monthly_budget: t.monthlyBudget === null ? null : microsToUsd(t.monthlyBudget),
    expires_at: t.expiresAt === null ? null : new Date(t.expiresAt).toISOString(),
    parent_id: t.parentId,
    created_at: new Date(t.createdAt).toISOString(),
  };
}

function mint(ctx: RequestContext, name: string, scopesIn: string[], budgetUsd: number | null | undefined, expirationDays: number | null | undefined): void {
  const { deps, principal, now } = ctx;
  requireCurrentSecret(principal, 'mint child keys');
  let scopes: Scope[];
  try {
    scopes = parseScopes(scopesIn);
  } catch (err) {
    throw badRequest('invalid_scope', (err as Error).message, { scopes: (err as Error).message });
  }
  // A child inherits its parent's expiry when it asks for none.
  const parentExpiry = principal.chain.reduce<number | null>((m, t) => (t.expiresAt !== null && (m === null || t.expiresAt < m) ? t.expiresAt : m), null);
  const expiresAt = expirationDays ? now + expirationDays * DAY_MS : parentExpiry;
  const created: Created = deps.tokens.create(
    {
      name,
      scopes,
      monthlyBudget: budgetUsd === null || budgetUsd === undefined ? null : usdToMicros(budgetUsd),
      expiresAt,
      parentId: principal.token.id,
    },
    principal.token.id,
  );
  deps.principals.clear();
  record(ctx, 200);
  sendJson(ctx.res, 200, { ...tokenJson(created.token), api_key: created.secret, key_id: created.token.id });
}

function revoke(ctx: RequestContext): void {
  const { deps, principal } = ctx;
  requireCurrentSecret(principal, 'revoke keys');
  const ref = ctx.route.params[0] ?? '';
  let targetId: string | undefined;
  if (ref.startsWith('tok_')) targetId = ref;
  else if (isWellFormedToken(ref)) targetId = deps.tokens.findSecret(hashToken(ref))?.token_id;
  const target = targetId ? deps.tokens.get(targetId) : undefined;
  if (!target) throw notFound('token_not_found', 'No such key among this token\'s descendants.');
  if (target.id === principal.token.id) throw forbidden('cannot_revoke_self', 'A key cannot revoke itself through this route; ask the human, or let it expire.');
  const chain = deps.tokens.chain(target.id);
  if (!chain.some((t) => t.id === principal.token.id)) {
    // Do not confirm that a token outside the caller's tree exists.
    throw notFound('token_not_found', 'No such key among this token\'s descendants.');
  }
  const revoked = deps.tokens.revoke(target.id, principal.token.id, `revoked by ${principal.token.id}`);
  deps.principals.clear();
  record(ctx, 200);
  sendJson(ctx.res, 200, { revoked: true, id: target.id, revoked_ids: revoked });
}

function rotate(ctx: RequestContext, b: { grace_days?: number | undefined }): void {
  const { deps, principal } = ctx;
  requireCurrentSecret(principal, 'rotate');
  const graceMs = b.grace_days === undefined ? DEFAULT_GRACE_MS : b.grace_days * DAY_MS;
  const r = deps.tokens.rotate(principal.token.id, graceMs, principal.token.id);
  deps.principals.clear();
  deps.events.emit('rotation', { token_id: principal.token.id, kind: 'manual' });
  // The env sink is rewritten now; a registered webhook hears of it too.
  void lifecycleOf(deps)?.delivered(r.token, r.secret, r.oldSecretExpiresAt);
  record(ctx, 200);
  sendJson(ctx.res, 200, {
    id: principal.token.id,
    new_api_key: r.secret,
    old_key_expires_at: new Date(r.oldSecretExpiresAt).toISOString(),
  });
}
