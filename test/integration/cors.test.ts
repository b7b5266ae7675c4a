/**
 * A browser-based agent on an origin the human allowed can call /v1 (CORS,
 * no credentials); every other origin is still refused, and the admin API
 * never grants CORS at all.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startStack, type Stack } from '../helpers/stack.js';

const allowed = 'http://127.0.0.1:5555';
let s: Stack;
beforeAll(async () => {
  s = await startStack({ daemon: { allowedOrigins: [allowed] } });
});
afterAll(async () => {
  await s?.close();
});

describe('CORS for allowed browser origins', () => {
  it('answers a preflight for /v1 with the exact origin and only known headers', async () => {
    const res = await fetch(`${s.baseURL}/chat/completions`, {
      method: 'OPTIONS',
      headers: { origin: allowed, 'access-control-request-method': 'POST', 'access-control-request-headers': 'authorization, content-type, x-stainless-os, x-evil' },
    });
    expect(res.status).toBe(204);
    expect(res.headers.get('access-control-allow-origin')).toBe(allowed);
    expect(res.headers.get('access-control-allow-credentials')).toBeNull();
    const headers = res.headers.get('access-control-allow-headers')!;
    expect(headers).toContain('authorization');
    expect(headers).toContain('x-stainless-os');
    expect(headers).not.toContain('x-evil');
  });

  it('lets the allowed origin make the call and read the answer', async () => {
    const { secret } = s.token();
    const res = await fetch(`${s.baseURL}/chat/completions`, {
      method: 'POST',
      headers: { origin: allowed, authorization: `Bearer ${secret}`, 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'from a browser agent' }] }),
    });
    expect(res.status).toBe(200);
    expect(res.headers.get('access-control-allow-origin')).toBe(allowed);
    expect(res.headers.get('vary')).toContain('Origin');
  });

  it('still refuses any other origin, before auth', async () => {
    const res = await fetch(`${s.baseURL}/models`, { method: 'OPTIONS', headers: { origin: 'http://127.0.0.1:5556', 'access-control-request-method': 'GET' } });
    expect(res.status).toBe(403);
    expect(res.headers.get('access-control-allow-origin')).toBeNull();
  });

  it('never grants CORS on the admin API', async () => {
    const res = await fetch(`${s.daemon.url}/admin/api/status`, { method: 'OPTIONS', headers: { origin: allowed, 'access-control-request-method': 'GET' } });
    expect(res.headers.get('access-control-allow-origin')).toBeNull();
  });
});
