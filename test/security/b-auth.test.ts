/**
 * Group B: authentication. Garbage is refused before any lookup and never
 * echoed; revoked, expired and rotated secrets stay refused across a
 * restart; agent tokens and the admin secret each work only on their own
 * side; repeated failures from one address are rate limited.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DAY_MS } from '../../proxy/core/time.js';
import { startDaemon } from '../../proxy/server/daemon.js';
import { generateTokenSecret } from '../../proxy/tokens/format.js';
import { errorOf, startStack, type Stack } from '../helpers/stack.js';
import { adminSecret, call } from './kit.js';
import { codeOf, head, raw } from './raw.js';

let s: Stack;
let good: string;

beforeAll(async () => {
  // The failed-auth limit is off here (group B counts its own 401s); B12 tests it on a stack of its own.
  s = await startStack({ daemon: { limits: { authFailuresPerMinute: 0 } } });
  good = s.token({ preset: 'admin' }).secret;
});
afterAll(async () => {
  await s?.close();
});

/** A well-formed token (valid checksum) that was never issued. */
const unknownToken = () => generateTokenSecret();
/** A token-shaped string whose checksum is wrong. */
function badChecksum(): string {
  const t = generateTokenSecret();
  return t.slice(0, -1) + (t.endsWith('A') ? 'B' : 'A');
}

async function refusedWithoutEcho(authorization: string | null, presented: string): Promise<{ code: string; message: string }> {
  s.sim.clearRequests();
  const res = await fetch(`${s.baseURL}/models`, { headers: authorization === null ? {} : { authorization } });
  const text = await res.text();
  expect(res.status, presented.slice(0, 40)).toBe(401);
  if (presented.length >= 4) expect(text).not.toContain(presented);
  expect(s.sim.requests).toHaveLength(0);
  return (JSON.parse(text) as { error: { code: string; message: string } }).error;
}

