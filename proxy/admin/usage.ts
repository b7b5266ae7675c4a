/**
 * `/admin/api/usage` (spend per day, per token, per model over a range, as
 * JSON or CSV) and `/admin/api/requests` (the ledger, newest first, filtered,
 * paginated by id). Both read the usage table through its ts index.
 */
import { Router, type Response } from 'express';
import { z } from 'zod';
import { badRequest } from '../core/errors.js';
import { microsToUsd } from '../core/money.js';
import { DAY_MS } from '../core/time.js';
import type { AdminContext } from './context.js';
import { isoDay, parseInput } from './validate.js';

const GROUPS = {
  day: ['day'],
  token: ['token_id'],
  model: ['model'],
  day_token: ['day', 'token_id'],
  day_model: ['day', 'model'],
} as const;
type Group = keyof typeof GROUPS;

const usageQuery = z.strictObject({
  from: isoDay.optional(),
  to: isoDay.optional(),
  by: z.enum(Object.keys(GROUPS) as [Group, ...Group[]], { message: `expected one of ${Object.keys(GROUPS).join(', ')}` }).default('day'),
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
    const cols = GROUPS[q.by];
    const select = cols.map((c) => (c === 'day' ? "strftime('%Y-%m-%d', u.ts / 1000, 'unixepoch') AS day" : `u.${c}`));
    if ((cols as readonly string[]).includes('token_id')) select.push('t.name AS token_name');
    const where = ['u.ts >= ?', 'u.ts < ?'];
    const args: unknown[] = [range.fromMs, range.toMs];
    if (q.token) {
      where.push('u.token_id = ?');
      args.push(q.token);
    }
    const sql = `SELECT ${select.join(', ')}, count(*) AS requests, sum(u.status >= 400) AS errors,
        sum(u.prompt_tokens) AS prompt_tokens, sum(u.completion_tokens) AS completion_tokens, sum(u.cost_micros) AS cost_micros
      FROM usage u LEFT JOIN tokens t ON t.id = u.token_id
      WHERE ${where.join(' AND ')} GROUP BY ${cols.join(', ')} ORDER BY ${cols.map((c) => (c === 'day' ? 'day' : `cost_micros DESC, ${c}`)).join(', ')}`;
    const rows: UsageRow[] = (db.prepare(sql).all(...args) as Array<UsageRow & { cost_micros: number }>).map(({ cost_micros, ...rest }) => ({
      ...rest,
      cost_usd: microsToUsd(cost_micros),
    }));
    if (q.format === 'csv') return sendCsv(res, `skillboss-usage-${q.by}-${range.from}-to-${range.to}.csv`, rows);
    const total = rows.reduce((a, x) => a + x.cost_usd, 0);
    res.json({ from: range.from, to: range.to, by: q.by, data: rows, total_cost_usd: Math.round(total * 1e6) / 1e6 });
  });

  r.get('/requests', (req, res) => {
    const q = parseInput(requestsQuery, req.query, 'query');
    const where: string[] = [];
    const args: unknown[] = [];
    if (q.token) {
      where.push('u.token_id = ?');
      args.push(q.token);
    }
    if (q.model) {
      where.push('u.model = ?');
      args.push(q.model);
    }
    if (q.status === 'ok') where.push('u.status < 400');
    if (q.status === 'error') where.push('u.status >= 400');
    if (q.before !== undefined) {
      where.push('u.id < ?');
      args.push(q.before);
    }
    const rows = db
      .prepare(
        `SELECT u.id, u.ts, u.request_id, u.token_id, t.name AS token_name, u.method, u.route, u.model, u.prompt_tokens, u.completion_tokens,
           u.cost_micros, u.status, u.latency_ms, u.streamed, u.error_code
         FROM usage u LEFT JOIN tokens t ON t.id = u.token_id ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY u.id DESC LIMIT ?`,
      )
      .all(...args, q.limit + 1) as Array<{ id: number; cost_micros: number; streamed: number; ts: number }>;
    const page = rows.slice(0, q.limit).map(({ cost_micros, streamed, ts, ...rest }) => ({
      ...rest,
      ts: new Date(ts).toISOString(),
      cost_usd: microsToUsd(cost_micros),
      streamed: streamed === 1,
    }));
    res.json({ data: page, next_before: rows.length > q.limit ? page.at(-1)!.id : null });
  });

  r.get('/models', (_req, res) => {
    // For the filters: every model that appears in the ledger or the price list.
    const seen = db.prepare('SELECT DISTINCT model FROM usage WHERE model IS NOT NULL UNION SELECT id FROM models ORDER BY 1').pluck().all() as string[];
    res.json({ data: seen });
  });

  return r;
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
