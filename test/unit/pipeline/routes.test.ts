import { describe, expect, it } from 'vitest';
import { SidecarError } from '../../../proxy/core/errors.js';
import { matchRoute, ROUTES } from '../../../proxy/pipeline/routes.js';

function refusal(method: string, url: string): number {
  try {
    matchRoute(method, url);
    return 0;
  } catch (err) {
    return (err as SidecarError).status;
  }
}

describe('route table', () => {
  it('matches every listed route with its scope and upstream path', () => {
    expect(matchRoute('POST', '/v1/chat/completions')).toMatchObject({ def: { scope: 'models:use' }, upstreamPath: '/chat/completions' });
    expect(matchRoute('GET', '/v1/models?limit=5')).toMatchObject({ def: { scope: 'models:read' }, upstreamPath: '/models?limit=5' });
    expect(matchRoute('POST', '/v1/images/generations').upstreamPath).toBe('/images/generations');
    expect(matchRoute('POST', '/v1/services/email').def.scope).toBe('services:use');
    expect(matchRoute('GET', '/v1/balance').def.local).toBe('balance');
    expect(matchRoute('DELETE', '/v1/agents/tok_abc/revoke')).toMatchObject({ def: { local: 'revoke' }, params: ['tok_abc'] });
  });

  it('takes a model id with an encoded slash, and forwards it with the slash', () => {
    expect(matchRoute('GET', '/v1/models/gemini%2Fgemini-2.5-flash')).toMatchObject({ params: ['gemini/gemini-2.5-flash'], upstreamPath: '/models/gemini/gemini-2.5-flash' });
    expect(matchRoute('GET', '/v1/models/gemini/gemini-2.5-flash').upstreamPath).toBe('/models/gemini/gemini-2.5-flash');
  });

  it('refuses smuggled and ambiguous paths', () => {
    for (const url of [
      '/v1/chat/completions/../../admin',
      '/v1/%2e%2e/admin',
      '/v1//chat/completions',
      '/v1/chat/completions/',
      '/v1/./chat/completions',
      '/V1/chat/completions',
      '/v1/Chat/Completions',
      '/v1/chat%2fcompletions',
      '/v1/chat/completions;x=1',
      '/v1/chat/completions%00',
      '/v1/models/..%2f..%2fadmin',
      '/v1/models/a%5cb',
      '/v1/files',
      '/v1',
      'http://evil.example/v1/chat/completions',
    ]) {
      expect(refusal('POST', url) || refusal('GET', url), url).toBeGreaterThanOrEqual(400);
    }
  });

  it('says 405 with Allow for a known path and the wrong method', () => {
    try {
      matchRoute('GET', '/v1/chat/completions');
      expect.unreachable();
    } catch (err) {
      expect((err as SidecarError).status).toBe(405);
      expect((err as SidecarError).headers.allow).toBe('POST');
    }
  });

  it('never echoes a secret-bearing path segment in an error', () => {
    try {
      matchRoute('GET', '/v1/agents/sk-sbl-SECRETSECRETSECRETSECRETSECRETSECRETab/revoke');
      expect.unreachable();
    } catch (err) {
      expect((err as Error).message).not.toContain('SECRET');
    }
  });

  it('is one list with a scope decision for every route', () => {
    for (const r of ROUTES) expect(r.forward !== undefined || r.local !== undefined, r.path).toBe(true);
  });
});
