/**
 * Stage 2, authenticate: who is calling. The bearer token is checked for shape and checksum
 * before any lookup, then resolved once into a Principal that later stages use
 * (no later stage re-reads headers). Principals are cached by secret hash and
 * the cache is dropped whenever the token tables change (in this process or,
 * through SQLite's data_version, in the CLI).
 */
import type { IncomingMessage } from 'node:http';
import { badRequest, rateLimited, SidecarError, unauthorized } from '../core/errors.js';
import { hashToken, isWellFormedToken, TOKEN_PREFIX } from '../tokens/format.js';
import type { Scope } from '../tokens/scopes.js';
import type { Token, TokenStore } from '../tokens/store.js';

export interface Principal {
  readonly token: Token;
  /** The token then its ancestors, root last. */
  readonly chain: readonly Token[];
  readonly scopes: ReadonlySet<Scope>;
  /** False for a secret in its grace period after rotation: ordinary calls only. */
  readonly isCurrentSecret: boolean;
  readonly graceUntil: number | null;
  readonly secretHash: string;
}

export class PrincipalCache {
  private cache = new Map<string, Principal | null>();

  constructor(private readonly tokens: TokenStore) {}

  clear(): void {
    this.cache.clear();
  }

  /** The principal for a secret hash, or null when no token has it. */
  resolve(hash: string): Principal | null {
    const hit = this.cache.get(hash);
    if (hit !== undefined) return hit;
    const secret = this.tokens.findSecret(hash);
    let principal: Principal | null = null;
    if (secret) {
      const chain = this.tokens.chain(secret.token_id);
      const token = chain[0];
      if (token) {
        principal = {
          token,
          chain,
          scopes: new Set(token.scopes),
          isCurrentSecret: secret.superseded_at === null,
          graceUntil: secret.grace_until,
          secretHash: hash,
        };
      }
    }
    // Unknown hashes are not cached: a flood of random well-formed tokens must not grow memory.
    if (principal) this.cache.set(hash, principal);
    return principal;
  }
}

const HELP = 'Ask the human who runs the sidecar for a token (skillboss-sidecar token create), then send it as "Authorization: Bearer sk-sbl-…" (or "x-api-key: sk-sbl-…").';

/**
 * The limiter's bucket for a client address. Every 127.0.0.0/8 address (and ::1, and their IPv4-mapped
 * forms) is this machine: a client that binds 127.0.0.2, .3, … is still one client, so loopback shares one
 * bucket rather than getting a fresh allowance per address.
 */
export function clientBucket(address: string): string {
  const a = address.toLowerCase().replace(/^::ffff:/, '');
  return a === '::1' || /^127\./.test(a) ? 'loopback' : a;
}

/** Node keeps the first of several Authorization headers and drops the rest; which one counts must not be a guess. */
export function refuseDuplicateAuthorization(req: IncomingMessage): void {
  let n = 0;
  for (let i = 0; i < req.rawHeaders.length; i += 2) if (req.rawHeaders[i]!.toLowerCase() === 'authorization') n++;
  if (n > 1) throw badRequest('duplicate_authorization', 'The request has more than one Authorization header; send exactly one.');
}

/**
 * The token the request carries: `Authorization: Bearer …`, or `x-api-key`
 * as Anthropic clients send it (Claude Code may send both). When both hold a
 * sidecar token they must agree: two different tokens on one request are
 * refused, never chosen between. A sidecar token beside something else (an
 * Anthropic key left in the environment) is the one used; the other is
 * never forwarded.
 */
function credential(req: IncomingMessage): string {
  refuseDuplicateAuthorization(req);
  const header = req.headers.authorization;
  const rawKey = req.headers['x-api-key'];
  // 512 is far above a token's length; anything longer is not one, and is not echoed.
  if (rawKey !== undefined && (typeof rawKey !== 'string' || rawKey.length > 512)) throw unauthorized('invalid_token', `The x-api-key header must hold one token. ${HELP}`);
  const apiKey = rawKey?.trim() || undefined;
  if (header === undefined) {
    if (apiKey === undefined) throw unauthorized('missing_token', `No API key was sent. ${HELP}`);
    return apiKey;
  }
  if (header.length > 512 || !header.startsWith('Bearer ')) {
    throw unauthorized('invalid_token', `The Authorization header must be "Bearer <token>". ${HELP}`);
  }
  const bearer = header.slice(7).trim();
  if (apiKey === undefined || apiKey === bearer || !apiKey.startsWith(TOKEN_PREFIX)) return bearer;
  if (bearer.startsWith(TOKEN_PREFIX)) throw unauthorized('invalid_token', `The request carries two different sidecar tokens (Authorization and x-api-key); send one. ${HELP}`);
  return apiKey;
}

