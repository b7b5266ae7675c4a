/**
 * `/admin/api/series`: the dashboard's charts over a preset range (24h in
 * hours; 7d, 30d, 90d in UTC days) — spend (split by token or model),
 * requests, error rate and p50/p95 latency per bucket, optionally for one
 * token. Bounded: at most 90 buckets, and every query groups in SQLite, so
 * the answer's size never grows with the number of requests.
 *
 * SQLite has no percentile: latencies are counted in a log-scale histogram
 * (8 bins per doubling, so ±4.5%), and a percentile is the geometric middle
 * of the bin it falls in. Accurate enough for a chart, at a bounded cost.
 */
import { Router } from 'express';
import * as z from 'zod';
import { microsToUsd } from '../core/money.js';
import { DAY_MS } from '../core/time.js';
import { ledgerStore } from '../db/ledger-store.js';
import { tokenIdField } from '../core/fields.js';
import type { AdminContext } from './context.js';
import { parseInput } from './validate.js';
import type { SeriesRange, SeriesResponse } from '../../wire/admin.js';

const HOUR_MS = 3_600_000;
const RANGES: Record<SeriesRange, { step: number; n: number }> = { '24h': { step: HOUR_MS, n: 24 }, '7d': { step: DAY_MS, n: 7 }, '30d': { step: DAY_MS, n: 30 }, '90d': { step: DAY_MS, n: 90 } } as const;
type Range = SeriesRange;
const BINS_PER_DOUBLING = 8;
const TOP = 6;

const seriesQuery = z.strictObject({
  range: z.enum(Object.keys(RANGES) as [Range, ...Range[]], { message: `expected one of ${Object.keys(RANGES).join(', ')}` }).default('30d'),
  by: z.enum(['token', 'model'], { message: 'expected token or model' }).default('token'),
  token: tokenIdField.optional(),
});

/** The value below which `q` of the counted latencies fall, from histogram bins (bin → count). */
export function percentile(bins: ReadonlyMap<number, number>, q: number): number | null {
  const total = [...bins.values()].reduce((a, n) => a + n, 0);
  if (total === 0) return null;
  const rank = Math.ceil(q * total);
  let seen = 0;
  for (const bin of [...bins.keys()].sort((a, b) => a - b)) {
    seen += bins.get(bin)!;
    if (seen >= rank) return Math.round(2 ** ((bin + 0.5) / BINS_PER_DOUBLING) * 10) / 10;
  }
  return null;
}

export function seriesRouter(ctx: AdminContext): Router {
  const r = Router();
  const { db, deps } = ctx;

  r.get('/series', (req, res) => {
    const q = parseInput(seriesQuery, req.query, 'query');
    const { step, n } = RANGES[q.range];
    const end = (Math.floor(deps.clock() / step) + 1) * step;
    const start = end - n * step;
    const idx = (b: number) => Math.min(n - 1, Math.max(0, b));
    const ledger = ledgerStore(db);

    const requests = new Array<number>(n).fill(0);
    const errors = new Array<number>(n).fill(0);
    const cost = new Array<number>(n).fill(0);
    for (const row of ledger.seriesTotals(start, end, step, q.token)) {
      requests[idx(row.b)] = row.requests;
      errors[idx(row.b)] = row.errors;
      cost[idx(row.b)] = row.cost_micros;
    }

    const hist = Array.from({ length: n }, () => new Map<number, number>());
    for (const row of ledger.seriesLatencyBins(start, end, step, q.token, BINS_PER_DOUBLING)) {
      hist[idx(row.b)]!.set(row.k, row.c);
    }

    const splitRows = ledger.seriesSplit(start, end, step, q.token, q.by);
    const byKey = new Map<string, { name: string; m: number[]; total: number }>();
    for (const row of splitRows) {
      const e = byKey.get(row.k) ?? { name: row.name ?? (row.k || '(no model)'), m: new Array<number>(n).fill(0), total: 0 };
      e.m[idx(row.b)]! += row.m;
      e.total += row.m;
      byKey.set(row.k, e);
    }
    const ranked = [...byKey.entries()].sort((a, b) => b[1].total - a[1].total);
    const split = ranked.slice(0, TOP).map(([key, e]) => ({ key, name: e.name, cost_usd: e.m.map(microsToUsd) }));
    const rest = ranked.slice(TOP);
    if (rest.length) split.push({ key: '', name: `other (${rest.length})`, cost_usd: cost.map((_, i) => microsToUsd(rest.reduce((a, [, e]) => a + e.m[i]!, 0))) });

    const body: SeriesResponse = {
      range: q.range,
      step: step === HOUR_MS ? 'hour' : 'day',
      zone: 'UTC',
      by: q.by,
      buckets: requests.map((_, i) => new Date(start + i * step).toISOString()),
      requests,
      errors,
      error_rate: requests.map((c, i) => (c === 0 ? null : errors[i]! / c)),
      p50_ms: hist.map((h) => percentile(h, 0.5)),
      p95_ms: hist.map((h) => percentile(h, 0.95)),
      cost_usd: cost.map(microsToUsd),
      split,
      total_cost_usd: microsToUsd(cost.reduce((a, m) => a + m, 0)),
      total_requests: requests.reduce((a, c) => a + c, 0),
    };
    res.json(body);
  });

  return r;
}
