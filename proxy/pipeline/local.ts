/**
 * Stage 5 for local routes, local answer: routes the sidecar answers itself.
 * The pipeline's own, for local tokens and SkillBoss-compatible: balance,
 * minting children, revoking descendants, rotating one's own key. The others
 * (access requests, automatic rotation, a dialect's own routes such as
 * Anthropic's count_tokens) belong to features and dialects above the
 * pipeline; the daemon hands their handlers in as `deps.localRoutes`.
 */
import * as z from 'zod';
import { badRequest, forbidden, notFound } from '../core/errors.js';
import { microsToUsd, usdToMicros } from '../core/money.js';
import { parseInput } from '../core/validate.js';
import { DAY_MS } from '../core/time.js';
import { windowOf, type BudgetPeriod } from '../core/period.js';
import { amountField, countField, durationField, modelsField, periodField } from '../core/fields.js';
import { hashToken, isWellFormedToken } from '../tokens/format.js';
import { parseScopes, type Scope } from '../tokens/scopes.js';
import { DEFAULT_GRACE_MS, type Created } from '../tokens/store.js';
import { tokenJson } from '../../wire/tokens.js';
import { requireCurrentSecret } from './authorize.js';
import type { RequestBody } from './body.js';
import type { LocalAnswer, LocalRoute, OpenRequestContext, OpenRoute, RequestContext } from './context.js';
import { ledgerRow } from './meter.js';
import { sendJson } from './respond.js';
import type { LocalHandler, OpenLocalHandler } from './routes.js';

const scopesField = z.array(z.string()).min(1).max(7);
// The field rules every path in shares (core/fields.ts): a budget is more than 0 USD with at most 6 decimals.
const usd = amountField;
const days = countField(36_500);

const createKeySchema = z.strictObject({
  name: z.string().trim().min(1).max(100),
  scopes: scopesField,
  monthly_budget: usd.nullish(),
  budget_period: periodField.nullish(),
  expiration_days: days.nullish(),
  models: modelsField.nullish(),
});
const createChildSchema = z.strictObject({
  child_name: z.string().trim().min(1).max(100),
  child_budget: usd.nullish(),
  budget_period: periodField.nullish(),
  scopes: scopesField,
  expiration_days: days.nullish(),
  /** Patterns within the parent's list; none under a restricted parent: the parent's list. */
  models: modelsField.nullish(),
});
const rotateSchema = z.strictObject({ grace_days: durationField(30).optional() });

/** The routes answered by the pipeline itself; the daemon adds the features' ones. */
export const TOKEN_ROUTES = {
  balance: (ctx) => ok(balance(ctx)),
  'create-key': (ctx, body) => {
    const b = parseInput(createKeySchema, body.json);
    return mint(ctx, b.name, b.scopes, b.monthly_budget, b.expiration_days, b.budget_period, b.models);
  },
  'create-child': (ctx, body) => {
    const b = parseInput(createChildSchema, body.json);
    return mint(ctx, b.child_name, b.scopes, b.child_budget, b.expiration_days, b.budget_period, b.models);
  },
  revoke: (ctx) => revoke(ctx),
  rotate: (ctx, body) => rotate(ctx, parseInput(rotateSchema, body.json)),
} satisfies Partial<Record<LocalHandler, LocalRoute>>;

const ok = (body: unknown): LocalAnswer => ({ status: 200, body });

const OPEN_ROUTES: ReadonlySet<LocalHandler> = new Set<OpenLocalHandler>(['request-access', 'poll-access']);
const isOpen = (name: LocalHandler): name is OpenLocalHandler => OPEN_ROUTES.has(name);

/** A local route for a token holder: answered, and recorded in the ledger (nothing is charged). */
export async function answerLocal(ctx: RequestContext, body: RequestBody): Promise<void> {
  const name = ctx.route.def.local;
  if (!name) throw notFound('unknown_route', 'unknown route');
  const handler: LocalRoute | OpenRoute = ctx.deps.localRoutes[name];
  const answer = await handler(ctx, body);
  // Nothing was charged: the answer need not wait for the commit.
  const row = ledgerRow(ctx, ctx.now, { status: answer.status });
  ctx.deps.budgets.record(null, ctx.principal.chain, row).catch((err: unknown) => {
    ctx.deps.log.error({ err, requestId: ctx.requestId }, 'could not record a local request in the ledger');
  });
  sendJson(ctx.res, answer.status, answer.body, answer.headers);
}

