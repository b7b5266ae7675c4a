/** The token-creation options `token create`, `env --name` and `connect` share (proxy/cli/token-options.ts): one set of rules and messages. */
import { describe, expect, it } from 'vitest';
import { newTokenFields, scopesFromFlags } from '../../../proxy/cli/token-options.js';

describe('token-creation options', () => {
  it('take --scopes or --preset, never both, and a command\'s own default only when neither is given', () => {
    expect(scopesFromFlags({ scopes: 'models:read,models:use' })).toEqual(['models:read', 'models:use']);
    expect(scopesFromFlags({ preset: 'read-only' }, ['models:use'])).not.toContain('models:use');
    expect(scopesFromFlags({}, ['models:read'])).toEqual(['models:read']);
    expect(() => scopesFromFlags({ scopes: 'models:read', preset: 'write' })).toThrow('give either --scopes or --preset, not both');
    expect(() => scopesFromFlags({})).toThrow('give --scopes a,b or --preset read-only|write|admin');
    expect(() => scopesFromFlags({ preset: 'root' }, ['models:read'])).toThrow(/preset/);
    expect(() => scopesFromFlags({ scopes: 'models:fly' })).toThrow(/models:fly/);
  });

  it('read --budget as micro-dollars and --expires as a time, refusing what does not parse', () => {
    const now = Date.UTC(2026, 0, 1);
    expect(newTokenFields({ preset: 'write', budget: '2.50', expires: '30d' }, undefined, now)).toMatchObject({ budget: 2_500_000, expiresAt: now + 30 * 86_400_000 });
    expect(newTokenFields({ preset: 'write', expires: 'never' }, undefined, now)).toMatchObject({ budget: null, expiresAt: null });
    expect(() => newTokenFields({ preset: 'write', budget: '0x10', expires: 'never' })).toThrow(/--budget/);
    expect(() => newTokenFields({ preset: 'write', expires: 'soon' })).toThrow();
  });
});
