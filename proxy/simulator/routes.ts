/** The simulator's route table: one list of (method, path, scope, handler). */
import { handleChat } from './chat.js';
import { handleCompletion } from './completions.js';
import type { Call } from './context.js';
import {
  handleEmbeddings,
  handleGetModel,
  handleImages,
  handleListModels,
  handleListServices,
  handleModerations,
  handleService,
  handleSpeech,
} from './endpoints.js';
import { handleAutoRotate, handleBalance, handleCreateChild, handleCreateKey, handleRevoke, handleRotate } from './keys.js';
import { handleCreateSubWallet, handleRealGetModel, handleRealListModels, handleRevokeSubWallet, handleWalletBalance, type SimDialect } from './real.js';
import { handleInputTokens, handleResponses } from './responses.js';
import { RUN_ROUTES } from './run.js';
import { handleCancelResponse, handleDeleteResponse, handleGetResponse, handleInputItems } from './responses-store.js';

export interface Route {
  readonly method: string;
  /** Exact path, or a pattern whose groups become `call.params` (URI-decoded). */
  readonly path: string | RegExp;
  /** Required scope; null = any valid key. */
  readonly scope: string | null;
  /** Key management: refused for a rotated secret still in its grace period. */
  readonly manage?: boolean;
  readonly handler: (call: Call) => void;
}

export const ROUTES: readonly Route[] = [
  { method: 'GET', path: '/v1/models', scope: 'models:read', handler: handleListModels },
  { method: 'GET', path: /^\/v1\/models\/(.+)$/, scope: 'models:read', handler: handleGetModel },
  { method: 'POST', path: '/v1/chat/completions', scope: 'models:use', handler: handleChat },
  { method: 'POST', path: '/v1/completions', scope: 'models:use', handler: handleCompletion },
  { method: 'POST', path: '/v1/embeddings', scope: 'models:use', handler: handleEmbeddings },
  { method: 'POST', path: '/v1/responses', scope: 'models:use', handler: handleResponses },
  { method: 'POST', path: '/v1/responses/input_tokens', scope: 'models:use', handler: handleInputTokens },
  { method: 'GET', path: /^\/v1\/responses\/([^/]+)$/, scope: 'models:use', handler: handleGetResponse },
  { method: 'DELETE', path: /^\/v1\/responses\/([^/]+)$/, scope: 'models:use', handler: handleDeleteResponse },
  { method: 'POST', path: /^\/v1\/responses\/([^/]+)\/cancel$/, scope: 'models:use', handler: handleCancelResponse },
  { method: 'GET', path: /^\/v1\/responses\/([^/]+)\/input_items$/, scope: 'models:use', handler: handleInputItems },
  { method: 'POST', path: '/v1/moderations', scope: 'models:use', handler: handleModerations },
  { method: 'POST', path: '/v1/images/generations', scope: 'models:use', handler: handleImages },
  { method: 'POST', path: '/v1/audio/speech', scope: 'models:use', handler: handleSpeech },
  { method: 'GET', path: '/v1/services', scope: 'services:read', handler: handleListServices },
  { method: 'POST', path: /^\/v1\/services\/([^/]+)$/, scope: 'services:use', handler: handleService },
  { method: 'GET', path: '/v1/balance', scope: 'billing:read', handler: handleBalance },
  { method: 'POST', path: '/v1/api-keys', scope: 'agents:create', manage: true, handler: handleCreateKey },
  { method: 'POST', path: '/v1/agents/create-child', scope: 'agents:create', manage: true, handler: handleCreateChild },
  { method: 'DELETE', path: /^\/v1\/agents\/([^/]+)\/revoke$/, scope: 'agents:create', manage: true, handler: handleRevoke },
  { method: 'POST', path: '/v1/api-keys/rotate', scope: null, manage: true, handler: handleRotate },
  { method: 'POST', path: '/v1/api-keys/auto-rotate', scope: null, manage: true, handler: handleAutoRotate },
];

/** Paths the real service does not have (key management is the console's; child keys are sub-wallets). */
const SEED_ONLY = new Set(['/v1/balance', '/v1/api-keys', '/v1/agents/create-child', '/v1/api-keys/rotate', '/v1/api-keys/auto-rotate']);

/**
 * The real dialect: the shared inference routes, its own models/balance/sub-wallet routes and its services
 * (`/v1/run`, `/v1/pilot`, `/v1/job/{id}`, run.ts: the seed page shows none of them), none of the seed's key management.
 */
export const REAL_ROUTES: readonly Route[] = [
  ...RUN_ROUTES,
  { method: 'GET', path: '/v1/models', scope: null, handler: handleRealListModels },
  { method: 'GET', path: /^\/v1\/models\/(.+)$/, scope: null, handler: handleRealGetModel },
  { method: 'GET', path: '/v1/wallet/balance', scope: null, handler: handleWalletBalance },
  { method: 'POST', path: '/v1/sub-wallets', scope: null, handler: handleCreateSubWallet },
  { method: 'DELETE', path: /^\/v1\/sub-wallets\/([^/]+)$/, scope: null, handler: handleRevokeSubWallet },
  ...ROUTES.filter((r) => !(typeof r.path === 'string' && (SEED_ONLY.has(r.path) || r.path === '/v1/models')) && String(r.path) !== String(/^\/v1\/models\/(.+)$/) && !String(r.path).includes('agents')),
];

interface Table {
  exact: Map<string, Route>;
  patterns: Route[];
}

function table(routes: readonly Route[]): Table {
  const t: Table = { exact: new Map(), patterns: [] };
  for (const r of routes) {
    if (typeof r.path === 'string') t.exact.set(`${r.method} ${r.path}`, r);
    else t.patterns.push(r);
  }
  return t;
}

const TABLES: Record<SimDialect, Table> = { seed: table(ROUTES), real: table(REAL_ROUTES) };

const NO_PARAMS: readonly string[] = [];

export interface Match {
  readonly route: Route;
  readonly params: readonly string[];
}

export function matchRoute(method: string, path: string, dialect: SimDialect = 'seed'): Match | undefined {
  const { exact, patterns } = TABLES[dialect];
  const r = exact.get(`${method} ${path}`);
  if (r) return { route: r, params: NO_PARAMS };
  for (const p of patterns) {
    if (p.method !== method) continue;
    const m = (p.path as RegExp).exec(path);
    if (!m) continue;
    try {
      return { route: p, params: m.slice(1).map((s) => decodeURIComponent(s ?? '')) };
    } catch {
      return undefined;
    }
  }
  return undefined;
}
