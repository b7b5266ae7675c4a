/**
 * Group D: route smuggling and header hygiene. Attack requests go onto the
 * socket byte for byte; the simulator (or a raw-capturing upstream, where
 * duplicate headers must be counted) records what arrived, so each test
 * asserts what did NOT reach the upstream.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startStack, type Stack } from '../helpers/stack.js';
import { call, chatBody, startRawUpstream, startTrap, type RawUpstream } from './kit.js';
import { head, raw } from './raw.js';

let s: Stack;
let agent: string;
let up: RawUpstream;

beforeAll(async () => {
  s = await startStack();
  agent = s.token({ preset: 'admin' }).secret;
  up = await startRawUpstream();
});
afterAll(async () => {
  await s?.close();
  await up?.close();
});

const BODY = JSON.stringify(chatBody());

function request(method: string, target: string, extra: string[] = [], body = method === 'POST' ? BODY : ''): string {
  const lines = [`Host: 127.0.0.1:${s.daemon.port}`, `Authorization: Bearer ${agent}`, ...extra];
  if (body) lines.push('Content-Type: application/json', `Content-Length: ${Buffer.byteLength(body)}`);
  return head(`${method} ${target} HTTP/1.1`, lines) + body;
}

describe('D. route smuggling (http-proxy-middleware %2e%2e bypass)', () => {
  it.each([
    ['GET', '/v1/models/../balance'],
    ['GET', '/v1/%2e%2e/admin/api/status'],
    ['GET', '/v1/%2E%2E/%2E%2E/admin/api/tokens'],
    ['POST', '/v1/chat/completions/..'],
    ['POST', '/v1/./chat/completions'],
    ['POST', '/v1//chat/completions'],
    ['POST', '/v1/chat%2Fcompletions'],
    ['POST', '/v1/chat%2fcompletions%2f..%2f..%2fadmin'],
    ['POST', '/v1/chat/completions;x=1'],
    ['POST', '/v1/chat/completions%3Bx=1'],
    ['POST', '/v1/chat/completions%00'],
    ['POST', '/v1/chat/completions%00.json'],
    ['POST', '/v1/Chat/Completions'],
    ['POST', '/V1/chat/completions'],
    ['POST', '/v1/chat/completions\\..\\..\\admin'],
    ['POST', '/v1/services/..%2f..%2fadmin'],
    ['POST', '/v1/services/%2e%2e'],
    ['POST', '/v1/images/generations%5c..%5cadmin'],
    ['GET', '/v1/models/gpt-4o%2f..%2f..%2fbalance'],
    ['GET', '/v1/models/%2e%2e%2fbalance'],
    ['GET', '/v1/models?api_base=http://attacker.example/'],
    ['POST', '/v1/chat/completions%23'],
  ])('D1 http-proxy-middleware path-filter bypass: %s %s is refused or 404, and never forwarded', async (method, target) => {
    s.sim.clearRequests();
    const reply = await raw(s.daemon.port, request(method, target));
    expect(reply.status, reply.body.slice(0, 200)).toBeGreaterThanOrEqual(400);
    expect(reply.status).toBeLessThan(500);
    expect(s.sim.requests).toHaveLength(0);
    // Nothing of the admin API answered either.
    expect(reply.body).not.toContain('"tokens"');
  });

  it('D2 the listed route itself, in plain form, does go through (so the refusals above are about the trick)', async () => {
    s.sim.clearRequests();
    const reply = await raw(s.daemon.port, request('POST', '/v1/chat/completions'));
    expect(reply.status).toBe(200);
    expect(s.sim.requests.map((r) => r.path)).toEqual(['/v1/chat/completions']);
  });

  it('D3 method confusion: a route with the wrong method is 405 (GET chat, TRACE, DELETE models), never forwarded', async () => {
    s.sim.clearRequests();
    for (const [method, target] of [
      ['GET', '/v1/chat/completions'],
      ['DELETE', '/v1/models'],
      ['TRACE', '/v1/models'],
      ['PUT', '/v1/embeddings'],
    ]) {
      const reply = await raw(s.daemon.port, request(method!, target!));
      expect([404, 405], `${method} ${target}`).toContain(reply.status);
    }
    expect(s.sim.requests).toHaveLength(0);
  });
});

describe('D. HTTP request smuggling (Node http parser CVEs)', () => {
  const attacks: Array<[string, () => string]> = [
    ['both Content-Length and Transfer-Encoding', () => request('POST', '/v1/chat/completions', ['Content-Length: 4', 'Transfer-Encoding: chunked', 'Content-Type: application/json'], '') + '0\r\n\r\nGET /admin/api/status HTTP/1.1\r\n\r\n'],
    ['two different Content-Lengths', () => request('POST', '/v1/chat/completions', ['Content-Length: 2', 'Content-Length: 40', 'Content-Type: application/json'], '') + '{}'],
    ['Transfer-Encoding chunked then identity', () => request('POST', '/v1/chat/completions', ['Transfer-Encoding: chunked', 'Transfer-Encoding: identity', 'Content-Type: application/json'], '') + '2\r\n{}\r\n0\r\n\r\n'],
    ['an obfuscated Transfer-Encoding', () => request('POST', '/v1/chat/completions', ['Transfer-Encoding: xchunked', 'Content-Type: application/json'], '') + '2\r\n{}\r\n0\r\n\r\n'],
    ['a space before the colon', () => request('POST', '/v1/chat/completions', ['Transfer-Encoding : chunked', 'Content-Length: 2', 'Content-Type: application/json'], '') + '{}'],
    ['a bare CR inside a header', () => `POST /v1/chat/completions HTTP/1.1\r\nHost: 127.0.0.1:PORT\r\nAuthorization: Bearer AGENT\r\nX-A: a\rContent-Length: 0\r\n\r\n`],
    ['a bare CR as the line end', () => `GET /v1/models HTTP/1.1\rHost: 127.0.0.1:PORT\r\nAuthorization: Bearer AGENT\r\n\r\n`],
    ['an obs-fold continuation line', () => request('GET', '/v1/models', ['X-Folded: a', ' Transfer-Encoding: chunked'])],
    ['a bare LF inside a chunk size', () => request('POST', '/v1/chat/completions', ['Transfer-Encoding: chunked', 'Content-Type: application/json'], '') + '2\n{}\r\n0\r\n\r\n'],
    ['a negative Content-Length', () => request('POST', '/v1/chat/completions', ['Content-Length: -1', 'Content-Type: application/json'], '')],
  ];

  it.each(attacks.map(([name], i) => [name, i] as const))('D4 request smuggling (%s) is refused with 400 by the parser and nothing goes upstream', async (_name, i) => {
    s.sim.clearRequests();
    const bytes = attacks[i]![1]().replaceAll('PORT', String(s.daemon.port)).replaceAll('AGENT', agent);
    const reply = await raw(s.daemon.port, bytes);
    expect(reply.status).toBe(400);
    expect(s.sim.requests).toHaveLength(0);
  });
});

describe('D. header hygiene both ways', () => {
  it('D5 LiteLLM and proxy header leaks: client Authorization, cookies, organisation, X-Forwarded-*/Forwarded, hop-by-hop and key headers never go upstream; exactly one Authorization does, the real key', async () => {
    s.daemon.setUpstreamUrl(up.url);
    try {
      up.captured.length = 0;
      // (A second Authorization header is refused outright now: P3 in p-defence.test.ts.)
      const dropped = [
        'Cookie: sbs_admin_1=stolen; other=1',
        'OpenAI-Organization: org-attacker',
        'OpenAI-Project: proj-attacker',
        'X-Forwarded-For: 10.0.0.1',
        'X-Forwarded-Host: attacker.example',
        'X-Forwarded-Proto: https',
        'Forwarded: for=10.0.0.1;host=attacker.example',
        'X-Real-IP: 10.0.0.1',
        'Via: 1.1 attacker',
        'Proxy-Authorization: Basic YTpi',
        'Keep-Alive: timeout=600',
        'TE: trailers',
        'Upgrade: h2c',
        'X-Api-Key: sk-attacker-0000000000000000',
        'Api-Key: sk-attacker-0000000000000000',
        'X-HTTP-Method-Override: DELETE',
        'X-Skillboss-Token: tok_0000000000000000',
        'X-Custom-Thing: 1',
      ];
      const reply = await raw(s.daemon.port, request('POST', '/v1/chat/completions', dropped));
      expect(reply.status).toBe(200);
      expect(up.captured).toHaveLength(1);
      const got = up.captured[0]!;
      const auth = got.headers.filter(([k]) => k === 'authorization');
      expect(auth).toEqual([['authorization', `Bearer ${s.simKey}`]]);
      const names = new Set(got.headers.map(([k]) => k));
      for (const line of dropped) {
        const name = line.slice(0, line.indexOf(':')).toLowerCase();
        if (name === 'authorization') continue;
        expect(names.has(name), name).toBe(false);
      }
      expect(got.head).not.toContain('attacker');
      expect(got.head).not.toContain(agent);
      // The Host upstream sees is the upstream's own, not the one the client sent.
      expect(got.headers.find(([k]) => k === 'host')?.[1]).toBe(new URL(up.url).host);
      expect(got.head.startsWith('POST /v1/chat/completions HTTP/1.1')).toBe(true);
    } finally {
      s.daemon.setUpstreamUrl(s.sim.url);
    }
  });

  it('D6 response hygiene: upstream Set-Cookie, CORS grants, auth challenges and unknown headers (one echoing the key) never reach the agent', async () => {
    s.daemon.setUpstreamUrl(up.url);
    up.responseHeaders = [
      'Set-Cookie: session=upstream; Path=/',
      'Access-Control-Allow-Origin: *',
      'Access-Control-Allow-Credentials: true',
      'WWW-Authenticate: Bearer realm="skillboss"',
      `X-Upstream-Debug: key=${s.simKey}`,
      'X-Ratelimit-Remaining-Requests: 42',
    ];
    try {
      const res = await call(s, agent, 'POST', '/v1/chat/completions', chatBody());
      const text = await res.text();
      expect(res.status).toBe(200);
      for (const h of ['set-cookie', 'access-control-allow-origin', 'access-control-allow-credentials', 'www-authenticate', 'x-upstream-debug']) {
        expect(res.headers.get(h), h).toBeNull();
      }
      expect(res.headers.get('x-ratelimit-remaining-requests')).toBe('42');
      expect(text).not.toContain(s.simKey);
    } finally {
      up.responseHeaders = [];
      s.daemon.setUpstreamUrl(s.sim.url);
    }
  });

  it('D7 LiteLLM CVE-2024-6587 (client-supplied api_base sent the real key elsewhere): body fields and headers naming another upstream change nothing', async () => {
    const trap = await startTrap();
    try {
      s.sim.clearRequests();
      const body = chatBody({
        api_base: trap.url,
        base_url: `${trap.url}/v1`,
        api_key: 'sk-attacker',
        azure_endpoint: trap.url,
        custom_llm_provider: 'openai',
        extra_headers: { host: `127.0.0.1:${trap.port}` },
        model: 'gpt-4o',
      });
      const res = await call(s, agent, 'POST', '/v1/chat/completions', body, { 'x-base-url': trap.url, 'x-upstream-url': trap.url, 'x-api-base': trap.url });
      expect(res.status).toBe(200);
      const q = await call(s, agent, 'GET', `/v1/models?api_base=${encodeURIComponent(trap.url)}&base_url=${encodeURIComponent(trap.url)}`);
      expect(q.status).toBe(200);
      expect(trap.connections).toBe(0);
      // Both went to the one configured upstream, with the real key.
      expect(s.sim.requests.map((r) => r.path.split('?')[0])).toEqual(['/v1/chat/completions', '/v1/models']);
      for (const r of s.sim.requests) expect(r.headers.authorization).toBe(`Bearer ${s.simKey}`);
    } finally {
      await trap.close();
    }
  });
});
