/**
 * What a local token is, as every layer sees it. Its own module so the rules
 * (tokens/rules.ts) and the store that enforces them (tokens/store.ts) can
 * both name it without importing each other.
 */
import type { Scope } from './scopes.js';
import type { BudgetPeriod } from '../core/period.js';

export interface TokenMeta {
  /** Path of a .env file rewritten at every rotation. */
  envSink?: string;
  autoRotate?: { intervalDays: number; webhookUrl: string | null; nextAt: number; signingSecretRef?: string };
  /** Paused from the dashboard at (ms): its calls and its subtree's get 503 until resumed. */
  pausedAt?: number;
}

export interface Token {
  id: string;
  name: string;
  parentId: string | null;
  depth: number;
  scopes: Scope[];
  /** The budget in micro-dollars per `budgetPeriod` (day, week, month, or total: prepaid); null: none. Stored as `monthly_budget_micros`, a column named from when every budget was monthly. */
  budget: number | null;
  budgetPeriod: BudgetPeriod;
  /** Micro-dollars added to a `total` budget by top-ups (already included in budget). */
  toppedUp: number;
  /** Spend per period (µ$) / per rolling hour (µ$) past which the token waits for a human. */
  holdAbove: number | null;
  holdRate: number | null;
  hold: TokenHold | null;
  /** +1 at every trip, approval, denial or threshold change: orders stored state against what the daemon tripped in memory. */
  holdVersion: number;
  /** An approval without a new threshold waives `holdAbove` for this period key. */
  holdWaivedPeriod: string | null;
  rpm: number | null;
  maxConcurrent: number | null;
  expiresAt: number | null;
  createdAt: number;
  revokedAt: number | null;
  revokedReason: string | null;
  upstreamKeyId: string | null;
  /** The models it may name (wire/allowlist.ts patterns); null: every model. Each ancestor's list applies too. */
  models: string[] | null;
  meta: TokenMeta;
}

export interface TokenHold {
  state: 'held' | 'denied';
  since: number;
  reason: string;
}
