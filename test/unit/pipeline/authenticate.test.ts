/**
 * Stage 2, authenticate, over a real token store: the bearer header's shape,
 * sidecar tokens only, revocation and expiry along the chain, the grace
 * period of a rotated secret, the principal cache, and failed-auth limiting.
 */
import type { IncomingMessage } from 'node:http';
import { beforeEach, describe, expect, it } from 'vitest';
import { DAY_MS } from '../../../proxy/core/time.js';
import type { DB } from '../../../proxy/db/database.js';
import { authenticate, FailedAuthLimiter, PrincipalCache } from '../../../proxy/pipeline/authenticate.js';
import { scopesFromPreset } from '../../../proxy/tokens/scopes.js';
import { TokenStore } from '../../../proxy/tokens/store.js';
import { useTempDb } from '../../helpers/db.js';
import { refusal } from '../../helpers/refusal.js';

const temp = useTempDb('sbs-auth-');
let db: DB;
let now: number;
let tokens: TokenStore;
let cache: PrincipalCache;

beforeEach(() => {
  db = temp.db;
  now = Date.UTC(2031, 0, 15);
  tokens = new TokenStore(db, () => now);
  cache = new PrincipalCache(tokens);
});

/** What the stage reads of a request: its Authorization header and the socket's address. */
const req = (authorization?: string, address = '127.0.0.1') =>
  ({ headers: authorization === undefined ? {} : { authorization }, rawHeaders: authorization === undefined ? [] : ['Authorization', authorization], socket: { remoteAddress: address } }) as unknown as IncomingMessage;

describe('authenticate', () => {
  it('resolves a valid token to its principal: token, chain, scopes', () => {
    const root = tokens.create({ name: 'root', scopes: scopesFromPreset('write') }, 'test').token;
    const { token, secret } = tokens.create({ name: 'kid', scopes: ['models:read'], parentId: root.id }, 'test');
    const p = authenticate(req(`Bearer ${secret}`), cache, now);
    expect(p.token.id).toBe(token.id);
    expect(p.chain.map((t) => t.id)).toEqual([token.id, root.id]);
    expect([...p.scopes]).toEqual(['models:read']);
    expect(p.isCurrentSecret).toBe(true);
  });

  it('refuses a missing, malformed, foreign or unknown token with 401 and its own code', () => {
    const { secret } = tokens.create({ name: 'a', scopes: ['models:read'] }, 'test');
    expect(refusal(() => authenticate(req(), cache, now)).code).toBe('missing_token');
    expect(refusal(() => authenticate(req(`Basic ${secret}`), cache, now)).code).toBe('invalid_token');
    const real = refusal(() => authenticate(req('Bearer sk-live-0123456789abcdef'), cache, now));
    expect([real.status, real.code]).toEqual([401, 'invalid_token']);
    expect(real.message).toContain('real SkillBoss key');
    // One character changed: the checksum no longer matches, so no lookup happens.
    const flipped = secret.slice(0, -1) + (secret.endsWith('A') ? 'B' : 'A');
    expect(refusal(() => authenticate(req(`Bearer ${flipped}`), cache, now)).message).toContain('checksum');
    db.prepare('DELETE FROM token_secrets').run();
    cache.clear();
    expect(refusal(() => authenticate(req(`Bearer ${secret}`), cache, now)).message).toContain('not known');
  });

  it('refuses a token whose parent was revoked or has expired, saying which', () => {
    const root = tokens.create({ name: 'root', scopes: ['models:read'], expiresAt: now + DAY_MS }, 'test').token;
    const { secret } = tokens.create({ name: 'kid', scopes: ['models:read'], parentId: root.id, expiresAt: now + DAY_MS }, 'test');
    expect(refusal(() => authenticate(req(`Bearer ${secret}`), cache, now + DAY_MS)).message).toContain('This token expired');
    // The human shortens the parent's life: the child, valid on its own, goes with it.
    db.prepare('UPDATE tokens SET expires_at = ? WHERE id = ?').run(now + 1000, root.id);
    cache.clear();
    const expired = refusal(() => authenticate(req(`Bearer ${secret}`), cache, now + 1000));
    expect(expired.code).toBe('token_expired');
    expect(expired.message).toContain(root.id);
    tokens.revoke(root.id, 'test');
    cache.clear();
    expect(refusal(() => authenticate(req(`Bearer ${secret}`), cache, now)).code).toBe('token_revoked');
  });

  it('accepts a rotated-out secret during its grace period only, marked as not current', () => {
    const { token, secret } = tokens.create({ name: 'a', scopes: ['models:read'] }, 'test');
    tokens.rotate(token.id, DAY_MS, 'test');
    cache.clear();
    expect(authenticate(req(`Bearer ${secret}`), cache, now + DAY_MS - 1).isCurrentSecret).toBe(false);
    expect(refusal(() => authenticate(req(`Bearer ${secret}`), cache, now + DAY_MS)).code).toBe('token_rotated');
  });

  it('caches a principal until cleared, so a change is seen only after clear()', () => {
    const { token, secret } = tokens.create({ name: 'a', scopes: ['models:read'] }, 'test');
    expect(authenticate(req(`Bearer ${secret}`), cache, now).token.scopes).toEqual(['models:read']);
    db.prepare("UPDATE tokens SET scopes = 'models:read models:use' WHERE id = ?").run(token.id);
    expect(authenticate(req(`Bearer ${secret}`), cache, now).token.scopes).toEqual(['models:read']);
    cache.clear();
    expect(authenticate(req(`Bearer ${secret}`), cache, now).token.scopes).toEqual(['models:read', 'models:use']);
  });
});

describe('failed-authentication limiting', () => {
  it('answers 429 after the limit of 401s from one address, lets other addresses and known secrets through, and forgets after a minute', () => {
    const { secret } = tokens.create({ name: 'a', scopes: ['models:read'] }, 'test');
    const limiter = new FailedAuthLimiter(3);
    authenticate(req(`Bearer ${secret}`), cache, now, limiter);
    for (let i = 0; i < 3; i++) expect(refusal(() => authenticate(req('Bearer sk-sbl-nope'), cache, now, limiter)).status).toBe(401);
    const blocked = refusal(() => authenticate(req('Bearer sk-sbl-nope'), cache, now, limiter));
    expect([blocked.status, blocked.code]).toEqual([429, 'auth_rate_limited']);
    expect(Number(blocked.headers['retry-after'])).toBeGreaterThan(0);
    // The neighbour whose secret authenticated before is not locked out; another machine (--allow-remote) is not either,
    // but another loopback address is this machine again (issue 17: rotating through 127.0.0.0/8 buys nothing).
    expect(authenticate(req(`Bearer ${secret}`), cache, now, limiter).token.name).toBe('a');
    expect(refusal(() => authenticate(req('Bearer sk-sbl-nope', '192.0.2.7'), cache, now, limiter)).status).toBe(401);
    expect(refusal(() => authenticate(req('Bearer sk-sbl-nope', '127.0.0.2'), cache, now, limiter)).status).toBe(429);
    expect(refusal(() => authenticate(req('Bearer sk-sbl-nope', '::ffff:127.0.0.3'), cache, now, limiter)).status).toBe(429);
    expect(refusal(() => authenticate(req('Bearer sk-sbl-nope'), cache, now + 60_000, limiter)).status).toBe(401);
  });
});
