/**
 * Issue 16 end to end, with the real daemon, the simulator, SQLite, the OS
 * keychain and the compiled CLI: every token class priced (a repeated long
 * prompt is cheaper by exactly its cached tokens' discount, in the ledger,
 * `usage --json`, the admin API and /metrics), budgets per day and prepaid
 * (`total`) across their boundaries on an injected clock, top-ups, and a hold
 * that trips exactly under 20 concurrent requests, is approved, and lets
 * traffic through again.
 */
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { readAdminSecret } from '../../proxy/admin/index.js';
import { DAY_MS } from '../../proxy/core/time.js';
import { windowOf } from '../../proxy/core/period.js';
import { ledgerStore } from '../../proxy/db/ledger-store.js';
import { estimate } from '../../proxy/pipeline/estimate.js';
import { tokenizerReady } from '../../proxy/pricing/tokenizer.js';
import type { HoldEvent } from '../../proxy/core/events.js';
import { scopesFromPreset } from '../../proxy/tokens/scopes.js';
import type { CreateTokenInput } from '../../proxy/tokens/store.js';
import { runCli } from '../helpers/cli.js';
import { sseReader } from '../helpers/sse.js';
import { errorOf, startStack, type Stack } from '../helpers/stack.js';

let s: Stack;
let admin: string;
beforeAll(async () => {
  await tokenizerReady();
  s = await startStack({ daemon: { metrics: true } });
  admin = readAdminSecret(s.dataDir);
});
afterAll(async () => {
  await s?.close();
});

function token(input: Partial<CreateTokenInput> = {}) {
  const c = s.tokens.create({ name: `agent-${Math.random().toString(36).slice(2, 8)}`, scopes: scopesFromPreset('write'), ...input }, 'test');
  s.daemon.deps.principals.clear();
  return c;
}

