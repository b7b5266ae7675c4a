/**
 * The daemon: one HTTP server on loopback for agents (/v1), the admin API and
 * the dashboard, over one SQLite file and one key store. `startDaemon` is what
 * `skillboss-sidecar serve`, the demo, the tray app and the tests all call.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { DEFAULT_HOST, DEFAULT_LIMITS, DEFAULT_PORT, startUpstream, type Limits } from '../core/config.js';
import { asSidecarError, unavailable } from '../core/errors.js';
import { SidecarEvents } from '../core/events.js';
import { silentLogger, type Logger } from '../core/log.js';
import { systemClock, type Clock } from '../core/time.js';
import { VERSION } from '../core/version.js';
import { DB_FILE, fileSize, INLINE_CHECK_MAX_BYTES, openDatabase, type DB } from '../db/database.js';
import { startMaintenance } from '../db/maintenance.js';
import { join } from 'node:path';
import { getSetting } from '../db/records.js';
import { KeyHolder } from '../keychain/holder.js';
import type { KeyStore } from '../keychain/store.js';
import { selectKeyStore } from '../keychain/select.js';
import { FailedAuthLimiter, PrincipalCache } from '../pipeline/authenticate.js';
import { Budgets } from '../pipeline/budget.js';
import type { PipelineDeps } from '../pipeline/context.js';
import { Upstream } from '../pipeline/upstream.js';
import { handleAgentRequest } from '../pipeline/handler.js';
import { TOKEN_ROUTES } from '../pipeline/local.js';
import { RateLimiter } from '../pipeline/ratelimit.js';
import { sendError, sendJson } from '../pipeline/respond.js';
import { PriceBook } from '../pricing/prices.js';
import { TokenStore } from '../tokens/store.js';
import { UpstreamState } from '../upstream/status.js';
import { syncOnce } from '../upstream/sync.js';
import { Guards, isLoopbackHost } from './guards.js';
import { acquireLock, type DataDirLock } from './lock.js';
import { Watcher } from './watcher.js';
import { autoRotateRoute } from '../lifecycle/http.js';
import { DEFAULT_LIFECYCLE_OPTIONS, Lifecycle, type LifecycleOptions } from '../lifecycle/scheduler.js';
import type { AdminApp, AdminOptions } from '../admin/index.js';
import { ensureAdminSecret } from '../admin/secret.js';
import type { AccessOptions } from '../access/model.js';
import { accessRoutes } from '../access/http.js';
import { AccessRequests } from '../access/requests.js';
import { sendSkill } from '../access/skill.js';
import { createMetricsRoute, METRICS_SETTING } from '../metrics/route.js';

export interface DaemonOptions {
  dataDir: string;
  upstreamUrl: string;
  host?: string;
  /** 0 picks a free port. */
  port?: number;
  keyStore?: KeyStore;
  clock?: Clock;
  limits?: Partial<Limits>;
  log?: Logger;
  /** How often to sync models, prices and balance (ms); 0 disables the timer (start-up sync still runs). */
  syncIntervalMs?: number;
  /** How often to look for changes made by the CLI (ms). */
  watchIntervalMs?: number;
  allowedOrigins?: string[];
  /** Scheduled rotations and webhook delivery (proxy/lifecycle). */
  lifecycle?: Partial<LifecycleOptions>;
  /** Serve GET /metrics (loopback, admin secret); default: the metrics_enabled setting, else off. */
  metrics?: boolean;
  /** Access requests from agents without a token (proxy/access): deadline, poll interval, flood limits. */
  access?: Partial<AccessOptions>;
}

export interface Daemon {
  readonly url: string;
  readonly port: number;
  readonly host: string;
  readonly dataDir: string;
  readonly db: DB;
  readonly deps: PipelineDeps;
  readonly events: SidecarEvents;
  /** Scheduled rotations; `tick()` runs whatever is due now. */
  readonly lifecycle: Lifecycle;
  /** Access requests (issue 9): list, approve, deny; the agent routes and the admin API use this one. */
  readonly access: AccessRequests;
  /** Runs a sync with the upstream now. */
  sync(): Promise<void>;
  /** Points forwarding at another upstream base URL (settings change). */
  setUpstreamUrl(url: string): void;
  close(): Promise<void>;
}

