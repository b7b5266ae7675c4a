/**
 * Real SkillBoss child keys, for agents that must run off this machine and so
 * cannot use a local token. Provisioned with the real key through
 * POST /v1/agents/create-child; the secret is printed once and kept nowhere —
 * not in SQLite, not in the keychain: the sidecar never calls with it, and
 * listing and revoking need only the upstream id. A lost child key is revoked
 * and provisioned again.
 *
 * A model list (issue 24, item 3) is carried as the sub-wallet's `allowed_vendors`, the one rule
 * SkillBoss documents for it (reference §3.1): so only whole vendors (`gemini/*`, `replicate/*`)
 * can be given, each its vendor; a narrower pattern (`bedrock/claude-*`, an exact id) or one with
 * no vendor (`*`, `claude-*`) is refused rather than silently widened. The seed's create-child has
 * no such field, so a child with a list is always a sub-wallet.
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
  /** The model list it was made with (`<vendor>/*` patterns), null: every model. */
  models: string[] | null;
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
  models: string | null;
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
  models: r.models === null ? null : (JSON.parse(r.models) as string[]),
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
  /** Model patterns (already parsed); each must be a whole vendor, `<vendor>/*`. */
  models?: readonly string[] | null;
}

/** A whole vendor: `gemini/*` → gemini. Anything else cannot be a sub-wallet's allowed_vendors. */
const WHOLE_VENDOR = /^([A-Za-z0-9._~:@+=-]+)\/\*$/;

/**
 * The sub-wallet's `allowed_vendors` for a model list: each pattern's vendor, or an error naming the
 * patterns that a vendor allowlist cannot express (it would allow more than they do).
 */
export function allowedVendors(models: readonly string[]): { ok: true; vendors: string[] } | { ok: false; error: string } {
  const vendors: string[] = [];
  const bad: string[] = [];
  for (const m of models) {
    const v = WHOLE_VENDOR.exec(m)?.[1];
    if (v === undefined) bad.push(m);
    else if (!vendors.includes(v)) vendors.push(v);
  }
  if (bad.length > 0) {
    return {
      ok: false,
      error: `a SkillBoss child key can be limited to whole vendors only (its sub-wallet's allowed_vendors), given as <vendor>/* (gemini/*, replicate/*); ${bad.join(', ')} would allow more there than here. Use a local token for a narrower list`,
    };
  }
  return { ok: true, vendors };
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
  const models = input.models ? [...input.models] : null;
  let vendors: string[] | null = null;
  if (models) {
    const v = allowedVendors(models);
    if (!v.ok) throw new UpstreamChildInputError(v.error);
    vendors = v.vendors;
  }
  let r: { id?: unknown; api_key?: unknown; expires_at?: unknown } | null = null;
  let kind: UpstreamChild['kind'] = 'child-key';
  // Only a sub-wallet carries a vendor rule; the seed's create-child has none, so a list skips it.
  if (caps.childKeys !== 'unsupported' && vendors === null) {
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
    if (caps.subWallets === 'unsupported') throw new UpstreamCallError(vendors ? MODELS_NEED_SUB_WALLETS : CHILD_KEYS_UNSUPPORTED, 501);
    const rules: Record<string, unknown> = { max_spend_usd: input.budget / 1e6 };
    if (vendors) rules.allowed_vendors = vendors;
    if (input.expirationDays !== null) rules.expires_at = new Date(c.clock() + input.expirationDays * DAY_MS).toISOString();
    try {
      r = await upstreamJson(c.baseUrl, c.key, 'POST', '/sub-wallets', { label: input.name, rules });
      recordCapability(c.db, c.baseUrl, 'subWallets', 'supported', c.clock());
      kind = 'sub-wallet';
    } catch (err) {
      if (!isMissingApi(err)) throw err;
      recordCapability(c.db, c.baseUrl, 'subWallets', 'unsupported', c.clock());
      throw new UpstreamCallError(vendors ? MODELS_NEED_SUB_WALLETS : CHILD_KEYS_UNSUPPORTED, 501);
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
      .prepare('INSERT INTO upstream_children (id, name, scopes, monthly_budget, expires_at, created_at, kind, models) VALUES (?, ?, ?, ?, ?, ?, ?, ?)')
      .run(id, input.name, scopes.join(' '), input.budget, expiresAt, now, kind, models === null ? null : JSON.stringify(models));
    audit(c.db, now, {
      actor: c.actor,
      event: 'upstream_child.create',
      tokenId: id,
      detail: { name: input.name, kind, scopes, [kind === 'sub-wallet' ? 'max_spend_micros' : 'monthly_budget_micros']: input.budget, expires_at: expiresAt, models, allowed_vendors: vendors },
    });
  })();
  return { child: getUpstreamChild(c.db, id)!, apiKey };
}

/** The input cannot be provisioned as asked (a model list a vendor rule cannot express): the caller's mistake, not SkillBoss's. */
export class UpstreamChildInputError extends Error {}

const MODELS_NEED_SUB_WALLETS =
  'this SkillBoss has no sub-wallets (POST /v1/sub-wallets), the only upstream child that can carry a model list (allowed_vendors); create it without --models, or use a local token';

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
