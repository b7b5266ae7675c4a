/**
 * How tokens look in the admin API: each with its spend this period, last
 * use and status, computed for the whole list in a few indexed queries.
 * Never a secret or a secret's hash.
 */
import type { DB } from '../db/database.js';
import { ledgerStore } from '../db/ledger-store.js';
import { microsToUsd } from '../core/money.js';
import type { Token } from '../tokens/token.js';
import { windowOf } from '../core/period.js';
import { budgetFields, spendByWindow } from '../spend/views.js';

import type { TokenStatus, TokenView } from '../../wire/admin.js';

export type { TokenStatus, TokenView };

const iso = (ms: number | null | undefined): string | null => (ms === null || ms === undefined ? null : new Date(ms).toISOString());

export class TokenViews {
  private readonly q;
  private readonly ledger;

  constructor(private readonly db: DB) {
    this.ledger = ledgerStore(db);
    this.q = {
      secrets: db.prepare('SELECT token_id, created_at, superseded_at, grace_until FROM token_secrets'),
    };
  }

  /** Views of `tokens` (which must include every ancestor of each, e.g. the whole list). */
  build(tokens: readonly Token[], now: number): TokenView[] {
    const byId = new Map(tokens.map((t) => [t.id, t]));
    const spend = spendByWindow(this.db, now);
    const current = new Map<string, number>();
    const rotatedIds = new Set<string>();
    const grace = new Map<string, number>();
    for (const s of this.q.secrets.all() as Array<{ token_id: string; created_at: number; superseded_at: number | null; grace_until: number | null }>) {
      if (s.superseded_at === null) current.set(s.token_id, s.created_at);
      else {
        rotatedIds.add(s.token_id);
        if (s.grace_until !== null && s.grace_until > now) grace.set(s.token_id, Math.max(grace.get(s.token_id) ?? 0, s.grace_until));
      }
    }
    const children = new Map<string, number>();
    for (const t of tokens) if (t.parentId) children.set(t.parentId, (children.get(t.parentId) ?? 0) + 1);

    return tokens.map((t) => {
      // Spend in the token's own budget period (the month for tokens without a budget).
      const sp = spend.get(`${t.id} ${windowOf(t.budgetPeriod, now).key}`);
      const auto = t.meta.autoRotate;
      return {
        id: t.id,
        name: t.name,
        parent_id: t.parentId,
        depth: t.depth,
        scopes: [...t.scopes],
        monthly_budget_usd: t.budget === null ? null : microsToUsd(t.budget),
        spent_usd: microsToUsd(sp?.spent_micros ?? 0),
        requests: sp?.requests ?? 0,
        rpm: t.rpm,
        max_concurrent: t.maxConcurrent,
        expires_at: iso(t.expiresAt),
        created_at: iso(t.createdAt)!,
        revoked_at: iso(t.revokedAt),
        revoked_reason: t.revokedReason,
        status: statusOf(t, byId, now),
        last_used_at: iso(this.ledger.lastUsed(t.id)),
        rotated_at: rotatedIds.has(t.id) ? iso(current.get(t.id)) : null,
        old_secret_valid_until: iso(grace.get(t.id)),
        auto_rotate: auto ? { interval_days: auto.intervalDays, next_at: iso(auto.nextAt), webhook: auto.webhookUrl !== null } : null,
        upstream_key_id: t.upstreamKeyId,
        models: t.models === null ? null : [...t.models],
        children: children.get(t.id) ?? 0,
        paused: pausedInChain(t, byId),
        paused_self: t.meta.pausedAt !== undefined,
        ...budgetFields(t, sp?.spent_micros ?? 0, now),
      };
    });
  }
}

function pausedInChain(t: Token, byId: ReadonlyMap<string, Token>): boolean {
  for (let cur: Token | undefined = t; cur; cur = cur.parentId ? byId.get(cur.parentId) : undefined) if (cur.meta.pausedAt !== undefined) return true;
  return false;
}

export function statusOf(t: Token, byId: ReadonlyMap<string, Token>, now: number): TokenStatus {
  if (t.revokedAt !== null) return 'revoked';
  if (t.expiresAt !== null && t.expiresAt <= now) return 'expired';
  for (let p = t.parentId ? byId.get(t.parentId) : undefined; p; p = p.parentId ? byId.get(p.parentId) : undefined) {
    if (p.revokedAt !== null) return 'parent_revoked';
    if (p.expiresAt !== null && p.expiresAt <= now) return 'parent_expired';
  }
  return 'active';
}

export interface TreeNode extends TokenView {
  tree: TreeNode[];
}

export function toTree(views: readonly TokenView[]): TreeNode[] {
  const nodes = new Map<string, TreeNode>(views.map((v) => [v.id, { ...v, tree: [] }]));
  const roots: TreeNode[] = [];
  for (const n of nodes.values()) {
    const parent = n.parent_id ? nodes.get(n.parent_id) : undefined;
    if (parent) parent.tree.push(n);
    else roots.push(n);
  }
  return roots;
}
