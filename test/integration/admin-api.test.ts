/**
 * The admin API against the real daemon and simulator: tokens within the
 * hierarchy rules, usage and requests from the ledger, live events, settings
 * applied to the running daemon, validation with a message per field, and
 * the upstream key that goes in but never comes out.
 */
import OpenAI from 'openai';
import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readAdminSecret } from '../../proxy/admin/index.js';
import { DAY_MS } from '../../proxy/core/time.js';
import { startStack, type Stack } from '../helpers/stack.js';
import { sseReader } from '../helpers/sse.js';

let s: Stack;
let secret: string;

beforeAll(async () => {
  s = await startStack();
  secret = readAdminSecret(s.dataDir);
});
afterAll(async () => {
  await s?.close();
});

type Json = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

async function api(method: 'GET' | 'POST' | 'PATCH' | 'PUT', path: string, body?: unknown): Promise<{ status: number; json: Json; text: string; headers: Record<string, unknown> }> {
  const res = await request(`${s.daemon.url}/admin/api${path}`, {
    method,
    headers: { authorization: `Bearer ${secret}`, ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
    body: body === undefined ? null : typeof body === 'string' ? body : JSON.stringify(body),
  });
  const text = await res.body.text();
  let json: Json = {};
  try {
    json = JSON.parse(text) as Json;
  } catch {
    /* CSV */
  }
  return { status: res.statusCode, json, text, headers: res.headers };
}

function agent(key: string): OpenAI {
  return new OpenAI({ apiKey: key, baseURL: s.baseURL, maxRetries: 0 });
}

async function chat(key: string, content = 'hello from the admin tests') {
  return agent(key).chat.completions.create({ model: 'gpt-4o-mini', messages: [{ role: 'user', content }] });
}

describe('validation: 400 with a message per field', () => {
  it('names each missing or malformed field and each unknown one', async () => {
    const r = await api('POST', '/tokens', { preset: 'superuser', monthly_budget_usd: -1, expires: 'soon', rpm: 1.5, parent_id: 'nope', colour: 'red' });
    expect(r.status).toBe(400);
    expect(r.json.error.code).toBe('invalid_request');
    expect(Object.keys(r.json.error.details).sort()).toEqual(['colour', 'expires', 'monthly_budget_usd', 'name', 'parent_id', 'preset', 'rpm'].sort());
    expect(r.json.error.details.colour).toBe('unknown field');
    expect(r.json.error.details.monthly_budget_usd).toBe('must be more than 0 USD');
  });

  it('wants a preset or scopes, not both, and only known scopes', async () => {
    const both = await api('POST', '/tokens', { name: 'x', preset: 'write', scopes: ['models:read'] });
    expect(both.status).toBe(400);
    expect(both.json.error.details.scopes).toContain('either a preset or a list');
    const bad = await api('POST', '/tokens', { name: 'x', scopes: ['models:read', 'root:all'] });
    expect(bad.status).toBe(400);
    expect(Object.keys(bad.json.error.details)).toEqual(['scopes.1']);
  });

  it('refuses bodies that are not JSON objects, with its own message', async () => {
    const r = await api('POST', '/tokens', '{"name": sk-live-secretish');
    expect(r.status).toBe(400);
    expect(r.json.error.code).toBe('invalid_json');
    expect(r.text).not.toContain('secretish');
    const arr = await api('POST', '/tokens', []);
    expect(arr.status).toBe(400);
  });

  it('validates settings field by field', async () => {
    const r = await api('PATCH', '/settings', {
      upstream_url: 'ftp://example.com',
      webhook_allowed_hosts: ['hooks.example.com', '127.1', '0x7f000001', '[::ffff:127.0.0.1]', 'https://x.example.com'],
      default_max_tokens: 0,
      allowed_origins: ['http://localhost:5173/path'],
      price_overrides: { 'gpt-4o-mini': { prompt: -1, completion: 1 } },
      theme: 'dark',
    });
    expect(r.status).toBe(400);
    const d = r.json.error.details as Record<string, string>;
    expect(Object.keys(d).sort()).toEqual(
      ['allowed_origins.0', 'default_max_tokens', 'price_overrides.gpt-4o-mini.prompt', 'theme', 'webhook_allowed_hosts.1', 'webhook_allowed_hosts.2', 'webhook_allowed_hosts.3', 'webhook_allowed_hosts.4'].sort(),
    );
    // upstream_url is checked after the schema; alone it gets its own message.
    const u = await api('PATCH', '/settings', { upstream_url: 'ftp://example.com' });
    expect(u.status).toBe(400);
    expect(u.json.error.details.upstream_url).toContain('http(s)');
  });

  it('validates query strings too', async () => {
    const r = await api('GET', '/usage?by=week&from=2025-13-01&extra=1');
    expect(r.status).toBe(400);
    expect(Object.keys(r.json.error.details).sort()).toEqual(['by', 'extra', 'from']);
    const range = await api('GET', '/usage?from=2025-05-02&to=2025-05-01');
    expect(range.status).toBe(400);
    expect(range.json.error.details.to).toBeDefined();
  });
});

describe('tokens', () => {
  it('creates a token with a preset, shows its secret once, and lists it with spend this period', async () => {
    const r = await api('POST', '/tokens', { name: 'writer', preset: 'write', monthly_budget_usd: 5, expires: '30d', rpm: 60 });
    expect(r.status).toBe(201);
    expect(r.json.secret).toMatch(/^sk-sbl-/);
    expect(r.json.token).toMatchObject({ name: 'writer', monthly_budget_usd: 5, spent_usd: 0, rpm: 60, status: 'active', last_used_at: null });
    expect(Date.parse(r.json.token.expires_at) - s.clock.now).toBe(30 * DAY_MS);

    const reply = await chat(r.json.secret);
    const list = await api('GET', '/tokens');
    const row = list.json.data.find((t: Json) => t.id === r.json.token.id);
    expect(row.spent_usd).toBeGreaterThan(0);
    expect(row.spent_usd).toBe(Math.ceil(reply.usage!.prompt_tokens * 0.15 + reply.usage!.completion_tokens * 0.6) / 1e6);
    expect(row.requests).toBe(1);
    expect(Date.parse(row.last_used_at)).toBe(s.clock.now);
    // Never a secret or its hash.
    expect(list.text).not.toContain(r.json.secret);
    expect(list.text).not.toMatch(/[0-9a-f]{64}/);
  });

  it('enforces the hierarchy: budget, scopes and expiry within the parent (403 naming the rule)', async () => {
    const parent = (await api('POST', '/tokens', { name: 'parent', preset: 'write', monthly_budget_usd: 10, expires: '90d' })).json.token;
    const over = await api('POST', '/tokens', { name: 'c', preset: 'write', monthly_budget_usd: 11, parent_id: parent.id });
    expect(over.status).toBe(403);
    expect(over.json.error.code).toBe('budget_exceeds_parent');
    const scopes = await api('POST', '/tokens', { name: 'c', preset: 'admin', parent_id: parent.id });
    expect(scopes.status).toBe(403);
    expect(scopes.json.error.code).toBe('scope_exceeds_parent');
    const never = await api('POST', '/tokens', { name: 'c', preset: 'read-only', parent_id: parent.id, expires: 'never' });
    expect(never.json.error.code).toBe('expiry_exceeds_parent');

    // A child that asks for no expiry inherits the parent's.
    const child = await api('POST', '/tokens', { name: 'child', preset: 'read-only', monthly_budget_usd: 2, parent_id: parent.id });
    expect(child.status).toBe(201);
    expect(child.json.token.expires_at).toBe(parent.expires_at);
    expect(child.json.token.depth).toBe(1);

    const raise = await api('PATCH', `/tokens/${child.json.token.id}`, { monthly_budget_usd: 50 });
    expect(raise.status).toBe(403);
    const later = await api('PATCH', `/tokens/${child.json.token.id}`, { expires_at: new Date(s.clock.now + 200 * DAY_MS).toISOString() });
    expect(later.json.error.code).toBe('expiry_exceeds_parent');
    const more = await api('PATCH', `/tokens/${child.json.token.id}`, { scopes: ['models:read', 'agents:create'] });
    expect(more.json.error.code).toBe('scope_exceeds_parent');

    const tree = await api('GET', '/tokens/tree');
    const node = tree.json.data.find((n: Json) => n.id === parent.id);
    expect(node.tree.map((c: Json) => c.id)).toEqual([child.json.token.id]);
  });

  it('edits are all-or-nothing, and narrowing scopes narrows the subtree', async () => {
    const p = (await api('POST', '/tokens', { name: 'p', preset: 'admin' })).json.token;
    const c = (await api('POST', '/tokens', { name: 'c', preset: 'write', parent_id: p.id })).json;
    const g = (await api('POST', '/tokens', { name: 'g', scopes: ['models:read', 'models:use'], parent_id: c.token.id })).json;

    // The rename is undone because the budget change in the same PATCH breaks a rule.
    const bad = await api('PATCH', `/tokens/${c.token.id}`, { name: 'renamed', monthly_budget_usd: 1, expires_at: 'not a date' });
    expect(bad.status).toBe(400);
    const tx = await api('PATCH', `/tokens/${g.token.id}`, { name: 'renamed', scopes: ['billing:write'] });
    expect(tx.status).toBe(403);
    expect(s.tokens.require(g.token.id).name).toBe('g');

    const narrow = await api('PATCH', `/tokens/${p.id}`, { scopes: ['models:read', 'billing:read'], name: 'p2', rpm: 10 });
    expect(narrow.status).toBe(200);
    expect(narrow.json.token).toMatchObject({ name: 'p2', scopes: ['models:read', 'billing:read'], rpm: 10 });
    expect(narrow.json.narrowed.sort()).toEqual([c.token.id, g.token.id].sort());
    expect(s.tokens.require(c.token.id).scopes).toEqual(['models:read', 'billing:read']);
    expect(s.tokens.require(g.token.id).scopes).toEqual(['models:read']);
    // And the running daemon enforces it at once.
    const refused = await chat(g.secret).catch((e: { status: number }) => e);
    expect((refused as { status: number }).status).toBe(403);
  });

  it('rotates with a grace period and revokes a subtree; the daemon notices at once', async () => {
    const p = (await api('POST', '/tokens', { name: 'rot', preset: 'write' })).json;
    const c = (await api('POST', '/tokens', { name: 'rot-child', preset: 'write', parent_id: p.token.id })).json;
    const rot = await api('POST', `/tokens/${p.token.id}/rotate`, { grace_days: 1 });
    expect(rot.status).toBe(200);
    expect(rot.json.secret).not.toBe(p.secret);
    expect(Date.parse(rot.json.old_secret_expires_at) - s.clock.now).toBe(DAY_MS);
    await chat(p.secret);
    await chat(rot.json.secret);
    const view = (await api('GET', `/tokens/${p.token.id}`)).json;
    expect(view.rotated_at).not.toBeNull();
    expect(view.old_secret_valid_until).toBe(rot.json.old_secret_expires_at);
    expect(view.subtree.map((t: Json) => t.id)).toEqual([p.token.id, c.token.id]);

    const rev = await api('POST', `/tokens/${p.token.id}/revoke`, {});
    expect(rev.json.revoked.sort()).toEqual([p.token.id, c.token.id].sort());
    for (const k of [rot.json.secret, c.secret]) {
      const e = (await chat(k).catch((x: unknown) => x)) as { status: number };
      expect(e.status).toBe(401);
    }
    const edit = await api('PATCH', `/tokens/${p.token.id}`, { monthly_budget_usd: 1 });
    expect(edit.status).toBe(400);
    expect(edit.json.error.code).toBe('token_revoked');
    const list = (await api('GET', '/tokens')).json.data as Json[];
    expect(list.find((t) => t.id === c.token.id)!.status).toBe('revoked');
  });

  it('404 for an unknown token id, 400 for a malformed one', async () => {
    expect((await api('GET', '/tokens/tok_AAAAAAAAAAAAAAAA')).status).toBe(404);
    expect((await api('POST', '/tokens/drop%20table/revoke', {})).status).toBe(400);
  });
});

describe('usage, requests and the audit log', () => {
  it('sums the ledger per day, token and model, and exports CSV safe for spreadsheets', async () => {
    const t = (await api('POST', '/tokens', { name: '=HYPERLINK("http://x")', preset: 'write' })).json;
    await chat(t.secret, 'one');
    await chat(t.secret, 'two two');
    const byToken = await api('GET', '/usage?by=token');
    const row = byToken.json.data.find((r: Json) => r.token_id === t.token.id);
    expect(row).toMatchObject({ requests: 2, errors: 0, token_name: '=HYPERLINK("http://x")' });
    const rows = s.daemon.db.prepare('SELECT sum(cost_micros) FROM usage WHERE token_id = ?').pluck().get(t.token.id) as number;
    expect(row.cost_usd).toBe(rows / 1e6);

    const byDay = await api('GET', '/usage?by=day');
    expect(byDay.json.data).toHaveLength(1);
    expect(byDay.json.data[0].day).toBe(new Date(s.clock.now).toISOString().slice(0, 10));
    const byModel = await api('GET', '/usage?by=day_model');
    expect(byModel.json.data.some((r: Json) => r.model === 'gpt-4o-mini')).toBe(true);

    const csv = await api('GET', '/usage?by=day_token&format=csv');
    expect(csv.status).toBe(200);
    expect(String(csv.headers['content-type'])).toContain('text/csv');
    expect(String(csv.headers['content-disposition'])).toMatch(/attachment; filename="skillboss-usage-day_token-.*\.csv"/);
    const lines = csv.text.trim().split('\r\n');
    expect(lines[0]).toBe('day,token_id,token_name,requests,errors,prompt_tokens,completion_tokens,cached_tokens,reasoning_tokens,cost_usd');
    expect(csv.text).toContain(`"'=HYPERLINK(""http://x"")"`);
  });

  it('lists recent requests newest first, filtered and paginated', async () => {
    const t = (await api('POST', '/tokens', { name: 'pager', preset: 'read-only' })).json;
    await agent(t.secret).models.list();
    for (let i = 0; i < 3; i++) await chat(t.secret).catch(() => undefined); // 403: read-only
    const page1 = await api('GET', `/requests?token=${t.token.id}&limit=2`);
    expect(page1.json.data).toHaveLength(2);
    expect(page1.json.data[0].id).toBeGreaterThan(page1.json.data[1].id);
    expect(page1.json.data[0]).toMatchObject({ token_id: t.token.id, token_name: 'pager', status: 403, error_code: 'insufficient_scope' });
    const page2 = await api('GET', `/requests?token=${t.token.id}&limit=2&before=${page1.json.next_before}`);
    expect(page2.json.data).toHaveLength(2);
    expect(page2.json.next_before).toBeNull();
    const ok = await api('GET', `/requests?token=${t.token.id}&status=ok`);
    expect(ok.json.data.map((r: Json) => r.route)).toEqual(['/v1/models']);
    const errors = await api('GET', `/requests?token=${t.token.id}&status=error`);
    expect(errors.json.data).toHaveLength(3);
  });

  it('shows the audit log, filtered by event family', async () => {
    const r = await api('GET', '/audit?event=token.*&limit=500');
    expect(r.status).toBe(200);
    const events = new Set(r.json.data.map((a: Json) => a.event));
    for (const e of ['token.create', 'token.rotate', 'token.revoke', 'token.scopes', 'token.rename', 'token.limits']) expect(events.has(e), e).toBe(true);
    expect(r.json.data.every((a: Json) => a.event.startsWith('token.'))).toBe(true);
    expect(r.text).not.toMatch(/sk-sbl-[0-9A-Za-z]{10}/);
  });
});

describe('live events', () => {
  it('streams each request as it completes, with its cost, and drops the listener on disconnect', async () => {
    const t = (await api('POST', '/tokens', { name: 'live', preset: 'write' })).json;
    const ac = new AbortController();
    const res = await fetch(`${s.daemon.url}/admin/api/events`, { headers: { authorization: `Bearer ${secret}` }, signal: ac.signal });
    expect(res.headers.get('content-type')).toContain('text/event-stream');
    const { until } = sseReader(res);
    const next = async (kind: string): Promise<Json> => JSON.parse((await until(new RegExp(`event: ${kind}\\ndata: (.*)\\n\\n`)))[1]!) as Json;
    await until(/: connected\n\n/);
    expect(s.daemon.events.listenerCount('request')).toBe(1);
    const reply = await chat(t.secret);
    const ev = await next('request');
    expect(ev).toMatchObject({ token_id: t.token.id, token_name: 'live', model: 'gpt-4o-mini', status: 200, route: '/v1/chat/completions' });
    expect(ev.cost_usd).toBe(Math.ceil(reply.usage!.prompt_tokens * 0.15 + reply.usage!.completion_tokens * 0.6) / 1e6);

    await api('POST', `/tokens/${t.token.id}/rotate`, {});
    expect(await next('rotation')).toMatchObject({ token_id: t.token.id, kind: 'manual', token_name: 'live' });
    ac.abort();
    await expect.poll(() => s.daemon.events.listenerCount('request')).toBe(0);
  });
});

describe('status and alerts', () => {
  it('reports the upstream, spend against budgets, and budget alerts at 80% and 100%', async () => {
    const t = (await api('POST', '/tokens', { name: 'tight', preset: 'write', monthly_budget_usd: 0.000001 })).json;
    const before = (await api('GET', '/status')).json;
    expect(before.upstream).toMatchObject({ key: 'valid', credits: 'ok', reachable: true, balance_usd: 1000 });
    expect(before.upstream.model_count).toBeGreaterThan(0);
    expect(before.key.masked).toBe(`sk-…${s.simKey.slice(-4)}`);
    expect(before.alerts.filter((a: Json) => a.token_id === t.token.id)).toEqual([]);
    // The first request may spend what is left; the budget then reads 100%.
    await chat(t.secret).catch(() => undefined);
    s.daemon.db.prepare("INSERT INTO spend (token_id, period, spent_micros, requests) VALUES (?, strftime('%Y-%m', ?/1000, 'unixepoch'), 1, 1) ON CONFLICT DO UPDATE SET spent_micros = max(spent_micros, 1)").run(t.token.id, s.clock.now);
    const after = (await api('GET', '/status')).json;
    expect(after.alerts).toContainEqual(expect.objectContaining({ kind: 'budget_100', token_id: t.token.id, severity: 'error' }));
    expect(after.spend.this_period_usd).toBeGreaterThan(0);
    expect(after.spend.budgets_usd).toBeGreaterThanOrEqual(5);
    expect(after.period).toBe(new Date(s.clock.now).toISOString().slice(0, 7));
  });
});

describe('settings', () => {
  it('applies each setting to the running daemon and audits the change', async () => {
    const r = await api('PATCH', '/settings', {
      default_max_tokens: 1234,
      webhook_allowed_hosts: ['Hooks.Example.com', 'hooks.example.com'],
      key_rotation_days: 30,
      allowed_origins: ['http://localhost:5173'],
      price_overrides: { 'gpt-4o-mini': { prompt: 1, completion: 2 } },
    });
    expect(r.status).toBe(200);
    expect(r.json).toMatchObject({ default_max_tokens: 1234, webhook_allowed_hosts: ['hooks.example.com'], key_rotation_days: 30, allowed_origins: ['http://localhost:5173'] });
    expect(s.daemon.deps.limits.defaultMaxTokens).toBe(1234);
    expect(s.daemon.deps.prices.priceFor('gpt-4o-mini')).toMatchObject({ prompt: 1, completion: 2, source: 'override' });
    const m = r.json.prices.find((p: Json) => p.id === 'gpt-4o-mini');
    expect(m).toMatchObject({ upstream: { prompt: 0.15, completion: 0.6 }, override: { prompt: 1, completion: 2 }, effective: { source: 'override' } });

    // The newly allowed browser origin may now call /v1 (Guards rebuilt); others still may not.
    const t = (await api('POST', '/tokens', { name: 'browser-agent', preset: 'read-only' })).json;
    const fromAllowed = await request(`${s.baseURL}/models`, { headers: { authorization: `Bearer ${t.secret}`, origin: 'http://localhost:5173' } });
    await fromAllowed.body.text();
    expect(fromAllowed.statusCode).toBe(200);
    // …but never the admin API.
    const adminFromAllowed = await request(`${s.daemon.url}/admin/api/status`, { headers: { authorization: `Bearer ${secret}`, origin: 'http://localhost:5173' } });
    await adminFromAllowed.body.text();
    expect(adminFromAllowed.statusCode).toBe(403);

    const audit = (await api('GET', '/audit?event=settings.change')).json.data[0];
    expect(audit.detail).toMatchObject({ default_max_tokens: 1234, key_rotation_days: 30 });

    // Undo the override so later cost checks use upstream prices.
    const undo = await api('PATCH', '/settings', { price_overrides: { 'gpt-4o-mini': null } });
    expect(undo.json.prices.find((p: Json) => p.id === 'gpt-4o-mini').override).toBeNull();
  });

  it('moves forwarding to another upstream URL', async () => {
    const old = s.daemon.deps.upstream().baseUrl;
    const r = await api('PATCH', '/settings', { upstream_url: `${old}/` });
    expect(r.status).toBe(200);
    expect(r.json.upstream_url).toBe(old);
    expect(s.daemon.deps.upstream().baseUrl).toBe(old);
  });
});

describe('the upstream key is write-only', () => {
  it('goes into the key store; only sk-… and the last four ever come out', async () => {
    const bogus = `sk-bogus-${'x'.repeat(20)}WXYZ`;
    const set = await api('PUT', '/key', { key: bogus });
    expect(set.status).toBe(200);
    expect(set.json.key).toEqual({ state: 'set', masked: 'sk-…WXYZ', store: 'os-keychain' });
    expect(set.json.upstream.key).toBe('invalid');
    expect(s.keyStore.get()).toBe(bogus);
    const status = await api('GET', '/status');
    expect(status.json.alerts).toContainEqual(expect.objectContaining({ kind: 'key_invalid' }));

    const back = await api('PUT', '/key', { key: s.simKey });
    expect(back.json.upstream.key).toBe('valid');
    expect(back.json.key.masked).toBe(`sk-…${s.simKey.slice(-4)}`);

    for (const path of ['/status', '/settings', '/audit?limit=500', '/tokens']) {
      const r = await api('GET', path);
      expect(r.text, path).not.toContain(bogus);
      expect(r.text, path).not.toContain(s.simKey);
    }
    const audits = (await api('GET', '/audit?event=key.set')).json.data;
    expect(audits.map((a: Json) => a.detail.key)).toEqual([`sk-…${s.simKey.slice(-4)}`, 'sk-…WXYZ']);
  });

  it('refuses a malformed key without repeating it', async () => {
    const r = await api('PUT', '/key', { key: 'not a key at all but a secret-ish string' });
    expect(r.status).toBe(400);
    expect(Object.keys(r.json.error.details)).toEqual(['key']);
    expect(r.text).not.toContain('secret-ish');
    const extra = await api('PUT', '/key', { key: s.simKey, note: 'x' });
    expect(extra.status).toBe(400);
    expect(extra.json.error.details).toEqual({ note: 'unknown field' });
    expect(extra.text).not.toContain(s.simKey);
  });
});
