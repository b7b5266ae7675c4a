/**
 * `/admin/api/access-requests` (issue 9): the human's side of self-provisioning.
 *
 *   GET  /admin/api/access-requests[?all=1]     pending (oldest first), or every request (newest first)
 *   GET  /admin/api/access-requests/:ref        one, by id (areq_…) or by the user code the agent shows
 *   POST /admin/api/access-requests/:ref/approve  {monthly_budget?, scopes?, expiration_days?}  (USD, ≤ what was asked)
 *   POST /admin/api/access-requests/:ref/deny     {reason?}
 *   POST /admin/api/access-requests/clear         deny every pending request at once (a flood)
 *
 * The rules (never more than requested, only pending requests) are the
 * service's (proxy/access); here the body's shape is checked field by field.
 * No token secret passes through here: the agent collects it on its next poll.
 */
import { Router, type Request } from 'express';
import * as z from 'zod';
import { usdToMicros } from '../core/money.js';
import { clearPending, recentTurnedAway } from '../access/flood.js';
import { accessRequestJson, MAX_EXPIRATION_DAYS, type AccessRequest } from '../access/model.js';
import { SCOPES } from '../tokens/scopes.js';
import { actorOf } from './auth.js';
import type { AdminContext } from './context.js';
import { parseInput } from './validate.js';
import { amountField, countField, modelsField } from '../core/fields.js';

const listQuery = z.strictObject({ all: z.enum(['0', '1', 'true', 'false'], { message: 'expected 1 or 0' }).optional() });
// An id (areq_ + 20 base62) or a user code (8 letters, dash optional, any case): nothing longer is worth a lookup.
const refParam = z.string().trim().min(1).max(40, 'expected an access request id (areq_…) or its code (e.g. WDJB-MJHT)');

const approveSchema = z.strictObject({
  monthly_budget: amountField.optional(),
  scopes: z
    .array(z.enum(SCOPES, { message: `each scope must be one of ${SCOPES.join(', ')}` }))
    .min(1, 'grant at least one scope, or deny the request')
    .max(SCOPES.length)
    .optional(),
  expiration_days: countField(MAX_EXPIRATION_DAYS).optional(),
  /** Within what the agent asked for (any list, when it asked for every model). */
  models: modelsField.optional(),
});
const denySchema = z.strictObject({ reason: z.string().trim().max(500, 'at most 500 characters').optional() });

/** The CLI's JSON shape plus what a countdown needs without trusting the browser's clock. */
export function accessView(r: AccessRequest, now: number) {
  const open = r.status === 'pending' || r.status === 'approved';
  return { ...accessRequestJson(r, now), expires_in_seconds: open ? Math.max(0, Math.floor((r.expiresAt - now) / 1000)) : 0 };
}

/** Agents turned away by a full queue lately (a flood), when there were any. */
function turnedAway(ctx: AdminContext, now: number): { turned_away?: NonNullable<ReturnType<typeof recentTurnedAway>> } {
  const away = recentTurnedAway(ctx.db, now);
  return away ? { turned_away: away } : {};
}

export function accessRouter(ctx: AdminContext): Router {
  const r = Router();
  const { deps } = ctx;
  const ref = (req: Request) => parseInput(refParam, req.params.ref, 'access request');

  r.get('/', (req, res) => {
    const q = parseInput(listQuery, req.query, 'query');
    const access = ctx.access;
    const all = q.all === '1' || q.all === 'true';
    const now = deps.clock();
    const pending = access.listPending();
    res.json({ data: (all ? access.list(200) : pending).map((a) => accessView(a, now)), pending: pending.length, ...turnedAway(ctx, now) });
  });

  // Before /:ref, so "clear" is never read as a request's code.
  r.post('/clear', (req, res) => {
    res.json({ cleared: clearPending(ctx.access, actorOf(req)) });
  });

  r.get('/:ref', (req, res) => {
    res.json(accessView(ctx.access.find(ref(req)), deps.clock()));
  });

  r.post('/:ref/approve', (req, res) => {
    const id = ref(req);
    const b = parseInput(approveSchema, req.body);
    const approved = ctx.access.approve(
      id,
      {
        ...(b.scopes ? { scopes: b.scopes } : {}),
        ...(b.monthly_budget !== undefined ? { budget: usdToMicros(b.monthly_budget) } : {}),
        ...(b.expiration_days !== undefined ? { expirationDays: b.expiration_days } : {}),
        ...(b.models ? { models: b.models } : {}),
      },
      actorOf(req),
    );
    res.json(accessView(approved, deps.clock()));
  });

  r.post('/:ref/deny', (req, res) => {
    const id = ref(req);
    const b = parseInput(denySchema, req.body);
    res.json(accessView(ctx.access.deny(id, { reason: b.reason ?? null }, actorOf(req)), deps.clock()));
  });

  return r;
}
