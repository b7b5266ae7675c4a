/**
 * The account balance, wherever SkillBoss keeps it. The public material shows
 * four places (../shared/reference/skillboss-real-api.md §3): the seed's
 * `GET /v1/balance`, `GET /v1/wallet/balance`, and on the control-plane host
 * `GET /api/me/balance {balance (USD), credits}` and `GET /api/billing
 * {wallet_balance_usd}`. Whichever answers is used, the one that answered last
 * is asked first next time. USD fields are preferred; credits are kept as
 * SkillBoss said them and never converted (the sources disagree on the rate).
 */
import { UpstreamCallError, upstreamJson } from './client.js';

export interface BalanceEndpoint {
  /** Which host: the inference API (…/v1) or the control plane. */
  host: 'api' | 'control';
  path: string;
}

export const BALANCE_ENDPOINTS: readonly BalanceEndpoint[] = [
  { host: 'api', path: '/balance' },
  { host: 'api', path: '/wallet/balance' },
  { host: 'control', path: '/api/me/balance' },
  { host: 'control', path: '/api/billing' },
];

export const describeEndpoint = (e: BalanceEndpoint): string => (e.host === 'api' ? `GET /v1${e.path}` : `GET <control plane>${e.path}`);

export const CONTROL_PLANE_SETTING = 'control_plane_url';

/**
 * The control-plane host for an inference URL: `https://api.skillboss.co/v1`
 * → `https://www.skillboss.co`; any other host (a simulator, a relay) keeps
 * its origin. The key goes only to this host or one the human set.
 */
export function controlPlaneOf(baseUrl: string): string {
  const u = new URL(baseUrl);
  const host = u.hostname.startsWith('api.') ? `www.${u.hostname.slice(4)}` : u.hostname;
  return `${u.protocol}//${host.includes(':') && !host.startsWith('[') ? `[${host}]` : host}${u.port ? `:${u.port}` : ''}`;
}

/** A control-plane URL the human gave (--control-plane, env, setting): http(s), no credentials, no path. */
export function parseControlPlane(raw: string): string {
  let u: URL;
  try {
    u = new URL(raw);
  } catch {
    throw new Error(`control-plane URL ${JSON.stringify(raw.slice(0, 100))} is not a URL (expected e.g. https://www.skillboss.co)`);
  }
  if (u.protocol !== 'https:' && u.protocol !== 'http:') throw new Error(`control-plane URL must be http(s), got ${u.protocol}`);
  if (u.username || u.password) throw new Error('control-plane URL must not carry credentials; the key lives in the keychain');
  return `${u.origin}${u.pathname.replace(/\/+$/, '')}`;
}

const num = (v: unknown): number | null => {
  const n = typeof v === 'string' && v.trim() !== '' ? Number(v) : v;
  return typeof n === 'number' && Number.isFinite(n) ? n : null;
};

/** The USD and credit figures in one balance answer (null where it has none). */
export function readBalance(body: unknown): { usd: number | null; credits: number | null } {
  if (!body || typeof body !== 'object') return { usd: null, credits: null };
  const b = body as Record<string, unknown>;
  const currency = typeof b.currency === 'string' ? b.currency.toUpperCase() : null;
  const usd = num(b.balance_usd) ?? num(b.wallet_balance_usd) ?? num(b.usd) ?? (currency === null || currency === 'USD' ? num(b.balance) : null);
  const credits = num(b.credits) ?? num(b.balance_credits) ?? num(b.available_credits);
  return { usd, credits };
}

export interface BalanceFound {
  usd: number | null;
  credits: number | null;
  source: string;
}

/**
 * Asks each endpoint in turn (the one named `preferred` first) until one
 * answers with a figure. Returns null with the reasons when none did; a 401
 * here says nothing about the key (some routes take only some keys).
 */
export async function findBalance(apiBase: string, controlPlane: string, key: string, preferred: string | null): Promise<BalanceFound | { reasons: string[] }> {
  const order = [...BALANCE_ENDPOINTS].sort((a, b) => Number(describeEndpoint(b) === preferred) - Number(describeEndpoint(a) === preferred));
  const reasons: string[] = [];
  for (const e of order) {
    const where = describeEndpoint(e);
    try {
      const body = await upstreamJson<unknown>(e.host === 'api' ? apiBase : controlPlane, key, 'GET', e.path);
      const found = readBalance(body);
      if (found.usd !== null || found.credits !== null) return { ...found, source: where };
      reasons.push(`${where}: no balance in the answer`);
    } catch (err) {
      reasons.push(`${where}: ${err instanceof UpstreamCallError && err.status !== null ? `answered ${err.status}` : (err as Error).message}`);
    }
  }
  return { reasons };
}
