/**
 * Stage 1, route. The agent-facing route table: one list, matched after normalization.
 * Anything under /v1 not listed here is answered 404 locally and never
 * forwarded. `upstreamPath` is the path below the upstream base URL.
 */
import { badRequest, methodNotAllowed, notFound } from '../core/errors.js';
import type { Scope } from '../tokens/scopes.js';
import type { DialectName } from './dialect.js';

/**
 * How a forwarded request is metered; each kind's entry in meters.ts says how.
 * `call`: priced per call (images, audio, services) by the cost the upstream reports, else the default
 * call price, never free. `reported`: free unless the upstream reports a cost (listings, moderations).
 * `run`: SkillBoss services, by the model's per-request price and the `cost_usd` reported; `job`: a poll of a run's job.
 */
export type Meter = 'chat' | 'completion' | 'embedding' | 'responses' | 'call' | 'reported' | 'run' | 'job';

/** Local routes for agents without a token (`auth: false`). */
export type OpenLocalHandler = 'request-access' | 'poll-access';
export type LocalHandler = 'balance' | 'create-key' | 'create-child' | 'revoke' | 'rotate' | 'auto-rotate' | 'count-tokens' | OpenLocalHandler;

export interface RouteDef {
  method: 'GET' | 'POST' | 'DELETE';
  /** Exact path, or a prefix ending in `/*` that matches one or more further segments. */
  path: string;
  /** null: any valid token (rotation of one's own key). */
  scope: Scope | null;
  /** What the body must be: JSON, anything (multipart uploads), or nothing. */
  body: 'json' | 'any' | 'none';
  /** `path`: the upstream path when it is not the agent's own (a translated route). */
  /**
   * `answer`: how the upstream's JSON answer is shown to agents when SkillBoss's
   * shape is not the one OpenAI clients read (upstream/models.ts `AGENT_ANSWERS`).
   */
  forward?: { meter: Meter; path?: string; answer?: 'model-list' | 'model-detail' };
  local?: LocalHandler;
  /**
   * The API the agent speaks here when it is not the upstream's (`openai`):
   * its request is translated before the estimate, the answer back on the way
   * out, and every refusal on the route takes its error shape. A name; the
   * value is in the map the daemon hands the pipeline (dialect.ts).
   */
  dialect?: DialectName;
  /** false: called by agents that have no token yet (access requests); no authentication, no ledger row. */
  auth?: false;
  /**
   * Where the request names its model, for tokens with a model list (authorize.ts `authorizeModel`): the
   * body's `model`, the path's `*`, or `upstream`: SkillBoss picks it, which no list can hold it to.
   */
  model?: 'body' | 'path' | 'upstream';
}

