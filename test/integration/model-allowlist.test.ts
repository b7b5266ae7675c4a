/**
 * Per-token model allowlists (issue 24, items 3 and 4's first half), with the real daemon against the
 * simulator: a token limited to `replicate/*` is refused another vendor's model with 403
 * model_not_allowed on every route that names one, before anything is reserved or sent upstream; its
 * `GET /v1/models` lists only what it may use; a child stays within its parent; the list comes in
 * through the agent routes, access requests, the admin API and the CLI.
 */
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { readAdminSecret } from '../../proxy/admin/index.js';
import { createUpstreamChild, UpstreamChildInputError } from '../../proxy/upstream/children.js';
import { ledgerOf } from '../helpers/ledger.js';
import { CLI, runCli } from '../helpers/cli.js';
import { errorOf, startStack, type Stack } from '../helpers/stack.js';

const IMAGE = 'replicate/black-forest-labs/flux-schnell';
const VIDEO = 'minimax/video-01';

let s: Stack;
let admin: string;
let reserves = 0;
beforeAll(async () => {
  s = await startStack({ dialect: 'real', sim: { services: true } });
  admin = readAdminSecret(s.dataDir);
  // Counts reservations without changing them: a refused model must never get this far.
  const budgets = s.daemon.deps.budgets;
  const reserve = budgets.reserve.bind(budgets);
  budgets.reserve = (...args: Parameters<typeof reserve>) => {
    reserves++;
    return reserve(...args);
  };
});
afterAll(async () => {
  await s?.close();
});
beforeEach(() => {
  s.sim.clearRequests();
  reserves = 0;
});

const post = (path: string, secret: string, body: unknown, headers: Record<string, string> = {}) =>
  fetch(`${s.baseURL}${path}`, { method: 'POST', headers: { authorization: `Bearer ${secret}`, 'content-type': 'application/json', ...headers }, body: JSON.stringify(body) });
const get = (path: string, secret: string) => fetch(`${s.baseURL}${path}`, { headers: { authorization: `Bearer ${secret}` } });
const adminCall = (method: string, path: string, body?: unknown) =>
  fetch(`${s.daemon.url}/admin/api${path}`, { method, headers: { authorization: `Bearer ${admin}`, 'content-type': 'application/json' }, ...(body === undefined ? {} : { body: JSON.stringify(body) }) });
const upstreamCalls = () => s.sim.requests.filter((r) => !r.path.startsWith('/v1/models'));

/** A refusal that reached nothing: 403 model_not_allowed naming the list, no reservation, no upstream call, a 0-cost ledger row. */
async function expectRefused(res: Response, tokenId: string, list: string) {
  const body = (await res.json()) as { error: { code: string; message: string } };
  expect(res.status).toBe(403);
  expect(body.error.code).toBe('model_not_allowed');
  expect(body.error.message).toContain(list);
  expect(reserves).toBe(0);
  expect(upstreamCalls()).toEqual([]);
  expect(s.daemon.deps.budgets.reservedFor(tokenId)).toBe(0);
  const row = ledgerOf(s.daemon.db, tokenId).at(-1)!;
  expect(row).toMatchObject({ status: 403, error_code: 'model_not_allowed', cost_micros: 0 });
}

