/**
 * Issue 25 item 7: the failure limiter slows failures only. Every local
 * process shares the loopback bucket, so a limiter that refused before
 * checking the credential let any of them lock out the human and every agent
 * with sixty wrong guesses. A correct admin secret, and a token created after
 * the flood (never seen by the limiter), are answered as usual; the guesser
 * still gets 429.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startStack, type Stack } from '../helpers/stack.js';
import { generateTokenSecret } from '../../proxy/tokens/format.js';
import { adminSecret } from './kit.js';

let s: Stack;

beforeAll(async () => {
  s = await startStack({ daemon: { limits: { authFailuresPerMinute: 60 } } });
});
afterAll(async () => {
  await s?.close();
});

const get = (path: string, authorization?: string) => fetch(`${s.daemon.url}${path}`, { headers: authorization ? { authorization } : {} });

describe('R. a valid credential is never refused because others failed (issue 25 item 7)', () => {
  it('R1 sixty wrong admin secrets, then the correct one (never used before) is answered 200; wrong ones stay 429', async () => {
    for (let i = 0; i < 60; i++) expect((await get('/admin/api/status', `Bearer wrong-secret-${i}`)).status).toBe(401);
    expect((await get('/admin/api/status', 'Bearer wrong-secret-x')).status).toBe(429);
    expect((await get('/admin/api/status', `Bearer ${adminSecret(s)}`)).status).toBe(200);
    expect((await get('/admin/api/status', 'Bearer wrong-secret-y')).status).toBe(429);
    s.clock.now += 61_000;
  });

  it('R2 sixty bad agent tokens, then a freshly created token\'s first call is answered 200; a bad one and none at all stay 429', async () => {
    for (let i = 0; i < 60; i++) expect((await get('/v1/models', `Bearer ${generateTokenSecret()}`)).status).toBe(401);
    const fresh = s.token({ preset: 'read-only' }).secret;
    expect((await get('/v1/models', `Bearer ${generateTokenSecret()}`)).status).toBe(429);
    expect((await get('/v1/models')).status).toBe(429);
    expect((await get('/v1/models', `Bearer ${fresh}`)).status).toBe(200);
    // And through the x-api-key form Anthropic clients use.
    const other = s.token({ preset: 'read-only' }).secret;
    expect((await fetch(`${s.daemon.url}/v1/models`, { headers: { 'x-api-key': other } })).status).toBe(200);
  });
});
