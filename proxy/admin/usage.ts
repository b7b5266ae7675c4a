/**
 * `/admin/api/usage` (spend per day, per token, per model over a range, as
 * JSON or CSV) and `/admin/api/requests` (the ledger, newest first, filtered,
 * paginated by id). Both read the usage table through its ts index.
 */
import { Router, type Response } from 'express';
import * as z from 'zod';
import { badRequest } from '../core/errors.js';
import { microsToUsd } from '../core/money.js';
import { DAY_MS } from '../core/time.js';
import { ledgerStore, USAGE_GROUPS, type ServiceSpendRow, type UsageGroup } from '../db/ledger-store.js';
import { fallbackType } from '../pipeline/route-kinds.js';
import type { AdminContext } from './context.js';
import { isoDay, parseInput } from './validate.js';

const GROUPS = USAGE_GROUPS;
type Group = UsageGroup;

/** Groupings over the ledger's own columns, and the services views (issue 24): by vendor and by type of model. */
const BY = [...(Object.keys(GROUPS) as Group[]), 'vendor', 'type'] as const;

const usageQuery = z.strictObject({
  from: isoDay.optional(),
  to: isoDay.optional(),
  by: z.enum(BY as unknown as [string, ...string[]], { message: `expected one of ${BY.join(', ')}` }).default('day'),
  token: z.string().max(40).optional(),
  format: z.enum(['json', 'csv'], { message: 'expected json or csv' }).default('json'),
});

const requestsQuery = z.strictObject({
  token: z.string().max(40).optional(),
  model: z.string().max(200).optional(),
  status: z.enum(['all', 'ok', 'error'], { message: 'expected all, ok or error' }).default('all'),
  before: z.coerce.number().int().positive('must be a positive request id').optional(),
  limit: z.coerce.number().int().min(1, 'at least 1').max(500, 'at most 500').default(50),
});

import type { UsageRow } from '../../wire/admin.js';

export type { UsageRow };

/** The start of `day` (UTC) in ms, or of today / the first of this month. */
function rangeOf(q: { from?: string | undefined; to?: string | undefined }, now: number): { from: string; to: string; fromMs: number; toMs: number } {
  const today = new Date(now).toISOString().slice(0, 10);
  const from = q.from ?? `${today.slice(0, 7)}-01`;
  const to = q.to ?? today;
  const fromMs = Date.parse(`${from}T00:00:00Z`);
  const toMs = Date.parse(`${to}T00:00:00Z`) + DAY_MS;
  if (toMs <= fromMs) throw badRequest('invalid_range', 'Invalid query: to: must not be before from.', { to: 'must not be before from' });
  if (toMs - fromMs > 731 * DAY_MS) throw badRequest('invalid_range', 'Invalid query: from: the range may span at most two years.', { from: 'the range may span at most two years' });
  return { from, to, fromMs, toMs };
}

export function usageRouter(ctx: AdminContext): Router {
  const r = Router();
  const { db, deps } = ctx;

  r.get('/usage', (req, res) => {
    const q = parseInput(usageQuery, req.query, 'query');
    const range = rangeOf(q, deps.clock());
    const store = ledgerStore(db);
    const rows: UsageRow[] =
      q.by === 'vendor' || q.by === 'type'
        ? servicesRows(q.by, q.by === 'vendor' ? store.spendByVendor(range.fromMs, range.toMs, q.token) : store.spendByType(range.fromMs, range.toMs, q.token, fallbackType))
        : (store.grouped(q.by as Group, range.fromMs, range.toMs, q.token) as unknown as Array<UsageRow & { cost_micros: number }>).map(({ cost_micros, ...rest }) => ({
            ...rest,
            cost_usd: microsToUsd(cost_micros),
          }));
    if (q.format === 'csv') return sendCsv(res, `skillboss-usage-${q.by}-${range.from}-to-${range.to}.csv`, rows);
    const total = rows.reduce((a, x) => a + x.cost_usd, 0);
    res.json({ from: range.from, to: range.to, by: q.by, data: rows, total_cost_usd: Math.round(total * 1e6) / 1e6 });
  });

  r.get('/requests', (req, res) => {
    const q = parseInput(requestsQuery, req.query, 'query');
    const rows = ledgerStore(db).requestsPage(q);
    const page = rows.slice(0, q.limit).map(({ cost_micros, streamed, ts, job_id, job_status, job_cost_micros, job_reserved_micros, job_started, job_settled, ...rest }) => ({
      ...rest,
      ts: new Date(ts).toISOString(),
      cost_usd: microsToUsd(cost_micros),
      streamed: streamed === 1,
      // The SkillBoss job this row started, polled or settled (a /v1/run answered 202, a poll, the poll that charged it).
      job:
        typeof job_id === 'string'
          ? {
              id: job_id,
              status: job_status as string,
              role: job_started === 1 ? ('started' as const) : job_settled === 1 ? ('settled' as const) : ('polled' as const),
              reserved_usd: microsToUsd(job_reserved_micros as number),
              cost_usd: typeof job_cost_micros === 'number' ? microsToUsd(job_cost_micros) : null,
            }
          : null,
    }));
    res.json({ data: page, next_before: rows.length > q.limit ? page.at(-1)!.id : null });
  });

  r.get('/models', (_req, res) => {
    // For the filters: every model that appears in the ledger or the price list.
    const seen = ledgerStore(db).models();
    res.json({ data: seen });
  });

  return r;
}

/** The services views' rows in the answer's shape: `vendor` or `type` named as such. */
function servicesRows(by: 'vendor' | 'type', rows: ServiceSpendRow[]): UsageRow[] {
  return rows.map(({ key, cost_micros, ...rest }) => ({ [by]: key, ...rest, cost_usd: microsToUsd(cost_micros) }));
}

/** A cell that a spreadsheet will not run as a formula (token names can come from agents). */
export function csvCell(v: unknown): string {
  let s = v === null || v === undefined ? '' : String(v);
  if (/^[=+\-@\t\r]/.test(s) && typeof v === 'string') s = `'${s}`;
  return /[",\n\r]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

function sendCsv(res: Response, filename: string, rows: UsageRow[]): void {
  const cols = rows.length ? Object.keys(rows[0]!) : ['requests', 'errors', 'prompt_tokens', 'completion_tokens', 'cost_usd'];
  const lines = [cols.join(','), ...rows.map((row) => cols.map((c) => csvCell((row as unknown as Record<string, unknown>)[c])).join(','))];
  res.setHeader('content-type', 'text/csv; charset=utf-8');
  res.setHeader('content-disposition', `attachment; filename="${filename}"`);
  res.send(`${lines.join('\r\n')}\r\n`);
}
