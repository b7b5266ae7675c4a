/**
 * A faithful stand-in for the SkillBoss upstream (https://api.skillboss.co/v1)
 * on plain node:http, for integration tests, benchmarks and the offline demo.
 * Per-request work is kept small and nothing is logged per request.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Call, RecordedRequest, SimContext } from './context.js';
import { handleControl } from './control.js';
import { defaultFaultBody, type Faults } from './faults.js';
import { notFound, readBody, sendError, sendJson, sendRaw, SimError } from './http.js';
import { matchRoute } from './routes.js';
import type { SimDialect } from './real.js';
import { SimState } from './state.js';
import { loadTokenizer } from './tok.js';

export interface SimulatorOptions {
  /** The admin key (must start with `sk-` in the seed dialect; any form in the real one); it holds all seven scopes. */
  apiKey: string;
  /** Answer as the seed page (default) or as the real service (real.ts). */
  dialect?: SimDialect;
  /** Real dialect: below this balance (USD) answers carry `_balance_warning`. Default 5. */
  lowBalanceUsd?: number;
  /** Starting account balance in USD. Default 100. */
  balanceUsd?: number;
  /** Default 127.0.0.1. */
  host?: string;
  /** Default 0 (ephemeral). */
  port?: number;
  /** Milliseconds; default Date.now. Drives rotation grace, expiry and budget periods. */
  clock?: () => number;
  /** Add usage.cost (USD) to chat/embedding usage and an x-skillboss-cost header. Default false. */
  reportCost?: boolean;
  /** Real dialect: list the `/v1/run` models (run.ts) in GET /v1/models, priced in their details. Default false; the run routes answer in the real dialect either way, and never in the seed one. */
  services?: boolean;
  /** Record requests in `requests`. Default true; benchmarks may turn it off. */
  recordRequests?: boolean;
  /** Keep at most about this many recorded requests (oldest dropped). Default 50000. */
  maxRecordedRequests?: number;
}

export interface Simulator {
  /** Base URL including /v1, e.g. http://127.0.0.1:PORT/v1. */
  readonly url: string;
  readonly dialect: SimDialect;
  readonly port: number;
  /** Everything received, in order (404s and auth failures included, /_sim/* excluded). */
  readonly requests: RecordedRequest[];
  clearRequests(): void;
  /** Mutable fault settings, read per request. */
  faults: Faults;
  /** Admin account balance in micro-dollars (integer). */
  balanceMicros(): number;
  setBalanceUsd(usd: number): void;
  /** The admin key's current secret (changes after it rotates itself). */
  adminKey(): string;
  /** Stops the server, destroying open sockets, streams and hung requests. */
  close(): Promise<void>;
}

function delay(ctx: SimContext, ms: number): Promise<void> {
  return new Promise((resolve) => {
    const cancel = (): void => clearTimeout(t);
    const t = setTimeout(() => {
      ctx.active.delete(cancel);
      resolve();
    }, ms);
    ctx.active.add(cancel);
  });
}

function record(ctx: SimContext, req: IncomingMessage, url: string): RecordedRequest {
  const rec: RecordedRequest = { method: req.method ?? 'GET', path: url, headers: { ...req.headers }, body: '', ts: ctx.clock() };
  const list = ctx.requests;
  list.push(rec);
  if (list.length > ctx.maxRecorded + (ctx.maxRecorded >> 3)) list.splice(0, list.length - ctx.maxRecorded);
  return rec;
}

