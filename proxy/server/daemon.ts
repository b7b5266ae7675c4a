/**
 * The daemon: one HTTP server on loopback for agents (/v1), the admin API and
 * the dashboard, over one SQLite file and one key store. `startDaemon` is what
 * `skillboss-sidecar serve`, the demo, the tray app and the tests all call.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { DEFAULT_HOST, DEFAULT_LIMITS, DEFAULT_PORT, type Limits } from '../core/config.js';
import { asSidecarError } from '../core/errors.js';
import { SidecarEvents } from '../core/events.js';
import { silentLogger, type Logger } from '../core/log.js';
import { systemClock, type Clock } from '../core/time.js';
import { VERSION } from '../core/version.js';
import { openDatabase, type DB } from '../db/database.js';
import { getSetting } from '../db/records.js';
import { KeyHolder } from '../keychain/holder.js';
import type { KeyStore } from '../keychain/store.js';
import { selectKeyStore } from '../keychain/select.js';
import { PrincipalCache } from '../pipeline/authenticate.js';
import { Budgets } from '../pipeline/budget.js';
import type { PipelineDeps } from '../pipeline/context.js';
import { Upstream } from '../pipeline/forward.js';
import { handleAgentRequest } from '../pipeline/handler.js';
import { RateLimiter } from '../pipeline/ratelimit.js';
import { sendError, sendJson } from '../pipeline/respond.js';
import { PriceBook } from '../pricing/prices.js';
import { TokenStore } from '../tokens/store.js';
import { UpstreamState } from '../upstream/status.js';
import { syncOnce } from '../upstream/sync.js';
import { Guards, isLoopbackHost } from './guards.js';
import { acquireLock, type DataDirLock } from './lock.js';
import { Watcher } from './watcher.js';
import { notFound } from '../core/errors.js';

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
}

export interface Daemon {
  readonly url: string;
  readonly port: number;
  readonly host: string;
  readonly dataDir: string;
  readonly db: DB;
  readonly deps: PipelineDeps;
  readonly events: SidecarEvents;
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
  let lock: DataDirLock;
  try {
    lock = acquireLock(opts.dataDir);
  } catch (err) {
    db.close();
    throw err;
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

  const upstreamUrl = getSetting<string>(db, 'upstream_url') ?? opts.upstreamUrl;
  let upstream = new Upstream({ baseUrl: upstreamUrl, headersTimeoutMs: limits.upstreamHeadersTimeoutMs, idleTimeoutMs: limits.upstreamIdleTimeoutMs });
  let paused = getSetting<boolean>(db, 'paused') === true;

  const deps: PipelineDeps = {
    clock,
    limits,
    tokens,
    principals,
    budgets: new Budgets(db, events),
    limiter: new RateLimiter(),
    prices,
    upstream: () => upstream,
    key,
    upstreamState,
    events,
    log,
    paused: () => paused,
  };

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
  const server: Server = createServer(
    { requestTimeout: limits.requestTimeoutMs, headersTimeout: limits.headersTimeoutMs, keepAliveTimeout: limits.keepAliveTimeoutMs, maxHeaderSize: 16 * 1024 },
    (req: IncomingMessage, res: ServerResponse) => {
      const refusal = guards.check(req);
      if (refusal) {
        res.setHeader('connection', 'close');
        return sendError(res, refusal);
      }
      const url = req.url ?? '/';
      if (url.startsWith('/v1/') || url === '/v1') {
        handleAgentRequest(req, res, deps).catch((err: unknown) => {
          log.error({ err }, 'unhandled error in the agent pipeline');
          sendError(res, asSidecarError(err));
        });
        return;
      }
      if (url === '/healthz' && req.method === 'GET') {
        return sendJson(res, 200, { ok: true, version: VERSION, key: key.status().state, paused });
      }
      sendError(res, notFound('unknown_route', 'unknown route'));
    },
  );
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
  guards = new Guards({ port, host, allowedOrigins: opts.allowedOrigins ?? getSetting<string[]>(db, 'allowed_origins') ?? [] });
  const url = `http://${host.includes(':') ? `[${host}]` : host}:${port}`;
  if (!isLoopbackHost(host)) log.warn({ host }, 'listening on a non-loopback address: anything that can reach it can try tokens');
  lock.writeRuntime({ pid: process.pid, url, host, port, started_at: new Date().toISOString(), version: VERSION });
  watcher.start();

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
    setUpstreamUrl(next: string) {
      const old = upstream;
      upstream = new Upstream({ baseUrl: next, headersTimeoutMs: limits.upstreamHeadersTimeoutMs, idleTimeoutMs: limits.upstreamIdleTimeoutMs });
      void old.close();
    },
    async close() {
      if (closed) return;
      closed = true;
      watcher.stop();
      if (syncTimer) clearInterval(syncTimer);
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
      await upstream.destroy();
      lock.release();
      db.close();
    },
  };
}
