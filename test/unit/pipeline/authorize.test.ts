/** Stage 3, authorize, on its own: scopes per route, and what an old secret in its grace period may not do. */
import { describe, expect, it } from 'vitest';
import type { Principal } from '../../../proxy/pipeline/authenticate.js';
import { authorize, requireCurrentSecret } from '../../../proxy/pipeline/authorize.js';
import { ROUTES, type RouteDef } from '../../../proxy/pipeline/routes.js';
import type { Scope } from '../../../proxy/tokens/scopes.js';
import type { Token } from '../../../proxy/tokens/token.js';
import { refusal } from '../../helpers/refusal.js';

function principal(scopes: Scope[], isCurrentSecret = true): Principal {
  const token = { id: 'tok_a', scopes } as Token;
  return { token, chain: [token], scopes: new Set(scopes), isCurrentSecret, graceUntil: null, secretHash: 'h' };
}

const route = (method: string, path: string): RouteDef => ROUTES.find((r) => r.method === method && r.path === path)!;

describe('authorize', () => {
  it('lets a token use the routes its scopes name', () => {
    expect(() => authorize(principal(['models:use']), route('POST', '/v1/chat/completions'))).not.toThrow();
    expect(() => authorize(principal(['billing:read']), route('GET', '/v1/balance'))).not.toThrow();
  });

  it('refuses a missing scope with 403, naming the scope and the route', () => {
    const e = refusal(() => authorize(principal(['models:read']), route('POST', '/v1/chat/completions')));
    expect([e.status, e.code]).toEqual([403, 'insufficient_scope']);
    expect(e.message).toContain('models:use');
    expect(e.message).toContain('POST /v1/chat/completions');
  });

  it('shows a wildcard route without its star', () => {
    const e = refusal(() => authorize(principal(['models:read']), route('POST', '/v1/images/*')));
    expect(e.message).toContain('/v1/images/…');
  });

  it('lets any token through a route that needs no scope (rotating its own key)', () => {
    expect(() => authorize(principal([]), route('POST', '/v1/api-keys/rotate'))).not.toThrow();
  });
});

describe('requireCurrentSecret', () => {
  it('refuses an old secret in its grace period, and lets the current one through', () => {
    const e = refusal(() => requireCurrentSecret(principal(['agents:create'], false), 'mint child keys'));
    expect([e.status, e.code]).toEqual([403, 'secret_in_grace_period']);
    expect(e.message).toContain('mint child keys');
    expect(() => requireCurrentSecret(principal(['agents:create'], true), 'mint child keys')).not.toThrow();
  });
});