describe('a token limited to replicate/*', () => {
  it('gets 403 model_not_allowed for another vendor\'s model on chat, with nothing reserved or sent', async () => {
    const { token, secret } = s.token({ models: ['replicate/*'], budgetUsd: 5 });
    const before = s.sim.balanceMicros();
    await expectRefused(await post('/chat/completions', secret, { model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'hi' }] }), token.id, 'replicate/*');
    expect(s.sim.balanceMicros()).toBe(before);
  });

  it('gets 403 model_not_allowed for another vendor\'s model on /v1/run, and its own vendor\'s model runs', async () => {
    const { token, secret } = s.token({ models: ['replicate/*'], budgetUsd: 5 });
    await expectRefused(await post('/run', secret, { model: VIDEO, inputs: { prompt: 'a boat' } }), token.id, 'replicate/*');
    const ok = await post('/run', secret, { model: IMAGE, inputs: { prompt: 'a lighthouse' } });
    expect(ok.status).toBe(200);
    expect(reserves).toBe(1);
    expect(s.sim.requests.filter((r) => r.path === '/v1/run')).toHaveLength(1);
  });

  it('is refused on completions, embeddings, responses, messages, count_tokens and pilot too', async () => {
    const { token, secret } = s.token({ models: ['replicate/*'] });
    const cases: Array<[string, unknown]> = [
      ['/completions', { model: 'gpt-4o-mini', prompt: 'hi', max_tokens: 5 }],
      ['/embeddings', { model: 'text-embedding-3-small', input: 'hi' }],
      ['/responses', { model: 'gpt-4o-mini', input: 'hi' }],
      ['/messages', { model: 'claude-4-5-sonnet', max_tokens: 10, messages: [{ role: 'user', content: 'hi' }] }],
      ['/messages/count_tokens', { model: 'claude-4-5-sonnet', messages: [{ role: 'user', content: 'hi' }] }],
      // The smart router picks the model upstream: no list can hold it, so a restricted token is refused.
      ['/pilot', { type: 'image', inputs: { prompt: 'a cat' } }],
      // No model named: fails closed.
      ['/chat/completions', { messages: [{ role: 'user', content: 'hi' }] }],
    ];
    for (const [path, body] of cases) {
      const res = await post(path, secret, body);
      const text = await res.text();
      expect([path, res.status]).toEqual([path, 403]);
      expect(text).toContain('model_not_allowed');
      expect(text).toContain('replicate/*');
    }
    expect(reserves).toBe(0);
    expect(upstreamCalls()).toEqual([]);
    expect(ledgerOf(s.daemon.db, token.id).every((r) => r.cost_micros === 0 && r.error_code === 'model_not_allowed')).toBe(true);
  });

  it('is refused on a large (scanned) body by the model the scanner read', async () => {
    const { token, secret } = s.token({ models: ['replicate/*'] });
    const big = 'word '.repeat(20_000); // ≥ 64 KiB: scanned, not parsed
    await expectRefused(await post('/chat/completions', secret, { messages: [{ role: 'user', content: big }], model: 'gpt-4o-mini' }), token.id, 'replicate/*');
  });

  it('reads the model of a large Anthropic body, translated in the worker pool or counted there, before anything else', async () => {
    const { token, secret } = s.token({ models: ['claude-*'] });
    const big = 'word '.repeat(20_000); // ≥ 64 KiB: handed to the pool whole, not parsed on the loop
    const messages = [{ role: 'user', content: big }];
    // count_tokens is the dialect's own route: its large body reaches the check unparsed.
    const allowed = await post('/messages/count_tokens', secret, { messages, model: 'claude-4-5-sonnet' });
    expect(allowed.status).toBe(200);
    expect(((await allowed.json()) as { input_tokens: number }).input_tokens).toBeGreaterThan(10_000);
    for (const path of ['/messages/count_tokens', '/messages']) {
      const res = await post(path, secret, { messages, model: 'gpt-4o', max_tokens: 10 });
      const text = await res.text();
      expect([path, res.status]).toEqual([path, 403]);
      expect(text).toContain('model_not_allowed');
      expect(text).toContain('claude-*');
    }
    expect(reserves).toBe(0);
    expect(upstreamCalls()).toEqual([]);
    expect(ledgerOf(s.daemon.db, token.id).filter((r) => r.status === 403).map((r) => r.error_code)).toEqual(['model_not_allowed', 'model_not_allowed']);
  });

  it('lists only the models it may use in GET /v1/models, and says so in X-Sidecar-Models-Filtered', async () => {
    const all = (await (await get('/models', s.token().secret)).json()) as { data: Array<{ id: string }> };
    const replicate = all.data.map((m) => m.id).filter((id) => id.startsWith('replicate/'));
    expect(replicate.length).toBeGreaterThan(0);
    expect(all.data.length).toBeGreaterThan(replicate.length);
    const { secret } = s.token({ models: ['replicate/*'] });
    const res = await get('/models', secret);
    expect(res.status).toBe(200);
    const body = (await res.json()) as { data: Array<{ id: string }> };
    expect(body.data.map((m) => m.id)).toEqual(replicate);
    expect(res.headers.get('x-sidecar-models-filtered')).toBe(`shown=${replicate.length}; total=${all.data.length}; allowed=replicate/*`);
    // A token without a list sees everything, and no header.
    expect((await get('/models', s.token().secret)).headers.get('x-sidecar-models-filtered')).toBeNull();
    // A model's detail outside the list is refused like a call.
    expect((await errorOf(await get('/models/gpt-4o-mini', secret))).code).toBe('model_not_allowed');
    s.sim.clearRequests();
    // One inside it is asked of the upstream (the seed simulator has no detail for run models: its 404 is the upstream's).
    expect((await get(`/models/${encodeURIComponent(IMAGE)}`, secret)).status).not.toBe(403);
    expect(s.sim.requests.map((r) => r.path)).toEqual([`/v1/models/${IMAGE}`]);
  });
});

