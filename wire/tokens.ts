/**
 * A local token as JSON, the same wherever it is shown (the agent's own
 * routes, access-request polls, the CLI's --json): amounts in USD, times as
 * ISO 8601. Only the fields every view shares; views add their own.
 */
import type { Scope } from './scopes.js';

/** What the daemon's token record must provide (proxy/tokens/token.ts has these and more). */
export interface TokenFields {
  id: string;
  name: string;
  parentId: string | null;
  scopes: readonly Scope[];
  /** Micro-dollars, or null for no budget. */
  budget: number | null;
  expiresAt: number | null;
  createdAt: number;
  /** Model patterns (wire/allowlist.ts), or null for every model. */
  models: readonly string[] | null;
}

export interface TokenJson {
  id: string;
  name: string;
  parent_id: string | null;
  scopes: Scope[];
  monthly_budget: number | null;
  expires_at: string | null;
  created_at: string;
  /** The models it may use (patterns); null: every model. */
  models: string[] | null;
}

const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());

export function tokenJson(t: TokenFields): TokenJson {
  return {
    id: t.id,
    name: t.name,
    parent_id: t.parentId,
    scopes: [...t.scopes],
    // Micro-dollars are integers; USD is what every reader shows.
    monthly_budget: t.budget === null ? null : t.budget / 1_000_000,
    expires_at: iso(t.expiresAt),
    created_at: new Date(t.createdAt).toISOString(),
    models: t.models === null ? null : [...t.models],
  };
}
