/**
 * Where things live and what the defaults are. Precedence everywhere:
 * command-line flag > environment variable > platform default.
 */
import { homedir, platform } from 'node:os';
import { join, resolve } from 'node:path';
import { envSetting, setting } from './env.js';

export const APP_NAME = 'skillboss-sidecar';
export const DEFAULT_PORT = 7373;
export const DEFAULT_HOST = '127.0.0.1';
export const DEFAULT_UPSTREAM = 'https://api.skillboss.co/v1';

export function defaultDataDir(env: NodeJS.ProcessEnv = process.env): string {
  switch (platform()) {
    case 'darwin':
      return join(homedir(), 'Library', 'Application Support', APP_NAME);
    case 'win32':
      return join(envSetting('APPDATA', env) ?? join(homedir(), 'AppData', 'Roaming'), APP_NAME);
    default:
      return join(envSetting('XDG_DATA_HOME', env) ?? join(homedir(), '.local', 'share'), APP_NAME);
  }
}

/** --data-dir, else SKILLBOSS_SIDECAR_DATA_DIR, else the platform's; an empty one is not set (the flag is refused), never the working directory. */
export function resolveDataDir(flag?: string, env: NodeJS.ProcessEnv = process.env): string {
  return resolve(setting({ value: flag, name: '--data-dir' }, 'SKILLBOSS_SIDECAR_DATA_DIR', env) ?? defaultDataDir(env));
}

export function resolveUpstream(flag?: string, env: NodeJS.ProcessEnv = process.env): string {
  const raw = setting({ value: flag, name: '--upstream' }, 'SKILLBOSS_UPSTREAM_URL', env) ?? DEFAULT_UPSTREAM;
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new Error(`upstream URL ${JSON.stringify(raw)} is not a URL (expected e.g. ${DEFAULT_UPSTREAM})`);
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') throw new Error(`upstream URL must be http(s), got ${url.protocol}`);
  if (url.username || url.password) throw new Error('upstream URL must not carry credentials; the key lives in the keychain');
  return url.toString().replace(/\/+$/, '');
}

/**
 * Whether the upstream may change to `next` while the daemon runs (the dashboard's Settings, the admin
 * API): only to https, since the next call carries the real key there. A plain-http upstream (a local
 * simulator) is chosen when the daemon starts (--upstream / SKILLBOSS_UPSTREAM_URL) by whoever runs it;
 * "changing" to the URL already in use is not a change.
 */
export function runtimeUpstreamRefusal(next: string, current: string): string | null {
  if (next === current || new URL(next).protocol === 'https:') return null;
  return 'only an https URL can be set while the sidecar runs; a plain-http upstream is set when it starts (--upstream or SKILLBOSS_UPSTREAM_URL)';
}

/** The upstream to start with: a saved one (from Settings) only if it is https, else the one given at start. */
export function startUpstream(saved: string | undefined, given: string): string {
  if (saved === undefined) return given;
  try {
    return new URL(saved).protocol === 'https:' ? saved : given;
  } catch {
    return given;
  }
}

/** Limits on the agent-facing server; each can be changed by a flag of `serve`. */
export interface Limits {
  /** Largest request body accepted (bytes). */
  maxBodyBytes: number;
  /** Time allowed to receive the request headers (ms). */
  headersTimeoutMs: number;
  /** Time a request may take to arrive whole (ms). */
  requestTimeoutMs: number;
  /** Idle keep-alive connections are closed after this (ms). */
  keepAliveTimeoutMs: number;
  /** Time to wait for the upstream's response headers (ms). */
  upstreamHeadersTimeoutMs: number;
  /** Longest silence between two chunks of the upstream's body (ms). */
  upstreamIdleTimeoutMs: number;
  /** max_tokens reserved for a request that does not set one. */
  defaultMaxTokens: number;
  /** Longest an upstream response may take to relay whole, streams included (ms); then it is cut off. */
  maxResponseMs: number;
  /** Most bytes relayed from one upstream response, streams included; then it is cut off. */
  maxResponseBytes: number;
  /** Deepest nesting of arrays and objects accepted in a JSON request body. */
  maxJsonDepth: number;
  /** Failed authentications one client address may make per minute before it gets 429s; 0 turns the limit off. */
  authFailuresPerMinute: number;
  /**
   * Most agent connections open at once (server/capacity.ts: the admin API and dashboard have a reserve
   * besides, and sockets with no request yet are capped per address). Slow clients (slowloris) are cut off
   * by the timeouts above, but until then each holds a socket: this bounds how many they can hold.
   */
  maxConnections: number;
}

export const DEFAULT_LIMITS: Limits = {
  maxBodyBytes: 32 * 1024 * 1024,
  headersTimeoutMs: 10_000,
  requestTimeoutMs: 120_000,
  keepAliveTimeoutMs: 5_000,
  upstreamHeadersTimeoutMs: 300_000,
  upstreamIdleTimeoutMs: 120_000,
  defaultMaxTokens: 4096,
  maxResponseMs: 60 * 60_000,
  maxResponseBytes: 256 * 1024 * 1024,
  maxJsonDepth: 64,
  authFailuresPerMinute: 60,
  maxConnections: 512,
};
