/**
 * The daemon: one HTTP server on loopback for agents (/v1), the admin API and
 * the dashboard, over one SQLite file and one key store. `startDaemon` is what
 * `skillboss-sidecar serve`, the demo, the tray app and the tests all call.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { DEFAULT_HOST, DEFAULT_LIMITS, DEFAULT_PORT, type Limits } from '../core/config.js';
import type { SidecarEvents } from '../core/events.js';
import { silentLogger, type Logger } from '../core/log.js';
import { systemClock, type Clock } from '../core/time.js';
import { VERSION } from '../core/version.js';
import { DB_FILE, fileSize, INLINE_CHECK_MAX_BYTES, openDatabase, type DB } from '../db/database.js';
import { startMaintenance } from '../db/maintenance.js';
import { getSetting } from '../db/records.js';
import type { KeyStore } from '../keychain/store.js';
import type { StageDeps } from '../pipeline/context.js';
import { noteBalanceAfterCall, syncOnce, type SyncOptions } from '../upstream/sync.js';
import { CONTROL_PLANE_SETTING, controlPlaneOf } from '../upstream/balance.js';
import { Guards, isLoopbackHost } from './guards.js';
import { isPaused, setPaused } from './pause.js';
import { acquireLock, type DataDirLock } from './lock.js';
import { createPipelineDeps, hygieneOf } from './deps.js';
import { createRouter } from './router.js';
import { capacityFor, ConnectionGate } from './capacity.js';
import { Watcher } from './watcher.js';
import { DEFAULT_LIFECYCLE_OPTIONS, Lifecycle, type LifecycleOptions } from '../lifecycle/scheduler.js';
import type { AdminApp, AdminOptions } from '../admin/index.js';
import { ensureAdminSecret, readAdminSecret, secretMatches } from '../admin/secret.js';
import type { AccessOptions } from '../access/model.js';
import type { AccessRequests } from '../access/requests.js';
import { createMetricsRoute, METRICS_SETTING } from '../metrics/route.js';
import { startupDone } from '../core/startup.js';

/** For the bundle's loader (core/code-cache.ts): it makes the code cache once start-up is done. */
export { onStartupDone } from '../core/startup.js';

/** How long after listening the start-up sync begins (ms). */
const STARTUP_SYNC_DELAY_MS = 250;

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
  /** Model-detail pacing and cache of the sync (proxy/upstream/sync.ts). */
  sync?: Partial<SyncOptions>;
  /**
   * The control-plane host (SkillBoss's balance outside /v1): --control-plane or
   * SKILLBOSS_CONTROL_PLANE_URL; else the `control_plane_url` setting; else derived from the upstream URL.
   */
  controlPlaneUrl?: string;
  /** How often to look for changes made by the CLI (ms). */
  watchIntervalMs?: number;
  allowedOrigins?: string[];
  /** Scheduled rotations and webhook delivery (proxy/lifecycle). */
  lifecycle?: Partial<LifecycleOptions>;
  /** Serve GET /metrics (loopback, admin secret); default: the metrics_enabled setting, else off. */
  metrics?: boolean;
  /** Access requests from agents without a token (proxy/access): deadline, poll interval, flood limits. */
  access?: Partial<AccessOptions>;
  /** The throwaway demo (`skillboss-sidecar demo`): said in the admin status, so `status` and `connect` can tell. */
  demo?: boolean;
  /**
   * How long an answered request's ledger row waits for its SQLite commit, grouped with others (settle.ts; default
   * COMMIT_WINDOW_MS). Reads in the daemon never see the lag; 0 commits at the end of the turn, for tests that read
   * the database file directly right after an answer.
   */
  ledgerCommitWindowMs?: number;
}

export interface Daemon {
  readonly url: string;
  readonly port: number;
  readonly host: string;
  readonly dataDir: string;
  readonly db: DB;
  readonly deps: StageDeps;
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
  let paused = getSetting<boolean>(db, 'paused') === true;
  const pipeline = createPipelineDeps({ db, dataDir: opts.dataDir, clock, limits, log, keyStore: opts.keyStore, upstreamUrl: opts.upstreamUrl, paused: () => paused, access: opts.access, ledgerCommitWindowMs: opts.ledgerCommitWindowMs });
  const { deps, services, access, setUpstreamUrl } = pipeline;
  const { events, key, prices, principals, upstreamState } = deps;

  const metrics = await createMetricsRoute({
    enabled: opts.metrics ?? getSetting<boolean>(db, METRICS_SETTING) === true,
    deps: services,
    isAdminSecret: (presented) => secretMatches(presented, readAdminSecret(opts.dataDir)),
  });

