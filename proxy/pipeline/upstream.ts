/**
 * The one module that talks to the upstream for agents. It owns the choice of
 * HTTP client (node:http with a keep-alive Agent: as cheap per request as the
 * undici pool it replaced, measured side by side, and it keeps undici's 1.1 MB
 * out of the daemon's start; see the README's Performance section), the header
 * allowlists both ways, the timeouts (headers, body silence, connect), and the
 * mapping of transport failures to 502/504. Stage 8, forward (forward.ts),
 * sends through it; stage 9, relay, reads the answer and maps its failures.
 */
import { Agent, request as httpRequest, type ClientRequest, type IncomingHttpHeaders, type IncomingMessage, type RequestOptions } from 'node:http';
import type * as Https from 'node:https';
import { createRequire } from 'node:module';
import type { Socket } from 'node:net';
import { badGateway, gatewayTimeout } from '../core/errors.js';

/** Request headers an agent may pass through. Everything else (Authorization, cookies, organisation, X-Forwarded-*, hop-by-hop) is dropped. */
const FORWARD_REQUEST_HEADERS = ['content-type', 'accept', 'user-agent', 'idempotency-key', 'openai-beta'] as const;

/** Response headers passed back to the agent. */
const FORWARD_RESPONSE_HEADERS = new Set([
  'content-type',
  'retry-after',
  'x-request-id',
  'openai-processing-ms',
  'openai-version',
  'x-ratelimit-limit-requests',
  'x-ratelimit-limit-tokens',
  'x-ratelimit-remaining-requests',
  'x-ratelimit-remaining-tokens',
  'x-ratelimit-reset-requests',
  'x-ratelimit-reset-tokens',
  'x-skillboss-cost',
]);

export interface UpstreamOptions {
  baseUrl: string;
  headersTimeoutMs: number;
  idleTimeoutMs: number;
  connections?: number;
  /** How long to wait for a TCP (and TLS) connection (default 10 s). */
  connectTimeoutMs?: number;
}

export interface ForwardRequest {
  method: string;
  /** Path below the base URL, with query. */
  path: string;
  headers: IncomingHttpHeaders;
  body: Buffer | string | null;
  key: string;
  requestId: string;
  signal: Abortable;
  /** Headers the sidecar sets itself (X-Max-Cost-Usd, X-Agent-Name): after the allowlist, so they win. */
  extra?: Readonly<Record<string, string>>;
}

/**
 * What ends a request early: an AbortSignal, or anything of its shape (the pipeline's Departure, forward.ts,
 * which is the same contract without an EventTarget behind it).
 */
export interface Abortable {
  readonly aborted: boolean;
  addEventListener(type: 'abort', listener: () => void, options?: { once?: boolean }): void;
  removeEventListener(type: 'abort', listener: () => void): void;
}

/** The upstream's answer: status, headers, and the body as it arrives (read it, or destroy it). */
export interface UpstreamResponse {
  statusCode: number;
  headers: IncomingHttpHeaders;
  body: UpstreamBody;
}
export type UpstreamBody = IncomingMessage;

/** The transport failures the relay tells apart (undici's names for the same three). */
export class HeadersTimeoutError extends Error {
  override name = 'HeadersTimeoutError';
}
export class BodyTimeoutError extends Error {
  override name = 'BodyTimeoutError';
}
export class ConnectTimeoutError extends Error {
  override name = 'ConnectTimeoutError';
}

const requireHere = createRequire(import.meta.url);

/** What an abort rejects with: named as fetch's and undici's are, which the relay and forward tell from failures. */
function abortError(): Error {
  return Object.assign(new Error('This operation was aborted'), { name: 'AbortError', code: 'ABORT_ERR' });
}

export class Upstream {
  readonly baseUrl: string;
  private readonly agent: Agent;
  private readonly basePath: string;
  private readonly request0: typeof httpRequest;
  private readonly host: string;
  private readonly port: string;
  private inFlight = 0;
  private onIdle: (() => void) | null = null;

  constructor(readonly opts: UpstreamOptions) {
    const url = new URL(opts.baseUrl);
    this.baseUrl = opts.baseUrl;
    this.basePath = url.pathname.replace(/\/+$/, '');
    this.host = url.hostname.replace(/^\[|\]$/g, '');
    this.port = url.port;
    const agentOptions = { keepAlive: true, maxSockets: opts.connections ?? 128, timeout: 30_000, scheduling: 'lifo' as const };
    if (url.protocol === 'https:') {
      // TLS loads only for an https upstream (the tests and the bench are plain http on loopback).
      const https = requireHere('node:https') as typeof Https;
      this.agent = new https.Agent(agentOptions);
      this.request0 = https.request as unknown as typeof httpRequest;
    } else {
      this.agent = new Agent(agentOptions);
      this.request0 = httpRequest;
    }
  }

