/**
 * Assembling the agent pipeline's deps: every service the request path uses,
 * built once over one database and one key store. This is where the
 * features' local routes (access requests, automatic rotation), the dialects
 * the route table names, the tokenizer pool, the ledger writer and the hold
 * guard are made and handed to the pipeline, so that the pipeline itself
 * imports nothing above it and keeps no state of its own between daemons.
 */
import { join } from 'node:path';
import { ledgerStore } from '../db/ledger-store.js';
import { startUpstream, type Limits } from '../core/config.js';
import { SidecarEvents } from '../core/events.js';
import { silentLogger, type Logger } from '../core/log.js';
import type { Clock } from '../core/time.js';
import type { DB } from '../db/database.js';
import { LEDGER_LOG_FILE } from '../db/ledger-log.js';
import { audit, getSetting } from '../db/records.js';
import { KeyHolder } from '../keychain/holder.js';
import { selectKeyStore } from '../keychain/select.js';
import type { KeyStore } from '../keychain/store.js';
import { accessRoutes } from '../access/http.js';
import type { AccessOptions } from '../access/model.js';
import { AccessRequests } from '../access/requests.js';
import { autoRotateRoute } from '../lifecycle/http.js';
import type { Lifecycle } from '../lifecycle/scheduler.js';
import { FailedAuthLimiter, PrincipalCache } from '../pipeline/authenticate.js';
import { Budgets, type Reservation } from '../pipeline/budget.js';
import type { DaemonServices, StageDeps, UpstreamHygiene } from '../pipeline/context.js';
import { PASS_UPSTREAM_FIELDS_SETTING, SEND_AGENT_NAME_SETTING } from '../upstream/hygiene.js';
import { Jobs } from '../pipeline/jobs.js';
import { LooseBounds } from '../pipeline/loose.js';
import { TOKEN_ROUTES } from '../pipeline/local.js';
import { RateLimiter } from '../pipeline/ratelimit.js';
import { LedgerWriter, type LedgerLogOptions } from '../pipeline/settle.js';
import { Upstream } from '../pipeline/upstream.js';
import { PriceBook } from '../pricing/prices.js';
import { TokenizerPool } from '../pricing/tokenizer-pool.js';
import { HoldGuard } from '../spend/guard.js';
import { TokenStore } from '../tokens/store.js';
import { UpstreamState } from '../upstream/status.js';
import { DIALECT_ROUTES, DIALECTS } from './dialects.js';

export interface PipelineDepsOptions {
  db: DB;
  dataDir: string;
  clock: Clock;
  limits: Limits;
  log: Logger;
  keyStore?: KeyStore;
  /** Used when the human has not saved another in the settings. */
  upstreamUrl: string;
  paused: () => boolean;
  access?: Partial<AccessOptions>;
  /** DaemonOptions.ledgerCommitWindowMs. */
  ledgerCommitWindowMs?: number | undefined;
}

export interface Pipeline {
  /** What the agent pipeline's stages are handed. */
  deps: StageDeps;
  /** The same services, as the rest of the daemon (admin API, lifecycle, metrics) sees them: without the stages' own. */
  services: DaemonServices;
  /** Access requests (issue 9): the agent routes and the admin API share this one service. */
  access: AccessRequests;
  /** Points forwarding at another upstream base URL; requests already in flight finish on the old pool. */
  setUpstreamUrl(url: string): void;
  /**
   * The lifecycle starts after the server listens (it needs the agent URL):
   * until it is set, and after it is cleared, nobody hears of rotations.
   */
  setLifecycle(lifecycle: Lifecycle | undefined): void;
  /** Ends what the pipeline runs beside the server (the tokenizer threads); after the server has closed. */
  close(): Promise<void>;
}