export async function startDaemon(opts: DaemonOptions): Promise<Daemon> {
  const host = opts.host ?? DEFAULT_HOST;
  const log = opts.log ?? silentLogger();
  const clock = opts.clock ?? systemClock;
  const limits: Limits = { ...DEFAULT_LIMITS, ...opts.limits };
  const db = openDatabase(opts.dataDir);
  const dbFile = join(opts.dataDir, DB_FILE);
  const checkLater = fileSize(dbFile) > INLINE_CHECK_MAX_BYTES;
  let storageProblem: string | null = null;
  let lock: DataDirLock;
  try {
    lock = acquireLock(opts.dataDir);
  } catch (err) {
    db.close();
    throw err;
  }

  // The human's saved default max_tokens reservation (dashboard settings) unless a flag set one.
  if (opts.limits?.defaultMaxTokens === undefined) {
    const saved = getSetting<number>(db, 'default_max_tokens');
    if (typeof saved === 'number' && Number.isInteger(saved) && saved > 0) limits.defaultMaxTokens = saved;
  }
  const events = new SidecarEvents();
  const tokens = new TokenStore(db, clock);
  const principals = new PrincipalCache(tokens);
  const prices = new PriceBook(db);
  const key = new KeyHolder(opts.keyStore ?? selectKeyStore(opts.dataDir));
  const upstreamState = new UpstreamState(db, events);
  const keyState = key.reload();
  if (keyState.state === 'unavailable') log.error(keyState.reason);
  else if (keyState.state === 'missing') log.warn('no SkillBoss API key is set; agents get 503 until the human runs `skillboss-sidecar key set`');

  // A saved plain-http upstream (set before runtime changes were limited to https) gives way to the one given at start.
  const upstreamUrl = startUpstream(getSetting<string>(db, 'upstream_url'), opts.upstreamUrl);
  let upstream = new Upstream({ baseUrl: upstreamUrl, headersTimeoutMs: limits.upstreamHeadersTimeoutMs, idleTimeoutMs: limits.upstreamIdleTimeoutMs });
  let paused = getSetting<boolean>(db, 'paused') === true;
  const access = new AccessRequests(db, tokens, clock, { options: opts.access, events });
  // Created once the server listens (it needs the agent URL); until then, and after close, nobody hears of rotations.
  let lifecycle: Lifecycle | undefined;

  const deps: PipelineDeps = {
    clock,
    limits,
    tokens,
    principals,
    budgets: new Budgets(db, events, log),
    limiter: new RateLimiter(),
    prices,
    upstream: () => upstream,
    key,
    upstreamState,
    events,
    log,
    paused: () => paused,
    authLimiter: new FailedAuthLimiter(limits.authFailuresPerMinute),
    rotations: () => lifecycle,
    // The features' local routes are handed down here, so the pipeline imports nothing above it.
    localRoutes: { ...TOKEN_ROUTES, 'auto-rotate': autoRotateRoute(() => lifecycle), ...accessRoutes(access) },
  };

  const metrics = await createMetricsRoute({ enabled: opts.metrics ?? getSetting<boolean>(db, METRICS_SETTING) === true, dataDir: opts.dataDir, deps });

  const syncDeps = { baseUrl: () => upstream.baseUrl, key, prices, state: upstreamState, clock, log };
  const sync = () => syncOnce(syncDeps).catch((err: unknown) => log.error({ err }, 'sync failed'));

  const watcher = new Watcher(db, opts.watchIntervalMs ?? 250, {
    tokens: () => principals.clear(),
    key: () => {
      const before = key.status().state;
      const after = key.reload();
      log.info({ state: after.state }, 'the upstream key changed');
      if (after.state === 'set' || before !== after.state) void sync();
    },
    prices: () => prices.reload(),
    settings: () => {
      paused = getSetting<boolean>(db, 'paused') === true;
    },
  });

  let guards: Guards;
  // The admin API and dashboard (express and everything behind it, ~40% of start-up) load on their first request.
  let adminOptions: AdminOptions;
  let admin: AdminApp | null = null;
  let adminLoading: Promise<AdminApp> | null = null;
  const loadAdmin = (): Promise<AdminApp> =>
    (adminLoading ??= import('../admin/index.js').then((m) => (admin = m.createAdminApp(adminOptions))));
  const server: Server = createServer(
    {
      requestTimeout: limits.requestTimeoutMs,
      headersTimeout: limits.headersTimeoutMs,
      keepAliveTimeout: limits.keepAliveTimeoutMs,
      maxHeaderSize: 16 * 1024,
      // Node checks the two timeouts above only every 30 s by default, which lets a slowloris client hold a socket for
      // up to 30 s past them; check at a quarter of the shorter one (at most once a second).
      connectionsCheckingInterval: Math.max(50, Math.min(1000, Math.floor(Math.min(limits.headersTimeoutMs, limits.requestTimeoutMs) / 4))),
    },
    (req: IncomingMessage, res: ServerResponse) => {
      const refusal = guards.check(req);
      if (refusal) {
        res.setHeader('connection', 'close');
        return sendError(res, refusal);
      }
      if (guards.cors(req, res)) return;
      const url = req.url ?? '/';
      if (url.startsWith('/v1/') || url === '/v1') {
        // A database that failed its background integrity check is not trusted with metering.
        if (storageProblem) return sendError(res, unavailable('storage_corrupt', 'The sidecar\'s database is damaged, so it will not meter or forward requests. The human running it must restore the data dir (skillboss-sidecar doctor).'));
        handleAgentRequest(req, res, deps).catch((err: unknown) => {
          log.error({ err }, 'unhandled error in the agent pipeline');
          sendError(res, asSidecarError(err));
        });
        return;
      }
      if (url === '/healthz' && req.method === 'GET') {
        return sendJson(res, 200, { ok: true, version: VERSION, key: key.status().state, paused });
      }
      if (url === '/skill.md' && (req.method === 'GET' || req.method === 'HEAD')) return sendSkill(req, res);
      if (metrics.matches(url)) return metrics.handle(req, res);
      // Everything else (the admin API, the dashboard, and 404s) goes to the admin app.
      if (admin) return admin.handle(req, res);
      loadAdmin().then(
        (a) => a.handle(req, res),
        (err: unknown) => {
          log.error({ err }, 'the admin API could not be loaded');
          sendError(res, asSidecarError(err));
        },
      );
    },
  );
  // Slow connections each hold a socket until a timeout ends them; past this many, new ones are closed at once.
  server.maxConnections = limits.maxConnections;
  server.on('clientError', (err: NodeJS.ErrnoException, socket) => {
    // Malformed requests (smuggling attempts, oversized headers, timeouts) get a bare 400/408/431 and a closed socket.
    if (!socket.writable) return socket.destroy();
    const status = err.code === 'HPE_HEADER_OVERFLOW' ? 431 : err.code === 'ERR_HTTP_REQUEST_TIMEOUT' ? 408 : 400;
    socket.end(`HTTP/1.1 ${status} ${status === 431 ? 'Request Header Fields Too Large' : status === 408 ? 'Request Timeout' : 'Bad Request'}\r\nconnection: close\r\ncontent-length: 0\r\n\r\n`);
  });

  const port = await new Promise<number>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port ?? DEFAULT_PORT, host, () => {
      server.off('error', reject);
      resolve((server.address() as AddressInfo).port);
    });
  }).catch((err: unknown) => {
    lock.release();
    db.close();
    if ((err as NodeJS.ErrnoException).code === 'EADDRINUSE') {
      throw new Error(`port ${opts.port ?? DEFAULT_PORT} on ${host} is already in use by another program; pick another with --port`);
    }
    throw err;
  });
  // Origins from flags and from the dashboard's settings both apply; the settings can change at run time.
  let savedOrigins = getSetting<string[]>(db, 'allowed_origins') ?? [];
  const makeGuards = () => new Guards({ port, host, allowedOrigins: [...new Set([...(opts.allowedOrigins ?? []), ...savedOrigins])] });
  guards = makeGuards();
  const setUpstreamUrl = (next: string) => {
    const old = upstream;
    upstream = new Upstream({ baseUrl: next, headersTimeoutMs: limits.upstreamHeadersTimeoutMs, idleTimeoutMs: limits.upstreamIdleTimeoutMs });
    void old.close();
  };
  try {
    // The admin secret exists from the first start (scripts and the CLI read it), whether or not the admin API has loaded.
    ensureAdminSecret(opts.dataDir);
    adminOptions = {
      db,
      deps,
      dataDir: opts.dataDir,
      port,
      sync,
      setUpstreamUrl,
      paused: () => paused,
      access,
      allowedOrigins: () => savedOrigins,
      setAllowedOrigins(origins) {
        savedOrigins = origins;
        guards = makeGuards();
      },
    };
  } catch (err) {
    // E.g. an unreadable admin secret file: fail closed, leaving nothing bound or locked.
    server.close();
    lock.release();
    db.close();
    throw err;
  }
  const url = `http://${host.includes(':') ? `[${host}]` : host}:${port}`;
  if (!isLoopbackHost(host)) log.warn({ host }, 'listening on a non-loopback address: anything that can reach it can try tokens');
  lock.writeRuntime({ pid: process.pid, url, host, port, started_at: new Date().toISOString(), version: VERSION });
  watcher.start();
  // Checkpoints (and the integrity check of a large file) run in a worker, off the request path.
  const maintenance = startMaintenance(db, {
    file: dbFile,
    check: checkLater,
    onIntegrity(ok, detail) {
      if (ok) return log.info('the database passed its integrity check');
      storageProblem = `the database at ${dbFile} failed its integrity check (${detail}); restore it from a backup or move it aside`;
      log.error(storageProblem);
    },
    onProblem(detail) {
      log.warn({ reason: detail }, 'database maintenance worker unavailable; checkpointing on the main connection');
    },
  });
  // A first tick now: whatever fell due while the daemon was down (or the machine slept) happens at start.
  const started = new Lifecycle(db, deps, opts.dataDir, `${url}/v1`, { ...DEFAULT_LIFECYCLE_OPTIONS, ...opts.lifecycle });
  lifecycle = started;
  started.start();
  access.start();

  void sync();
  const syncTimer = (opts.syncIntervalMs ?? 10 * 60_000) > 0 ? setInterval(() => void sync(), opts.syncIntervalMs ?? 10 * 60_000) : null;
  syncTimer?.unref();

  let closed = false;
  return {
    url,
    port,
    host,
    dataDir: opts.dataDir,
    db,
    deps,
    events,
    sync,
    lifecycle: started,
    access,
    setUpstreamUrl,
    async close() {
      if (closed) return;
      closed = true;
      watcher.stop();
      access.stop();
      await started.stop();
      lifecycle = undefined;
      metrics.close();
      if (syncTimer) clearInterval(syncTimer);
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
      await upstream.destroy();
      await maintenance.stop();
      lock.release();
      db.close();
    },
  };
}