function call(secret: string, path: string, body?: unknown): Promise<Response> {
  return fetch(`${s.baseURL}${path}`, {
    method: body === undefined ? 'GET' : 'POST',
    headers: { authorization: `Bearer ${secret}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
}

const cli = (...args: string[]) => runCli([...args, '--data-dir', s.dataDir], { env: { SKILLBOSS_SIDECAR_DATA_DIR: s.dataDir } });

type Row = { request_id: string; prompt_tokens: number; completion_tokens: number; cached_tokens: number; reasoning_tokens: number; cost_micros: number; streamed: number };
const rows = (tokenId: string) => s.daemon.db.prepare('SELECT * FROM usage WHERE token_id = ? ORDER BY id').all(tokenId) as Row[];
const monthSpent = (tokenId: string) =>
  (s.daemon.db.prepare('SELECT spent_micros FROM spend WHERE token_id = ? AND period = ?').pluck().get(tokenId, new Date(s.clock.now).toISOString().slice(0, 7)) as number | undefined) ?? 0;

/** Long enough that every reply is cut at max_tokens: the actual cost then equals the worst case. */
const LONG = Array.from({ length: 80 }, (_, i) => `word${i}`).join(' ');
const small = { model: 'claude-4-5-sonnet', messages: [{ role: 'user', content: LONG }], max_tokens: 16 };
const worst = () => estimate('chat', small, s.daemon.deps.prices, s.daemon.deps.limits.defaultMaxTokens).worstCaseMicros;

/** A prompt of about 2,000 tokens: past the 1,024-token caching minimum. */
const SYSTEM = Array.from({ length: 400 }, (_, i) => `Rule ${i}: answer briefly.`).join(' ');

describe('every token class priced', () => {
  it('charges the second identical long prompt less, by exactly its cached tokens at the cached rate, streamed or not', async () => {
    const { token: t, secret } = token({ budget: 10_000_000 });
    const body = { model: 'gpt-4o', messages: [{ role: 'system', content: SYSTEM }, { role: 'user', content: 'what now?' }] };
    expect((await call(secret, '/chat/completions', body)).status).toBe(200);
    expect((await call(secret, '/chat/completions', body)).status).toBe(200);
    const streamed = await call(secret, '/chat/completions', { ...body, stream: true });
    expect(streamed.status).toBe(200);
    await streamed.text();
    const [first, second, third] = rows(t.id);
    expect(first!.cached_tokens).toBe(0);
    const cached = second!.cached_tokens;
    expect(cached).toBeGreaterThanOrEqual(1024);
    expect(second!.prompt_tokens).toBe(first!.prompt_tokens);
    expect(second!.completion_tokens).toBe(first!.completion_tokens);
    // gpt-4o as synced from SkillBoss: $2.50 per million prompt tokens, $1.25 cached, $10 completion.
    const price = (p: number, k: number, c: number) => Math.ceil(((p - k) * 2_500_000 + k * 1_250_000 + c * 10_000_000) / 1_000_000);
    expect(first!.cost_micros).toBe(price(first!.prompt_tokens, 0, first!.completion_tokens));
    expect(second!.cost_micros).toBe(price(second!.prompt_tokens, cached, second!.completion_tokens));
    expect(first!.cost_micros - second!.cost_micros).toBeGreaterThanOrEqual(Math.floor(cached * 1.25) - 1);
    expect(third!.streamed).toBe(1);
    expect(third!.cached_tokens).toBeGreaterThanOrEqual(1024);

    const usage = JSON.parse((await cli('usage', '--token', t.id, '--json')).stdout) as { requests: Array<{ cached_tokens: number; cost_usd: number }>; totals: { cached_tokens: number } };
    expect(usage.requests[1]).toMatchObject({ cached_tokens: cached, cost_usd: second!.cost_micros / 1e6 });
    expect(usage.requests[2]!.cost_usd).toBeGreaterThan(usage.requests[1]!.cost_usd);
    expect(usage.totals.cached_tokens).toBe(cached + third!.cached_tokens);

    const api = (await (await fetch(`${s.daemon.url}/admin/api/requests?token=${t.id}`, { headers: { authorization: `Bearer ${admin}` } })).json()) as { data: Array<{ cached_tokens: number }> };
    expect(api.data.map((r) => r.cached_tokens)).toEqual([third!.cached_tokens, cached, 0]);
    const metrics = await (await fetch(`${s.daemon.url}/metrics`, { headers: { authorization: `Bearer ${admin}` } })).text();
    expect(metrics).toContain(`skillboss_sidecar_llm_tokens_total{token="${t.id}",model="gpt-4o",kind="cached"} ${cached + third!.cached_tokens}`);
  });

  it('records reasoning tokens of a reasoning model', async () => {
    const { token: t, secret } = token();
    expect((await call(secret, '/chat/completions', { model: 'o4-mini', messages: [{ role: 'user', content: 'think' }] })).status).toBe(200);
    const [row] = rows(t.id);
    expect(row!.reasoning_tokens).toBeGreaterThan(0);
    expect(row!.reasoning_tokens).toBeLessThan(row!.completion_tokens);
  });
});


describe('forecasts (on the real clock: the CLI has no injected one, so before the tests that move it)', () => {
  it('token list and status show the spend rate, the projection at the period end and the run-out time', async () => {
    const w = worst();
    const { token: t, secret } = token({ budget: 10 * w });
    expect((await call(secret, '/chat/completions', small)).status).toBe(200);
    type F = { id: string; budget_period: string; spent_this_period: number; forecast: { spend_rate_usd_per_hour: number; projected_period_spend_usd: number; period_ends_at: string; runs_out_at: string | null } };
    const listed = (JSON.parse((await cli('token', 'list', '--json')).stdout) as { tokens: F[] }).tokens.find((x) => x.id === t.id)!;
    // One request in a token less than an hour old: the rate is that spend per hour (the elapsed time counts as at least an hour).
    expect(listed).toMatchObject({ budget_period: 'month', spent_this_period: w / 1e6, forecast: { spend_rate_usd_per_hour: w / 1e6 } });
    expect(listed.forecast.projected_period_spend_usd).toBeGreaterThan(w / 1e6);
    expect(Date.parse(listed.forecast.period_ends_at)).toBe(Date.UTC(new Date().getUTCFullYear(), new Date().getUTCMonth() + 1, 1));
    const status = JSON.parse((await cli('status', '--json')).stdout) as { budgets: F[] };
    const mine = status.budgets.find((b) => b.id === t.id)!;
    expect(mine.forecast.spend_rate_usd_per_hour).toBe(w / 1e6);
    if (mine.forecast.runs_out_at !== null) expect(Date.parse(mine.forecast.runs_out_at)).toBeLessThanOrEqual(Date.now() + 9 * 3_600_000 + 60_000);
    expect((await cli('status')).stdout).toMatch(new RegExp(`${t.id}\\): \\$[\\d.]+ of \\$[\\d.]+ per month; \\$[\\d.]+/h, projected`));
  });

  it('`usage --token` reports a daily and a prepaid budget in their own period, not this month (issue 22)', async () => {
    // The month holds more than the day (and the prepaid total more than the month), so a report of the month shows other figures.
    const now = Date.now();
    const store = ledgerStore(s.daemon.db);
    const daily = token({ budget: 5_000_000, budgetPeriod: 'day' }).token;
    store.addSpend(daily.id, windowOf('day', now).key, 1_250_000);
    store.addSpend(daily.id, windowOf('month', now).key, 4_000_000);
    const prepaid = token({ budget: 20_000_000, budgetPeriod: 'total' }).token;
    store.addSpend(prepaid.id, 'total', 7_500_000);
    store.addSpend(prepaid.id, windowOf('month', now).key, 2_000_000);
    type Totals = { budget_period: string; period: string; resets_at: string | null; spent_this_period_usd: number; monthly_budget_usd: number };
    const totals = async (id: string) => (JSON.parse((await cli('usage', '--token', id, '--json')).stdout) as { totals: Totals }).totals;

    const d = windowOf('day', now);
    expect(await totals(daily.id)).toMatchObject({ budget_period: 'day', period: d.key, resets_at: new Date(d.end!).toISOString(), spent_this_period_usd: 1.25, monthly_budget_usd: 5 });
    expect((await cli('usage', '--token', daily.id)).stdout).toContain(`${daily.id} daily budget (${d.key}): $1.250000 of $5.00, resets at ${new Date(d.end!).toISOString()}`);

    expect(await totals(prepaid.id)).toMatchObject({ budget_period: 'total', period: 'total', resets_at: null, spent_this_period_usd: 7.5, monthly_budget_usd: 20 });
    const text = (await cli('usage', '--token', prepaid.id)).stdout;
    expect(text).toContain(`${prepaid.id} total (prepaid) budget: $7.500000 of $20.00 spent; it does not reset`);
    expect(text).not.toContain('this month');

    const unknown = await cli('usage', '--token', 'tok_0000000000000000');
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toContain('no token with id tok_0000000000000000');
  });
});

describe('budgets that fit how people pay', () => {
  it('refuses bad period, hold and top-up input with a clear message and changes nothing', async () => {
    const before = s.tokens.list().length;
    const bad = [
      [['token', 'create', '--name', 'x', '--preset', 'write', '--budget', '5', '--period', 'yearly'], 'day, week, month, total'],
      [['token', 'create', '--name', 'x', '--preset', 'write', '--hold-above', '0'], '--hold-above must be more than 0 USD'],
      [['token', 'create', '--name', 'x', '--preset', 'write', '--upstream', '--budget', '5', '--period', 'day'], 'apply to local tokens only'],
      [['token', 'topup', 'tok_nonexistent00000', '5'], 'no token with id'],
    ] as const;
    for (const [args, message] of bad) {
      const r = await cli(...args);
      expect(r.code, args.join(' ')).not.toBe(0);
      expect(r.stderr).toContain(message);
    }
    expect(s.tokens.list()).toHaveLength(before);
    const res = await fetch(`${s.daemon.url}/admin/api/tokens`, {
      method: 'POST',
      headers: { authorization: `Bearer ${admin}`, 'content-type': 'application/json' },
      body: JSON.stringify({ name: 'x', preset: 'write', budget_period: 'yearly', hold_rate_usd: -1 }),
    });
    expect(res.status).toBe(400);
    const details = ((await res.json()) as { error: { details: Record<string, string> } }).error.details;
    expect(Object.keys(details).sort()).toEqual(['budget_period', 'hold_rate_usd']);
  });

  it('a daily budget refuses with its reset time, and resets at 00:00 UTC on the injected clock', async () => {
    const w = worst();
    const parent = token({ budget: 100 * w });
    const { token: t, secret } = token({ budget: w + Math.floor(w / 2), budgetPeriod: 'day', parentId: parent.token.id });
    expect((await call(secret, '/chat/completions', small)).status).toBe(200);
    const refused = await errorOf(await call(secret, '/chat/completions', small));
    const midnight = Math.floor(s.clock.now / DAY_MS) * DAY_MS + DAY_MS;
    expect(refused).toMatchObject({ status: 402, code: 'budget_exhausted' });
    expect(refused.message).toContain(`this token's daily budget (${t.id})`);
    expect(refused.message).toContain(`It resets at ${new Date(midnight).toISOString()}`);
    s.clock.now = midnight;
    expect((await call(secret, '/chat/completions', small)).status).toBe(200);
    // The monthly parent carries both days' spend: children roll up whatever the periods.
    expect(monthSpent(parent.token.id)).toBe(2 * w);
  });

  it('a total (prepaid) budget survives a month rollover, says it does not reset, and takes a top-up', async () => {
    const w = worst();
    const { token: t, secret } = token({ budget: w + Math.floor(w / 2), budgetPeriod: 'total' });
    expect((await call(secret, '/chat/completions', small)).status).toBe(200);
    s.clock.now = Date.UTC(new Date(s.clock.now).getUTCFullYear(), new Date(s.clock.now).getUTCMonth() + 1, 1, 0, 0, 1);
    const refused = await errorOf(await call(secret, '/chat/completions', small));
    expect(refused).toMatchObject({ status: 402, code: 'budget_exhausted' });
    expect(refused.message).toContain('prepaid and does not reset');
    expect(refused.message).toContain(`token topup ${t.id}`);
    const bal = (await (await call(secret, '/balance')).json()) as Record<string, unknown>;
    expect(bal).toMatchObject({ budget_period: 'total', period: 'total', resets_at: null, spent: w / 1e6 });

    const monthly = token({ budget: 5 * w });
    expect((await cli('token', 'topup', monthly.token.id, '1')).stderr).toContain('only total (prepaid) budgets take top-ups');
    const up = await cli('token', 'topup', t.id, '0.01', '--json');
    expect(up.code).toBe(0);
    expect(JSON.parse(up.stdout)).toMatchObject({ topped_up: 0.01 });
    await vi.waitFor(async () => expect(((await (await call(secret, '/balance')).json()) as { budget: number }).budget).toBeCloseTo((w + Math.floor(w / 2)) / 1e6 + 0.01, 9), { timeout: 10_000, interval: 50 });
    expect((await call(secret, '/chat/completions', small)).status).toBe(200);
  });
});

