/**
 * The token store over a real SQLite file: secrets shown once and kept only
 * as hashes, the chain and subtree queries, rotation with a grace period,
 * revoking a subtree, and the delegation rules enforced on create.
 */
import { beforeEach, describe, expect, it } from 'vitest';
import { DAY_MS } from '../../../proxy/core/time.js';
import type { DB } from '../../../proxy/db/database.js';
import { hashToken, isWellFormedToken } from '../../../proxy/tokens/format.js';
import { scopesFromPreset } from '../../../proxy/tokens/scopes.js';
import { TokenStore } from '../../../proxy/tokens/store.js';
import { useTempDb } from '../../helpers/db.js';
import { refusal } from '../../helpers/refusal.js';

const temp = useTempDb('sbs-store-');
let db: DB;
let now: number;
let tokens: TokenStore;

beforeEach(() => {
  db = temp.db;
  now = Date.UTC(2031, 0, 15);
  tokens = new TokenStore(db, () => now);
});

const write = scopesFromPreset('write');

describe('TokenStore', () => {
  it('returns a well-formed secret once and stores only its hash', () => {
    const { token, secret } = tokens.create({ name: ' agent ', scopes: ['models:use', 'models:read', 'models:use'] }, 'test');
    expect(isWellFormedToken(secret)).toBe(true);
    expect(token).toMatchObject({ name: 'agent', depth: 0, parentId: null, scopes: ['models:read', 'models:use'] });
    expect(tokens.findSecret(hashToken(secret))).toMatchObject({ token_id: token.id, superseded_at: null });
    const everything = JSON.stringify([db.prepare('SELECT * FROM tokens').all(), db.prepare('SELECT * FROM token_secrets').all(), db.prepare('SELECT * FROM audit').all()]);
    expect(everything).not.toContain(secret);
  });

  it('refuses a blank name and an expiry in the past', () => {
    expect(refusal(() => tokens.create({ name: '  ', scopes: write }, 'test')).code).toBe('invalid_name');
    expect(refusal(() => tokens.create({ name: 'x', scopes: write, expiresAt: now }, 'test')).code).toBe('invalid_expiry');
    expect(tokens.list()).toEqual([]);
  });

  it('knows a token’s chain (itself first, root last) and its subtree', () => {
    const root = tokens.create({ name: 'root', scopes: write, budget: 10_000_000 }, 'test').token;
    const mid = tokens.create({ name: 'mid', scopes: write, parentId: root.id }, 'test').token;
    const leaf = tokens.create({ name: 'leaf', scopes: ['models:read'], parentId: mid.id }, 'test').token;
    expect(tokens.chain(leaf.id).map((t) => t.id)).toEqual([leaf.id, mid.id, root.id]);
    expect(leaf.depth).toBe(2);
    expect(tokens.subtree(mid.id).map((t) => t.id).sort()).toEqual([mid.id, leaf.id].sort());
  });

  it('enforces the delegation rules on create, and writes nothing when they refuse', () => {
    const root = tokens.create({ name: 'root', scopes: ['models:read'], budget: 1_000_000 }, 'test').token;
    expect(refusal(() => tokens.create({ name: 'c', scopes: write, parentId: root.id }, 'test')).code).toBe('scope_exceeds_parent');
    expect(refusal(() => tokens.create({ name: 'c', scopes: ['models:read'], budget: 2_000_000, parentId: root.id }, 'test')).code).toBe('budget_exceeds_parent');
    expect(refusal(() => tokens.create({ name: 'c', scopes: ['models:read'], parentId: 'tok_nope' }, 'test')).status).toBe(404);
    expect(tokens.list().map((t) => t.id)).toEqual([root.id]);
  });

  it('rotates: a new current secret, the old one superseded with its grace', () => {
    const { token, secret } = tokens.create({ name: 'a', scopes: write }, 'test');
    const r = tokens.rotate(token.id, 2 * DAY_MS, 'test');
    expect(r.secret).not.toBe(secret);
    expect(r.oldSecretExpiresAt).toBe(now + 2 * DAY_MS);
    expect(tokens.findSecret(hashToken(secret))).toMatchObject({ superseded_at: now, grace_until: now + 2 * DAY_MS });
    expect(tokens.currentSecret(token.id)?.hash).toBe(hashToken(r.secret));
  });

  it('revokes a token with its whole subtree, and refuses children of a revoked parent', () => {
    const root = tokens.create({ name: 'root', scopes: write }, 'test').token;
    const kid = tokens.create({ name: 'kid', scopes: write, parentId: root.id }, 'test').token;
    const other = tokens.create({ name: 'other', scopes: write }, 'test').token;
    expect(tokens.revoke(root.id, 'test').sort()).toEqual([root.id, kid.id].sort());
    expect(tokens.get(kid.id)?.revokedAt).toBe(now);
    expect(tokens.get(other.id)?.revokedAt).toBeNull();
    expect(refusal(() => tokens.create({ name: 'late', scopes: write, parentId: root.id }, 'test')).code).toBe('parent_revoked');
    expect(refusal(() => tokens.rotate(root.id, 0, 'test')).code).toBe('token_revoked');
  });
});