export const ROUTES: readonly RouteDef[] = [
  { method: 'GET', path: '/v1/models', scope: 'models:read', body: 'none', forward: { meter: 'reported', answer: 'model-list' } },
  { method: 'GET', path: '/v1/models/*', scope: 'models:read', body: 'none', model: 'path', forward: { meter: 'reported', answer: 'model-detail' } },
  { method: 'POST', path: '/v1/chat/completions', scope: 'models:use', body: 'json', model: 'body', forward: { meter: 'chat' } },
  { method: 'POST', path: '/v1/completions', scope: 'models:use', body: 'json', model: 'body', forward: { meter: 'completion' } },
  { method: 'POST', path: '/v1/embeddings', scope: 'models:use', body: 'json', model: 'body', forward: { meter: 'embedding' } },
  { method: 'POST', path: '/v1/responses', scope: 'models:use', body: 'json', model: 'body', forward: { meter: 'responses' } },
  // What the SDKs call around a stored response: retrieve, its input items, delete, cancel, count input tokens.
  { method: 'GET', path: '/v1/responses/*/input_items', scope: 'models:use', body: 'none', forward: { meter: 'reported' } },
  { method: 'GET', path: '/v1/responses/*', scope: 'models:use', body: 'none', forward: { meter: 'reported' } },
  { method: 'DELETE', path: '/v1/responses/*', scope: 'models:use', body: 'none', forward: { meter: 'reported' } },
  { method: 'POST', path: '/v1/responses/*/cancel', scope: 'models:use', body: 'any', forward: { meter: 'reported' } },
  { method: 'POST', path: '/v1/responses/input_tokens', scope: 'models:use', body: 'json', model: 'body', forward: { meter: 'reported' } },
  { method: 'POST', path: '/v1/moderations', scope: 'models:use', body: 'json', model: 'body', forward: { meter: 'reported' } },
  { method: 'POST', path: '/v1/images/*', scope: 'models:use', body: 'any', model: 'body', forward: { meter: 'call' } },
  { method: 'POST', path: '/v1/audio/*', scope: 'models:use', body: 'any', model: 'body', forward: { meter: 'call' } },
  // Claude Code and the Anthropic SDKs, translated to the upstream's chat completions.
  { method: 'POST', path: '/v1/messages', scope: 'models:use', body: 'json', model: 'body', dialect: 'anthropic', forward: { meter: 'chat', path: '/chat/completions' } },
  { method: 'POST', path: '/v1/messages/count_tokens', scope: 'models:use', body: 'json', model: 'body', dialect: 'anthropic', local: 'count-tokens' },
  // SkillBoss's services (reference §3.1): one endpoint for everything else, its async jobs, and the smart router.
  { method: 'POST', path: '/v1/run', scope: 'services:use', body: 'json', model: 'body', forward: { meter: 'run' } },
  { method: 'POST', path: '/v1/pilot', scope: 'services:use', body: 'json', model: 'upstream', forward: { meter: 'run' } },
  { method: 'GET', path: '/v1/job/*', scope: 'services:use', body: 'none', forward: { meter: 'job' } },
  // The seed's services routes, for upstreams that speak it.
  { method: 'GET', path: '/v1/services', scope: 'services:read', body: 'none', forward: { meter: 'reported' } },
  { method: 'POST', path: '/v1/services/*', scope: 'services:use', body: 'json', model: 'upstream', forward: { meter: 'call' } },
  { method: 'GET', path: '/v1/balance', scope: 'billing:read', body: 'none', local: 'balance' },
  { method: 'POST', path: '/v1/api-keys', scope: 'agents:create', body: 'json', local: 'create-key' },
  { method: 'POST', path: '/v1/agents/create-child', scope: 'agents:create', body: 'json', local: 'create-child' },
  { method: 'DELETE', path: '/v1/agents/*/revoke', scope: 'agents:create', body: 'none', local: 'revoke' },
  { method: 'POST', path: '/v1/api-keys/rotate', scope: null, body: 'any', local: 'rotate' },
  { method: 'POST', path: '/v1/api-keys/auto-rotate', scope: null, body: 'json', local: 'auto-rotate' },
  { method: 'POST', path: '/v1/agents/request-access', scope: null, auth: false, body: 'json', local: 'request-access' },
  { method: 'GET', path: '/v1/agents/request-access/*', scope: null, auth: false, body: 'none', local: 'poll-access' },
];

export interface MatchedRoute {
  def: RouteDef;
  /** The segments matched by `*`, decoded. */
  params: string[];
  /** Path (and query) to request below the upstream base, for forwarded routes. */
  upstreamPath: string;
}

/** One segment as the upstream will see it: letters, digits and a few safe marks. */
const SAFE_SEGMENT = /^[A-Za-z0-9._~:@+-]+$/;
const SAFE_QUERY = /^[A-Za-z0-9._~:@+\-=&%]*$/;

interface Compiled {
  def: RouteDef;
  parts: string[];
}

const EXACT = new Map<string, RouteDef>();
const WILDCARD: Compiled[] = [];
for (const def of ROUTES) {
  if (def.path.includes('*')) WILDCARD.push({ def, parts: def.path.split('/').slice(1) });
  else EXACT.set(`${def.method} ${def.path}`, def);
}

/**
 * Splits the raw request target into path segments, refusing anything that
 * could mean two things: dot segments (plain or encoded), empty segments,
 * encoded slashes/backslashes/NULs outside a model id, `;` parameters,
 * control characters. Smuggled routes die here, before any lookup.
 */
