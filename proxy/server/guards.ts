/**
 * The first thing every request meets, before routing or auth: the Host
 * header must name this server on a loopback name (DNS rebinding), and a
 * browser Origin must be our own or one the human allowed (CSRF from any web
 * page). Both are plain checks on strings computed once at start.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { forbidden, badRequest, type SidecarError } from '../core/errors.js';
import { isLoopbackHost } from '../core/net.js';

export { isLoopbackHost };

export interface GuardConfig {
  port: number;
  /** The bind address; a non-loopback bind adds itself to the allowed hosts. */
  host: string;
  /** Extra browser origins allowed to call (for browser-based agents), exact `scheme://host:port`. */
  allowedOrigins?: readonly string[];
}

const LOOPBACK_NAMES = ['127.0.0.1', 'localhost', '[::1]'];

/** Request headers a browser-based agent may send cross-origin (the openai SDK adds x-stainless-*). */
const CORS_HEADERS = new Set(['authorization', 'content-type', 'accept', 'openai-beta', 'idempotency-key']);
const CORS_HEADER_PATTERN = /^x-stainless-[a-z0-9-]+$/;

export class Guards {
  private readonly hosts: Set<string>;
  private readonly origins: Set<string>;
  /** Origins the human allowed for browser-based agents: CORS on /v1 only, never with credentials. */
  private readonly extraOrigins: Set<string>;

  constructor(cfg: GuardConfig) {
    const names = new Set(LOOPBACK_NAMES);
    if (!isLoopbackHost(cfg.host) && cfg.host !== '0.0.0.0' && cfg.host !== '::') names.add(cfg.host.includes(':') ? `[${cfg.host}]` : cfg.host);
    this.hosts = new Set([...names].map((n) => `${n}:${cfg.port}`));
    this.extraOrigins = new Set(cfg.allowedOrigins ?? []);
    this.origins = new Set([...[...names].map((n) => `http://${n}:${cfg.port}`), ...this.extraOrigins]);
  }

  /**
   * CORS for an allowed browser origin on the agent API: the exact origin
   * echoed, no credentials (the token is the credential), and preflights
   * answered here. Returns true when the request was a preflight and is done.
   */
  cors(req: IncomingMessage, res: ServerResponse): boolean {
    const origin = req.headers.origin;
    if (origin === undefined || !this.extraOrigins.has(origin) || !req.url?.startsWith('/v1/')) return false;
    res.setHeader('access-control-allow-origin', origin);
    res.setHeader('vary', 'Origin');
    if (req.method !== 'OPTIONS') {
      res.setHeader('access-control-expose-headers', 'retry-after, x-request-id, x-skillboss-cost');
      return false;
    }
    const wanted = String(req.headers['access-control-request-headers'] ?? '')
      .split(',')
      .map((h) => h.trim().toLowerCase())
      .filter(Boolean);
    const allowed = wanted.filter((h) => CORS_HEADERS.has(h) || CORS_HEADER_PATTERN.test(h));
    res.writeHead(204, {
      'access-control-allow-methods': 'GET, POST, DELETE',
      'access-control-allow-headers': allowed.join(', ') || 'authorization, content-type',
      'access-control-max-age': '600',
      'content-length': '0',
    });
    res.end();
    return true;
  }

  /** The refusal for this request, or null when it may proceed. */
  check(req: IncomingMessage): SidecarError | null {
    const host = req.headers.host;
    if (host === undefined) return badRequest('missing_host', 'The request has no Host header.');
    // rawHeaders catches a duplicated Host, which Node folds into one value.
    if (countHeader(req.rawHeaders, 'host') > 1) return badRequest('duplicate_host', 'The request has more than one Host header.');
    if (!this.hosts.has(host.toLowerCase())) {
      return forbidden('forbidden_host', 'The Host header does not name this sidecar (it only answers to 127.0.0.1, localhost or [::1] with its port).');
    }
    // Only origin-form targets (`/path`). An absolute-form target (`GET http://other.example/…`) names a host of its
    // own that RFC 9112 says wins over the Host header just checked, and `*` has no use here.
    if (!req.url?.startsWith('/')) return badRequest('invalid_request_target', 'The request target must be a path starting with "/".');
    const origin = req.headers.origin;
    if (origin !== undefined && !this.origins.has(origin)) {
      return forbidden('forbidden_origin', 'Requests from web pages on other origins are refused.');
    }
    if (origin === undefined && req.headers['sec-fetch-site'] === 'cross-site' && !isLoginNavigation(req)) {
      return forbidden('forbidden_origin', 'Cross-site requests from browsers are refused.');
    }
    return null;
  }

  isOwnOrigin(origin: string): boolean {
    return this.origins.has(origin);
  }
}

function countHeader(raw: string[], name: string): number {
  let n = 0;
  for (let i = 0; i < raw.length; i += 2) if (raw[i]!.toLowerCase() === name) n++;
  return n;
}

/**
 * A browser window opening a one-time login link from elsewhere: `open` hands the browser a local file that
 * redirects to the link (so the nonce is on no command line), and a file:// page counts as cross-site, as
 * does the login's redirect to the dashboard after it. A top-level GET navigation reads nothing back, the
 * dashboard page holds no data, and the link works only with a nonce the human minted.
 */
function isLoginNavigation(req: IncomingMessage): boolean {
  if (req.method !== 'GET' || req.headers['sec-fetch-mode'] !== 'navigate' || req.headers['sec-fetch-dest'] !== 'document') return false;
  const path = req.url!.split('?', 1)[0];
  return path === '/admin/login' || path === '/';
}