async function serve(ctx: SimContext, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const url = req.url ?? '/';
  const rec = ctx.record ? record(ctx, req, url) : undefined;
  let body: string;
  try {
    const raw = readBody(req);
    body = typeof raw === 'string' ? raw : await raw;
  } catch (e) {
    const err = e instanceof SimError ? e : new SimError(400, 'invalid_request_error', 'bad_body', 'Could not read the request body');
    res.shouldKeepAlive = false;
    sendError(res, err);
    return;
  }
  if (rec) rec.body = body;
  const q = url.indexOf('?');
  const path = q < 0 ? url : url.slice(0, q);

  if (path === '/v1' || path.startsWith('/v1/')) {
    const f = ctx.faults;
    if (f.latencyMs) {
      await delay(ctx, f.latencyMs);
      if (ctx.closed || res.destroyed || req.socket.destroyed) return;
    }
    const fail = f.failNext;
    if (fail && fail.count > 0 && (fail.path === undefined || fail.path === path)) {
      if (--fail.count <= 0 && f.failNext === fail) delete f.failNext;
      const headers = fail.retryAfter !== undefined ? { 'retry-after': String(fail.retryAfter) } : undefined;
      if (fail.rawBody !== undefined) {
        res.writeHead(fail.status, { ...headers, 'content-type': 'application/json' }).end(fail.rawBody);
      } else {
        sendJson(res, fail.status, fail.body ?? defaultFaultBody(fail.status), headers);
      }
      return;
    }
    if (f.hang) {
      const abort = (): void => void res.destroy();
      ctx.active.add(abort);
      res.on('close', () => ctx.active.delete(abort));
      return;
    }
    if (f.garbage) {
      sendRaw(res, 200, 'not json at all', 'application/json');
      return;
    }
  }

  const method = req.method ?? 'GET';
  const m = matchRoute(method, path, ctx.dialect);
  try {
    if (!m) throw notFound(`Unknown route: ${method} ${path}`);
    const caller = ctx.state.authenticate(req.headers.authorization);
    const { route } = m;
    if (route.scope !== null && !caller.key.scopeSet.has(route.scope)) {
      throw new SimError(403, 'permission_error', 'insufficient_scope', `This API key lacks the required scope: ${route.scope}`);
    }
    if (route.manage && !caller.current) {
      throw new SimError(403, 'permission_error', 'key_rotated', 'This key has been rotated; only the new key can manage keys');
    }
    const call: Call = { ctx, req, res, body, caller, params: m.params };
    route.handler(call);
  } catch (e) {
    const err = e instanceof SimError ? e : new SimError(500, 'api_error', 'server_error', `Simulator error: ${(e as Error)?.message ?? e}`);
    if (!res.headersSent) sendError(res, err);
    else res.destroy();
  }
}

export async function startSimulator(opts: SimulatorOptions): Promise<Simulator> {
  const dialect = opts.dialect ?? 'seed';
  if (dialect === 'seed' && !opts.apiKey.startsWith('sk-')) throw new Error('SimulatorOptions.apiKey must start with "sk-"');
  if (!/^[\x21-\x7e]{8,512}$/.test(opts.apiKey)) throw new Error('SimulatorOptions.apiKey must be 8 to 512 printable characters without spaces');
  await loadTokenizer();
  const base = opts.clock ?? Date.now;
  let offset = 0;
  const clock = (): number => base() + offset;
  const ctx: SimContext = {
    state: new SimState(opts.apiKey, opts.balanceUsd ?? 100, clock, dialect === 'seed'),
    clock,
    reportCost: opts.reportCost ?? false,
    dialect,
    lowBalanceMicros: Math.round((opts.lowBalanceUsd ?? 5) * 1e6),
    listRunModels: opts.services ?? false,
    faults: {},
    requests: [],
    record: opts.recordRequests ?? true,
    maxRecorded: opts.maxRecordedRequests ?? 50_000,
    active: new Set(),
    seq: 0,
    closed: false,
  };
  const hooks = { advanceClock: (ms: number) => void (offset += ms) };

  const server = createServer({ noDelay: true }, (req, res) => {
    const p = req.url?.startsWith('/_sim') ? handleControl(ctx, hooks, req, res) : serve(ctx, req, res);
    p.catch(() => res.destroy());
  });
  const host = opts.host ?? '127.0.0.1';
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port ?? 0, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const port = (server.address() as AddressInfo).port;
  const urlHost = host.includes(':') ? `[${host}]` : host;

  let closing: Promise<void> | undefined;
  return {
    url: `http://${urlHost}:${port}/v1`,
    port,
    dialect,
    get requests() {
      return ctx.requests;
    },
    clearRequests() {
      ctx.requests.length = 0;
    },
    get faults() {
      return ctx.faults;
    },
    set faults(v: Faults) {
      ctx.faults = v ?? {};
    },
    balanceMicros: () => ctx.state.balanceMicros,
    setBalanceUsd(usd: number) {
      ctx.state.balanceMicros = Math.round(usd * 1_000_000);
    },
    adminKey: () => ctx.state.admin.secret,
    close() {
      closing ??= new Promise<void>((resolve) => {
        ctx.closed = true;
        for (const abort of [...ctx.active]) abort();
        ctx.active.clear();
        server.close(() => resolve());
        server.closeAllConnections();
      });
      return closing;
    },
  };
}
