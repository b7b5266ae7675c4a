/**
 * What a local token is, as every layer sees it. Its own module so the rules
 * (tokens/rules.ts) and the store that enforces them (tokens/store.ts) can
 * both name it without importing each other.
 */
import type { Scope } from './scopes.js';

export interface TokenMeta {
  /** Path of a .env file rewritten at every rotation. */
  envSink?: string;
  autoRotate?: { intervalDays: number; webhookUrl: string | null; nextAt: number; signingSecretRef?: string };
}

export interface Token {
  id: string;
  name: string;
  parentId: string | null;
  depth: number;
  scopes: Scope[];
  monthlyBudget: number | null;
  rpm: number | null;
  maxConcurrent: number | null;
  expiresAt: number | null;
  createdAt: number;
  revokedAt: number | null;
  revokedReason: string | null;
  upstreamKeyId: string | null;
  meta: TokenMeta;
}
