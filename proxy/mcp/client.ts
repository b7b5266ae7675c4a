/**
 * The MCP server's way to the daemon: plain HTTP to the agent API, with the
 * agent's own local token (never the real key). Holds the current token in
 * memory so a key collected by request_access or minted by rotate_key is used
 * by the next tool call.
 */
import { createHash } from 'node:crypto';
import { DEFAULT_HOST, DEFAULT_PORT } from '../core/config.js';
import { isLoopbackHost } from '../core/net.js';
import { TOKEN_PREFIX } from '../tokens/format.js';
import { envSetting } from '../core/env.js';

export class SidecarApiError extends Error {
  override name = 'SidecarApiError';
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    /** Seconds, from Retry-After. */
    readonly retryAfter: number | null,
  ) {
    super(message);
  }
}

export interface ClientConfig {
  /** The agent API base, ending in /v1. */
  baseUrl: string;
  token: string | null;
  /**
   * When the URL came from the data dir's daemon.json: whether that data dir's lock is still held (the same
   * proof as cli/running.ts), asked before a token is sent. After a SIGKILL, daemon.json outlives the daemon,
   * and whoever binds the freed port next would receive the agent's token (issue 25 item 10).
   */
  daemonAlive?: { dataDir: string; holdsLock: () => boolean };
}

/** `http://127.0.0.1:7373`, `…/v1` or `…/v1/` → `http://127.0.0.1:7373/v1`; only loopback http(s). */
export function normalizeBaseUrl(raw: string): string {
  let u: URL;
  try {
    u = new URL(raw);
  } catch {
    throw new Error(`${JSON.stringify(raw)} is not a URL (expected e.g. http://127.0.0.1:${DEFAULT_PORT}/v1)`);
  }
  if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new Error(`the sidecar URL must be http(s), not ${u.protocol}`);
  if (!isLoopbackHost(u.hostname)) throw new Error(`the sidecar listens on this machine only; ${u.host} is not a loopback address, and the agent's key is not sent elsewhere`);
  if (u.username || u.password || u.search || u.hash) throw new Error('the sidecar URL must be a plain base URL (no credentials, query or fragment)');
  const path = u.pathname.replace(/\/+$/, '');
  return `${u.origin}${path.endsWith('/v1') ? path : `${path}/v1`}`;
}

/**
 * Precedence: --base-url > OPENAI_BASE_URL (when it points at this machine;
 * a global one aimed at OpenAI itself is ignored) > the running daemon's URL
 * (`runtime`, from daemon.json in the data dir, which the caller reads with the
 * check that its daemon still holds the data dir's lock) >
 * http://127.0.0.1:7373/v1.
 * The key: SKILLBOSS_API_KEY, else OPENAI_API_KEY, and only when it is a
 * sidecar token (a real provider key is never sent to the sidecar).
 */
export function resolveClientConfig(opts: { baseUrl?: string; runtime?: ClientConfig['daemonAlive'] & { url: string }; env?: NodeJS.ProcessEnv; warn?: (msg: string) => void }): ClientConfig {
  const env = opts.env ?? process.env;
  let baseUrl: string | undefined;
  if (opts.baseUrl) baseUrl = normalizeBaseUrl(opts.baseUrl);
  else if (envSetting('OPENAI_BASE_URL', env)) {
    try {
      baseUrl = normalizeBaseUrl(envSetting('OPENAI_BASE_URL', env)!);
    } catch (err) {
      opts.warn?.(`ignoring OPENAI_BASE_URL: ${(err as Error).message}`);
    }
  }
  let daemonAlive: ClientConfig['daemonAlive'];
  if (baseUrl === undefined) {
    const runtime = opts.runtime;
    if (runtime) daemonAlive = { dataDir: runtime.dataDir, holdsLock: runtime.holdsLock };
    baseUrl = normalizeBaseUrl(runtime?.url ?? `http://${DEFAULT_HOST}:${DEFAULT_PORT}`);
  }
  const candidates = [envSetting('SKILLBOSS_API_KEY', env), envSetting('OPENAI_API_KEY', env)].map((k) => k?.trim()).filter((k): k is string => Boolean(k));
  const token = candidates.find((k) => k.startsWith(TOKEN_PREFIX)) ?? null;
  if (!token && candidates.length > 0) opts.warn?.(`ignoring SKILLBOSS_API_KEY/OPENAI_API_KEY: not a sidecar token (${TOKEN_PREFIX}…); use request_access to get one`);
  return { baseUrl, token, ...(daemonAlive !== undefined ? { daemonAlive } : {}) };
}

type Json = Record<string, unknown>;

/** What `raw` read of an answer: its status and type, its whole size and hash, and its first bytes. */
export interface RawAnswer {
  status: number;
  contentType: string | null;
  size: number;
  sha256: string;
  /** At most the `keep` bytes asked for. */
  bytes: Buffer;
  truncated: boolean;
}

function daemonHolds(alive: NonNullable<ClientConfig['daemonAlive']>): boolean {
  try {
    return alive.holdsLock();
  } catch {
    return false;
  }
}

export class SidecarClient {
  constructor(private readonly config: ClientConfig) {}

  get baseUrl(): string {
    return this.config.baseUrl;
  }

  get token(): string | null {
    return this.config.token;
  }

  /** Switches to another key (collected, or rotated). */
  useToken(token: string): void {
    this.config.token = token;
  }

