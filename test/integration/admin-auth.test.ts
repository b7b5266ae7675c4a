/**
 * Who may use the admin API: the admin secret as a bearer token, or a browser
 * session from a one-time login link — never an agent token, never a request
 * from another origin, and the admin secret never works on /v1.
 */
import { statSync } from 'node:fs';
import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { adminSecretPath, readAdminSecret } from '../../proxy/admin/index.js';
import { createLoginNonce } from '../../proxy/admin/sessions.js';
import { runCli } from '../helpers/cli.js';
import { claimSession } from '../helpers/session.js';
import { startStack, type Stack } from '../helpers/stack.js';

let s: Stack;
let secret: string;
let own: string;

beforeAll(async () => {
  s = await startStack();
  secret = readAdminSecret(s.dataDir);
  own = `http://127.0.0.1:${s.daemon.port}`;
});
afterAll(async () => {
  await s?.close();
});

interface Call {
  method?: 'GET' | 'POST' | 'PATCH' | 'PUT' | 'DELETE';
  headers?: Record<string, string>;
  body?: string;
}

async function call(path: string, c: Call = {}) {
  const res = await request(`${s.daemon.url}${path}`, { method: c.method ?? 'GET', headers: c.headers ?? {}, body: c.body ?? null });
  const text = await res.body.text();
  let json: { error?: { code: string; message: string } } & Record<string, unknown> = {};
  try {
    json = JSON.parse(text);
  } catch {
    /* not JSON */
  }
  return { status: res.statusCode, headers: res.headers, text, json };
}

const bearer = (t: string) => ({ authorization: `Bearer ${t}` });

/** Signs in through a fresh one-time link; returns the cookie and the session key header the dashboard sends. */
async function login(): Promise<{ cookie: string; 'x-sidecar-session': string }> {
  const { nonce } = createLoginNonce(s.daemon.db, s.clock.now);
  const r = await call(`/admin/login?nonce=${nonce}`);
  expect(r.status).toBe(303);
  const set = String(r.headers['set-cookie']);
  const claim = /^\/#sbs-claim=([0-9A-Za-z]{43})$/.exec(String(r.headers.location))![1]!;
  const cookie = set.split(';')[0]!;
  return { cookie, 'x-sidecar-session': await claimSession(s.daemon.url, cookie, claim) };
}

describe('the admin secret', () => {
  it('is created at first start in the data dir, owner-only, shaped like a secret', () => {
    expect(secret).toMatch(/^sk-sba-[0-9A-Za-z]{43}$/);
    expect(statSync(adminSecretPath(s.dataDir)).mode & 0o777).toBe(0o600);
  });

  it('opens the admin API as a bearer token', async () => {
    const r = await call('/admin/api/status', { headers: bearer(secret) });
    expect(r.status).toBe(200);
    expect(r.json).toMatchObject({ key: { state: 'set' }, upstream: { key: 'valid' } });
  });

  it('never works on /v1', async () => {
    const r = await call('/v1/models', { headers: bearer(secret) });
    expect(r.status).toBe(401);
    expect(r.text).not.toContain(secret);
    expect(s.sim.requests.some((q) => JSON.stringify(q.headers).includes(secret))).toBe(false);
  });
});

