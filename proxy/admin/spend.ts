/**
 * Budget periods, top-ups and holds in the admin API (issue 16):
 * `POST /tokens/{id}/topup`, `POST /tokens/{id}/hold/approve|deny`,
 * `GET /holds`, and the fields token create/patch accept for them.
 */
import { Router, type Request } from 'express';
import * as z from 'zod';
import { usdToMicros } from '../core/money.js';
import { decideHold, heldTokens, setHoldLimits, topUp } from '../spend/holds.js';
import type { BudgetPeriod } from '../core/period.js';
import { actorOf, type AdminActor } from './auth.js';
import type { AdminContext } from './context.js';
import { parseInput } from './validate.js';
import { amountField, periodField, tokenIdField } from '../core/fields.js';

export const budgetPeriodField = periodField;
const positiveUsd = amountField;
export const holdFields = {
  /** Spend per budget period past which the token waits for a person (USD; null removes). */
  hold_above_usd: positiveUsd.nullable().optional(),
  /** Spend per rolling hour past which the token waits for a person (USD; null removes). */
  hold_rate_usd: positiveUsd.nullable().optional(),
};

const idParam = tokenIdField;
const topupSchema = z.strictObject({ amount_usd: positiveUsd });
const approveSchema = z.strictObject({ hold_above_usd: positiveUsd.optional() });
const denySchema = z.strictObject({});

const micros = (usd: number | null | undefined) => (usd === undefined ? undefined : usd === null ? null : usdToMicros(usd));

/** The budget part of a PATCH, inside the caller's transaction. */
export function applyBudgetPatch(
  ctx: AdminContext,
  id: string,
  b: { monthly_budget_usd?: number | null | undefined; budget_period?: BudgetPeriod | undefined; hold_above_usd?: number | null | undefined; hold_rate_usd?: number | null | undefined },
  now: number,
  actor: AdminActor,
): void {
  const { tokens } = ctx.deps;
  if (b.monthly_budget_usd !== undefined || b.budget_period !== undefined) {
    const cur = tokens.require(id);
    const budget = b.monthly_budget_usd === undefined ? cur.budget : micros(b.monthly_budget_usd)!;
    tokens.setBudget(id, budget, actor, b.budget_period);
  }
  if (b.hold_above_usd !== undefined || b.hold_rate_usd !== undefined) {
    setHoldLimits(ctx.db, tokens, id, { holdAbove: micros(b.hold_above_usd), holdRate: micros(b.hold_rate_usd) }, actor, now);
  }
}

export function spendRouter(ctx: AdminContext): Router {
  const r = Router();
  const { deps } = ctx;
  const tokenId = (req: Request) => deps.tokens.require(parseInput(idParam, req.params.id, 'token id')).id;
  const viewOf = (id: string) => ctx.views.build([...deps.tokens.chain(id)].reverse(), deps.clock()).at(-1)!;

  r.get('/holds', (_req, res) => {
    const now = deps.clock();
    const held = heldTokens(deps.tokens, ctx.db);
    const views = new Map(ctx.views.build(deps.tokens.list(), now).map((v) => [v.id, v]));
    res.json({
      data: held.map(({ token, hold }) => ({
        token: views.get(token.id),
        kind: hold?.kind ?? null,
        spent_usd: hold ? hold.spent_micros / 1e6 : null,
        threshold_usd: hold ? hold.threshold_micros / 1e6 : null,
      })),
    });
  });

  r.post('/tokens/:id/topup', (req, res) => {
    const id = tokenId(req);
    const b = parseInput(topupSchema, req.body);
    topUp(ctx.db, deps.tokens, id, usdToMicros(b.amount_usd), actorOf(req), deps.clock());
    deps.principals.clear();
    res.json({ token: viewOf(id) });
  });

  const decide = (decision: 'approved' | 'denied') => (req: Request, res: import('express').Response) => {
    const id = tokenId(req);
    const b = parseInput(decision === 'approved' ? approveSchema : denySchema, req.body) as { hold_above_usd?: number };
    const now = deps.clock();
    const t = decideHold(ctx.db, deps.tokens, id, decision, actorOf(req), now, b.hold_above_usd === undefined ? {} : { holdAbove: usdToMicros(b.hold_above_usd) });
    deps.principals.clear();
    deps.events.emit('hold', { kind: decision, token_id: id, name: t.name, reason: '', ts: now });
    res.json({ token: viewOf(id) });
  };
  r.post('/tokens/:id/hold/approve', decide('approved'));
  r.post('/tokens/:id/hold/deny', decide('denied'));
  return r;
}