  /** An agent API call; `auth: false` for the access-request routes. */
  async call(method: string, path: string, opts: { body?: unknown; auth?: boolean; signal?: AbortSignal } = {}): Promise<Json> {
    const headers: Record<string, string> = { accept: 'application/json' };
    if (opts.auth !== false) {
      if (!this.config.token) throw new SidecarApiError(401, 'no_key', 'This MCP server has no sidecar key yet: call request_access first, or start it with SKILLBOSS_API_KEY set.', null);
      const alive = this.config.daemonAlive;
      if (alive !== undefined && !daemonHolds(alive)) {
        throw new SidecarApiError(0, 'unreachable', `The sidecar of ${alive.dataDir} is not running (its data dir is not locked), so this MCP server's key is not sent to whatever answers on ${this.config.baseUrl}; start it (skillboss-sidecar serve, or the tray app).`, null);
      }
      headers.authorization = `Bearer ${this.config.token}`;
    }
    if (opts.body !== undefined) headers['content-type'] = 'application/json';
    const url = path.startsWith('http') ? path : `${this.config.baseUrl}${path}`;
    let res: Response;
    try {
      res = await fetch(url, { method, headers, body: opts.body === undefined ? null : JSON.stringify(opts.body), signal: opts.signal ?? null, redirect: 'error' });
    } catch (err) {
      if (opts.signal?.aborted) throw err;
      throw new SidecarApiError(0, 'unreachable', `The sidecar at ${this.config.baseUrl} did not answer (${(err as Error).message}); is it running (skillboss-sidecar serve, or the tray app)?`, null);
    }
    const text = await res.text();
    let json: Json = {};
    try {
      json = text ? (JSON.parse(text) as Json) : {};
    } catch {
      /* not JSON: described below by status */
    }
    if (!res.ok) {
      const e = (json.error ?? {}) as { code?: string; message?: string };
      const ra = res.headers.get('retry-after');
      throw new SidecarApiError(res.status, e.code ?? `http_${res.status}`, e.message ?? `HTTP ${res.status}`, ra === null ? null : Number(ra));
    }
    return json;
  }

  /**
   * An agent API call whose answer may be anything (SkillBoss's `/v1/run`: the vendor's JSON, binary audio, an SSE
   * stream): read as it comes, hashed and sized whole, at most `keep` bytes of it kept. Refusals throw as `call` does.
   */
  async raw(method: string, path: string, opts: { body?: unknown; headers?: Record<string, string>; keep: number; signal?: AbortSignal }): Promise<RawAnswer> {
    if (!this.config.token) throw new SidecarApiError(401, 'no_key', 'This MCP server has no sidecar key yet: call request_access first, or start it with SKILLBOSS_API_KEY set.', null);
    const alive = this.config.daemonAlive;
    if (alive !== undefined && !daemonHolds(alive)) {
      throw new SidecarApiError(0, 'unreachable', `The sidecar of ${alive.dataDir} is not running (its data dir is not locked), so this MCP server's key is not sent to whatever answers on ${this.config.baseUrl}; start it (skillboss-sidecar serve, or the tray app).`, null);
    }
    const headers: Record<string, string> = { ...opts.headers, authorization: `Bearer ${this.config.token}` };
    if (opts.body !== undefined) headers['content-type'] = 'application/json';
    let res: Response;
    try {
      res = await fetch(`${this.config.baseUrl}${path}`, { method, headers, body: opts.body === undefined ? null : JSON.stringify(opts.body), signal: opts.signal ?? null, redirect: 'error' });
    } catch (err) {
      if (opts.signal?.aborted) throw err;
      throw new SidecarApiError(0, 'unreachable', `The sidecar at ${this.config.baseUrl} did not answer (${(err as Error).message}); is it running (skillboss-sidecar serve, or the tray app)?`, null);
    }
    const hash = createHash('sha256');
    const kept: Buffer[] = [];
    let size = 0;
    let keptBytes = 0;
    if (res.body) {
      for await (const chunk of res.body) {
        const b = Buffer.from(chunk as Uint8Array);
        hash.update(b);
        size += b.length;
        if (keptBytes < opts.keep + 1) {
          const part = b.subarray(0, opts.keep + 1 - keptBytes);
          kept.push(part);
          keptBytes += part.length;
        }
      }
    }
    const bytes = Buffer.concat(kept);
    if (!res.ok) {
      let e: { code?: string; message?: string } = {};
      try {
        e = ((JSON.parse(bytes.toString('utf8')) as Json).error ?? {}) as typeof e;
      } catch {
        /* described by status */
      }
      const ra = res.headers.get('retry-after');
      throw new SidecarApiError(res.status, e.code ?? `http_${res.status}`, e.message ?? `HTTP ${res.status}`, ra === null ? null : Number(ra));
    }
    return { status: res.status, contentType: res.headers.get('content-type'), size, sha256: hash.digest('hex'), bytes: bytes.subarray(0, opts.keep), truncated: size > opts.keep };
  }

  /** Fetches a poll_url, but only one on this same sidecar (the poll secret is not sent anywhere else). */
  poll(pollUrl: string, signal?: AbortSignal): Promise<Json> {
    if (new URL(pollUrl).origin !== new URL(this.config.baseUrl).origin) {
      throw new SidecarApiError(0, 'foreign_poll_url', 'The poll_url does not point at this sidecar.', null);
    }
    return this.call('GET', pollUrl, { auth: false, ...(signal ? { signal } : {}) });
  }
}
