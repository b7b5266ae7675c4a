/**
 * Real SkillBoss child keys, for agents that must run off this machine and so
 * cannot use a local token. Provisioned with the real key through
 * POST /v1/agents/create-child; the secret is printed once and kept nowhere —
 * not in SQLite, not in the keychain: the sidecar never calls with it, and
 * listing and revoking need only the upstream id. A lost child key is revoked
 * and provisioned again.
 */
import type { Clock } from '../core/time.js';
import { DAY_MS } from '../core/time.js';
import type { DB } from '../db/database.js';
import { audit } from '../db/records.js';
import { normalizeScopes, type Scope } from '../tokens/scopes.js';
import { capabilitiesAt, CHILD_KEYS_UNSUPPORTED, isMissingApi, recordCapability } from './capabilities.js';
import { UpstreamCallError, upstreamJson } from './client.js';

export interface UpstreamChild {
  id: string;
  /** child-key: the seed's /v1/agents/create-child (budget per month); sub-wallet: the real /v1/sub-wallets (budget in total). */
  kind: 'child-key' | 'sub-wallet';
  name: string;
  scopes: Scope[];
  budget: number | null;
  expiresAt: number | null;
  createdAt: number;
  revokedAt: number | null;
  revokedReason: string | null;
}

interface Row {
  id: string;
  kind: 'child-key' | 'sub-wallet' | null;
  name: string;
  scopes: string;
  monthly_budget: number | null;
  expires_at: number | null;
  created_at: number;
  revoked_at: number | null;
  revoked_reason: string | null;
}

const fromRow = (r: Row): UpstreamChild => ({
  id: r.id,
  kind: r.kind ?? 'child-key',
  name: r.name,
  scopes: r.scopes ? (r.scopes.split(' ') as Scope[]) : [],
  budget: r.monthly_budget,
  expiresAt: r.expires_at,
  createdAt: r.created_at,
  revokedAt: r.revoked_at,
  revokedReason: r.revoked_reason,
});

export interface UpstreamCall {
  db: DB;
  baseUrl: string;
  /** The real key. */
  key: string;
  clock: Clock;
  actor: string;
}

export interface NewUpstreamChild {
  name: string;
  scopes: readonly Scope[];
  /** Micro-dollars; SkillBoss requires a budget for a child. */
  budget: number;
  expirationDays: number | null;
}

export function listUpstreamChildren(db: DB): UpstreamChild[] {
  return (db.prepare('SELECT * FROM upstream_children ORDER BY created_at, id').all() as Row[]).map(fromRow);
}

export function getUpstreamChild(db: DB, id: string): UpstreamChild | undefined {
  const r = db.prepare('SELECT * FROM upstream_children WHERE id = ?').get(id) as Row | undefined;
  return r ? fromRow(r) : undefined;
}

/**
 * Provisions the child upstream and records it; returns the secret, which is
 * not kept. The seed's create-child is tried first; where the upstream has no
 * such API (404/405/501) a sub-wallet capped at the budget (in total, not per
 * month) is made instead; where it has neither, the human is told what to do.
 */
export async function createUpstreamChild(c: UpstreamCall, input: NewUpstreamChild): Promise<{ child: UpstreamChild; apiKey: string }> {
  const scopes = normalizeScopes(input.scopes);
  const caps = capabilitiesAt(c.db, c.baseUrl);
  let r: { id?: unknown; api_key?: unknown; expires_at?: unknown } | null = null;
  let kind: UpstreamChild['kind'] = 'child-key';
  if (caps.childKeys !== 'unsupported') {
    const body: Record<string, unknown> = { child_name: input.name, child_budget: input.budget / 1e6, scopes };
    if (input.expirationDays !== null) body.expiration_days = input.expirationDays;
    try {
      r = await upstreamJson(c.baseUrl, c.key, 'POST', '/agents/create-child', body);
      recordCapability(c.db, c.baseUrl, 'childKeys', 'supported', c.clock());
    } catch (err) {
      if (!isMissingApi(err)) throw err;
      recordCapability(c.db, c.baseUrl, 'childKeys', 'unsupported', c.clock());
    }
  }
  if (r === null) {
    if (caps.subWallets === 'unsupported') throw new UpstreamCallError(CHILD_KEYS_UNSUPPORTED, 501);
    const rules: Record<string, unknown> = { max_spend_usd: input.budget / 1e6 };
    if (input.expirationDays !== null) rules.expires_at = new Date(c.clock() + input.expirationDays * DAY_MS).toISOString();
    try {
      r = await upstreamJson(c.baseUrl, c.key, 'POST', '/sub-wallets', { label: input.name, rules });
      recordCapability(c.db, c.baseUrl, 'subWallets', 'supported', c.clock());
      kind = 'sub-wallet';
    } catch (err) {
      if (!isMissingApi(err)) throw err;
      recordCapability(c.db, c.baseUrl, 'subWallets', 'unsupported', c.clock());
      throw new UpstreamCallError(CHILD_KEYS_UNSUPPORTED, 501);
    }
  }
  if (!r || typeof r.id !== 'string' || typeof r.api_key !== 'string') throw new UpstreamCallError(`SkillBoss answered ${kind === 'sub-wallet' ? 'the sub-wallet' : 'create-child'} without an id and api_key`, 200);
  const now = c.clock();
  const exp = typeof r.expires_at === 'string' ? Date.parse(r.expires_at) : Number.NaN;
  const expiresAt = Number.isNaN(exp) ? (input.expirationDays === null ? null : now + input.expirationDays * DAY_MS) : exp;
  const id = r.id;
  const apiKey = r.api_key;
  c.db.transaction(() => {
    c.db
      .prepare('INSERT INTO upstream_children (id, name, scopes, monthly_budget, expires_at, created_at, kind) VALUES (?, ?, ?, ?, ?, ?, ?)')
      .run(id, input.name, scopes.join(' '), input.budget, expiresAt, now, kind);
    audit(c.db, now, {
      actor: c.actor,
      event: 'upstream_child.create',
      tokenId: id,
      detail: { name: input.name, kind, scopes, [kind === 'sub-wallet' ? 'max_spend_micros' : 'monthly_budget_micros']: input.budget, expires_at: expiresAt },
    });
  })();
  return { child: getUpstreamChild(c.db, id)!, apiKey };
}

/** Revokes the child upstream (and so its own children there), then marks it revoked here. */
export async function revokeUpstreamChild(c: UpstreamCall, id: string, reason: string): Promise<UpstreamChild> {
  const child = getUpstreamChild(c.db, id);
  if (!child) throw new Error(`no upstream child key with id ${id}`);
  try {
    await upstreamJson(c.baseUrl, c.key, 'DELETE', child.kind === 'sub-wallet' ? `/sub-wallets/${encodeURIComponent(id)}` : `/agents/${encodeURIComponent(id)}/revoke`);
  } catch (err) {
    // Already gone upstream: nothing left to revoke there, so record it as revoked here.
    if (!(err instanceof UpstreamCallError && err.status === 404)) {
      audit(c.db, c.clock(), { actor: c.actor, event: 'upstream_child.revoke.failed', tokenId: id, detail: { reason: (err as Error).message } });
      throw err;
    }
  }
  const now = c.clock();
  c.db.transaction(() => {
    c.db.prepare('UPDATE upstream_children SET revoked_at = ?, revoked_reason = ? WHERE id = ? AND revoked_at IS NULL').run(now, reason, id);
    audit(c.db, now, { actor: c.actor, event: 'upstream_child.revoke', tokenId: id, detail: { reason } });
  })();
  return getUpstreamChild(c.db, id)!;
}