  request(r: ForwardRequest): Promise<UpstreamResponse> {
    const headers: Record<string, string> = {
      authorization: `Bearer ${r.key}`,
      'x-request-id': r.requestId,
    };
    for (const name of FORWARD_REQUEST_HEADERS) {
      const v = r.headers[name];
      if (typeof v === 'string') headers[name] = v;
    }
    if (r.extra) Object.assign(headers, r.extra);
    if (r.body !== null) {
      if (headers['content-type'] === undefined) headers['content-type'] = 'application/json';
      headers['content-length'] = String(typeof r.body === 'string' ? Buffer.byteLength(r.body) : r.body.length);
    }
    const opts: RequestOptions = { host: this.host, port: this.port, method: r.method, path: this.basePath + r.path, headers, agent: this.agent };
    if (r.signal.aborted) return Promise.reject(abortError());
    this.inFlight++;
    let settled = false;
    // The signal ends the request, or the answer on its way (node:http's own `signal` option costs an
    // end-of-stream watcher per request on top of this listener).
    let req: ClientRequest | undefined;
    const onAbort = () => req?.destroy(abortError());
    r.signal.addEventListener('abort', onAbort, { once: true });
    const done = () => {
      if (settled) return;
      settled = true;
      r.signal.removeEventListener('abort', onAbort);
      if (--this.inFlight === 0 && this.onIdle) this.onIdle();
    };
    return new Promise<UpstreamResponse>((resolve, reject) => {
      let answered = false;
      const fail = (err: unknown) => {
        // After the answer, a failure reaches the relay through the body (node:http destroys it too).
        if (answered) return;
        clearTimeout(headersTimer);
        done();
        reject(mapTransportError(err, this.opts));
      };
      const headersTimer = setTimeout(() => req?.destroy(new HeadersTimeoutError('Headers Timeout Error')), this.opts.headersTimeoutMs);
      try {
        const created = this.request0(opts, (res) => {
          clearTimeout(headersTimer);
          answered = true;
          watchBody(created, res, this.opts.idleTimeoutMs);
          res.once('close', done);
          resolve({ statusCode: res.statusCode ?? 502, headers: res.headers, body: res });
        });
        req = created;
      } catch (err) {
        // Invalid header values (checked by node:http before anything is sent).
        fail(err);
        return;
      }
      const sent = req;
      sent.on('error', fail);
      sent.once('socket', (socket: Socket) => {
        if (!socket.connecting) return;
        const timer = setTimeout(() => sent.destroy(new ConnectTimeoutError('Connect Timeout Error')), this.opts.connectTimeoutMs ?? 10_000);
        const clear = () => clearTimeout(timer);
        socket.once('connect', clear);
        socket.once('close', clear);
      });
      sent.end(r.body ?? undefined);
    });
  }

  /** Lets requests in flight finish, then closes every connection. */
  close(): Promise<void> {
    if (this.inFlight === 0) {
      this.agent.destroy();
      return Promise.resolve();
    }
    return new Promise((resolve) => {
      this.onIdle = () => {
        this.agent.destroy();
        resolve();
      };
    });
  }

  destroy(): Promise<void> {
    this.agent.destroy();
    return Promise.resolve();
  }
}

/**
 * The body's silence limit: the socket's own idle timer (reset by every byte that arrives), as undici's
 * bodyTimeout was. After the answer the socket goes back to the agent, which resets its timer.
 */
function watchBody(req: ClientRequest, res: IncomingMessage, idleMs: number): void {
  const socket = req.socket;
  if (!socket) return;
  const onTimeout = () => res.destroy(new BodyTimeoutError('Body Timeout Error'));
  socket.setTimeout(idleMs);
  socket.on('timeout', onTimeout);
  // However the answer ends, the next request on this socket is out of its reach. (A socket closed before the
  // answer was whole destroys the body with ECONNRESET: reading it throws, it never ends short.)
  res.once('close', () => socket.off('timeout', onTimeout));
}

export function responseHeaders(h: IncomingHttpHeaders | Record<string, string | string[] | undefined>): Record<string, string | string[]> {
  const out: Record<string, string | string[]> = {};
  for (const k in h) {
    const v = h[k];
    if (v !== undefined && (FORWARD_RESPONSE_HEADERS.has(k) || k.startsWith('x-ratelimit-'))) out[k] = v;
  }
  return out;
}

export function mapTransportError(err: unknown, opts: UpstreamOptions): Error {
  if (err instanceof HeadersTimeoutError) {
    return gatewayTimeout('upstream_timeout', `SkillBoss did not answer within ${opts.headersTimeoutMs / 1000} s. Retry later.`, err);
  }
  if (err instanceof BodyTimeoutError) {
    return gatewayTimeout('upstream_timeout', `SkillBoss stopped sending for ${opts.idleTimeoutMs / 1000} s.`, err);
  }
  if (err instanceof ConnectTimeoutError) {
    return gatewayTimeout('upstream_unreachable', 'Could not connect to SkillBoss in time. Check the network, or retry.', err);
  }
  if ((err as Error)?.name === 'AbortError') return err as Error;
  const code = (err as { code?: string })?.code;
  return badGateway('upstream_unreachable', `Could not reach SkillBoss${code ? ` (${code})` : ''}. Check the network, or retry.`, err);
}