describe('B. authentication', () => {
  it('B1 LiteLLM key checks: no Authorization header is a 401 naming what to send, and nothing goes upstream', async () => {
    const e = await refusedWithoutEcho(null, '');
    expect(e.code).toBe('missing_token');
    expect(e.message).toContain('Bearer sk-sbl-');
  });

  it.each([
    ['Basic', 'Basic dXNlcjpwYXNzd29yZA=='],
    ['bare Bearer', 'Bearer'],
    ['other scheme', `Token ${generateTokenSecret()}`],
    ['wrong prefix', `Bearer sk-proj-${'a'.repeat(40)}`],
    ['bad characters', `Bearer sk-sbl-${'!'.repeat(38)}`],
    ['too short', 'Bearer sk-sbl-abc123'],
    ['two tokens', `Bearer ${generateTokenSecret()} ${generateTokenSecret()}`],
  ])('B2 GitHub token format (refuse garbage offline): a malformed Authorization (%s) is a 401 that does not echo it', async (_name, header) => {
    // What must not come back: the credential part (the scheme word alone is in every help text).
    const e = await refusedWithoutEcho(header, header.includes(' ') ? header.slice(header.indexOf(' ') + 1) : '');
    expect(e.code).toBe('invalid_token');
  });

  it('B3 GitHub token format: a bad checksum is refused as malformed, a well-formed unknown token as unknown (two different refusals)', async () => {
    const bad = badChecksum();
    const e1 = await refusedWithoutEcho(`Bearer ${bad}`, bad);
    expect(e1.message).toContain('checksum');
    const unknown = unknownToken();
    const e2 = await refusedWithoutEcho(`Bearer ${unknown}`, unknown);
    expect(e2.message).toContain('not known');
    expect(e1.message).not.toBe(e2.message);
  });

  it('B4 LiteLLM error echo: an absurdly long token is refused without echo (8 KB: 401; past the header limit: 431 from the parser)', async () => {
    const long = `sk-sbl-${'A'.repeat(8000)}`;
    await refusedWithoutEcho(`Bearer ${long}`, long);
    const reply = await raw(s.daemon.port, head('GET /v1/models HTTP/1.1', [`Host: 127.0.0.1:${s.daemon.port}`, `Authorization: Bearer sk-sbl-${'B'.repeat(40_000)}`]));
    expect(reply.status).toBe(431);
    expect(reply.body).not.toContain('BBBBBBBB');
  });

  it('B5 header injection: a token with a NUL byte is refused by the parser; one with non-ASCII bytes is a 401 without echo', async () => {
    s.sim.clearRequests();
    const t = generateTokenSecret();
    const nul = await raw(s.daemon.port, head('GET /v1/models HTTP/1.1', [`Host: 127.0.0.1:${s.daemon.port}`, `Authorization: Bearer ${t.slice(0, 20)}\0${t.slice(20)}`]));
    expect(nul.status).toBe(400);
    const utf8 = Buffer.concat([
      Buffer.from(`GET /v1/models HTTP/1.1\r\nHost: 127.0.0.1:${s.daemon.port}\r\nAuthorization: Bearer sk-sbl-`),
      Buffer.from('ünïcødé-tökén-ünïcødé-tökén-ünïcødé', 'utf8'),
      Buffer.from('\r\n\r\n'),
    ]);
    const reply = await raw(s.daemon.port, utf8);
    expect(reply.status).toBe(401);
    expect(codeOf(reply)).toBe('invalid_token');
    expect(reply.body).not.toContain('tökén');
    expect(reply.body).not.toContain('t\u00c3\u00b6k');
    expect(s.sim.requests).toHaveLength(0);
  });

  it.each([
    "sk-sbl-' OR '1'='1' --",
    "sk-sbl-x'); DROP TABLE tokens; --",
    "' UNION SELECT hash FROM token_secrets --",
    'sk-sbl-%27%20OR%201%3D1--aaaaaaaaaaaaaaaaaaaa',
  ])('B6 LiteLLM CVE-2026-42208 (SQL injection in the bearer lookup): %s is a 401 and the token tables are untouched', async (attack) => {
    const before = s.tokens.list().length;
    await refusedWithoutEcho(`Bearer ${attack}`, attack);
    expect(s.tokens.list()).toHaveLength(before);
    expect((await call(s, good, 'GET', '/v1/models')).status).toBe(200);
  });

  it('B7 LiteLLM expired key echoed in an error body: a revoked and an expired token are 401 with their own code, never echoed', async () => {
    const revoked = s.token();
    s.tokens.revoke(revoked.token.id, 'test');
    s.daemon.deps.principals.clear();
    expect((await refusedWithoutEcho(`Bearer ${revoked.secret}`, revoked.secret)).code).toBe('token_revoked');
    const expiring = s.token({ expires: '1d' });
    expect((await call(s, expiring.secret, 'GET', '/v1/models')).status).toBe(200);
    s.clock.now += 2 * DAY_MS;
    try {
      expect((await refusedWithoutEcho(`Bearer ${expiring.secret}`, expiring.secret)).code).toBe('token_expired');
    } finally {
      s.clock.now -= 2 * DAY_MS;
    }
  });

  it('B8 Vault accessor vs token: a public token id (tok_…) never authenticates', async () => {
    const { token } = s.token();
    await refusedWithoutEcho(`Bearer ${token.id}`, token.id);
  });

  it('B9 Vault: a rotated secret past its grace period is refused (token_rotated), the new one works', async () => {
    const t = s.token();
    const rot = (await (await call(s, t.secret, 'POST', '/v1/api-keys/rotate')).json()) as { new_api_key: string; old_key_expires_at: string };
    s.clock.now = Date.parse(rot.old_key_expires_at);
    try {
      expect((await refusedWithoutEcho(`Bearer ${t.secret}`, t.secret)).code).toBe('token_rotated');
      expect((await call(s, rot.new_api_key, 'GET', '/v1/models')).status).toBe(200);
    } finally {
      s.clock.now = Date.now();
    }
  });

  it('B10 agent token with every scope on the admin API: refused (403) on every admin route, nothing changes', async () => {
    const before = s.tokens.list().length;
    for (const [method, path] of [
      ['GET', '/admin/api/status'],
      ['GET', '/admin/api/tokens'],
      ['POST', '/admin/api/tokens'],
      ['PATCH', '/admin/api/settings'],
      ['GET', '/admin/api/events'],
    ]) {
      const res = await call(s, good, method!, path!, method === 'GET' ? undefined : { name: 'x', preset: 'admin' });
      expect((await errorOf(res)).code, `${method} ${path}`).toBe('agent_token_not_admin');
      expect(res.status).toBe(403);
    }
    expect(s.tokens.list()).toHaveLength(before);
  });

  it('B11 LiteLLM CVE-2024-6587 family: neither the admin secret nor the real upstream key is accepted on /v1, and neither is echoed', async () => {
    const admin = adminSecret(s);
    expect((await refusedWithoutEcho(`Bearer ${admin}`, admin)).code).toBe('invalid_token');
    expect((await refusedWithoutEcho(`Bearer ${s.simKey}`, s.simKey)).code).toBe('invalid_token');
  });

  it('B12 revoked and expired tokens stay refused after a restart (no cache survives to let them in)', async () => {
    const revoked = s.token();
    expect((await call(s, revoked.secret, 'GET', '/v1/models')).status).toBe(200);
    s.tokens.revoke(revoked.token.id, 'test');
    const expiring = s.token({ expires: '1d' });
    expect((await call(s, expiring.secret, 'GET', '/v1/models')).status).toBe(200);
    await s.daemon.close();
    const again = await startDaemon({ dataDir: s.dataDir, port: 0, upstreamUrl: s.sim.url, keyStore: s.keyStore, clock: s.clock, syncIntervalMs: 0 });
    try {
      const get = (secret: string) => fetch(`${again.url}/v1/models`, { headers: { authorization: `Bearer ${secret}` } });
      expect((await errorOf(await get(revoked.secret))).code).toBe('token_revoked');
      expect((await get(good)).status).toBe(200);
      s.clock.now += 2 * DAY_MS;
      expect((await errorOf(await get(expiring.secret))).code).toBe('token_expired');
    } finally {
      s.clock.now = Date.now();
      await again.close();
    }
  });
});

