/**
 * The Tokens page's list, searched, filtered, sorted and cut into pages on
 * the server (issue 26): with thousands of agents the page must not fetch
 * and render every token. `GET /admin/api/tokens` without a query still
 * answers the whole list (the overview, the tray and scripts read it).
 *
 *   q        name or id contains this (case-insensitive)
 *   status   live (default: not revoked) | active | expired | revoked | all
 *   period   day | week | month | total
 *   over80   1: spent 80% or more of a budget this period
 *   held     1: on hold for the human's approval (or denied)
 *   parents  1: has children
 *   sort     tree (default: parents, each followed by its subtree) | spend | last_used | name | created
 *   order    asc | desc (default: desc for spend, last_used and created; asc for name)
 *   offset, limit (1-500, default 50)
 */
import { z } from 'zod';
import { BUDGET_PERIODS } from '../core/period.js';
import type { TokenView } from './views.js';

const flag = z.enum(['0', '1', 'true', 'false'], { message: 'expected 1 or 0' }).optional();

export const listQuery = z.strictObject({
  q: z.string().max(100, 'at most 100 characters').optional(),
  status: z.enum(['live', 'active', 'expired', 'revoked', 'all'], { message: 'expected live, active, expired, revoked or all' }).optional(),
  period: z.enum(BUDGET_PERIODS, { message: `expected one of ${BUDGET_PERIODS.join(', ')}` }).optional(),
  over80: flag,
  held: flag,
  parents: flag,
  sort: z.enum(['tree', 'spend', 'last_used', 'name', 'created'], { message: 'expected tree, spend, last_used, name or created' }).optional(),
  order: z.enum(['asc', 'desc'], { message: 'expected asc or desc' }).optional(),
  offset: z.coerce.number({ message: 'expected a number' }).int('expected a whole number').min(0, 'must be 0 or more').max(10_000_000).optional(),
  limit: z.coerce.number({ message: 'expected a number' }).int('expected a whole number').min(1, 'must be at least 1').max(500, 'at most 500').optional(),
});
export type ListQuery = z.infer<typeof listQuery>;

export interface TokenPage {
  data: TokenView[];
  /** How many tokens match the query (all pages). */
  total: number;
  /** How many tokens there are at all. */
  all: number;
  offset: number;
  limit: number;
}

const on = (v: string | undefined) => v === '1' || v === 'true';

function statusMatches(v: TokenView, status: NonNullable<ListQuery['status']>): boolean {
  const revoked = v.status === 'revoked' || v.status === 'parent_revoked';
  switch (status) {
    case 'all':
      return true;
    case 'live':
      return !revoked;
    case 'active':
      return v.status === 'active';
    case 'expired':
      return v.status === 'expired' || v.status === 'parent_expired';
    case 'revoked':
      return revoked;
  }
}

/** At 80% of its budget or past it (a budget of 0 counts as used up). */
export function over80(v: TokenView): boolean {
  if (v.monthly_budget_usd === null) return false;
  return v.monthly_budget_usd === 0 || v.spent_usd >= 0.8 * v.monthly_budget_usd;
}

/** Parents first, each followed by its subtree; a token whose parent is filtered out starts a tree of its own. */
function treeOrder(views: TokenView[]): TokenView[] {
  const ids = new Set(views.map((v) => v.id));
  const kids = new Map<string | null, TokenView[]>();
  for (const v of views) {
    const p = v.parent_id !== null && ids.has(v.parent_id) ? v.parent_id : null;
    const list = kids.get(p);
    if (list) list.push(v);
    else kids.set(p, [v]);
  }
  const out: TokenView[] = [];
  const stack: TokenView[] = [...(kids.get(null) ?? [])].reverse();
  while (stack.length) {
    const v = stack.pop()!;
    out.push(v);
    const c = kids.get(v.id);
    if (c) for (let i = c.length - 1; i >= 0; i--) stack.push(c[i]!);
  }
  return out;
}

/** The page of `views` (every token, ancestors included) the query asks for. */
export function pageOf(views: TokenView[], q: ListQuery): TokenPage {
  const needle = q.q?.trim().toLowerCase() ?? '';
  const status = q.status ?? 'live';
  const matched = views.filter(
    (v) =>
      statusMatches(v, status) &&
      (needle === '' || v.name.toLowerCase().includes(needle) || v.id.toLowerCase().includes(needle)) &&
      (q.period === undefined || v.budget_period === q.period) &&
      (!on(q.over80) || over80(v)) &&
      (!on(q.held) || v.hold !== null) &&
      (!on(q.parents) || v.children > 0),
  );
  const sort = q.sort ?? 'tree';
  let ordered: TokenView[];
  if (sort === 'tree') ordered = treeOrder(matched);
  else {
    const desc = (q.order ?? (sort === 'name' ? 'asc' : 'desc')) === 'desc';
    const key: (v: TokenView) => number | string =
      sort === 'spend' ? (v) => v.spent_usd : sort === 'last_used' ? (v) => (v.last_used_at === null ? -1 : Date.parse(v.last_used_at)) : sort === 'created' ? (v) => Date.parse(v.created_at) : (v) => v.name.toLowerCase();
    ordered = matched
      .map((v) => ({ v, k: key(v) }))
      .sort((a, b) => {
        const c = a.k < b.k ? -1 : a.k > b.k ? 1 : a.v.id < b.v.id ? -1 : 1;
        return desc ? -c : c;
      })
      .map((x) => x.v);
  }
  const offset = q.offset ?? 0;
  const limit = q.limit ?? 50;
  return { data: ordered.slice(offset, offset + limit), total: matched.length, all: views.length, offset, limit };
}