describe('patterns', () => {
  it('a * in the middle stays within one segment; at the end it takes the rest', async () => {
    const { secret } = s.token({ models: ['*-mini', 'gemini/*'] });
    const chat = (model: string) => post('/chat/completions', secret, { model, max_tokens: 5, messages: [{ role: 'user', content: 'hi' }] });
    expect((await chat('gpt-4o-mini')).status).toBe(200);
    expect((await chat('gemini/gemini-2.5-flash')).status).toBe(200);
    expect((await errorOf(await chat('claude-4-5-sonnet'))).code).toBe('model_not_allowed');
    // A list of * allows what the smart router picks too.
    const pilot = await post('/pilot', s.token({ models: ['*'] }).secret, { type: 'image', inputs: { prompt: 'a cat' } });
    expect(pilot.status).toBe(200);
    expect(s.sim.requests.some((r) => r.path === '/v1/pilot')).toBe(true);
  });

  it('bad patterns are a 400 naming the field, on the agent route, the admin API and access requests', async () => {
    const { secret } = s.token({ preset: 'admin' });
    for (const models of [['a//b'], ['gemini/**'], [], ['x'.repeat(200)], Array.from({ length: 40 }, (_, i) => `v${i}/*`), 'gemini/*']) {
      const e = await errorOf(await post('/agents/create-child', secret, { child_name: 'kid', scopes: ['models:use'], models }));
      expect(e.status).toBe(400);
      expect(e.message).toMatch(/models/);
    }
    const adm = await adminCall('POST', '/tokens', { name: 'x', preset: 'write', models: ['bad pattern'] });
    expect(adm.status).toBe(400);
    expect(((await adm.json()) as { error: { details: Record<string, string> } }).error.details.models).toMatch(/is not a model id/);
    const req = await fetch(`${s.baseURL}/agents/request-access`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ name: 'a', scopes: ['models:use'], monthly_budget: 1, models: ['**'] }) });
    expect(req.status).toBe(400);
  });
});

describe('children', () => {
  it('a child\'s list must be within its parent\'s; with none it inherits the parent\'s', async () => {
    const parent = s.token({ preset: 'admin', models: ['replicate/*', 'gpt-4o-mini'] });
    const narrower = await post('/agents/create-child', parent.secret, { child_name: 'kid', scopes: ['models:use'], models: ['replicate/black-forest-labs/*'] });
    expect(narrower.status).toBe(200);
    expect(((await narrower.json()) as { models: string[] }).models).toEqual(['replicate/black-forest-labs/*']);
    const wider = await errorOf(await post('/agents/create-child', parent.secret, { child_name: 'kid', scopes: ['models:use'], models: ['gemini/*'] }));
    expect(wider).toMatchObject({ status: 403, code: 'models_exceed_parent' });
    expect(wider.message).toContain('gemini/*');
    expect((await errorOf(await post('/agents/create-child', parent.secret, { child_name: 'kid', scopes: ['models:use'], models: ['gpt-*'] }))).code).toBe('models_exceed_parent');
    const inherit = await post('/agents/create-child', parent.secret, { child_name: 'kid', scopes: ['models:use'] });
    const kid = (await inherit.json()) as { models: string[]; api_key: string; id: string };
    expect(kid.models).toEqual(['replicate/*', 'gpt-4o-mini']);
    // The parent narrowed later: its children are held to the new list at once (every call checks the whole chain).
    s.tokens.setModels(parent.token.id, ['replicate/*'], 'test');
    s.daemon.deps.principals.clear();
    const e = await errorOf(await post('/chat/completions', kid.api_key, { model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'hi' }] }));
    expect(e.code).toBe('model_not_allowed');
    expect(e.message).toContain(parent.token.id);
  });
});

