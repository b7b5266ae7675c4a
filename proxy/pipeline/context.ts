/** Everything the agent pipeline needs, built once by the daemon. */
import type { Logger } from 'pino';
import type { Limits } from '../core/config.js';
import type { SidecarEvents } from '../core/events.js';
import type { Clock } from '../core/time.js';
import type { KeyHolder } from '../keychain/holder.js';
import type { PriceBook } from '../pricing/prices.js';
import type { TokenStore } from '../tokens/store.js';
import type { UpstreamState } from '../upstream/status.js';
import type { FailedAuthLimiter, PrincipalCache } from './authenticate.js';
import type { Budgets } from './budget.js';
import type { Upstream } from './forward.js';
import type { RateLimiter } from './ratelimit.js';

export interface PipelineDeps {
  clock: Clock;
  limits: Limits;
  tokens: TokenStore;
  principals: PrincipalCache;
  budgets: Budgets;
  limiter: RateLimiter;
  prices: PriceBook;
  upstream: () => Upstream;
  key: KeyHolder;
  upstreamState: UpstreamState;
  events: SidecarEvents;
  log: Logger;
  /** The human's kill switch: when set, every agent call is refused with 503. */
  paused: () => boolean;
  /** Failed-authentication limiting per client address (absent: no limit). */
  authLimiter?: FailedAuthLimiter;
}