describe('a human in the loop', () => {
  it('holds a token under 20 concurrent requests with nothing spent past the threshold, tells the human, and lets traffic through once approved', async () => {
    const w = worst();
    const threshold = 5 * w + Math.floor(w / 2);
    const { token: t, secret } = token({ holdAbove: threshold });
    const heard: HoldEvent[] = [];
    s.daemon.deps.events.on('hold', (e) => heard.push(e));

    const answers = await Promise.all(Array.from({ length: 20 }, () => call(secret, '/chat/completions', small)));
    const ok = answers.filter((r) => r.status === 200).length;
    const errors = await Promise.all(answers.filter((r) => r.status !== 200).map((r) => errorOf(r)));
    await Promise.all(answers.filter((r) => r.status === 200).map((r) => r.text()));
    expect(ok).toBe(5);
    expect(errors).toHaveLength(15);
    for (const e of errors) expect(e).toMatchObject({ status: 402, code: 'spend_approval_required' });
    expect(errors[0]!.message).toContain(`requests approve ${t.id}`);
    expect(errors[0]!.message).toContain('GET /v1/balance');
    // Nothing past the threshold: the five admitted requests are all that was spent.
    expect(monthSpent(t.id)).toBe(5 * w);
    expect(monthSpent(t.id)).toBeLessThanOrEqual(threshold);

    expect(heard.filter((e) => e.token_id === t.id && e.kind === 'held')).toHaveLength(1);
    expect(s.daemon.db.prepare('SELECT hold_state FROM tokens WHERE id = ?').pluck().get(t.id)).toBe('held');
    const bal = (await (await call(secret, '/balance')).json()) as { held: boolean; hold: { token_id: string } };
    expect(bal).toMatchObject({ held: true, hold: { token_id: t.id } });
    const listed = JSON.parse((await cli('requests', 'list', '--json')).stdout) as { holds: Array<{ token_id: string; state: string }> };
    expect(listed.holds).toContainEqual(expect.objectContaining({ token_id: t.id, state: 'held' }));
    expect((await call(secret, '/chat/completions', small)).status).toBe(402);

    // Through the running daemon's admin API (issue 26), audited as the CLI's.
    const approved = await cli('requests', 'approve', t.id, '--hold-above', String((20 * w) / 1e6));
    expect(approved.code).toBe(0);
    await vi.waitFor(async () => expect(((await (await call(secret, '/balance')).json()) as { held: boolean }).held).toBe(false), { timeout: 10_000, interval: 50 });
    const after = await Promise.all(Array.from({ length: 5 }, () => call(secret, '/chat/completions', small)));
    expect(after.map((r) => r.status)).toEqual([200, 200, 200, 200, 200]);
    await Promise.all(after.map((r) => r.text()));
    const audit = s.daemon.db.prepare('SELECT event, actor FROM audit WHERE token_id = ? ORDER BY id').all(t.id) as Array<{ event: string; actor: string }>;
    expect(audit).toEqual(expect.arrayContaining([{ event: 'token.hold', actor: 'daemon' }, { event: 'token.hold_approved', actor: 'cli' }]));
  });

  it('a rate hold trips on the rolling hour and reaches the live feed; a denied token stays held and its agents are told not to retry', async () => {
    const w = worst();
    const { token: t, secret } = token({ holdRate: 2 * w + Math.floor(w / 2) });
    const ac = new AbortController();
    const feed = await fetch(`${s.daemon.url}/admin/api/events`, { headers: { authorization: `Bearer ${admin}` }, signal: ac.signal });
    const { until } = sseReader(feed);
    await until(/: connected\n\n/);
    expect((await call(secret, '/chat/completions', small)).status).toBe(200);
    expect((await call(secret, '/chat/completions', small)).status).toBe(200);
    const tripped = await errorOf(await call(secret, '/chat/completions', small));
    expect(tripped.message).toContain('in the last hour');
    const live = JSON.parse((await until(/event: hold\ndata: (.*)\n\n/))[1]!) as { kind: string; token_id: string; reason: string };
    expect(live).toMatchObject({ kind: 'held', token_id: t.id });
    expect(live.reason).toContain('in the last hour');
    ac.abort();
    const res = await fetch(`${s.daemon.url}/admin/api/tokens/${t.id}/hold/deny`, { method: 'POST', headers: { authorization: `Bearer ${admin}`, 'content-type': 'application/json' }, body: '{}' });
    expect(res.status).toBe(200);
    const denied = await errorOf(await call(secret, '/chat/completions', small));
    expect(denied).toMatchObject({ status: 402, code: 'spend_approval_required' });
    expect(denied.message).toContain('denied');
    const view = (await (await fetch(`${s.daemon.url}/admin/api/tokens/${t.id}`, { headers: { authorization: `Bearer ${admin}` } })).json()) as { held: boolean; hold: { state: string } };
    expect(view).toMatchObject({ held: true, hold: { state: 'denied' } });
    const status = (await (await fetch(`${s.daemon.url}/admin/api/status`, { headers: { authorization: `Bearer ${admin}` } })).json()) as { alerts: Array<{ kind: string; token_id?: string }> };
    expect(status.alerts).toContainEqual(expect.objectContaining({ kind: 'spend_hold', token_id: t.id }));
  });
});
