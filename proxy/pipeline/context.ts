/**
 * What every stage of the agent pipeline is handed: the daemon's services
 * and the stages' own deps, built once, and the context of one request. Declared apart from the
 * orchestrator (handler.ts) so that stages and the features whose handlers
 * the route table calls can name them without importing the orchestrator.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Logger } from 'pino';
import type { Limits } from '../core/config.js';
import type { SidecarEvents } from '../core/events.js';
import type { Clock } from '../core/time.js';
import type { KeyHolder } from '../keychain/holder.js';
import type { PriceBook } from '../pricing/prices.js';
import type { TokenizerPool } from '../pricing/tokenizer-pool.js';
import type { TokenStore } from '../tokens/store.js';
import type { Token } from '../tokens/token.js';
import type { UpstreamState } from '../upstream/status.js';
import type { FailedAuthLimiter, Principal, PrincipalCache } from './authenticate.js';
import type { RequestBody } from './body.js';
import type { Budgets } from './budget.js';
import type { Dialects } from './dialect.js';
import type { Jobs } from './jobs.js';
import type { LooseBounds } from './loose.js';
import type { RateLimiter } from './ratelimit.js';
import type { LocalHandler, MatchedRoute, OpenLocalHandler } from './routes.js';
import type { Upstream } from './upstream.js';

/**
 * The daemon's services: built once over one database and one key store
 * (server/deps.ts) and shared by the agent pipeline, the admin API, the
 * lifecycle, the metrics and the router. Declared here, below the features
 * that read them, because the pipeline's own classes (budgets, principals,
 * the upstream pool) are among them.
 */
export interface DaemonServices {
  clock: Clock;
  limits: Limits;
  tokens: TokenStore;
  principals: PrincipalCache;
  budgets: Budgets;
  prices: PriceBook;
  /** SkillBoss run jobs (their reservations until a poll ends them) and Idempotency-Key claims. */
  jobs: Jobs;
  /** A function: the upstream is replaced when the human changes its URL. */
  upstream: () => Upstream;
  key: KeyHolder;
  upstreamState: UpstreamState;
  events: SidecarEvents;
  log: Logger;
  /** The human's kill switch: when set, every agent call is refused with 503. */
  paused: () => boolean;
  /**
   * Who hears of a rotation (the token's env file, its webhook): the lifecycle
   * scheduler, which starts after the server listens, hence a function;
   * undefined before that and in a daemon without one.
   */
  rotations: () => RotationListener | undefined;
}

/**
 * What the agent pipeline's stages are handed: the daemon's services, and
 * what only the request path uses (nothing else in the daemon reads these).
 */
export interface StageDeps extends DaemonServices {
  /** Concurrent requests per token (stage 5). */
  limiter: RateLimiter;
  /** Failed-authentication limiting per client address (absent: no limit). */
  authLimiter?: FailedAuthLimiter;
  /** Reservations still at their byte bound, tightened to exact counts when a budget runs short (estimate.ts). */
  looseBounds: LooseBounds;
  /**
   * Responses this sidecar relayed (issue 25): the tokens a later `previous_response_id` carries into its
   * prompt. Absent: none known (every continued response is bounded by the model's context window).
   */
  relayed?: {
    tokensOf(responseId: string): { tokens: number; tokenId: string } | null;
    /** Whether two tokens are one family (the same, or one an ancestor of the other). */
    related(a: string, b: string): boolean;
    record(responseId: string, tokenId: string, ts: number, tokens: number): void;
  };
  /** Counts prompts and delivered text off the event loop. */
  tokenizer: Pick<TokenizerPool, 'countPrompt' | 'countText' | 'translate' | 'countTranslated'>;
  /** What each dialect the route table names means: request, answer and stream translation, error shape. */
  dialects: Dialects;
  /** The handler of every `local` route in the table, given by whoever assembles the daemon. */
  localRoutes: LocalRoutes;
  /** How requests and answers are kept clean on the way (issue 23); the daemon keeps it in step with settings. */
  hygiene: UpstreamHygiene;
}

/** What the sidecar adds to what it sends SkillBoss, and takes out of what SkillBoss answers. */
export interface UpstreamHygiene {
  /** Pass SkillBoss's `_`-prefixed fields (`_memory_hint`, `_tip`, …) through to agents; default false. */
  passInjectedFields: boolean;
  /** Send the token's name as X-Agent-Name (SkillBoss's analytics split spend by it); default true. */
  sendAgentName: boolean;
}

/** What the pipeline needs of the lifecycle when a key is rotated through an agent route. */
export interface RotationListener {
  delivered(token: Token, secret: string, oldSecretExpiresAt: number): Promise<unknown>;
}

export interface RequestContext {
  req: IncomingMessage;
  res: ServerResponse;
  deps: StageDeps;
  requestId: string;
  /** performance.now() when the request arrived. */
  startedAt: number;
  now: number;
  route: MatchedRoute;
  principal: Principal;
}

/** The context of a route that needs no token (`auth: false`): there is no principal. */
export type OpenRequestContext = Omit<RequestContext, 'principal'>;

/** What a local route answers; the pipeline records it in the ledger (for a token holder) and sends it. */
export interface LocalAnswer {
  status: number;
  body: unknown;
  headers?: Record<string, string>;
}

export type LocalRoute = (ctx: RequestContext, body: RequestBody) => LocalAnswer | Promise<LocalAnswer>;
export type OpenRoute = (ctx: OpenRequestContext, body: RequestBody) => LocalAnswer | Promise<LocalAnswer>;

/**
 * One handler per local route name; a route that needs no token gets no
 * principal. Complete by type, so a route added to the table without a
 * handler does not compile.
 */
export type LocalRoutes = { [K in LocalHandler]: K extends OpenLocalHandler ? OpenRoute : LocalRoute };
