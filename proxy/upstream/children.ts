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
import { UpstreamCallError, upstreamJson } from './client.js';

export interface UpstreamChild {
  id: string;
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

/** Provisions the child upstream and records it; returns the secret, which is not kept. */
export async function createUpstreamChild(c: UpstreamCall, input: NewUpstreamChild): Promise<{ child: UpstreamChild; apiKey: string }> {
  const scopes = normalizeScopes(input.scopes);
  const body: Record<string, unknown> = { child_name: input.name, child_budget: input.budget / 1e6, scopes };
  if (input.expirationDays !== null) body.expiration_days = input.expirationDays;
  const r = await upstreamJson<{ id?: unknown; api_key?: unknown; expires_at?: unknown; scopes?: unknown }>(c.baseUrl, c.key, 'POST', '/agents/create-child', body);
  if (typeof r.id !== 'string' || typeof r.api_key !== 'string') throw new UpstreamCallError('SkillBoss answered create-child without an id and api_key', 200);
  const now = c.clock();
  const exp = typeof r.expires_at === 'string' ? Date.parse(r.expires_at) : Number.NaN;
  const expiresAt = Number.isNaN(exp) ? (input.expirationDays === null ? null : now + input.expirationDays * DAY_MS) : exp;
  const id = r.id;
  c.db.transaction(() => {
    c.db
      .prepare('INSERT INTO upstream_children (id, name, scopes, monthly_budget, expires_at, created_at) VALUES (?, ?, ?, ?, ?, ?)')
      .run(id, input.name, scopes.join(' '), input.budget, expiresAt, now);
    audit(c.db, now, {
      actor: c.actor,
      event: 'upstream_child.create',
      tokenId: id,
      detail: { name: input.name, scopes, monthly_budget_micros: input.budget, expires_at: expiresAt },
    });
  })();
  return { child: getUpstreamChild(c.db, id)!, apiKey: r.api_key };
}

/** Revokes the child upstream (and so its own children there), then marks it revoked here. */
export async function revokeUpstreamChild(c: UpstreamCall, id: string, reason: string): Promise<UpstreamChild> {
  const child = getUpstreamChild(c.db, id);
  if (!child) throw new Error(`no upstream child key with id ${id}`);
  try {
    await upstreamJson(c.baseUrl, c.key, 'DELETE', `/agents/${encodeURIComponent(id)}/revoke`);
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
