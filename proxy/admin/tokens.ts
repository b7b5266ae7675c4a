/**
 * `/admin/api/tokens`: list (with spend this period), tree, create, rotate,
 * revoke, edit. The hierarchy rules are the store's (tokens/rules.ts); a rule
 * broken is a 403 naming it, a malformed field a 400 naming the field.
 */
import { Router, type Request } from 'express';
import * as z from 'zod';
import { badRequest } from '../core/errors.js';
import { microsToUsd, usdToMicros } from '../core/money.js';
import { audit } from '../db/records.js';
import { ledgerStore } from '../db/ledger-store.js';
import { DAY_MS } from '../core/time.js';
import { PRINTABLE, PRINTABLE_MESSAGE } from '../core/text.js';
import { PRESETS, SCOPES, type Scope } from '../tokens/scopes.js';
import { DEFAULT_GRACE_MS, type Token } from '../tokens/store.js';
import { actorOf } from './auth.js';
import type { AdminContext } from './context.js';
import { instant, parseInput } from './validate.js';
import { amountField, countField, durationField, modelsField, tokenIdField } from '../core/fields.js';
import { toTree, type TokenView } from './views.js';
import { listQuery, tokenPage, tokenSummaries } from './token-list.js';
import { spendByWindow } from '../spend/views.js';
import { windowOf } from '../core/period.js';
import { budgetPeriodField, holdFields, applyBudgetPatch } from './spend.js';

const scopeList = z.array(z.enum(SCOPES, { message: `each scope must be one of ${SCOPES.join(', ')}` })).min(1, 'pick at least one scope').max(SCOPES.length);
const expiresField = z
  .string()
  .max(40)
  .refine((s) => s === 'never' || /^\d{1,5}d$/.test(s) || !Number.isNaN(Date.parse(s)), 'expected never, a number of days such as 30d, or a date such as 2027-01-31');

const createSchema = z
  .strictObject({
    name: z.string().trim().min(1, 'a token needs a name').max(100, 'at most 100 characters').regex(PRINTABLE, PRINTABLE_MESSAGE),
    preset: z.enum(Object.keys(PRESETS) as [keyof typeof PRESETS, ...Array<keyof typeof PRESETS>], { message: `expected one of ${Object.keys(PRESETS).join(', ')}` }).optional(),
    scopes: scopeList.optional(),
    monthly_budget_usd: amountField.nullable().optional(),
    budget_period: budgetPeriodField.optional(),
    ...holdFields,
    expires: expiresField.optional(),
    parent_id: tokenIdField.nullable().optional(),
    rpm: countField(1_000_000).nullable().optional(),
    max_concurrent: countField(10_000).nullable().optional(),
    /** Patterns (wire/allowlist.ts); null or left out: every model (a child: its parent's list). */
    models: modelsField.nullable().optional(),
  })
  .superRefine((b, ctx) => {
    if ((b.preset === undefined) === (b.scopes === undefined)) ctx.addIssue({ code: 'custom', path: ['scopes'], message: 'give either a preset or a list of scopes' });
  });

const rotateSchema = z.strictObject({
  grace_days: durationField(30).optional(),
  /** The CLI waits for the webhook's delivery to report it; the dashboard does not. */
  wait_for_webhook: z.boolean().optional(),
});
const pauseSchema = z.strictObject({ paused: z.boolean({ message: 'expected true or false' }) });
const revokeSchema = z.strictObject({ reason: z.string().trim().min(1).max(200, 'at most 200 characters').optional() });
const patchSchema = z
  .strictObject({
    name: z.string().trim().min(1, 'a token needs a name').max(100, 'at most 100 characters').regex(PRINTABLE, PRINTABLE_MESSAGE).optional(),
    scopes: scopeList.optional(),
    monthly_budget_usd: amountField.nullable().optional(),
    budget_period: budgetPeriodField.optional(),
    ...holdFields,
    expires_at: instant.nullable().optional(),
    rpm: countField(1_000_000).nullable().optional(),
    max_concurrent: countField(10_000).nullable().optional(),
    models: modelsField.nullable().optional(),
  })
  .refine((b) => Object.keys(b).length > 0, { message: 'nothing to change', path: ['body'] });

