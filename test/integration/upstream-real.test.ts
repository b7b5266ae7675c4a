/**
 * Issue 23: the sidecar against the real SkillBoss dialect (`simulator
 * --dialect real`): the model list without prices and per-model pricing,
 * the balance at /v1/wallet/balance, key forms other than sk-, no key-rotation
 * API, injected `_` fields and X-Max-Cost-Usd. The real daemon, the real CLI,
 * the real keychain; each of these fails on the seed-only sidecar.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DAY_MS } from '../../proxy/core/time.js';
import { classCostMicros } from '../../proxy/pricing/prices.js';
import { SIMULATOR_MODELS, SIMULATOR_REAL_UNPRICED } from '../../proxy/simulator/index.js';
import { readAdminSecret } from '../../proxy/admin/index.js';
import { runCli } from '../helpers/cli.js';
import { DIALECTS, startStack, type Stack } from '../helpers/stack.js';

let s: Stack;
const cli = (args: string[], input?: string) => runCli([...args, '--data-dir', s.dataDir], input === undefined ? {} : { input });
const json = async (args: string[]) => JSON.parse((await cli([...args, '--json'])).stdout) as Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

beforeAll(async () => {
  s = await startStack({ dialect: 'real' });
});
afterAll(async () => {
  await s?.close();
});

describe('models and prices from the real shape', () => {
  it('price list shows every model SkillBoss prices, at its detail price, with where it came from', async () => {
    const out = await json(['price', 'list']);
    const byId = new Map((out.models as Array<{ id: string; prompt: number; completion: number; source: string; origin: string }>).map((m) => [m.id, m]));
    for (const m of SIMULATOR_MODELS) {
      if (SIMULATOR_REAL_UNPRICED.has(m.id)) {
        expect(byId.has(m.id)).toBe(false);
        continue;
      }
      expect(byId.get(m.id)).toMatchObject({ prompt: m.pricing.prompt, completion: m.pricing.completion, source: 'upstream', origin: 'model detail' });
    }
    const table = (await cli(['price', 'list'])).stdout;
    expect(table).toMatch(/gemini\/gemini-2\.5-flash.*model detail/);
    // The detail of each model was asked once, a few at a time.
    const details = s.sim.requests.filter((r) => r.method === 'GET' && r.path.startsWith('/v1/models/'));
    expect(details.length).toBe(SIMULATOR_MODELS.length);
  });

  it('a chat request is charged its tokens times the synced prices, to the micro-dollar', async () => {
    const t = s.token({ budgetUsd: 5 });
    const res = await fetch(`${s.baseURL}/chat/completions`, {
      method: 'POST',
      headers: { authorization: `Bearer ${t.secret}`, 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'gpt-4o', messages: [{ role: 'user', content: 'price me exactly' }], max_tokens: 50 }),
    });
    expect(res.status).toBe(200);
    const body = (await res.json()) as { usage: { prompt_tokens: number; completion_tokens: number } };
    const row = s.daemon.db.prepare('SELECT * FROM usage WHERE token_id = ? ORDER BY id DESC LIMIT 1').get(t.token.id) as { cost_micros: number; cost_source: string };
    const price = s.daemon.deps.prices.priceFor('gpt-4o');
    expect(price).toMatchObject({ prompt: 2.5, completion: 10, source: 'upstream' });
    expect(row.cost_micros).toBe(classCostMicros(price, body.usage.prompt_tokens, body.usage.completion_tokens, { cached: 0, cacheWrite: 0, reasoning: 0 }));
    expect(row.cost_source).toBe('price');
  });

  it('a model SkillBoss lists but does not price is charged the fallback, flagged on its row and counted in status', async () => {
    const t = s.token();
    const res = await fetch(`${s.baseURL}/chat/completions`, {
      method: 'POST',
      headers: { authorization: `Bearer ${t.secret}`, 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'o4-mini', messages: [{ role: 'user', content: 'unpriced' }], max_tokens: 20 }),
    });
    expect(res.status).toBe(200);
    const body = (await res.json()) as { usage: { prompt_tokens: number; completion_tokens: number } };
    const row = s.daemon.db.prepare('SELECT cost_micros, cost_source FROM usage WHERE token_id = ? ORDER BY id DESC LIMIT 1').get(t.token.id) as { cost_micros: number; cost_source: string };
    expect(row.cost_source).toBe('default');
    const fallback = s.daemon.deps.prices.priceFor(undefined);
    expect(row.cost_micros).toBe(classCostMicros(fallback, body.usage.prompt_tokens, body.usage.completion_tokens, { cached: 0, cacheWrite: 0, reasoning: 0 }));
    const out = await json(['status']);
    expect(out.models.fallback.requests_this_period).toBeGreaterThanOrEqual(1);
    expect(out.models.fallback.models).toContain('o4-mini');
  });

  it('a sync later asks no detail again (cached), and a detail that fails keeps the last known price', async () => {
    s.sim.clearRequests();
    await s.daemon.sync();
    expect(s.sim.requests.filter((r) => r.path.startsWith('/v1/models/'))).toEqual([]);
    s.clock.now += 7 * 60 * 60_000;
    s.sim.faults.failNext = { count: 100, status: 500, path: '/v1/models/gpt-4o' };
    await s.daemon.sync();
    delete s.sim.faults.failNext;
    expect(s.sim.requests.some((r) => r.path === '/v1/models/gpt-4o')).toBe(true);
    expect(s.daemon.deps.prices.priceFor('gpt-4o')).toMatchObject({ prompt: 2.5, completion: 10, source: 'upstream' });
  });
});

describe('status against the real dialect', () => {
  it('shows the balance from /v1/wallet/balance and the count of models priced, and names the unpriced one', async () => {
    const out = await json(['status']);
    expect(out.upstream.balance_usd).toBeCloseTo(s.sim.balanceMicros() / 1e6, 6);
    expect(out.upstream.balance_source).toBe('GET /v1/wallet/balance');
    expect(out.models.count).toBe(SIMULATOR_MODELS.length);
    expect(out.models.priced).toBe(SIMULATOR_MODELS.length - SIMULATOR_REAL_UNPRICED.size);
    expect(out.models.fallback.unpriced).toEqual([...SIMULATOR_REAL_UNPRICED]);
    expect((out.todo as string[]).some((t) => /1 model is charged at the fallback \(o4-mini\).*price set/.test(t))).toBe(true);
    const text = (await cli(['status'])).stdout;
    expect(text).toMatch(/credits\s+\$\d+\.\d\d, synced .* from GET \/v1\/wallet\/balance/);
    expect(text).toMatch(/models\s+5 with prices, synced .* \(6 listed by SkillBoss; 1 charged at the fallback\)/);
  });
});

describe('keys as SkillBoss issues them', () => {
  it('key set takes sk_live_… and sk_skillboss_… keys and judges them by asking SkillBoss', async () => {
    // The stack's key is sk_live_…: SkillBoss accepts it.
    const ok = await cli(['key', 'set', '--upstream', s.sim.url], `${s.simKey}\n`);
    expect(ok.stdout).toContain('SkillBoss accepted the key');
    expect(ok.code).toBe(0);
    expect(s.keyStore.get()).toBe(s.simKey);
    // A well-formed key SkillBoss does not know is stored but judged invalid by the upstream, not by its prefix.
    const other = `sk_skillboss_${'x'.repeat(30)}`;
    const judged = await cli(['key', 'set', '--upstream', s.sim.url], `${other}\n`);
    expect(judged.stdout).toContain('SkillBoss rejected the key (401)');
    expect(judged.code).toBe(2);
    expect(s.keyStore.get()).toBe(other);
    // The sidecar's own tokens are still refused, with why.
    const agent = s.token();
    const refused = await cli(['key', 'set', '--no-check'], `${agent.secret}\n`);
    expect(refused.code).not.toBe(0);
    expect(refused.stderr).toContain('sidecar agent token');
    expect(s.keyStore.get()).toBe(other);
    // Whitespace inside is refused.
    const spaced = await cli(['key', 'set', '--no-check'], 'sk_live_abc def ghi jkl mno pqr\n');
    expect(spaced.code).not.toBe(0);
    expect(spaced.stderr).toContain('does not look like a SkillBoss API key');
    s.keyStore.set(s.simKey);
    s.daemon.deps.key.reload();
    await s.daemon.sync();
  });
});

describe('rotation without a rotation API', () => {
  it('the schedule reports "not supported by this upstream" instead of failing, and stops calling', async () => {
    s.clock.now += 91 * DAY_MS;
    s.sim.clearRequests();
    await s.daemon.lifecycle.tick();
    expect(s.sim.requests.filter((r) => r.path === '/v1/api-keys/rotate')).toHaveLength(1);
    expect(s.keyStore.get()).toBe(s.simKey);
    const out = await json(['status']);
    expect(out.key_rotation.supported).toBe('unsupported');
    expect((out.todo as string[]).some((t) => t.includes('not supported by this upstream') && t.includes('key set'))).toBe(true);
    expect((out.todo as string[]).some((t) => t.includes('rotation of the SkillBoss key failed'))).toBe(false);
    expect((await cli(['status'])).stdout).toMatch(/rotation\s+SkillBoss key not supported by this upstream/);
    const failed = s.daemon.db.prepare("SELECT count(*) AS n FROM audit WHERE event = 'key.rotate.failed'").get() as { n: number };
    expect(failed.n).toBe(0);
    // The next tick reminds; it does not call again.
    s.clock.now += DAY_MS;
    await s.daemon.lifecycle.tick();
    expect(s.sim.requests.filter((r) => r.path === '/v1/api-keys/rotate')).toHaveLength(1);
    expect(s.daemon.deps.upstreamState.get().notices.some((n) => n.key === 'capability:rotation')).toBe(true);
  });
});

describe('an unrecognised model list', () => {
  it('is a specific warning in status and doctor, not "0 models"', async () => {
    const odd = await startStack({ sim: { dialect: 'seed' } });
    try {
      odd.sim.faults.failNext = { count: 1000, status: 200, path: '/v1/models', body: { items: [{ name: 'x' }], total: 1 } };
      await odd.daemon.sync();
      const st = JSON.parse((await runCli(['status', '--json', '--data-dir', odd.dataDir])).stdout) as { todo: string[] };
      expect(st.todo.some((t) => t.includes('the keys items, total but neither a `data` nor a `models` list'))).toBe(true);
      const doc = await runCli(['doctor', '--upstream', odd.sim.url, '--port', '0', '--data-dir', odd.dataDir]);
      expect(doc.stdout).toMatch(/FAIL\s+models\s+GET \/v1\/models answered an object with the keys items, total/);
      expect(doc.code).toBe(1);
    } finally {
      await odd.close();
    }
  });
});

describe('child keys for off-machine agents', () => {
  it('become a sub-wallet capped at the budget where SkillBoss has no create-child, and revoke there', async () => {
    const r = await runCli(['token', 'create', '--upstream', '--name', 'remote', '--scopes', 'models:read,models:use', '--budget', '5', '--json', '--data-dir', s.dataDir], {
      env: { SKILLBOSS_UPSTREAM_URL: s.sim.url },
    });
    expect(r.stderr).toBe('');
    const out = JSON.parse(r.stdout) as { id: string; api_key: string; upstream_kind: string };
    expect(out.upstream_kind).toBe('sub-wallet');
    const sub = s.sim.requests.find((q) => q.path === '/v1/sub-wallets');
    expect(JSON.parse(sub!.body)).toEqual({ label: 'remote', rules: { max_spend_usd: 5 } });
    const models = await fetch(`${s.sim.url}/models`, { headers: { authorization: `Bearer ${out.api_key}` } });
    expect(models.status).toBe(200);
    const rev = await runCli(['token', 'revoke', out.id, '--data-dir', s.dataDir], { env: { SKILLBOSS_UPSTREAM_URL: s.sim.url } });
    expect(rev.code).toBe(0);
    expect((await fetch(`${s.sim.url}/models`, { headers: { authorization: `Bearer ${out.api_key}` } })).status).toBe(401);
    expect((await json(['status'])).upstream.capabilities).toMatchObject({ child_keys: 'unsupported', sub_wallets: 'supported' });
  });
});

describe('what SkillBoss adds to its answers', () => {
  const chat = (secret: string, body: Record<string, unknown>, headers: Record<string, string> = {}) =>
    fetch(`${s.baseURL}/chat/completions`, {
      method: 'POST',
      headers: { authorization: `Bearer ${secret}`, 'content-type': 'application/json', ...headers },
      body: JSON.stringify({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'hi' }], max_tokens: 20, ...body }),
    });

  it('no _memory_hint (or any _ field) reaches an agent in JSON or SSE; the stream stays well-formed', async () => {
    const t = s.token();
    const json = await chat(t.secret, {});
    const text = await json.text();
    expect(json.status).toBe(200);
    expect(text).not.toContain('_memory_hint');
    expect(text).not.toMatch(/"_[a-z]/);
    expect(JSON.parse(text)).toMatchObject({ object: 'chat.completion', choices: [{ message: { content: 'Echo: hi' } }] });
    // The upstream did send them: the strip is the sidecar's.
    const streamed = await chat(t.secret, { stream: true });
    const sse = await streamed.text();
    expect(sse).not.toContain('_memory_hint');
    expect(sse).not.toContain('_savings');
    const events = sse.split('\n\n').filter(Boolean);
    expect(events.at(-1)).toBe('data: [DONE]');
    let content = '';
    for (const e of events.slice(0, -1)) {
      expect(e.startsWith('data: ')).toBe(true);
      const chunk = JSON.parse(e.slice(6)) as { choices: Array<{ delta: { content?: string } }> };
      expect(Array.isArray(chunk.choices)).toBe(true);
      content += chunk.choices[0]?.delta.content ?? '';
    }
    expect(content).toBe('Echo: hi');
  });

  it('a setting passes them through', async () => {
    const t = s.token();
    s.daemon.deps.hygiene.passInjectedFields = true;
    try {
      expect(await (await chat(t.secret, {})).text()).toContain('_memory_hint');
    } finally {
      s.daemon.deps.hygiene.passInjectedFields = false;
    }
  });

  it('_balance_warning becomes an alert for the human, and the balance the call reported is taken', async () => {
    const t = s.token();
    s.sim.setBalanceUsd(3);
    const res = await chat(t.secret, {});
    expect(await res.text()).not.toContain('_balance_warning');
    const up = s.daemon.deps.upstreamState.get();
    expect(up.notices.some((n) => n.kind === 'balance_warning' && n.message.includes('Low balance'))).toBe(true);
    expect(up.balanceSource).toBe('wallet_balance_after_usd');
    expect(up.balanceUsd).toBeCloseTo(s.sim.balanceMicros() / 1e6, 6);
    const out = await json(['status']);
    expect((out.todo as string[]).some((x) => x.startsWith('SkillBoss warns: Low balance'))).toBe(true);
    s.sim.setBalanceUsd(1000);
  });
});

describe('the upstream enforces the budget too', () => {
  it('every forwarded metered request carries X-Max-Cost-Usd no larger than the remaining budget, and X-Agent-Name', async () => {
    const t = s.token({ name: 'cap-agent', budgetUsd: 0.05 });
    s.sim.clearRequests();
    for (const body of [
      { model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'one' }], max_tokens: 100 },
      { model: 'gpt-4o', messages: [{ role: 'user', content: 'two' }], max_tokens: 500, stream: true },
    ]) {
      const left = s.daemon.deps.budgets.remaining([t.token], s.clock.now).remainingMicros!;
      const res = await fetch(`${s.baseURL}/chat/completions`, { method: 'POST', headers: { authorization: `Bearer ${t.secret}`, 'content-type': 'application/json' }, body: JSON.stringify(body) });
      await res.text();
      expect(res.status).toBe(200);
      const sent = s.sim.requests.filter((r) => r.path === '/v1/chat/completions').at(-1)!;
      const cap = Number(sent.headers['x-max-cost-usd']);
      expect(cap).toBeGreaterThan(0);
      expect(Math.round(cap * 1e6)).toBeLessThanOrEqual(left);
      expect(sent.headers['x-agent-name']).toBe('cap-agent');
    }
    const emb = await fetch(`${s.baseURL}/embeddings`, { method: 'POST', headers: { authorization: `Bearer ${t.secret}`, 'content-type': 'application/json' }, body: JSON.stringify({ model: 'text-embedding-3-small', input: 'x' }) });
    expect(emb.status).toBe(200);
    // The embeddings call itself (a background sync or balance refresh may have come after it).
    expect(s.sim.requests.filter((r) => r.path === '/v1/embeddings').at(-1)!.headers['x-max-cost-usd']).toBeDefined();
  });

  it("keeps an agent's own lower cap, and SkillBoss's 402 for it is the sidecar's budget refusal, not 'out of credits'", async () => {
    const t = s.token();
    const res = await fetch(`${s.baseURL}/chat/completions`, {
      method: 'POST',
      headers: { authorization: `Bearer ${t.secret}`, 'content-type': 'application/json', 'x-max-cost-usd': '0.000001' },
      body: JSON.stringify({ model: 'claude-4-5-sonnet', messages: [{ role: 'user', content: 'this costs more than a micro-dollar' }], max_tokens: 50 }),
    });
    expect(s.sim.requests.filter((r) => r.path === '/v1/chat/completions').at(-1)!.headers['x-max-cost-usd']).toBe('0.000001');
    expect(res.status).toBe(402);
    const e = ((await res.json()) as { error: { code: string; message: string } }).error;
    expect(e.code).toBe('budget_exhausted');
    expect(e.message).toContain('$0.000001 cap');
    expect(s.daemon.deps.upstreamState.get().credits).not.toBe('out');
  });

  it('a 401 on one route does not mark the key invalid; only the validity probe would', async () => {
    const t = s.token();
    s.sim.faults.failNext = { count: 1, status: 401, path: '/v1/embeddings' };
    const res = await fetch(`${s.baseURL}/embeddings`, { method: 'POST', headers: { authorization: `Bearer ${t.secret}`, 'content-type': 'application/json' }, body: JSON.stringify({ model: 'text-embedding-3-small', input: 'x' }) });
    expect(res.status).toBe(502);
    await s.daemon.sync();
    expect(s.daemon.deps.upstreamState.get().key).toBe('valid');
  });
});

// Sync and status against both upstreams: whichever shape SkillBoss answers in, the same figures come out.
describe.each(DIALECTS)('sync and status against the %s upstream', (dialect) => {
  let d: Stack;
  beforeAll(async () => {
    d = await startStack({ dialect });
  });
  afterAll(async () => {
    await d?.close();
  });

  it('learns the models, their prices and the balance, and status shows them', async () => {
    const up = d.daemon.deps.upstreamState.get();
    expect(up).toMatchObject({ key: 'valid', reachable: true, modelCount: SIMULATOR_MODELS.length, modelsShape: dialect === 'seed' ? 'data' : 'models' });
    expect(up.balanceSource).toBe(dialect === 'seed' ? 'GET /v1/balance' : 'GET /v1/wallet/balance');
    expect(d.daemon.deps.prices.priceFor('gemini/gemini-2.5-flash')).toMatchObject({ prompt: 0.075, completion: 0.075, source: 'upstream', origin: dialect === 'seed' ? 'models list' : 'model detail' });
    const out = JSON.parse((await runCli(['status', '--json', '--data-dir', d.dataDir])).stdout) as Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any
    expect(out.upstream.balance_usd).toBe(1000);
    expect(out.models.priced).toBe(SIMULATOR_MODELS.length - (dialect === 'real' ? SIMULATOR_REAL_UNPRICED.size : 0));
    expect(out.upstream.notices).toEqual([]);
  });
});

describe('the admin API', () => {
  const admin = async (method: string, path: string, body?: unknown) => {
    const res = await fetch(`${s.daemon.url}/admin/api${path}`, {
      method,
      headers: { authorization: `Bearer ${readAdminSecret(s.dataDir)}`, ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
      ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
    });
    return { status: res.status, json: (await res.json()) as Record<string, any> }; // eslint-disable-line @typescript-eslint/no-explicit-any
  };

  it('shows what SkillBoss did not say as alerts, the cost source to the request drawer, and takes the hygiene settings', async () => {
    const st = await admin('GET', '/status');
    expect(st.json.upstream).toMatchObject({ models_shape: 'models', priced_count: SIMULATOR_MODELS.length - SIMULATOR_REAL_UNPRICED.size, capabilities: { rotation: 'unsupported' } });
    const kinds = (st.json.alerts as Array<{ kind: string; message: string }>).map((a) => a.kind);
    expect(kinds).toContain('fallback_priced');
    expect(kinds).toContain('capability');
    const reqs = await admin('GET', '/requests?limit=50');
    expect((reqs.json.data as Array<{ model: string; cost_source: string }>).find((r) => r.model === 'o4-mini')?.cost_source).toBe('default');
    const http = await admin('PATCH', '/settings', { control_plane_url: 'http://example.com' });
    expect(http.status).toBe(400);
    const set = await admin('PATCH', '/settings', { control_plane_url: 'https://cp.example.com/', pass_upstream_fields: true, send_agent_name: false });
    expect(set.json).toMatchObject({ control_plane_url: 'https://cp.example.com', pass_upstream_fields: true, send_agent_name: false });
    expect(s.daemon.deps.hygiene).toEqual({ passInjectedFields: true, sendAgentName: false });
    const announced = s.daemon.db.prepare("SELECT count(*) AS n FROM audit WHERE event = 'upstream.control_plane_changed'").get() as { n: number };
    expect(announced.n).toBe(1);
    await admin('PATCH', '/settings', { control_plane_url: null, pass_upstream_fields: false, send_agent_name: true });
    expect(s.daemon.deps.hygiene).toEqual({ passInjectedFields: false, sendAgentName: true });
  });
});
