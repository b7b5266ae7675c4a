/**
 * The admin API as the dashboard calls it: each route's method, path pattern
 * and answer, in one table (`AdminRoutes`), and the answers' shapes that are
 * not in admin.ts. The dashboard's `api()` (renderer/src/api.ts) types every
 * call from this table by its method and its path as written, so a call to a
 * route that is not here, or a read of a field its answer lacks, does not
 * compile. Types only: nothing here runs.
 */
import type { Scope } from './scopes.js';
import type { SeriesResponse, Status, TokenView, UsageRow } from './admin.js';

export interface TokenDetail extends TokenView {
  /** This token's own calls this budget period; spent_usd includes its subtree's. */
  own_spent_usd: number;
  subtree: Array<{ id: string; name: string; revoked: boolean }>;
}

export type AccessStatus = 'pending' | 'approved' | 'delivered' | 'denied' | 'expired';

/** An agent's request for a token (proxy/admin/access.ts); amounts in USD. */
export interface AccessRequestView {
  id: string;
  user_code: string;
  name: string;
  reason: string | null;
  status: AccessStatus;
  scopes: Scope[];
  monthly_budget: number;
  expiration_days: number;
  /** The models asked for (patterns); null: every model. */
  models: string[] | null;
  approved: { scopes: Scope[]; monthly_budget: number; expiration_days: number; models: string[] | null } | null;
  created_at: string;
  age_seconds: number;
  expires_at: string;
  expires_in_seconds: number;
  decided_at: string | null;
  decided_by: string | null;
  deny_reason: string | null;
  token_id: string | null;
}

export interface UsageResponse {
  from: string;
  to: string;
  by: string;
  data: UsageRow[];
  total_cost_usd: number;
}

export interface RequestRow {
  id?: number;
  ts: string;
  request_id: string;
  token_id: string;
  token_name: string | null;
  route: string;
  model: string | null;
  prompt_tokens: number;
  completion_tokens: number;
  cost_usd: number;
  status: number;
  latency_ms: number;
  streamed: boolean;
  error_code: string | null;
  /** The message the agent got with a refusal (null for answers, and for rows older than the column). */
  error_message?: string | null;
  /** Where the cost came from: upstream (SkillBoss reported it), price (synced), override, default (the fallback price), none. */
  cost_source?: string;
  /** Token classes, where the ledger has them: parts of prompt_tokens / completion_tokens. */
  cached_tokens?: number;
  cache_write_tokens?: number;
  reasoning_tokens?: number;
  /**
   * The SkillBoss job (`/v1/run` answered 202) this row started or settled (the poll that charged it), else null:
   * its status (pending, completed, failed, timed_out), what it holds reserved and what it was charged.
   */
  job?: { id: string; status: string; role: 'started' | 'polled' | 'settled'; reserved_usd: number; cost_usd: number | null } | null;
}

/** GET /admin/api/tokens with a query: one page of the matching tokens (proxy/admin/token-list.ts). */
export interface TokenPage {
  data: TokenView[];
  /** How many tokens match the query (all pages). */
  total: number;
  /** How many tokens there are at all. */
  all: number;
  offset: number;
  limit: number;
}

export interface Page<T> {
  data: T[];
  next_before: number | null;
}

export interface AuditRow {
  id: number;
  ts: string;
  actor: string;
  event: string;
  token_id: string | null;
  detail: Record<string, unknown>;
}

export interface PriceRow {
  id: string;
  upstream: { prompt: number | null; completion: number | null } | null;
  override: { prompt: number | null; completion: number | null } | null;
  effective: { prompt: number; completion: number; source: string };
}

export interface Settings {
  upstream_url: string;
  /** Set explicitly, else null: derived from the upstream URL. */
  control_plane_url: string | null;
  pass_upstream_fields: boolean;
  send_agent_name: boolean;
  key: { state: string; masked: string | null; store: string };
  key_rotation_days: number | null;
  webhook_allowed_hosts: string[];
  default_max_tokens: number;
  allowed_origins: string[];
  default_price: { prompt: number; completion: number };
  prices: PriceRow[];
}

/** A secret just issued: shown once, then dropped. */
export interface Issued {
  token: TokenView;
  secret: string;
  old_secret_expires_at?: string;
}

/** `GET /access-requests`: the requests shown, how many wait, and the recent flood of turned-away agents (when there is one). */
export interface AccessList {
  data: AccessRequestView[];
  pending: number;
  turned_away?: unknown;
}

/** One held token in `GET /holds`: what tripped it. */
export interface HeldToken {
  token: TokenView;
  kind: 'above' | 'rate' | null;
  spent_usd: number | null;
  threshold_usd: number | null;
}

export type AdminMethod = 'GET' | 'POST' | 'PATCH' | 'PUT';

/** An answer that carries the token as it is now. */
interface TokenAnswer {
  token: TokenView;
}

/**
 * Every route the dashboard calls: `[method, path pattern, answer]`, the more
 * specific pattern before the one it would also match (the first match wins).
 * `${string}` stands for an id, or for a query string.
 */
export type AdminRoutes = [
  ['GET', '/session', { via: string }],
  /** The login redirect's fragment claim traded for the session's key, once (renderer/src/api.ts, before any other call). */
  ['POST', '/session/claim', { key: string }],
  ['POST', '/logout', { ok: true }],
  ['GET', '/status', Status],
  ['POST', '/pause', { paused: boolean; changed: boolean }],
  ['GET', '/tokens', { data: TokenView[] }],
  ['GET', `/tokens?${string}`, TokenPage],
  ['POST', '/tokens', Issued],
  ['POST', `/tokens/${string}/rotate`, Issued],
  ['POST', `/tokens/${string}/revoke`, { revoked: string[] }],
  ['POST', `/tokens/${string}/pause`, TokenAnswer],
  ['POST', `/tokens/${string}/topup`, TokenAnswer],
  ['POST', `/tokens/${string}/hold/${string}`, TokenAnswer],
  ['GET', `/tokens/${string}`, TokenDetail],
  ['PATCH', `/tokens/${string}`, TokenAnswer & { narrowed: unknown }],
  ['GET', '/holds', { data: HeldToken[] }],
  ['POST', '/access-requests/clear', { cleared: number }],
  ['POST', `/access-requests/${string}/approve`, AccessRequestView],
  ['POST', `/access-requests/${string}/deny`, AccessRequestView],
  ['GET', '/access-requests' | `/access-requests?${string}`, AccessList],
  ['GET', `/usage?${string}`, UsageResponse],
  ['GET', `/requests?${string}`, Page<RequestRow>],
  ['GET', `/audit?${string}`, Page<AuditRow>],
  ['GET', '/models', { data: string[] }],
  ['GET', `/series?${string}`, SeriesResponse],
  ['GET', '/settings', Settings],
  ['PATCH', '/settings', Settings],
  ['PUT', '/key', { key: Settings['key']; upstream: { key: string } }],
];

/** The answer of the first route of `Rs` that `method` and `path` match (never: none does). */
type FirstMatch<M, P, Rs> = Rs extends [[infer RM, infer RP, infer A], ...infer Rest] ? ([M] extends [RM] ? ([P] extends [RP] ? A : FirstMatch<M, P, Rest>) : FirstMatch<M, P, Rest>) : never;

export type AnswerOf<M extends AdminMethod, P extends string> = FirstMatch<M, P, AdminRoutes>;

/** The paths a method may be called with (every pattern of its routes). */
export type AdminPath<M extends AdminMethod> = Extract<AdminRoutes[number], [M, string, unknown]>[1];