/**
 * Failed-authentication limiting per client address (the socket's, never a
 * header's). After `perMinute` 401s in a minute an address gets 429 with
 * Retry-After for the rest of that minute, instead of the 401 — for failures
 * only: a valid credential is answered as usual however many bad ones came
 * before it, so one agent's broken token (or a hostile local process) on this
 * machine does not lock out its neighbours (every local agent shares
 * 127.0.0.1). Brute force is hopeless against 190 bits anyway; this slows a
 * guesser and keeps a flood of guesses out of the ledger.
 */
export class FailedAuthLimiter {
  private readonly windows = new Map<string, { start: number; failures: number }>();

  constructor(
    private readonly perMinute: number,
    private readonly maxEntries = 10_000,
  ) {}

  /** Seconds until `address` may try again, or 0. */
  blockedFor(address: string, now: number): number {
    if (this.perMinute <= 0) return 0;
    const w = this.windows.get(address);
    if (!w || now - w.start >= 60_000 || w.failures < this.perMinute) return 0;
    return (w.start + 60_000 - now) / 1000;
  }

  failed(address: string, now: number): void {
    if (this.perMinute <= 0) return;
    let w = this.windows.get(address);
    if (!w || now - w.start >= 60_000) {
      // Bounded memory whatever the number of addresses (only with --allow-remote can there be many).
      if (this.windows.size >= this.maxEntries) this.windows.clear();
      w = { start: now, failures: 0 };
      this.windows.set(address, w);
    }
    w.failures++;
  }
}

export function authenticate(req: IncomingMessage, cache: PrincipalCache, now: number, limiter?: FailedAuthLimiter): Principal {
  if (!limiter) return authenticateToken(req, cache, now);
  const address = clientBucket(req.socket.remoteAddress ?? '');
  const wait = limiter.blockedFor(address, now);
  try {
    return authenticateToken(req, cache, now);
  } catch (err) {
    if (!(err instanceof SidecarError && err.status === 401)) throw err;
    // Only failures are slowed: a valid token is answered whatever its neighbours sent (issue 25 item 7).
    // Garbage never reaches the database (shape and checksum first), so a blocked guesser costs one indexed
    // lookup at most, and learns only that its guess was wrong, as it would have anyway.
    if (wait > 0) throw rateLimited('auth_rate_limited', `Too many requests with invalid API keys from this address; retry after ${Math.ceil(wait)} s. ${HELP}`, wait);
    limiter.failed(address, now);
    throw err;
  }
}

function authenticateToken(req: IncomingMessage, cache: PrincipalCache, now: number): Principal {
  const secret = credential(req);
  if (!secret.startsWith(TOKEN_PREFIX)) {
    throw unauthorized('invalid_token', `That is not a sidecar token (they start with ${TOKEN_PREFIX}); a real SkillBoss key must never be given to an agent. ${HELP}`);
  }
  if (!isWellFormedToken(secret)) throw unauthorized('invalid_token', `That token is malformed (its checksum does not match); check it was copied whole. ${HELP}`);
  const principal = cache.resolve(hashToken(secret));
  if (!principal) throw unauthorized('invalid_token', `That token is not known to this sidecar. ${HELP}`);
  checkValid(principal, now);
  return principal;
}

/** Revocation, expiry and rotation grace, for the token and every ancestor. Time-dependent, so never cached. */
export function checkValid(p: Principal, now: number): void {
  for (const t of p.chain) {
    if (t.revokedAt !== null) {
      const whose = t.id === p.token.id ? 'This token was revoked' : `This token's parent ${t.id} was revoked, and with it this token`;
      throw unauthorized('token_revoked', `${whose} (${new Date(t.revokedAt).toISOString()}). ${HELP}`);
    }
    if (t.expiresAt !== null && t.expiresAt <= now) {
      const whose = t.id === p.token.id ? 'This token expired' : `This token's parent ${t.id} expired`;
      throw unauthorized('token_expired', `${whose} at ${new Date(t.expiresAt).toISOString()}. ${HELP}`);
    }
  }
  if (!p.isCurrentSecret && (p.graceUntil === null || p.graceUntil <= now)) {
    throw unauthorized(
      'token_rotated',
      `This key was rotated and its grace period ended${p.graceUntil ? ` at ${new Date(p.graceUntil).toISOString()}` : ''}; use the new key returned by the rotation.`,
    );
  }
}
