/** A token record for unit tests of code that only reads tokens (limits, rules): no database needed. */
import type { Token } from '../../proxy/tokens/token.js';

export function fakeToken(id: string, over: Partial<Token> = {}): Token {
  return {
    id,
    name: id,
    parentId: null,
    depth: 0,
    scopes: [],
    budget: null,
    budgetPeriod: 'month',
    toppedUp: 0,
    holdAbove: null,
    holdRate: null,
    hold: null,
    holdVersion: 0,
    holdWaivedPeriod: null,
    rpm: null,
    maxConcurrent: null,
    expiresAt: null,
    createdAt: Date.UTC(2031, 0, 1),
    revokedAt: null,
    revokedReason: null,
    upstreamKeyId: null,
    models: null,
    meta: {},
    ...over,
  };
}