describe('the human\'s paths', () => {
  it('admin API: create with models, narrow with PATCH, clear with null; a child set wider is refused', async () => {
    const res = await adminCall('POST', '/tokens', { name: 'lim', preset: 'write', models: ['gemini/*', 'replicate/*'] });
    expect(res.status).toBe(201);
    const { token } = (await res.json()) as { token: { id: string; models: string[] } };
    expect(token.models).toEqual(['gemini/*', 'replicate/*']);
    const patched = (await (await adminCall('PATCH', `/tokens/${token.id}`, { models: ['gemini/*'] })).json()) as { token: { models: string[] } };
    expect(patched.token.models).toEqual(['gemini/*']);
    const child = (await (await adminCall('POST', '/tokens', { name: 'c', preset: 'read-only', parent_id: token.id })).json()) as { token: { id: string; models: string[] } };
    expect(child.token.models).toEqual(['gemini/*']);
    const wider = await adminCall('PATCH', `/tokens/${child.token.id}`, { models: ['openai/*'] });
    expect(wider.status).toBe(403);
    expect(((await wider.json()) as { error: { code: string } }).error.code).toBe('models_exceed_parent');
    const cleared = (await (await adminCall('PATCH', `/tokens/${token.id}`, { models: null })).json()) as { token: { models: null } };
    expect(cleared.token.models).toBeNull();
  });

  it('access request: the agent asks with models, the human narrows them, the token carries the grant', async () => {
    const ask = async (models: string[] | undefined) =>
      (await (await fetch(`${s.baseURL}/agents/request-access`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ name: `asker-${Math.random()}`.slice(0, 20), scopes: ['models:use', 'services:use'], monthly_budget: 1, ...(models ? { models } : {}) }) })).json()) as {
        request_id: string;
        poll_url: string;
      };
    const r = await ask(['replicate/*', 'gemini/*']);
    const view = (await (await adminCall('GET', `/access-requests/${r.request_id}`)).json()) as { models: string[] };
    expect(view.models).toEqual(['replicate/*', 'gemini/*']);
    const tooWide = await adminCall('POST', `/access-requests/${r.request_id}/approve`, { models: ['openai/*'] });
    expect(tooWide.status).toBe(400);
    expect(((await tooWide.json()) as { error: { details: Record<string, string> } }).error.details.models).toContain('openai/*');
    const ok = await adminCall('POST', `/access-requests/${r.request_id}/approve`, { models: ['replicate/black-forest-labs/*'] });
    expect(ok.status).toBe(200);
    const got = (await (await fetch(r.poll_url)).json()) as { status: string; models: string[]; api_key: string };
    expect(got).toMatchObject({ status: 'approved', models: ['replicate/black-forest-labs/*'] });
    s.daemon.deps.principals.clear();
    expect((await errorOf(await post('/run', got.api_key, { model: VIDEO, inputs: {} }))).code).toBe('model_not_allowed');
    // Asked for every model: the human may still grant a list.
    const all = await ask(undefined);
    await adminCall('POST', `/access-requests/${all.request_id}/approve`, { models: ['gemini/*'] });
    expect(((await (await fetch(all.poll_url)).json()) as { models: string[] }).models).toEqual(['gemini/*']);
  });

  it('CLI: token create --models and token set-models, through the running daemon; bad patterns refused by the flag', async () => {
    const cli = (...args: string[]) => runCli([...args, '--data-dir', s.dataDir]);
    const c = await cli('token', 'create', '--name', 'cli-lim', '--preset', 'write', '--models', 'replicate/*, gemini/*', '--json');
    expect(c.stderr).toBe('');
    const t = JSON.parse(c.stdout) as { id: string; models: string[] };
    expect(t.models).toEqual(['replicate/*', 'gemini/*']);
    expect(s.tokens.require(t.id).models).toEqual(['replicate/*', 'gemini/*']);
    const set = await cli('token', 'set-models', t.id, '--models', 'gemini/*', '--json');
    expect((JSON.parse(set.stdout) as { models: string[] }).models).toEqual(['gemini/*']);
    expect(s.tokens.require(t.id).models).toEqual(['gemini/*']);
    expect((await cli('token', 'set-models', t.id, '--models', 'all', '--json')).code).toBe(0);
    expect(s.tokens.require(t.id).models).toBeNull();
    const bad = await cli('token', 'create', '--name', 'x', '--preset', 'write', '--models', 'a//b');
    expect(bad.code).not.toBe(0);
    expect(bad.stderr).toContain('--models');
    // env and connect make tokens with the same flag.
    const byName = (n: string) => s.tokens.list().find((t) => t.name === n);
    const env = await cli('env', '--name', 'env-lim', '--models', 'gemini/*', '--shell', 'bash');
    expect(env.code).toBe(0);
    expect(byName('env-lim')?.models).toEqual(['gemini/*']);
    const con = await cli('connect', 'qwen', '--print', '--name', 'con-lim', '--models', 'replicate/*,gemini/*');
    expect([con.code, con.stderr]).toEqual([0, expect.stringContaining('models replicate/* gemini/*')]);
    expect(byName('con-lim')?.models).toEqual(['replicate/*', 'gemini/*']);
  });
});