export function createPipelineDeps(o: PipelineDepsOptions): Pipeline {
  const { db, clock, limits, log } = o;
  const events = new SidecarEvents();
  const tokens = new TokenStore(db, clock);
  const key = new KeyHolder(o.keyStore ?? selectKeyStore(o.dataDir));
  const keyState = key.reload();
  if (keyState.state === 'unavailable') log.error(keyState.reason);
  else if (keyState.state === 'missing') log.warn('no SkillBoss API key is set; agents get 503 until the human runs `skillboss-sidecar key set`');

  const upstreamOf = (baseUrl: string) => new Upstream({ baseUrl, headersTimeoutMs: limits.upstreamHeadersTimeoutMs, idleTimeoutMs: limits.upstreamIdleTimeoutMs });
  // A saved plain-http upstream (set before runtime changes were limited to https) gives way to the one given at start.
  let upstream = upstreamOf(startUpstream(getSetting<string>(db, 'upstream_url'), o.upstreamUrl));
  const access = new AccessRequests(db, tokens, clock, { options: o.access, events });
  let lifecycle: Lifecycle | undefined;
  const tokenizer = new TokenizerPool();
  // An upstream overrun (issue 25) goes to the audit log, where the tray and the dashboard tell the human.
  events.on('overrun', (e) => {
    try {
      audit(db, e.ts, { actor: 'daemon', event: 'usage.upstream_overrun', tokenId: e.token_id, detail: { request_id: e.request_id, route: e.route, model: e.model, reserved_micros: e.reserved_micros, charged_micros: e.charged_micros } });
    } catch (err) {
      log.error({ err, requestId: e.request_id }, 'could not record an upstream overrun in the audit log');
    }
  });
  const budgets = createBudgets(db, events, log, {
    file: join(o.dataDir, LEDGER_LOG_FILE),
    chainOf: (id) => tokens.chain(id),
    ...(o.ledgerCommitWindowMs !== undefined ? { commitWindowMs: o.ledgerCommitWindowMs } : {}),
  });
  // Open SkillBoss jobs hold their reservations again; ones past the human's timeout are settled every minute.
  const jobs = new Jobs(db, log);
  jobs.restore(budgets, (id) => tokens.chain(id), clock());
  const sweeper = setInterval(() => jobs.sweep(clock(), budgets), 60_000);
  sweeper.unref();

  const deps: StageDeps = {
    clock,
    limits,
    tokens,
    principals: new PrincipalCache(tokens),
    budgets,
    looseBounds: new LooseBounds(),
    relayed: {
      tokensOf: (id) => ledgerStore(db).relayedResponse(id),
      // One family: the same token, an ancestor of it, or one of its descendants.
      related: (a, b) => a === b || tokens.chain(a).some((t) => t.id === b) || tokens.chain(b).some((t) => t.id === a),
      record: (id, tokenId, ts, n) => ledgerStore(db).recordRelayedResponse(id, tokenId, ts, n),
    },
    tokenizer,
    dialects: DIALECTS,
    limiter: new RateLimiter(),
    prices: new PriceBook(db),
    jobs,
    upstream: () => upstream,
    key,
    upstreamState: new UpstreamState(db, events),
    events,
    log,
    paused: o.paused,
    authLimiter: new FailedAuthLimiter(limits.authFailuresPerMinute),
    rotations: () => lifecycle,
    hygiene: hygieneOf(db),
    localRoutes: { ...TOKEN_ROUTES, ...DIALECT_ROUTES, 'auto-rotate': autoRotateRoute(() => lifecycle), ...accessRoutes(access) },
  };
  return {
    deps,
    services: deps,
    access,
    setUpstreamUrl(url) {
      const old = upstream;
      upstream = upstreamOf(url);
      void old.close();
    },
    setLifecycle(next) {
      lifecycle = next;
    },
    close: () => {
      clearInterval(sweeper);
      budgets.close();
      return tokenizer.close();
    },
  };
}

/**
 * The budgets over one database: the hold guard and the ledger writer (the
 * one writer of spend) made here and handed in; the writer releases a
 * settlement's reservation once it is committed.
 */
export function createBudgets(db: DB, events: SidecarEvents, log: Logger = silentLogger(), ledgerLog?: LedgerLogOptions): Budgets {
  const guard = new HoldGuard(db, events, log);
  const ledger = new LedgerWriter<Reservation>(db, events, log, guard, (r) => budgets.release(r), ledgerLog);
  const budgets = new Budgets(guard, ledger);
  return budgets;
}

/** The upstream hygiene settings (issue 23) as they are saved; the daemon re-reads them when settings change. */
export function hygieneOf(db: DB): UpstreamHygiene {
  return { passInjectedFields: getSetting<boolean>(db, PASS_UPSTREAM_FIELDS_SETTING) === true, sendAgentName: getSetting<boolean>(db, SEND_AGENT_NAME_SETTING) !== false };
}
