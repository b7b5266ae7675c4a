/**
 * The one module that talks to the upstream for agents. It owns the choice of
 * HTTP client (undici, measured faster than node:http and http-proxy here; see
 * the README's Performance section), the header allowlists both ways, the
 * timeouts, and the mapping of transport failures to 502/504. Stage 8,
 * forward (forward.ts), sends through it; stage 9, relay, maps its failures.
 */
import { Pool, errors as undiciErrors, type Dispatcher } from 'undici';
import type { IncomingHttpHeaders } from 'node:http';
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
}

export interface ForwardRequest {
  method: string;
  /** Path below the base URL, with query. */
  path: string;
  headers: IncomingHttpHeaders;
  body: Buffer | string | null;
  key: string;
  requestId: string;
  signal: AbortSignal;
  /** Headers the sidecar sets itself (X-Max-Cost-Usd, X-Agent-Name): after the allowlist, so they win. */
  extra?: Readonly<Record<string, string>>;
}

export class Upstream {
  readonly baseUrl: string;
  private readonly pool: Pool;
  private readonly basePath: string;

  constructor(readonly opts: UpstreamOptions) {
    const url = new URL(opts.baseUrl);
    this.baseUrl = opts.baseUrl;
    this.basePath = url.pathname.replace(/\/+$/, '');
    this.pool = new Pool(url.origin, {
      connections: opts.connections ?? 128,
      keepAliveTimeout: 30_000,
      headersTimeout: opts.headersTimeoutMs,
      bodyTimeout: opts.idleTimeoutMs,
      connect: { timeout: 10_000 },
    });
  }

  async request(r: ForwardRequest): Promise<Dispatcher.ResponseData> {
    const headers: Record<string, string> = {
      authorization: `Bearer ${r.key}`,
      'x-request-id': r.requestId,
    };
    for (const name of FORWARD_REQUEST_HEADERS) {
      const v = r.headers[name];
      if (typeof v === 'string') headers[name] = v;
    }
    if (r.extra) Object.assign(headers, r.extra);
    if (r.body !== null && headers['content-type'] === undefined) headers['content-type'] = 'application/json';
    try {
      return await this.pool.request({
        method: r.method as Dispatcher.HttpMethod,
        path: this.basePath + r.path,
        headers,
        body: r.body,
        signal: r.signal,
      });
    } catch (err) {
      throw mapTransportError(err, this.opts);
    }
  }

  close(): Promise<void> {
    return this.pool.close();
  }

  destroy(): Promise<void> {
    return this.pool.destroy();
  }
}

export function responseHeaders(h: IncomingHttpHeaders | Record<string, string | string[] | undefined>): Record<string, string | string[]> {
  const out: Record<string, string | string[]> = {};
  for (const [k, v] of Object.entries(h)) {
    if (v !== undefined && (FORWARD_RESPONSE_HEADERS.has(k) || k.startsWith('x-ratelimit-'))) out[k] = v;
  }
  return out;
}

export function mapTransportError(err: unknown, opts: UpstreamOptions): Error {
  if (err instanceof undiciErrors.HeadersTimeoutError) {
    return gatewayTimeout('upstream_timeout', `SkillBoss did not answer within ${opts.headersTimeoutMs / 1000} s. Retry later.`, err);
  }
  if (err instanceof undiciErrors.BodyTimeoutError) {
    return gatewayTimeout('upstream_timeout', `SkillBoss stopped sending for ${opts.idleTimeoutMs / 1000} s.`, err);
  }
  if (err instanceof undiciErrors.ConnectTimeoutError) {
    return gatewayTimeout('upstream_unreachable', 'Could not connect to SkillBoss in time. Check the network, or retry.', err);
  }
  if (err instanceof undiciErrors.RequestAbortedError || (err as Error)?.name === 'AbortError') return err as Error;
  const code = (err as { code?: string })?.code;
  return badGateway('upstream_unreachable', `Could not reach SkillBoss${code ? ` (${code})` : ''}. Check the network, or retry.`, err);
}