describe('MCP create_child_agent', () => {
  it('passes models on: a narrower list is the child\'s, a wider one comes back as the 403', async () => {
    const parent = s.token({ preset: 'admin', models: ['replicate/*'] });
    const transport = new StdioClientTransport({ command: process.execPath, args: [CLI, 'mcp', '--base-url', s.daemon.url], env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', OPENAI_API_KEY: parent.secret }, stderr: 'pipe' });
    const client = new Client({ name: 'allowlist-test', version: '1.0.0' });
    await client.connect(transport);
    try {
      const call = async (args: Record<string, unknown>) => {
        const r = (await client.callTool({ name: 'create_child_agent', arguments: args })) as { isError?: boolean; content: Array<{ text: string }> };
        return { isError: r.isError === true, text: r.content.map((c) => c.text).join('') };
      };
      const ok = await call({ name: 'kid', scopes: ['models:use'], models: ['replicate/black-forest-labs/*'] });
      expect(ok.isError).toBe(false);
      const id = (JSON.parse(ok.text) as { id: string }).id;
      expect(s.tokens.require(id).models).toEqual(['replicate/black-forest-labs/*']);
      const wide = await call({ name: 'kid2', scopes: ['models:use'], models: ['gemini/*'] });
      expect(wide.isError).toBe(true);
      expect(wide.text).toMatch(/^HTTP 403 models_exceed_parent: .*gemini\/\*/);
    } finally {
      await client.close();
    }
  }, 30_000);
});

describe('an upstream child key (sub-wallet)', () => {
  it('carries whole vendors as allowed_vendors, and refuses a pattern a vendor rule would widen', async () => {
    const real = await startStack({ dialect: 'real' });
    try {
      const c = { db: real.daemon.db, baseUrl: real.sim.url, key: real.simKey, clock: Date.now, actor: 'test' };
      real.sim.clearRequests();
      await expect(createUpstreamChild(c, { name: 'remote', scopes: ['models:use'], budget: 1_000_000, expirationDays: null, models: ['bedrock/claude-*'] })).rejects.toThrow(UpstreamChildInputError);
      expect(real.sim.requests).toEqual([]);
      const { child } = await createUpstreamChild(c, { name: 'remote', scopes: ['models:use'], budget: 1_000_000, expirationDays: null, models: ['replicate/*', 'gemini/*'] });
      expect(child).toMatchObject({ kind: 'sub-wallet', models: ['replicate/*', 'gemini/*'] });
      const sent = real.sim.requests.filter((r) => r.path === '/v1/sub-wallets');
      expect(sent).toHaveLength(1);
      expect(JSON.parse(sent[0]!.body)).toMatchObject({ label: 'remote', rules: { max_spend_usd: 1, allowed_vendors: ['replicate', 'gemini'] } });
      // The seed's create-child has no vendor rule, so with a list it is not tried at all.
      expect(real.sim.requests.some((r) => r.path === '/v1/agents/create-child')).toBe(false);
    } finally {
      await real.close();
    }
  });
});
