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
import * as z from 'zod';
import { BUDGET_PERIODS } from '../core/period.js';
import { windowOf } from '../core/period.js';
import type { Token } from '../tokens/token.js';
import type { DB } from '../db/database.js';
import type { TokenPage } from '../../wire/admin-api.js';
import type { TokenView } from './views.js';

export type { TokenPage };

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

const on = (v: string | undefined) => v === '1' || v === 'true';

function statusMatches(v: Pick<TokenView, 'status'>, status: NonNullable<ListQuery['status']>): boolean {
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

/** Parents first, each followed by its subtree; a token whose parent is filtered out starts a tree of its own. */
function treeOrder(rows: Row[]): Row[] {
  const ids = new Set(rows.map((r) => r.t.id));
  const kids = new Map<string | null, Row[]>();
  for (const r of rows) {
    const p = r.t.parent_id !== null && ids.has(r.t.parent_id) ? r.t.parent_id : null;
    const list = kids.get(p);
    if (list) list.push(r);
    else kids.set(p, [r]);
  }
  const out: Row[] = [];
  const stack: Row[] = [...(kids.get(null) ?? [])].reverse();
  while (stack.length) {
    const r = stack.pop()!;
    out.push(r);
    const c = kids.get(r.t.id);
    if (c) for (let i = c.length - 1; i >= 0; i--) stack.push(c[i]!);
  }
  return out;
}

/** What the list needs of a token: a few columns, read for every token in one narrow query (no JSON to parse). */
export interface TokenSummary {
  id: string;
  name: string;
  parent_id: string | null;
  budget_period: Token['budgetPeriod'];
  hold_state: string | null;
  monthly_budget: number | null;
  created_at: number;
  revoked_at: number | null;
  expires_at: number | null;
}

const summaryStatements = new WeakMap<DB, { all(): unknown[] }>();

export function tokenSummaries(db: DB): TokenSummary[] {
  let st = summaryStatements.get(db);
  if (!st) summaryStatements.set(db, (st = db.prepare('SELECT id, name, parent_id, budget_period, hold_state, monthly_budget, created_at, revoked_at, expires_at FROM tokens ORDER BY created_at, id')));
  return st.all() as TokenSummary[];
}

interface Row {
  t: TokenSummary;
  status: TokenView['status'];
  spent: number;
  children: number;
}

export interface ListSources {
  now: number;
  /** Spend per `${token id} ${period key}` (spend/views.ts spendByWindow). */
  spend: ReadonlyMap<string, { spent_micros: number }>;
  /** A token's last use (ms), asked only to sort by it. */
  lastUsed(id: string): number | null;
  /** The full token. */
  token(id: string): Token;
  /** Full views of these tokens (which include every ancestor of each). */
  build(tokens: readonly Token[]): TokenView[];
}

/** As views.ts `statusOf`, over summaries. */
function statusOfSummary(t: TokenSummary, byId: ReadonlyMap<string, TokenSummary>, now: number): TokenView['status'] {
  if (t.revoked_at !== null) return 'revoked';
  if (t.expires_at !== null && t.expires_at <= now) return 'expired';
  for (let p = t.parent_id ? byId.get(t.parent_id) : undefined; p; p = p.parent_id ? byId.get(p.parent_id) : undefined) {
    if (p.revoked_at !== null) return 'parent_revoked';
    if (p.expires_at !== null && p.expires_at <= now) return 'parent_expired';
  }
  return 'active';
}

/**
 * The page of `tokens` (every token) the query asks for. Only the page's rows (and their ancestors, which
 * their status and pause depend on) get a full view: with 10,000 tokens, reading every token whole and
 * building every view was most of the answer's time.
 */
export function tokenPage(tokens: readonly TokenSummary[], q: ListQuery, src: ListSources): TokenPage {
  const byId = new Map(tokens.map((t) => [t.id, t]));
  const children = new Map<string, number>();
  for (const t of tokens) if (t.parent_id) children.set(t.parent_id, (children.get(t.parent_id) ?? 0) + 1);
  const needle = q.q?.trim().toLowerCase() ?? '';
  const status = q.status ?? 'live';
  const rows: Row[] = [];
  for (const t of tokens) {
    if (needle !== '' && !t.name.toLowerCase().includes(needle) && !t.id.toLowerCase().includes(needle)) continue;
    if (q.period !== undefined && t.budget_period !== q.period) continue;
    if (on(q.held) && t.hold_state === null) continue;
    const kids = children.get(t.id) ?? 0;
    if (on(q.parents) && kids === 0) continue;
    const row: Row = { t, status: statusOfSummary(t, byId, src.now), spent: src.spend.get(`${t.id} ${windowOf(t.budget_period, src.now).key}`)?.spent_micros ?? 0, children: kids };
    if (!statusMatches(row, status)) continue;
    if (on(q.over80) && !(t.monthly_budget !== null && (t.monthly_budget === 0 || row.spent >= 0.8 * t.monthly_budget))) continue;
    rows.push(row);
  }
  const sort = q.sort ?? 'tree';
  let ordered: Row[];
  if (sort === 'tree') ordered = treeOrder(rows);
  else {
    const desc = (q.order ?? (sort === 'name' ? 'asc' : 'desc')) === 'desc';
    const key: (r: Row) => number | string =
      sort === 'spend' ? (r) => r.spent : sort === 'last_used' ? (r) => src.lastUsed(r.t.id) ?? -1 : sort === 'created' ? (r) => r.t.created_at : (r) => r.t.name.toLowerCase();
    ordered = rows
      .map((r) => ({ r, k: key(r) }))
      .sort((a, b) => {
        const c = a.k < b.k ? -1 : a.k > b.k ? 1 : a.r.t.id < b.r.t.id ? -1 : 1;
        return desc ? -c : c;
      })
      .map((x) => x.r);
  }
  const offset = q.offset ?? 0;
  const limit = q.limit ?? 50;
  const page = ordered.slice(offset, offset + limit);
  // The page's tokens and their ancestors, each once, ancestors first.
  const subset = new Map<string, Token>();
  for (const r of page) {
    const chain: string[] = [];
    for (let cur: TokenSummary | undefined = r.t; cur && !subset.has(cur.id); cur = cur.parent_id ? byId.get(cur.parent_id) : undefined) chain.push(cur.id);
    for (const id of chain.reverse()) subset.set(id, src.token(id));
  }
  const views = new Map(src.build([...subset.values()]).map((v) => [v.id, v]));
  // A view counts children among the tokens it was built with; the list counts them all.
  const data = page.map((r) => ({ ...views.get(r.t.id)!, children: r.children }));
  return { data, total: rows.length, all: tokens.length, offset, limit };
}