/** Routes for agents without a token (`auth: false`): asking for access and collecting the answer. Nothing to record. */
export async function answerOpen(ctx: OpenRequestContext, body: RequestBody): Promise<void> {
  const name = ctx.route.def.local;
  if (!name || !isOpen(name)) throw notFound('unknown_route', 'unknown route');
  const handler: OpenRoute = ctx.deps.localRoutes[name];
  const answer = await handler(ctx, body);
  sendJson(ctx.res, answer.status, answer.body, answer.headers);
}

function balance(ctx: RequestContext) {
  const { deps, principal, now } = ctx;
  const t = principal.token;
  const rem = deps.budgets.remaining(principal.chain, now);
  const up = deps.upstreamState.get();
  const spent = deps.budgets.periodSpent(t, now);
  const own = windowOf(t.budgetPeriod, now);
  // The hold in force on this token or an ancestor: the agent can see it is waiting for a person.
  const heldBy = principal.chain.find((c) => deps.budgets.holdOf(c) !== null);
  const hold = heldBy ? deps.budgets.holdOf(heldBy)! : null;
  const resetsAt = rem.tokenId !== null ? rem.resetsAt : own.end;
  const remainingUsd = rem.remainingMicros === null ? null : microsToUsd(Math.max(0, rem.remainingMicros));
  return {
    object: 'balance',
    token_id: t.id,
    name: t.name,
    currency: 'USD',
    // SkillBoss's own field: what this key can still spend (the account balance when it has no budget).
    balance: remainingUsd ?? up.balanceUsd,
    period: own.key,
    budget_period: t.budgetPeriod,
    budget: t.budget === null ? null : microsToUsd(t.budget),
    monthly_budget: t.budget === null ? null : microsToUsd(t.budget),
    spent: microsToUsd(spent),
    reserved: microsToUsd(deps.budgets.reservedFor(t.id)),
    remaining: remainingUsd,
    remaining_limited_by: rem.tokenId,
    // null: the tightest budget is prepaid (total) and never resets.
    resets_at: resetsAt === null ? null : new Date(resetsAt).toISOString(),
    held: hold !== null,
    hold: hold && heldBy ? { token_id: heldBy.id, state: hold.state, since: new Date(hold.since).toISOString(), reason: hold.reason } : null,
    hold_above: t.holdAbove === null ? null : microsToUsd(t.holdAbove),
    hold_rate_per_hour: t.holdRate === null ? null : microsToUsd(t.holdRate),
    auto_recharge_enabled: false,
    upstream: { balance: up.balanceUsd, synced_at: up.balanceSyncedAt === null ? null : new Date(up.balanceSyncedAt).toISOString() },
  };
}

function mint(
  ctx: RequestContext,
  name: string,
  scopesIn: string[],
  budgetUsd: number | null | undefined,
  expirationDays: number | null | undefined,
  period: BudgetPeriod | null | undefined,
  models: string[] | null | undefined,
): LocalAnswer {
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
      budget: budgetUsd === null || budgetUsd === undefined ? null : usdToMicros(budgetUsd),
      ...(period ? { budgetPeriod: period } : {}),
      expiresAt,
      parentId: principal.token.id,
      models: models ?? null,
    },
    principal.token.id,
  );
  deps.principals.clear();
  return ok({ ...tokenJson(created.token), api_key: created.secret, key_id: created.token.id });
}

function revoke(ctx: RequestContext): LocalAnswer {
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
  return ok({ revoked: true, id: target.id, revoked_ids: revoked });
}

function rotate(ctx: RequestContext, b: { grace_days?: number | undefined }): LocalAnswer {
  const { deps, principal } = ctx;
  requireCurrentSecret(principal, 'rotate');
  const graceMs = b.grace_days === undefined ? DEFAULT_GRACE_MS : b.grace_days * DAY_MS;
  const r = deps.tokens.rotate(principal.token.id, graceMs, principal.token.id);
  deps.principals.clear();
  deps.events.emit('rotation', { token_id: principal.token.id, kind: 'manual' });
  // The env sink is rewritten now; a registered webhook hears of it too.
  void deps.rotations()?.delivered(r.token, r.secret, r.oldSecretExpiresAt);
  return ok({
    id: principal.token.id,
    new_api_key: r.secret,
    old_key_expires_at: new Date(r.oldSecretExpiresAt).toISOString(),
  });
}