  const controlPlane = () => opts.controlPlaneUrl ?? getSetting<string>(db, CONTROL_PLANE_SETTING) ?? controlPlaneOf(deps.upstream().baseUrl);
  const syncDeps = { baseUrl: () => deps.upstream().baseUrl, controlPlane, key, prices, state: upstreamState, clock, log, ...(opts.sync ? { options: opts.sync } : {}) };
  // One sync at a time: a call while one runs gets one more run after it (the key or the upstream may have changed).
  let running: Promise<void> | null = null;
  let queued: Promise<void> | null = null;
  let synced = false;
  const sync = (): Promise<void> => {
    synced = true;
    if (!running) {
      running = syncOnce(syncDeps)
        .catch((err: unknown) => log.error({ err }, 'sync failed'))
        .finally(() => {
          running = null;
        });
      return running;
    }
    queued ??= running.then(() => {
      queued = null;
      return sync();
    });
    return queued;
  };

  // What answers said about the account (issue 23). A 401 on one route re-runs the validity probe (the sync's
  // GET /v1/models), which alone may mark the key invalid; SkillBoss's balance warning refreshes the balance.
  let lastSaidSync = 0;
  events.on('upstream_said', (e) => {
    const now = clock();
    if (e.kind === 'balance_after') noteBalanceAfterCall(upstreamState, e.usd, now);
    else if (e.kind === 'balance_warning') upstreamState.notice({ key: 'balance_warning', kind: 'balance_warning', message: `SkillBoss warns: ${e.message}` }, now);
    if (e.kind !== 'balance_after' && now - lastSaidSync >= 60_000) {
      lastSaidSync = now;
      void sync();
    }
  });

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
      Object.assign(deps.hygiene, hygieneOf(db));
    },
  });

  let guards: Guards;
  // The admin API and dashboard (express and everything behind it, ~40% of start-up) load on their first request.
  let adminOptions: AdminOptions;
  let admin: AdminApp | null = null;
  let adminLoading: Promise<AdminApp> | null = null;
  const loadAdmin = (): Promise<AdminApp> =>
    (adminLoading ??= import('../admin/index.js').then((m) => (admin = m.createAdminApp(adminOptions))));
  const router = createRouter({ deps, log, guards: () => guards, storageProblem: () => storageProblem, metrics, admin: () => admin, loadAdmin });
  const gate = new ConnectionGate(capacityFor(limits.maxConnections));
  let servedAgent = false;
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
    (req, res) => {
      // The first agent request answered ends start-up (the code cache is made then, off this request's path).
      if (!servedAgent && req.url?.startsWith('/v1/')) {
        servedAgent = true;
        res.once('finish', () => setImmediate(startupDone));
      }
      if (gate.onRequest(req, res)) router(req, res);
    },
  );
  // Slow connections each hold a socket until a timeout ends them: the agents' pool is --max-connections, the
  // admin API and dashboard have a reserve of their own, pending sockets are capped per address (capacity.ts).
  gate.attach(server);
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
  try {
    // The admin secret exists from the first start (scripts and the CLI read it), whether or not the admin API has loaded.
    ensureAdminSecret(opts.dataDir);
    adminOptions = {
      db,
      deps: services,
      dataDir: opts.dataDir,
      port,
      sync,
      setUpstreamUrl,
      paused: () => paused,
      killSwitch: { isSet: () => isPaused(db), set: (on, by) => setPaused(db, on, by) },
      refresh: () => watcher.poll(),
      demo: opts.demo === true,
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
  const lifecycle = new Lifecycle(db, services, opts.dataDir, `${url}/v1`, { ...DEFAULT_LIFECYCLE_OPTIONS, ...opts.lifecycle });
  pipeline.setLifecycle(lifecycle);
  lifecycle.start();
  access.start();

  // The start-up sync (~1/3 of the CPU from start to the first served request) waits a moment, so an agent's
  // first call after a start does not share the CPU with it; a sync asked for meanwhile (the tests, the admin
  // API, a key change) stands in for it.
  const firstSync = setTimeout(() => {
    if (!synced) void sync();
  }, STARTUP_SYNC_DELAY_MS);
  firstSync.unref();
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
    lifecycle,
    access,
    setUpstreamUrl,
    async close() {
      if (closed) return;
      closed = true;
      startupDone();
      watcher.stop();
      access.stop();
      await lifecycle.stop();
      pipeline.setLifecycle(undefined);
      metrics.close();
      clearTimeout(firstSync);
      if (syncTimer) clearInterval(syncTimer);
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
      await deps.upstream().destroy();
      await pipeline.close();
      await maintenance.stop();
      lock.release();
      db.close();
    },
  };
}
