/**
 * The shapes of an access request (issue 9): options, the request as the
 * service returns it, its row, what the human may grant, and the JSON the
 * CLI prints and the admin API should serve.
 */
import { outsideOf } from '../../wire/allowlist.js';
import { badRequest } from '../core/errors.js';
import { normalizeScopes, type Scope } from '../tokens/scopes.js';
import type { Token } from '../tokens/token.js';

export interface AccessOptions {
  /** How long the human has to answer, and after approval how long the agent has to collect (ms). */
  ttlMs: number;
  /** Seconds an agent should wait between polls; a poll that finds the request still pending sooner gets 429 slow_down. */
  pollIntervalS: number;
  /** Open (pending) requests at once, from everyone. */
  maxPending: number;
  /** Open requests at once under one agent name (case-insensitive). */
  maxPendingPerName: number;
  /** New requests per rolling minute, from everyone. */
  maxPerMinute: number;
  /** How often the daemon expires overdue requests and publishes changes made by other processes (ms). */
  sweepIntervalMs: number;
}

export const DEFAULT_ACCESS_OPTIONS: AccessOptions = {
  ttlMs: 10 * 60_000,
  pollIntervalS: 5,
  maxPending: 5,
  maxPendingPerName: 2,
  maxPerMinute: 3,
  sweepIntervalMs: 1000,
};

/** Self-provisioned tokens always expire; this is the default and the longest an agent may ask for. */
export const DEFAULT_EXPIRATION_DAYS = 90;
export const MAX_EXPIRATION_DAYS = 365;

export type AccessStatus = 'pending' | 'approved' | 'delivered' | 'denied' | 'expired';

export interface Grant {
  scopes: Scope[];
  /** Micro-dollars. */
  budget: number;
  expirationDays: number;
  /** Model patterns (wire/allowlist.ts); null: every model. */
  models: string[] | null;
}

export interface AccessRequest {
  id: string;
  userCode: string;
  name: string;
  reason: string | null;
  /** What the agent asked for. */
  requested: Grant;
  /** `pending` or `approved` past `expiresAt` reads as `expired` even before the sweep writes it. */
  status: AccessStatus;
  createdAt: number;
  expiresAt: number;
  decidedAt: number | null;
  decidedBy: string | null;
  /** What the human granted (never more than requested); null until approved. */
  approved: Grant | null;
  denyReason: string | null;
  /** When the agent collected the outcome. */
  answeredAt: number | null;
  tokenId: string | null;
}

export interface NewAccessRequest {
  name: string;
  scopes: readonly Scope[];
  budget: number;
  expirationDays: number;
  reason: string | null;
  models?: readonly string[] | null;
}

/** Less than was asked for, field by field; an omitted field grants what was asked. */
export interface Approval {
  scopes?: readonly Scope[];
  budget?: number;
  expirationDays?: number;
  /** A list within the one asked for (or any list, when every model was asked for). */
  models?: readonly string[];
}

export type PollResult =
  | { status: 'pending'; request: AccessRequest }
  | { status: 'approved'; request: AccessRequest; token: Token; secret: string }
  | { status: 'denied'; request: AccessRequest };

/** One row of access_requests, as SQLite returns it. */
export interface Row {
  id: string;
  poll_hash: string;
  user_code: string;
  name: string;
  reason: string | null;
  scopes: string;
  monthly_budget: number;
  expiration_days: number;
  status: AccessStatus;
  created_at: number;
  expires_at: number;
  decided_at: number | null;
  decided_by: string | null;
  approved_scopes: string | null;
  approved_budget: number | null;
  approved_expiration_days: number | null;
  deny_reason: string | null;
  answered_at: number | null;
  token_id: string | null;
  models: string | null;
  approved_models: string | null;
}

const splitScopes = (s: string): Scope[] => (s ? (s.split(' ') as Scope[]) : []);
const readModels = (s: string | null): string[] | null => (s === null ? null : (JSON.parse(s) as string[]));

/** The request as of `now`: an open one past its deadline reads as expired. */
export function fromRow(r: Row, now: number): AccessRequest {
  const open = r.status === 'pending' || r.status === 'approved';
  return {
    id: r.id,
    userCode: r.user_code,
    name: r.name,
    reason: r.reason,
    requested: { scopes: splitScopes(r.scopes), budget: r.monthly_budget, expirationDays: r.expiration_days, models: readModels(r.models) },
    status: open && r.expires_at <= now ? 'expired' : r.status,
    createdAt: r.created_at,
    expiresAt: r.expires_at,
    decidedAt: r.decided_at,
    decidedBy: r.decided_by,
    approved:
      r.approved_scopes === null
        ? null
        : { scopes: splitScopes(r.approved_scopes), budget: r.approved_budget ?? 0, expirationDays: r.approved_expiration_days ?? 0, models: readModels(r.approved_models) },
    denyReason: r.deny_reason,
    answeredAt: r.answered_at,
    tokenId: r.token_id,
  };
}

/** What the human grants: each field no more than requested; 400 naming the field otherwise. */
export function checkGrant(requested: Grant, approval: Approval): Grant {
  const details: Record<string, string> = {};
  const scopes = approval.scopes ? normalizeScopes(approval.scopes) : requested.scopes;
  const extra = scopes.filter((s) => !requested.scopes.includes(s));
  if (extra.length > 0) details.scopes = `the agent did not ask for ${extra.join(', ')}; grant a subset of ${requested.scopes.join(', ')}`;
  else if (scopes.length === 0) details.scopes = 'grant at least one scope, or deny the request';
  const budget = approval.budget ?? requested.budget;
  if (!Number.isInteger(budget) || budget <= 0) details.monthly_budget = 'the budget must be more than 0';
  else if (budget > requested.budget) details.monthly_budget = `the agent asked for ${requested.budget / 1e6} USD a month; grant that or less`;
  const days = approval.expirationDays ?? requested.expirationDays;
  if (!Number.isInteger(days) || days <= 0) details.expiration_days = 'the expiry must be a positive number of days';
  else if (days > requested.expirationDays) details.expiration_days = `the agent asked for ${requested.expirationDays} days; grant that or fewer`;
  const models = approval.models ? [...approval.models] : requested.models;
  const wider = models && requested.models ? outsideOf(models, requested.models) : [];
  if (wider.length > 0) details.models = `the agent asked for ${requested.models!.join(', ')}; ${wider.join(', ')} is outside it, grant those or fewer`;
  const fields = Object.keys(details);
  if (fields.length > 0) {
    throw badRequest('approval_exceeds_request', `Cannot approve: ${fields.map((f) => `${f}: ${details[f]}`).join('; ')}.`, details);
  }
  return { scopes, budget: budget, expirationDays: days, models };
}

/** The JSON shape the CLI prints and the admin API should serve (amounts in USD, times ISO). */
export function accessRequestJson(r: AccessRequest, now: number) {
  const grant = (g: Grant) => ({ scopes: g.scopes, monthly_budget: g.budget / 1e6, expiration_days: g.expirationDays, models: g.models });
  return {
    id: r.id,
    user_code: r.userCode,
    name: r.name,
    reason: r.reason,
    status: r.status,
    ...grant(r.requested),
    approved: r.approved ? grant(r.approved) : null,
    created_at: new Date(r.createdAt).toISOString(),
    age_seconds: Math.max(0, Math.floor((now - r.createdAt) / 1000)),
    expires_at: new Date(r.expiresAt).toISOString(),
    decided_at: r.decidedAt === null ? null : new Date(r.decidedAt).toISOString(),
    decided_by: r.decidedBy,
    deny_reason: r.denyReason,
    token_id: r.tokenId,
  };
}