describe('refusals', () => {
  it('401 without credentials, on every kind of admin route', async () => {
    for (const path of ['/admin/api/status', '/admin/api/tokens', '/admin/api/events', '/admin/api/settings', '/admin/api/audit', '/admin/api/nope']) {
      const r = await call(path);
      expect(r.status, path).toBe(401);
      expect(r.json.error?.code).toBe('login_required');
    }
    const w = await call('/admin/api/tokens', { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"name":"x","preset":"admin"}' });
    expect(w.status).toBe(401);
    expect(s.tokens.list()).toHaveLength(0);
  });

  it('401 for a wrong admin secret, without echoing it', async () => {
    const wrong = `sk-sba-${'A'.repeat(43)}`;
    const r = await call('/admin/api/status', { headers: bearer(wrong) });
    expect(r.status).toBe(401);
    expect(r.json.error?.code).toBe('invalid_admin_secret');
    expect(r.text).not.toContain(wrong);
  });

  it('403 for an agent token, even one with every scope', async () => {
    const { secret: agent } = s.token({ preset: 'admin' });
    const r = await call('/admin/api/tokens', { headers: bearer(agent) });
    expect(r.status).toBe(403);
    expect(r.json.error?.code).toBe('agent_token_not_admin');
    expect(r.text).not.toContain(agent);
  });

  it('403 for a bearer request that carries a foreign Origin', async () => {
    const r = await call('/admin/api/status', { headers: { ...bearer(secret), origin: 'http://evil.example' } });
    expect(r.status).toBe(403);
  });
});

describe('one-time login links', () => {
  it('`open --print` mints a link that signs in once, with an HttpOnly SameSite=Strict cookie', async () => {
    const out = await runCli(['--data-dir', s.dataDir, 'open', '--print']);
    expect(out.code, out.stderr).toBe(0);
    const link = out.stdout.trim();
    expect(link).toMatch(new RegExp(`^${s.daemon.url}/admin/login\\?nonce=[0-9A-Za-z]{43}$`));
    // Only a hash of the nonce is stored.
    const nonce = new URL(link).searchParams.get('nonce')!;
    const rows = s.daemon.db.prepare('SELECT key, value FROM settings').all() as Array<{ key: string; value: string }>;
    expect(JSON.stringify(rows)).not.toContain(nonce);

    const first = await request(link);
    await first.body.text();
    expect(first.statusCode).toBe(303);
    // A one-time claim goes to the page in the fragment, which no request carries; the page trades it for the key.
    expect(first.headers.location).toMatch(/^\/#sbs-claim=[0-9A-Za-z]{43}$/);
    const claim = String(first.headers.location).split('=')[1]!;
    const cookie = String(first.headers['set-cookie']);
    expect(cookie).toMatch(new RegExp(`^sbs_admin_${s.daemon.port}=[0-9A-Za-z]{43}; Path=/; HttpOnly; SameSite=Strict; Max-Age=\\d+$`));
    // Before the trade, the cookie is no session, whatever key comes with it (the claim itself included).
    expect((await call('/admin/api/session', { headers: { cookie: cookie.split(';')[0]!, 'x-sidecar-session': claim } })).status).toBe(401);
    const key = await claimSession(s.daemon.url, cookie.split(';')[0]!, claim);

    const who = await call('/admin/api/session', { headers: { cookie: cookie.split(';')[0]!, 'x-sidecar-session': key } });
    expect(who.status).toBe(200);
    expect(who.json).toEqual({ via: 'session' });

    const second = await call(new URL(link).pathname + new URL(link).search);
    expect(second.status).toBe(401);
    expect(second.headers['set-cookie']).toBeUndefined();
    expect(second.text).toContain('already used');

    const audit = s.daemon.db.prepare("SELECT count(*) FROM audit WHERE event = 'admin.login'").pluck().get();
    expect(audit).toBe(1);
  });

  it('the fragment\'s claim works once: a second trade of the same claim gets nothing, and it needs the cookie and our own Origin', async () => {
    const { nonce } = createLoginNonce(s.daemon.db, s.clock.now);
    const r = await call(`/admin/login?nonce=${nonce}`);
    const claim = /^\/#sbs-claim=([0-9A-Za-z]{43})$/.exec(String(r.headers.location))![1]!;
    const cookie = String(r.headers['set-cookie']).split(';')[0]!;
    const trade = (headers: Record<string, string>) =>
      call('/admin/api/session/claim', { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify({ claim }) });
    expect((await trade({ origin: own })).status).toBe(401); // no cookie
    expect((await trade({ cookie, origin: 'http://127.0.0.1:1' })).status).toBe(403);
    expect((await trade({ cookie })).status).toBe(403); // no Origin: not the dashboard's page
    const once = await trade({ cookie, origin: own });
    expect(once.status).toBe(200);
    const key = (once.json as { key: string }).key;
    expect(key).toMatch(/^[0-9A-Za-z]{43}$/);
    const again = await trade({ cookie, origin: own });
    expect(again.status).toBe(401);
    expect(again.text).toContain('already used');
    expect(again.text).not.toContain(key);
    expect((await call('/admin/api/session', { headers: { cookie, 'x-sidecar-session': key } })).status).toBe(200);
    expect(JSON.stringify(s.daemon.db.prepare('SELECT key, value FROM settings').all())).not.toContain(key);
  });

  it('expires within minutes', async () => {
    const { nonce } = createLoginNonce(s.daemon.db, s.clock.now);
    s.clock.now += 3 * 60_000;
    const r = await call(`/admin/login?nonce=${nonce}`);
    expect(r.status).toBe(401);
  });

  it('refuses a made-up or malformed nonce', async () => {
    for (const n of ['', 'x', 'A'.repeat(43), "' OR 1=1 --"]) {
      const r = await call(`/admin/login?nonce=${encodeURIComponent(n)}`);
      expect(r.status).toBe(401);
    }
  });

  it('says `open` needs a running daemon', async () => {
    const out = await runCli(['--data-dir', `${s.dataDir}-none`, 'open', '--print']);
    expect(out.code).toBe(1);
    expect(out.stderr).toContain('no sidecar daemon is running');
  });
});

describe('browser sessions and other origins', () => {
  it('state-changing requests need our own Origin and a JSON body', async () => {
    const session = await login();
    const body = JSON.stringify({ name: 'from-browser', preset: 'read-only' });
    const before = s.tokens.list().length;

    const noOrigin = await call('/admin/api/tokens', { method: 'POST', headers: { ...session, 'content-type': 'application/json' }, body });
    expect(noOrigin.status).toBe(403);
    expect(noOrigin.json.error?.code).toBe('origin_required');

    for (const origin of ['http://evil.example', `http://127.0.0.1:${s.daemon.port + 1}`, 'null']) {
      const r = await call('/admin/api/tokens', { method: 'POST', headers: { ...session, origin, 'content-type': 'application/json' }, body });
      expect(r.status, origin).toBe(403);
    }

    // What a cross-site <form> or a no-cors fetch can send: a "simple" content type.
    const form = await call('/admin/api/tokens', { method: 'POST', headers: { ...session, origin: own, 'content-type': 'text/plain' }, body });
    expect(form.status).toBe(415);
    const urlencoded = await call('/admin/api/tokens', { method: 'POST', headers: { ...session, origin: own, 'content-type': 'application/x-www-form-urlencoded' }, body: 'name=x&preset=admin' });
    expect(urlencoded.status).toBe(415);
    expect(s.tokens.list().length).toBe(before);

    const ok = await call('/admin/api/tokens', { method: 'POST', headers: { ...session, origin: own, 'content-type': 'application/json', 'sec-fetch-site': 'same-origin' }, body });
    expect(ok.status).toBe(201);
    expect(s.tokens.list().length).toBe(before + 1);
  });

  it('reads refuse same-site pages on another port (cookies are not scoped by port)', async () => {
    const session = await login();
    const r = await call('/admin/api/tokens', { headers: { ...session, 'sec-fetch-site': 'same-site' } });
    expect(r.status).toBe(403);
    const cross = await call('/admin/api/tokens', { headers: { ...session, 'sec-fetch-site': 'cross-site' } });
    expect(cross.status).toBe(403);
    const same = await call('/admin/api/tokens', { headers: { ...session, 'sec-fetch-site': 'same-origin' } });
    expect(same.status).toBe(200);
  });

  it('logout ends the session', async () => {
    const session = await login();
    const out = await call('/admin/api/logout', { method: 'POST', headers: { ...session, origin: own } });
    expect(out.status).toBe(200);
    expect(String(out.headers['set-cookie'])).toContain('Max-Age=0');
    const after = await call('/admin/api/session', { headers: { ...session } });
    expect(after.status).toBe(401);
  });

  it('a session survives a restart of the daemon only as a hash in the database', async () => {
    const session = await login();
    const id = session.cookie.split('=')[1]!;
    const rows = JSON.stringify(s.daemon.db.prepare('SELECT key, value FROM settings').all());
    expect(rows).not.toContain(id);
    expect(rows).not.toContain(session['x-sidecar-session']);
  });
});

describe('the dashboard pages', () => {
  it('are served with a strict CSP, no framing and no sniffing', async () => {
    const r = await call('/');
    // `npm test` builds the dashboard first.
    expect(r.status).toBe(200);
    expect(r.text).toContain('<div id="root"></div>');
    // Every script is an external file from our own origin; none is inline.
    expect(r.text.match(/<script[^>]*>/g)!.every((tag) => /\ssrc="\/assets\/[^"]+\.js"/.test(tag))).toBe(true);
    const asset = /src="(\/assets\/[^"]+\.js)"/.exec(r.text)![1]!;
    const js = await call(asset);
    expect(js.status).toBe(200);
    expect(js.headers['content-type']).toContain('javascript');
    expect(js.headers['x-content-type-options']).toBe('nosniff');
    expect(r.headers['content-security-policy']).toContain("script-src 'self'");
    expect(r.headers['content-security-policy']).toContain("frame-ancestors 'none'");
    expect(r.headers['content-security-policy']).not.toContain('unsafe-inline');
    expect(r.headers['x-frame-options']).toBe('DENY');
    expect(r.headers['x-content-type-options']).toBe('nosniff');
    expect(r.headers['referrer-policy']).toBe('no-referrer');
  });

  it('unknown paths are 404, traversal finds nothing, and /v1 never reaches the admin app', async () => {
    expect((await call('/nope')).status).toBe(404);
    for (const path of ['/%2e%2e/%2e%2e/package.json', '/assets/..%2f..%2f..%2fpackage.json', '/..%5c..%5cpackage.json', '/.env', '/index.html%00.js']) {
      const r = await call(path);
      expect(r.status, path).toBeGreaterThanOrEqual(400);
      expect(r.text).not.toContain('skillboss-sidecar');
    }
    // The agent pipeline answers it (unknown agent route), not the admin app.
    const v1 = await call('/v1/admin/api/status', { headers: bearer(secret) });
    expect(v1.status).toBe(404);
    expect(v1.json).not.toHaveProperty('upstream');
  });
});

describe('another bind address', () => {
  it('serves agents there, but the admin API only on loopback names', async () => {
    // 127.0.0.2 is loopback on Linux but not one of the names the Guards know, so it counts as "another address".
    const other = await startStack({ daemon: { host: '127.0.0.2' } });
    try {
      const adminSecret = readAdminSecret(other.dataDir);
      const { secret: agent } = other.token();
      const models = await request(`http://127.0.0.2:${other.daemon.port}/v1/models`, { headers: bearer(agent) });
      await models.body.text();
      expect(models.statusCode).toBe(200);
      const admin = await request(`http://127.0.0.2:${other.daemon.port}/admin/api/status`, { headers: bearer(adminSecret) });
      const body = (await admin.body.json()) as { error: { code: string } };
      expect(admin.statusCode).toBe(403);
      expect(body.error.code).toBe('forbidden_host');
      const login = await request(`http://127.0.0.2:${other.daemon.port}/admin/login?nonce=${createLoginNonce(other.daemon.db, other.clock.now).nonce}`);
      await login.body.text();
      expect(login.statusCode).toBe(403);
    } finally {
      await other.close();
    }
  });
});
