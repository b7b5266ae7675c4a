/**
 * Group A: network exposure, DNS rebinding, CSRF. A web page in the user's
 * browser must not be able to drive the sidecar: no foreign Host, no foreign
 * Origin, on any route, with or without credentials; nothing listens beyond
 * loopback unless asked for.
 */
import { networkInterfaces } from 'node:os';
import { connect } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ROUTES } from '../../proxy/pipeline/routes.js';
import { runCli, startCli } from '../helpers/cli.js';
import { startStack, tempDir, type Stack } from '../helpers/stack.js';
import { adminSecret, call, chatBody, sessionAuth } from './kit.js';
import { codeOf, head, raw } from './raw.js';

let s: Stack;
let agent: string;
let admin: string;
let session: Awaited<ReturnType<typeof sessionAuth>>;

beforeAll(async () => {
  s = await startStack();
  agent = s.token({ preset: 'admin' }).secret;
  admin = adminSecret(s);
  session = await sessionAuth(s);
});
afterAll(async () => {
  await s?.close();
});

/** A concrete path for each route of the table (wildcards filled in). */
function concrete(path: string): string {
  return path.replace('/v1/models/*', `/v1/models/gpt-4o`).replace('/v1/agents/*/revoke', '/v1/agents/tok_0000000000000000/revoke').replace('/*', '/x');
}

describe('A. network exposure', () => {
  it('A1 MCP Inspector CVE-2025-49596 (localhost proxy reachable from the network): the daemon binds 127.0.0.1 by default and refuses connections on other addresses', async () => {
    expect(s.daemon.host).toBe('127.0.0.1');
    expect(s.daemon.url).toBe(`http://127.0.0.1:${s.daemon.port}`);
    const external = Object.values(networkInterfaces())
      .flat()
      .find((i) => i && i.family === 'IPv4' && !i.internal);
    const target = external?.address ?? '127.0.0.2';
    const refused = await new Promise<boolean>((resolve) => {
      const sock = connect({ host: target, port: s.daemon.port }, () => {
        sock.destroy();
        resolve(false);
      });
      sock.on('error', () => resolve(true));
    });
    expect(refused, `connecting to ${target}:${s.daemon.port}`).toBe(true);
  });

  it('A2 MCP Inspector CVE-2025-49596: `serve --host 0.0.0.0` is refused without --allow-remote, and nothing listens', async () => {
    const r = await runCli(['--data-dir', tempDir('sbs-a2-'), 'serve', '--host', '0.0.0.0', '--port', '0', '--upstream', s.sim.url]);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain('refusing to bind 0.0.0.0');
    expect(r.stderr).toContain('--allow-remote');
    expect(r.stdout).not.toContain('listening');
  });

  it('A3 MCP Inspector CVE-2025-49596: with --allow-remote a non-loopback bind is loud about it', async () => {
    const d = startCli(['--data-dir', tempDir('sbs-a3-'), 'serve', '--host', '0.0.0.0', '--allow-remote', '--port', '0', '--upstream', s.sim.url, '--no-log-file']);
    try {
      await d.waitFor(/listening http:\/\/0\.0\.0\.0:\d+\/v1/);
      await d.waitFor(/non-loopback address/);
    } finally {
      await d.stop();
    }
  });
});

describe('A. Host header (DNS rebinding)', () => {
  const hosts = (port: number) => [
    'attacker.example',
    `attacker.example:${port}`,
    `localhost.:${port}`,
    `127.1:${port}`,
    `2130706433:${port}`,
    `0x7f.0.0.1:${port}`,
    `[::ffff:127.0.0.1]:${port}`,
    `127.0.0.1:${port + 1}`,
    '127.0.0.1',
    `localhost.attacker.example:${port}`,
  ];

  it.each(Array.from({ length: 10 }, (_, i) => i))('A4.%i Ollama CVE-2024-28224 (DNS rebinding): a foreign Host form is refused before auth, with a valid token, and nothing goes upstream', async (i) => {
    const host = hosts(s.daemon.port)[i]!;
    s.sim.clearRequests();
    const reply = await raw(s.daemon.port, head('POST /v1/chat/completions HTTP/1.1', [`Host: ${host}`, `Authorization: Bearer ${agent}`, 'Content-Type: application/json', 'Content-Length: 2']) + '{}');
    expect(reply.status, host).toBe(403);
    expect(codeOf(reply)).toBe('forbidden_host');
    // The same Host with a bad token is still a 403, not a 401: the Host check comes first.
    const bad = await raw(s.daemon.port, head('GET /v1/models HTTP/1.1', [`Host: ${host}`, 'Authorization: Bearer sk-sbl-nonsense']));
    expect(bad.status).toBe(403);
    expect(s.sim.requests).toHaveLength(0);
  });

  it('A5 Jupyter rebinding reports: a request without Host is refused (HTTP/1.1 by the parser, HTTP/1.0 by the guard)', async () => {
    const v11 = await raw(s.daemon.port, head('GET /v1/models HTTP/1.1', [`Authorization: Bearer ${agent}`]));
    expect(v11.status).toBe(400);
    const v10 = await raw(s.daemon.port, head('GET /v1/models HTTP/1.0', [`Authorization: Bearer ${agent}`]));
    expect(v10.status).toBe(400);
    expect(codeOf(v10)).toBe('missing_host');
  });

  it('A6 DNS rebinding with a duplicated Host (the good one first or second) is refused', async () => {
    for (const lines of [
      [`Host: 127.0.0.1:${s.daemon.port}`, 'Host: attacker.example'],
      ['Host: attacker.example', `Host: 127.0.0.1:${s.daemon.port}`],
    ]) {
      const reply = await raw(s.daemon.port, head('GET /v1/models HTTP/1.1', [...lines, `Authorization: Bearer ${agent}`]));
      expect(reply.status).toBe(400);
      expect(codeOf(reply)).toBe('duplicate_host');
    }
  });

  it('A7 RFC 9112 absolute-form target (its host overrides Host): `GET http://attacker.example/…` and `*` are refused', async () => {
    s.sim.clearRequests();
    for (const target of ['http://attacker.example/v1/models', `http://127.0.0.1:${s.daemon.port}/admin/api/status`, '*']) {
      const reply = await raw(s.daemon.port, head(`GET ${target} HTTP/1.1`, [`Host: 127.0.0.1:${s.daemon.port}`, `Authorization: Bearer ${admin}`]));
      expect(reply.status, target).toBe(400);
      expect(codeOf(reply)).toBe('invalid_request_target');
    }
    expect(s.sim.requests).toHaveLength(0);
  });
});