describe('B. refusals that need no database', () => {
  it('B13 GitHub token format (checksum before lookup): with the database gone, garbage and bad checksums are still plain 401s, while a well-formed unknown token needs the lookup', async () => {
    const t = await startStack({ daemon: { limits: { authFailuresPerMinute: 0 } } });
    try {
      t.daemon.db.close();
      for (const secret of [badChecksum(), 'sk-sbl-short', "sk-sbl-' OR 1=1 --", 'x'.repeat(300)]) {
        const res = await fetch(`${t.baseURL}/models`, { headers: { authorization: `Bearer ${secret}` } });
        expect(res.status, secret).toBe(401);
      }
      // The control: a well-formed token has to be looked up, and with no database that fails.
      const res = await fetch(`${t.baseURL}/models`, { headers: { authorization: `Bearer ${unknownToken()}` } });
      expect(res.status).toBeGreaterThanOrEqual(500);
    } finally {
      await t.close();
    }
  });
});

describe('B. failed-auth rate limiting', () => {
  let r: Stack;
  beforeAll(async () => {
    r = await startStack({ daemon: { limits: { authFailuresPerMinute: 5 } } });
  });
  afterAll(async () => {
    await r?.close();
  });

  it('B14 brute force from one address: after 5 failures a minute its failures get 429 with Retry-After; an agent that authenticated before is unaffected; a minute later it may try again', async () => {
    const agent = r.token();
    const get = (secret: string) => fetch(`${r.baseURL}/models`, { headers: { authorization: `Bearer ${secret}` } });
    expect((await get(agent.secret)).status).toBe(200);
    for (let i = 0; i < 5; i++) expect((await get(unknownToken())).status).toBe(401);
    const guess = unknownToken();
    const limited = await get(guess);
    expect(limited.status).toBe(429);
    const retryAfter = Number(limited.headers.get('retry-after'));
    expect(retryAfter).toBeGreaterThan(0);
    expect(retryAfter).toBeLessThanOrEqual(60);
    const body = await limited.text();
    expect(JSON.parse(body).error.code).toBe('auth_rate_limited');
    expect(body).not.toContain(guess);
    // Garbage and missing tokens are limited too.
    expect((await get('nonsense')).status).toBe(429);
    expect((await fetch(`${r.baseURL}/models`)).status).toBe(429);
    // The neighbour that authenticated before keeps working, even after the principal cache is dropped.
    r.daemon.deps.principals.clear();
    expect((await get(agent.secret)).status).toBe(200);
    r.clock.now += 60_000;
    expect((await get(unknownToken())).status).toBe(401);
  });
});
