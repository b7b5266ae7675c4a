/**
 * The delegation rules on their own: a child never has more than its parent
 * (scopes, budget, lifetime) and the tree has a depth limit; each violation
 * is a 403 naming the rule.
 */
import { describe, expect, it } from 'vitest';
import { checkChildRules, earliestExpiry, MAX_DEPTH, tightestBudget } from '../../../proxy/tokens/rules.js';
import type { Scope } from '../../../proxy/tokens/scopes.js';
import type { Token } from '../../../proxy/tokens/token.js';
import { refusal } from '../../helpers/refusal.js';
import { fakeToken } from '../../helpers/token.js';

const T0 = Date.UTC(2031, 0, 1);

const tok = (id: string, over: Partial<Token> = {}): Token => fakeToken(id, { scopes: ['models:read', 'models:use'], ...over });

const child = (over: { scopes?: Scope[]; budget?: number | null; expiresAt?: number | null } = {}) => ({
  scopes: ['models:read'] as Scope[],
  budget: null,
  expiresAt: null,
  ...over,
});

describe('checkChildRules', () => {
  it('lets a root token (no chain) have any child', () => {
    expect(() => checkChildRules([], child({ scopes: ['agents:create'], budget: 10 ** 12 }))).not.toThrow();
  });

  it('allows a child with a subset of the scopes, less budget and an earlier expiry', () => {
    const parent = tok('p', { budget: 5_000_000, expiresAt: T0 + 1000 });
    expect(() => checkChildRules([parent], child({ budget: 5_000_000, expiresAt: T0 + 1000 }))).not.toThrow();
  });

  it('refuses a scope the parent lacks, naming it', () => {
    const e = refusal(() => checkChildRules([tok('p')], child({ scopes: ['models:read', 'billing:write'] })));
    expect([e.status, e.code]).toEqual([403, 'scope_exceeds_parent']);
    expect(e.message).toContain('billing:write');
    expect(e.message).not.toContain('models:read,');
  });

  it('refuses a budget above the tightest in the chain, even when the parent itself has none', () => {
    const root = tok('root', { budget: 2_000_000 });
    const parent = tok('p', { parentId: 'root', depth: 1, budget: null });
    const e = refusal(() => checkChildRules([parent, root], child({ budget: 2_000_001 })));
    expect([e.status, e.code]).toEqual([403, 'budget_exceeds_parent']);
    expect(e.message).toContain('root');
    // No budget of its own is allowed: the ancestors' budgets still hold it at reservation time.
    expect(() => checkChildRules([parent, root], child({ budget: null }))).not.toThrow();
  });

  it('refuses a child that would outlive an ancestor, or that asks never to expire', () => {
    const root = tok('root', { expiresAt: T0 + 500 });
    const parent = tok('p', { parentId: 'root', depth: 1, expiresAt: T0 + 1000 });
    expect(refusal(() => checkChildRules([parent, root], child({ expiresAt: T0 + 501 }))).code).toBe('expiry_exceeds_parent');
    expect(refusal(() => checkChildRules([parent, root], child({ expiresAt: null }))).code).toBe('expiry_exceeds_parent');
    expect(() => checkChildRules([parent, root], child({ expiresAt: T0 + 500 }))).not.toThrow();
  });

  it('refuses a level below the depth limit, and allows the last one', () => {
    expect(() => checkChildRules([tok('p', { depth: MAX_DEPTH - 1 })], child())).not.toThrow();
    const e = refusal(() => checkChildRules([tok('p', { depth: MAX_DEPTH })], child()));
    expect([e.status, e.code]).toEqual([403, 'depth_limit']);
  });
});

describe('chain helpers', () => {
  it('tightestBudget is the smallest budget anywhere in the chain, or null', () => {
    expect(tightestBudget([tok('a'), tok('b')])).toBeNull();
    expect(tightestBudget([tok('a', { budget: 9 }), tok('b'), tok('c', { budget: 3 })])).toEqual({ tokenId: 'c', micros: 3 });
  });

  it('earliestExpiry is the first expiry anywhere in the chain, or null', () => {
    expect(earliestExpiry([tok('a')])).toBeNull();
    expect(earliestExpiry([tok('a', { expiresAt: 20 }), tok('b', { expiresAt: 10 })])).toBe(10);
  });
});