describe('A. Origin (CSRF from web pages)', () => {
  const adminRoutes: Array<[string, string]> = [
    ['GET', '/admin/api/status'],
    ['GET', '/admin/api/tokens'],
    ['POST', '/admin/api/tokens'],
    ['PATCH', '/admin/api/settings'],
    ['PUT', '/admin/api/key'],
    ['POST', '/admin/api/login-links'],
    ['GET', '/admin/api/events'],
    ['GET', '/admin/login?nonce=x'],
    ['GET', '/'],
    ['GET', '/healthz'],
    ['GET', '/skill.md'],
    ['GET', '/metrics'],
  ];
  const agentRoutes = ROUTES.map((r): [string, string] => [r.method, concrete(r.path)]);

  it.each([...agentRoutes, ...adminRoutes])('A8 MCP Inspector CVE-2025-49596 (a visited page drives localhost): cross-site Origin on %s %s is refused with valid credentials', async (method, path) => {
    s.sim.clearRequests();
    const tokensBefore = s.tokens.list().length;
    const creds = path.startsWith('/v1') ? `Bearer ${agent}` : `Bearer ${admin}`;
    const res = await fetch(`${s.daemon.url}${path}`, {
      method,
      headers: { origin: 'https://attacker.example', authorization: creds, ...session, 'content-type': 'application/json' },
      ...(method === 'GET' || method === 'DELETE' ? {} : { body: JSON.stringify({ name: 'csrf', preset: 'admin', ...chatBody() }) }),
    });
    expect(res.status).toBe(403);
    expect(((await res.json()) as { error: { code: string } }).error.code).toBe('forbidden_origin');
    expect(res.headers.get('access-control-allow-origin')).toBeNull();
    expect(s.sim.requests).toHaveLength(0);
    expect(s.tokens.list()).toHaveLength(tokensBefore);
  });

  it('A9 sandboxed iframes and file:// pages send `Origin: null`: refused on the agent API and the admin API', async () => {
    for (const [path, creds] of [['/v1/models', agent], ['/admin/api/status', admin]] as const) {
      const res = await fetch(`${s.daemon.url}${path}`, { headers: { origin: 'null', authorization: `Bearer ${creds}` } });
      expect(res.status, path).toBe(403);
    }
  });

  it('A10 a cross-site fetch that hides its Origin is still known by Sec-Fetch-Site and refused', async () => {
    const res = await call(s, agent, 'GET', '/v1/models', undefined, { 'sec-fetch-site': 'cross-site' });
    expect(res.status).toBe(403);
    const adminRes = await fetch(`${s.daemon.url}/admin/api/status`, { headers: { 'sec-fetch-site': 'same-site', ...session } });
    expect(adminRes.status).toBe(403);
  });

  it('A11 browser-driven CSRF: no-cors / text/plain / form simple POSTs with the dashboard cookie change nothing', async () => {
    s.sim.clearRequests();
    const before = s.tokens.list().length;
    const attempts: Array<[string, Record<string, string>, string]> = [
      // What a cross-site <form> or no-cors fetch can send: a simple content type, the cookie, a foreign (or no) Origin.
      ['/admin/api/tokens', { 'content-type': 'text/plain', origin: 'https://attacker.example', ...session }, JSON.stringify({ name: 'x', preset: 'admin' })],
      ['/admin/api/tokens', { 'content-type': 'application/x-www-form-urlencoded', ...session }, 'name=x&preset=admin'],
      ['/admin/api/tokens', { 'content-type': 'text/plain', ...session }, JSON.stringify({ name: 'x', preset: 'admin' })],
      ['/v1/chat/completions', { 'content-type': 'text/plain', origin: 'https://attacker.example' }, JSON.stringify(chatBody())],
      ['/v1/chat/completions', { 'content-type': 'text/plain', authorization: `Bearer ${agent}` }, JSON.stringify(chatBody())],
    ];
    for (const [path, headers, body] of attempts) {
      const res = await fetch(`${s.daemon.url}${path}`, { method: 'POST', headers, body });
      expect(res.status, `${path} ${JSON.stringify(headers).slice(0, 80)}`).toBeGreaterThanOrEqual(400);
      expect(res.status).toBeLessThan(500);
    }
    expect(s.tokens.list()).toHaveLength(before);
    expect(s.sim.requests).toHaveLength(0);
  });

  it('A12 no CORS grant: preflights and answers never carry Access-Control-Allow-Origin (never `*`)', async () => {
    const seen: Array<string | null> = [];
    for (const origin of ['https://attacker.example', `http://127.0.0.1:${s.daemon.port}`]) {
      for (const path of ['/v1/chat/completions', '/admin/api/tokens', '/']) {
        const pre = await fetch(`${s.daemon.url}${path}`, {
          method: 'OPTIONS',
          headers: { origin, 'access-control-request-method': 'POST', 'access-control-request-headers': 'authorization,content-type' },
        });
        seen.push(pre.headers.get('access-control-allow-origin'), pre.headers.get('access-control-allow-credentials'));
      }
    }
    const ok = await call(s, agent, 'GET', '/v1/models', undefined, { origin: `http://127.0.0.1:${s.daemon.port}` });
    expect(ok.status).toBe(200);
    seen.push(ok.headers.get('access-control-allow-origin'));
    expect(seen.every((v) => v === null)).toBe(true);
  });

  it('A13 live-event streams check Origin too: a foreign page cannot subscribe to /admin/api/events with the cookie', async () => {
    const res = await fetch(`${s.daemon.url}/admin/api/events`, { headers: { origin: 'http://localhost:1234', ...session } });
    expect(res.status).toBe(403);
    // The same stream from the dashboard's own origin is served, so the refusal above is the Origin check.
    const ctl = new AbortController();
    const own = await fetch(`${s.daemon.url}/admin/api/events`, { headers: { origin: `http://127.0.0.1:${s.daemon.port}`, ...session }, signal: ctl.signal });
    expect(own.status).toBe(200);
    expect(own.headers.get('content-type')).toContain('text/event-stream');
    ctl.abort();
  });

  it('A14 the browser-agent allowlist is exact: an allowed origin passes, a look-alike does not', async () => {
    const patch = await fetch(`${s.daemon.url}/admin/api/settings`, {
      method: 'PATCH',
      headers: { authorization: `Bearer ${admin}`, 'content-type': 'application/json' },
      body: JSON.stringify({ allowed_origins: ['http://localhost:5173'] }),
    });
    expect(patch.status).toBe(200);
    try {
      expect((await call(s, agent, 'GET', '/v1/models', undefined, { origin: 'http://localhost:5173' })).status).toBe(200);
      for (const o of ['http://localhost:5173.attacker.example', 'http://localhost:51730', 'https://localhost:5173', 'http://LOCALHOST:5173x']) {
        expect((await call(s, agent, 'GET', '/v1/models', undefined, { origin: o })).status, o).toBe(403);
      }
      // The agents' allowlist never opens the admin API to that origin.
      expect((await fetch(`${s.daemon.url}/admin/api/status`, { headers: { origin: 'http://localhost:5173', ...session } })).status).toBe(403);
    } finally {
      await fetch(`${s.daemon.url}/admin/api/settings`, {
        method: 'PATCH',
        headers: { authorization: `Bearer ${admin}`, 'content-type': 'application/json' },
        body: JSON.stringify({ allowed_origins: [] }),
      });
    }
  });

  it('A15 clickjacking: the dashboard and admin answers carry a strict CSP with frame-ancestors none and X-Frame-Options DENY', async () => {
    for (const [path, headers] of [
      ['/', {}],
      ['/admin/api/status', { ...session }],
      ['/admin/api/nope', { ...session }],
    ] as const) {
      const res = await fetch(`${s.daemon.url}${path}`, { headers });
      const csp = res.headers.get('content-security-policy') ?? '';
      expect(csp, path).toContain("frame-ancestors 'none'");
      expect(csp).toContain("default-src 'none'");
      expect(csp).toMatch(/script-src 'self'(;|$)/);
      expect(csp).not.toMatch(/unsafe-inline|unsafe-eval|\*/);
      expect(res.headers.get('x-frame-options')).toBe('DENY');
      expect(res.headers.get('x-content-type-options')).toBe('nosniff');
    }
  });
});