const idParam = tokenIdField;

function expiryFrom(input: string | undefined, now: number, chain: readonly Token[]): number | null {
  if (input === undefined) {
    // Like minting through /v1: a child asking for no expiry inherits its ancestors' earliest.
    return chain.reduce<number | null>((m, t) => (t.expiresAt !== null && (m === null || t.expiresAt < m) ? t.expiresAt : m), null);
  }
  if (input === 'never') return null;
  const days = /^(\d+)d$/.exec(input);
  const at = days ? now + Number(days[1]) * DAY_MS : Date.parse(input);
  if (at <= now) throw badRequest('invalid_expiry', 'Invalid request body: expires: the expiry must be in the future.', { expires: 'must be in the future' });
  return at;
}

export function tokensRouter(ctx: AdminContext): Router {
  const r = Router();
  const { deps } = ctx;

  const view = (id: string): TokenView => {
    const now = deps.clock();
    const chain = deps.tokens.chain(id);
    return ctx.views.build(chain.length ? [...chain].reverse() : [deps.tokens.require(id)], now).at(-1)!;
  };
  const tokenParam = (req: Request): Token => deps.tokens.require(parseInput(idParam, req.params.id, 'token id'));
  const changed = () => deps.principals.clear();
  const ledger = ledgerStore(ctx.db);

  r.get('/', (req, res) => {
    const now = deps.clock();
    // Without a query: every token (the overview, the tray, scripts). With one: a page of them (the Tokens page).
    if (Object.keys(req.query).length === 0) {
      const views = ctx.views.build(deps.tokens.list(), now);
      return void res.json({ data: views, total: views.length, all: views.length });
    }
    const q = parseInput(listQuery, req.query, 'query');
    res.json(tokenPage(tokenSummaries(ctx.db), q, { now, spend: spendByWindow(ctx.db, now), lastUsed: (id) => ledger.lastUsed(id), token: (id) => deps.tokens.require(id), build: (ts) => ctx.views.build(ts, now) }));
  });

  r.get('/tree', (_req, res) => {
    res.json({ data: toTree(ctx.views.build(deps.tokens.list(), deps.clock())) });
  });

  r.get('/:id', (req, res) => {
    const t = tokenParam(req);
    const now = deps.clock();
    // spent_usd counts the whole subtree (spend is charged up the chain); own_spent_usd is this token's calls alone,
    // over the same window (the token's budget period; a prepaid budget's window is all time).
    const own = ledger.ownCostSince(t.id, windowOf(t.budgetPeriod, now).start ?? 0);
    res.json({
      ...view(t.id),
      own_spent_usd: microsToUsd(own),
      subtree: deps.tokens.subtree(t.id).map((d) => ({ id: d.id, name: d.name, revoked: d.revokedAt !== null })),
    });
  });

  r.post('/:id/pause', (req, res) => {
    const t = tokenParam(req);
    const b = parseInput(pauseSchema, req.body);
    if (t.revokedAt !== null) throw badRequest('token_revoked', `Token ${t.id} is revoked; there is nothing to pause.`);
    const { pausedAt: _was, ...rest } = t.meta;
    const now = deps.clock();
    if (b.paused !== (t.meta.pausedAt !== undefined)) {
      ctx.db.transaction(() => {
        deps.tokens.setMeta(t.id, b.paused ? { ...rest, pausedAt: now } : rest);
        audit(ctx.db, now, { actor: actorOf(req), event: b.paused ? 'token.pause' : 'token.resume', tokenId: t.id, detail: {} });
      })();
      changed();
    }
    res.json({ token: view(t.id) });
  });

  r.post('/', (req, res) => {
    const b = parseInput(createSchema, req.body);
    const now = deps.clock();
    const chain = b.parent_id ? deps.tokens.chain(b.parent_id) : [];
    if (b.parent_id && chain.length === 0) throw badRequest('invalid_parent', 'Invalid request body: parent_id: no such token.', { parent_id: 'no such token' });
    const scopes: Scope[] = b.scopes ?? [...PRESETS[b.preset!]];
    const created = deps.tokens.create(
      {
        name: b.name,
        scopes,
        budget: b.monthly_budget_usd === undefined || b.monthly_budget_usd === null ? null : usdToMicros(b.monthly_budget_usd),
        ...(b.budget_period ? { budgetPeriod: b.budget_period } : {}),
        holdAbove: b.hold_above_usd == null ? null : usdToMicros(b.hold_above_usd),
        holdRate: b.hold_rate_usd == null ? null : usdToMicros(b.hold_rate_usd),
        expiresAt: expiryFrom(b.expires, now, chain),
        parentId: b.parent_id ?? null,
        rpm: b.rpm ?? null,
        maxConcurrent: b.max_concurrent ?? null,
        models: b.models ?? null,
      },
      actorOf(req),
    );
    changed();
    res.status(201).json({ token: view(created.token.id), secret: created.secret });
  });

  r.post('/:id/rotate', async (req, res) => {
    const t = tokenParam(req);
    const b = parseInput(rotateSchema, req.body);
    const rot = deps.tokens.rotate(t.id, b.grace_days === undefined ? DEFAULT_GRACE_MS : b.grace_days * DAY_MS, actorOf(req));
    changed();
    deps.events.emit('rotation', { token_id: t.id, kind: 'manual' });
    // Like the CLI and the agent's own rotate: the env sink is rewritten now, a registered webhook hears of it.
    const delivery = deps.rotations()?.delivered(rot.token, rot.secret, rot.oldSecretExpiresAt);
    const webhook = b.wait_for_webhook && delivery ? ((await delivery) as { ok: boolean; attempts: number; reason: string | null } | null) : undefined;
    res.json({
      token: view(t.id),
      secret: rot.secret,
      old_secret_expires_at: new Date(rot.oldSecretExpiresAt).toISOString(),
      ...(webhook === undefined ? {} : { webhook: webhook && { delivered: webhook.ok, attempts: webhook.attempts, detail: webhook.reason } }),
    });
  });

  r.post('/:id/revoke', (req, res) => {
    const t = tokenParam(req);
    const b = parseInput(revokeSchema, req.body);
    const revoked = deps.tokens.revoke(t.id, actorOf(req), b.reason ?? 'revoked from the dashboard');
    changed();
    res.json({ revoked });
  });

  r.patch('/:id', (req, res) => {
    const t = tokenParam(req);
    const b = parseInput(patchSchema, req.body);
    if (t.revokedAt !== null) throw badRequest('token_revoked', `Token ${t.id} is revoked; a revoked token cannot be edited.`);
    const now = deps.clock();
    let narrowed: string[] = [];
    // One transaction: a PATCH that breaks a rule in its last field changes nothing.
    ctx.db.transaction(() => {
      if (b.name !== undefined && b.name !== t.name) ctx.editor.rename(t, b.name, actorOf(req), now);
      if (b.scopes !== undefined) narrowed = ctx.editor.setScopes(deps.tokens.require(t.id), b.scopes, actorOf(req), now);
      if (b.expires_at !== undefined) ctx.editor.setExpiry(deps.tokens.require(t.id), b.expires_at, actorOf(req), now);
      applyBudgetPatch(ctx, t.id, b, now, actorOf(req));
      if (b.rpm !== undefined || b.max_concurrent !== undefined) {
        const cur = deps.tokens.require(t.id);
        deps.tokens.setLimits(t.id, { rpm: b.rpm === undefined ? cur.rpm : b.rpm, maxConcurrent: b.max_concurrent === undefined ? cur.maxConcurrent : b.max_concurrent }, actorOf(req));
      }
      if (b.models !== undefined) deps.tokens.setModels(t.id, b.models, actorOf(req));
    }).immediate();
    changed();
    res.json({ token: view(t.id), narrowed });
  });

  return r;
}
