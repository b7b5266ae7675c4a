/**
 * The admin API's JSON shapes that the dashboard reads too: one definition
 * for both sides of the wire.
 */
import type { BudgetPeriod } from './fields.js';
import type { Scope } from './scopes.js';

export type TokenStatus = 'active' | 'revoked' | 'expired' | 'parent_revoked' | 'parent_expired';

export interface TokenView extends BudgetFields {
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
  /** The models it may use (patterns, wire/allowlist.ts); null: every model. */
  models: string[] | null;
  children: number;
  /** Paused from the dashboard (it or an ancestor): its calls get 503 until resumed. */
  paused: boolean;
  /** Paused itself, not only through an ancestor: what "Resume" on this token undoes. */
  paused_self: boolean;
}

/** A token's budget period, holds and forecast (issue 16); part of every token view. `spent_usd` is spend in this period. */
export interface BudgetFields {
  budget_period: BudgetPeriod;
  /** When the period's spend starts again from zero; null for a `total` budget, which never resets. */
  resets_at: string | null;
  topped_up_usd: number;
  hold_above_usd: number | null;
  hold_rate_usd: number | null;
  held: boolean;
  hold: { state: 'held' | 'denied'; since: string; reason: string } | null;
  forecast: {
    spend_rate_usd_per_hour: number;
    projected_period_spend_usd: number | null;
    period_ends_at: string | null;
    runs_out_at: string | null;
  };
}

export interface UsageRow {
  day?: string;
  token_id?: string;
  token_name?: string | null;
  model?: string | null;
  /** `by=vendor`: the model's part before its first `/` (else the synced vendor); null without a model. */
  vendor?: string | null;
  /** `by=type`: the synced model's type (chat, image, video, tts, …), else the route's kind of metering. */
  type?: string;
  requests: number;
  errors: number;
  prompt_tokens: number;
  completion_tokens: number;
  /** Parts of prompt / completion tokens priced at their own rates (issue 16). */
  cached_tokens?: number;
  reasoning_tokens?: number;
  cost_usd: number;
}

export type SeriesRange = '24h' | '7d' | '30d' | '90d';

/** `/admin/api/series`: the dashboard's charts (proxy/admin/series.ts). */
export interface SeriesResponse {
  range: SeriesRange;
  step: 'hour' | 'day';
  zone: 'UTC';
  by: 'token' | 'model';
  /** Start of each bucket, ISO (UTC). */
  buckets: string[];
  requests: number[];
  errors: number[];
  /** errors / requests; null where there were no requests. */
  error_rate: Array<number | null>;
  p50_ms: Array<number | null>;
  p95_ms: Array<number | null>;
  cost_usd: number[];
  /** Spend per bucket of the biggest few tokens or models, then the rest as one. */
  split: Array<{ key: string; name: string; cost_usd: number[] }>;
  total_cost_usd: number;
  total_requests: number;
}

/** The upstream key as the daemon last found it. */
export type UpstreamKeyState = 'unknown' | 'valid' | 'invalid' | 'missing' | 'unavailable';
export type CreditsState = 'unknown' | 'ok' | 'out';

/** Something the human should act on, shown on the overview and by the tray. */
export interface Alert {
  kind: 'key_missing' | 'key_unavailable' | 'key_invalid' | 'credits_out' | 'upstream_unreachable' | 'upstream_notice' | 'capability' | 'fallback_priced' | 'budget_100' | 'budget_80' | 'spend_hold' | 'webhook_failed' | 'expiring' | 'paused' | 'access_pending' | 'access_flood';
  severity: 'error' | 'warning';
  message: string;
  token_id?: string;
}

/** GET /admin/api/status: the overview in one call (proxy/admin/status.ts). */
export interface Status {
  version: string;
  started_at: string;
  uptime_s: number;
  url: string;
  /** The daemon answering: its process, data dir, and whether it is the throwaway demo. */
  daemon?: { pid: number; data_dir: string; demo: boolean };
  paused: boolean;
  key: { state: 'set' | 'missing' | 'unavailable'; masked: string | null; store: string; reason: string | null };
  upstream: {
    url: string;
    key: UpstreamKeyState;
    credits: CreditsState;
    reachable: boolean | null;
    balance_usd: number | null;
    balance_synced_at: string | null;
    models_synced_at: string | null;
    model_count: number;
    /** Of model_count, how many SkillBoss priced (issue 23). */
    priced_count?: number;
    /** 'data' (the seed's list) or 'models' (the real service's). */
    models_shape?: 'data' | 'models' | null;
    balance_source?: string | null;
    balance_credits?: number | null;
    capabilities?: { rotation: 'unknown' | 'supported' | 'unsupported'; child_keys: 'unknown' | 'supported' | 'unsupported'; sub_wallets: 'unknown' | 'supported' | 'unsupported' };
    last_error: string | null;
    checked_at: string | null;
  };
  period: string;
  period_resets_at: string;
  spend: { this_period_usd: number; budgets_usd: number; unbudgeted_roots: number };
  tokens: { active: number; total: number };
  access_requests?: { pending: number };
  alerts: Alert[];
}

/** The header by which an admin-secret request says it comes from the CLI: its changes are audited as `cli` (proxy/admin/auth.ts). */
export const CLIENT_HEADER = 'x-sidecar-client';