export function normalizePath(rawUrl: string): { segments: string[]; query: string } {
  const q = rawUrl.indexOf('?');
  const path = q === -1 ? rawUrl : rawUrl.slice(0, q);
  const query = q === -1 ? '' : rawUrl.slice(q + 1);
  if (!path.startsWith('/') || path.length > 2048) throw notFound('unknown_route', 'unknown route');
  if (query && !SAFE_QUERY.test(query)) throw badRequest('invalid_query', 'the query string has characters the sidecar does not forward');
  const raw = path.slice(1).split('/');
  const segments: string[] = [];
  for (const seg of raw) {
    let decoded: string;
    try {
      decoded = decodeURIComponent(seg);
    } catch {
      throw badRequest('invalid_path', 'the path has an invalid percent-encoding');
    }
    if (decoded === '' || decoded === '.' || decoded === '..') throw notFound('unknown_route', 'unknown route (empty or dot path segments are not allowed)');
    segments.push(decoded);
  }
  return { segments, query };
}

function isSafeParam(decoded: string, allowSlash: boolean): boolean {
  const parts = allowSlash ? decoded.split('/') : [decoded];
  return parts.every((p) => p !== '' && p !== '.' && p !== '..' && SAFE_SEGMENT.test(p));
}

export function matchRoute(method: string, rawUrl: string): MatchedRoute {
  // The common case first: the target is a listed path as it is written (no query, no encoding, nothing to
  // normalize), which normalizePath would hand back unchanged.
  const listed = EXACT.get(`${method} ${rawUrl}`);
  if (listed) return { def: listed, params: [], upstreamPath: listed.forward?.path ?? rawUrl.slice(3) };
  const { segments, query } = normalizePath(rawUrl);
  const path = `/${segments.join('/')}`;
  const suffix = query ? `?${query}` : '';
  // Every decoded segment outside a wildcard must be plain; anything else cannot name a listed route.
  const exact = EXACT.get(`${method} ${path}`);
  if (exact && segments.every((s) => SAFE_SEGMENT.test(s))) {
    // A translated route's query (Claude Code's `?beta=true`) is its own dialect's, not the upstream's.
    return { def: exact, params: [], upstreamPath: exact.forward?.path ?? path.slice(3) + suffix };
  }
  for (const c of WILDCARD) {
    if (c.def.method !== method) continue;
    const params = matchParts(c.parts, segments);
    if (params) {
      // A model id may contain `/` (gemini/gemini-2.5-flash) when sent encoded as %2F.
      const allowSlash = c.def.path === '/v1/models/*';
      if (!params.every((p) => isSafeParam(p, allowSlash))) {
        throw notFound('unknown_route', 'unknown route (a path segment has characters no route allows)');
      }
      const upstreamSegments = segments.slice(1).map((s) => (allowSlash ? s : encodeURIComponent(s)));
      return { def: c.def, params, upstreamPath: `/${upstreamSegments.join('/')}${suffix}` };
    }
  }
  const known = ROUTES.some((r) => r.path === path || matchParts(r.path.split('/').slice(1), segments));
  if (known) {
    const allow = ROUTES.filter((r) => matchParts(r.path.split('/').slice(1), segments) || r.path === path).map((r) => r.method);
    throw methodNotAllowed(`method ${method} is not allowed on ${describePath(segments)}`, allow.join(', '));
  }
  throw notFound('unknown_route', `unknown route ${method} ${describePath(segments)}; the sidecar serves the SkillBoss routes listed in its README`);
}

/** For a wildcard pattern's parts, the matched values, or null. `*` at the end takes the rest (one or more segments). */
function matchParts(parts: string[], segments: string[]): string[] | null {
  const params: string[] = [];
  for (let i = 0; i < parts.length; i++) {
    const p = parts[i]!;
    const s = segments[i];
    if (s === undefined) return null;
    if (p === '*') {
      if (i === parts.length - 1) {
        params.push(segments.slice(i).join('/'));
        return params;
      }
      params.push(s);
    } else if (p !== s) return null;
  }
  return segments.length === parts.length ? params : null;
}

/** A path safe to echo in an error: known segments as they are, anything else elided (it may hold a key). */
function describePath(segments: string[]): string {
  return `/${segments.slice(0, 4).map((s) => (SAFE_SEGMENT.test(s) && s.length <= 40 ? s : '…')).join('/')}`;
}
