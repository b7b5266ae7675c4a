/**
 * Fault injection settings. A plain mutable object: tests set fields directly
 * (`sim.faults.latencyMs = 50`) or over HTTP (`POST /_sim/faults`, merged).
 * The request path reads the fields directly, so an unset fault costs nothing.
 */
export interface FailNextFault {
  /** How many more /v1 requests fail; decremented per request. */
  count: number;
  status: number;
  /** Response body (JSON-serialised); default is an OpenAI-style error for `status`. */
  body?: unknown;
  /** Response body sent byte for byte instead (escapes JSON.stringify never writes, such as `\u002d`). */
  rawBody?: string;
  /** Seconds, sent as the Retry-After header. */
  retryAfter?: number;
  /** Only requests to this path fail (others pass and leave the count alone): a test aims the fault past background syncs. */
  path?: string;
}

export interface Faults {
  /** Delay (ms) before every /v1 response's headers. */
  latencyMs?: number;
  /** Delay (ms) between SSE chunks. Default 0. */
  chunkDelayMs?: number;
  /** The next `count` /v1 requests answer `status` (removed once used up). */
  failNext?: FailNextFault;
  /** A streamed response destroys the socket after this many chunks were written. */
  dropAfterChunks?: number;
  /** Accept /v1 requests and never answer (until close()). */
  hang?: boolean;
  /** Answer /v1 requests 200 with a non-JSON body (content-type application/json). */
  garbage?: boolean;
  /** Streamed chat/completions never end (one chunk every chunkDelayMs, or 10 ms). */
  streamForever?: boolean;
  /** Never report usage (no usage chunk, no `usage` in JSON bodies). */
  omitUsage?: boolean;
  /** A streamed response writes `data: <data>` (verbatim) after `after` chunks, then ends: an error mid-stream. */
  streamError?: { after: number; data: string };
}

const KEYS = ['latencyMs', 'chunkDelayMs', 'failNext', 'dropAfterChunks', 'hang', 'garbage', 'streamForever', 'omitUsage', 'streamError'] as const;
const NUMERIC = new Set<string>(['latencyMs', 'chunkDelayMs', 'dropAfterChunks']);
const BOOLEAN = new Set<string>(['hang', 'garbage', 'streamForever', 'omitUsage']);

function isNonNegNumber(v: unknown): v is number {
  return typeof v === 'number' && Number.isFinite(v) && v >= 0;
}

/**
 * Merges a JSON patch into `target`. `null` removes a setting. Returns an error
 * message for an invalid patch (and leaves `target` untouched), else undefined.
 */
export function mergeFaults(target: Faults, patch: unknown): string | undefined {
  if (!patch || typeof patch !== 'object' || Array.isArray(patch)) return 'faults patch must be a JSON object';
  const p = patch as Record<string, unknown>;
  for (const k of Object.keys(p)) {
    if (!(KEYS as readonly string[]).includes(k)) return `unknown fault "${k}"; known: ${KEYS.join(', ')}`;
    const v = p[k];
    if (v === null) continue;
    if (NUMERIC.has(k) && !isNonNegNumber(v)) return `${k} must be a non-negative number`;
    if (BOOLEAN.has(k) && typeof v !== 'boolean') return `${k} must be a boolean`;
    if (k === 'failNext') {
      const f = v as Record<string, unknown>;
      if (!f || typeof f !== 'object' || !isNonNegNumber(f.count) || typeof f.status !== 'number' || f.status < 100 || f.status > 599) {
        return 'failNext must be {count, status, body?, retryAfter?, path?}';
      }
      if (f.path !== undefined && (typeof f.path !== 'string' || !f.path.startsWith('/v1'))) return 'failNext.path must be a /v1 path';
      if (f.retryAfter !== undefined && !isNonNegNumber(f.retryAfter)) return 'failNext.retryAfter must be a non-negative number';
      if (f.rawBody !== undefined && typeof f.rawBody !== 'string') return 'failNext.rawBody must be a string';
    }
    if (k === 'streamError') {
      const e = v as Record<string, unknown>;
      if (!e || typeof e !== 'object' || !isNonNegNumber(e.after) || typeof e.data !== 'string') return 'streamError must be {after, data}';
    }
  }
  const t = target as Record<string, unknown>;
  for (const k of Object.keys(p)) {
    const v = p[k];
    if (v === null) delete t[k];
    else t[k] = k === 'failNext' || k === 'streamError' ? { ...(v as object) } : v;
  }
  return undefined;
}

export function clearFaults(target: Faults): void {
  for (const k of KEYS) delete target[k];
}

const DEFAULT_ERRORS: Record<number, [type: string, code: string, message: string]> = {
  400: ['invalid_request_error', 'bad_request', 'Bad request (simulated)'],
  401: ['authentication_error', 'invalid_api_key', 'Invalid API key (simulated)'],
  402: ['insufficient_quota', 'insufficient_credits', 'Insufficient credits (simulated)'],
  403: ['permission_error', 'insufficient_scope', 'Permission denied (simulated)'],
  404: ['not_found_error', 'not_found', 'Not found (simulated)'],
  408: ['timeout_error', 'timeout', 'Request timed out (simulated)'],
  429: ['rate_limit_error', 'rate_limit_exceeded', 'Rate limit exceeded (simulated)'],
  500: ['api_error', 'server_error', 'Internal server error (simulated)'],
  502: ['api_error', 'bad_gateway', 'Bad gateway (simulated)'],
  503: ['api_error', 'service_unavailable', 'Service unavailable (simulated)'],
  504: ['api_error', 'gateway_timeout', 'Gateway timeout (simulated)'],
};

/** The error body a failNext fault answers with when it has no explicit body. */
export function defaultFaultBody(status: number): unknown {
  const [type, code, message] = DEFAULT_ERRORS[status] ?? ['api_error', `http_${status}`, `Simulated failure ${status}`];
  return { error: { message, type, code } };
}
