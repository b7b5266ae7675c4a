/**
 * The admin API's JSON shapes that the dashboard reads too: one definition
 * for both sides of the wire.
 */
import type { Scope } from './scopes.js';

export type TokenStatus = 'active' | 'revoked' | 'expired' | 'parent_revoked' | 'parent_expired';

export interface TokenView {
  id: string;
  name: string;
  parent_id: string | null;
  depth: number;
  scopes: Scope[];
  monthly_budget_usd: number | null;
  spent_usd: number;
  requests: number;
  rpm: number | null;
  max_concurrent: number | null;
  expires_at: string | null;
  created_at: string;
  revoked_at: string | null;
  revoked_reason: string | null;
  status: TokenStatus;
  last_used_at: string | null;
  rotated_at: string | null;
  old_secret_valid_until: string | null;
  auto_rotate: { interval_days: number; next_at: string | null; webhook: boolean } | null;
  upstream_key_id: string | null;
  children: number;
}

export interface UsageRow {
  day?: string;
  token_id?: string;
  token_name?: string | null;
  model?: string | null;
  requests: number;
  errors: number;
  prompt_tokens: number;
  completion_tokens: number;
  cost_usd: number;
}
