/**
 * Group F: budget bypass. LiteLLM budgets were exceeded under concurrency,
 * bypassed with a client header, and per-model budgets were stored but never
 * checked. Here each trick is tried against the real daemon, and the ledger
 * and spend totals are read back: spend never passes a budget, and nothing
 * that cost money counts as free.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { periodResetAt } from '../../proxy/core/time.js';
import { estimate } from '../../proxy/pipeline/estimate.js';
import { tokenizerReady } from '../../proxy/pricing/tokenizer.js';
import { errorOf, startStack, type Stack } from '../helpers/stack.js';
import { call, chatBody, listUsage } from './kit.js';
import { nextRow } from '../helpers/ledger.js';

let s: Stack;

beforeAll(async () => {
  s = await startStack();
});
afterAll(async () => {
  await s?.close();
});
afterEach(() => {
  for (const k of Object.keys(s.sim.faults)) delete (s.sim.faults as Record<string, unknown>)[k];
  s.clock.now = Date.now();
});

const spendOf = (tokenId: string): number =>
  (s.daemon.db.prepare('SELECT COALESCE(SUM(spent_micros), 0) FROM spend WHERE token_id = ?').pluck().get(tokenId) as number) ?? 0;
const ledgerOf = (tokenId: string): number => listUsage(s, tokenId).reduce((a, r) => a + r.cost_micros, 0);
const forwardedChats = () => s.sim.requests.filter((r) => r.path === '/v1/chat/completions').length;

const nextSettled = (tokenId: string) => nextRow(s.daemon.events, tokenId);

/** Exactly what the daemon reserves for a chat body (its own estimator, its own prices). */
async function reservation(body: Record<string, unknown>): Promise<number> {
  await tokenizerReady();
  return estimate('chat', structuredClone(body), s.daemon.deps.prices, s.daemon.deps.limits.defaultMaxTokens).worstCaseMicros;
}

/** The most requests the simulator was serving at once (each takes `latencyMs` from arrival). */
function maxConcurrentAtUpstream(latencyMs: number): number {
  const starts = s.sim.requests.filter((r) => r.path === '/v1/chat/completions').map((r) => r.ts);
  return Math.max(0, ...starts.map((t) => starts.filter((u) => u <= t && t < u + latencyMs).length));
}

describe('F. budget bypass', () => {
  it('F1 LiteLLM budgets exceeded under concurrency: 30 parallel requests against room for 4 worst cases — never more than 4 upstream at once, spend within the budget', async () => {
    const body = chatBody({ max_tokens: 200 });
    const budget = Math.floor((await reservation(body)) * 4.5);
    const t = s.token({ preset: 'write', budgetMicros: budget });
    s.sim.clearRequests();
    s.sim.faults.latencyMs = 300;
    const results = await Promise.all(Array.from({ length: 30 }, () => call(s, t.secret, 'POST', '/v1/chat/completions', body)));
    const ok = results.filter((r) => r.status === 200).length;
    expect(ok).toBeGreaterThanOrEqual(4);
    expect(results.filter((r) => r.status === 402).length).toBeGreaterThan(0);
    expect(results.filter((r) => r.status === 402)).toHaveLength(30 - ok);
    expect(forwardedChats()).toBe(ok);
    // Requests finish and free their reservation, so more than 4 may pass in all; never more than 4 at a time.
    expect(maxConcurrentAtUpstream(300)).toBeLessThanOrEqual(4);
    expect(spendOf(t.token.id)).toBeLessThanOrEqual(budget);
    expect(spendOf(t.token.id)).toBe(ledgerOf(t.token.id));
    expect(s.daemon.deps.budgets.reservedFor(t.token.id)).toBe(0);
  });

  it('F2 LiteLLM per-model budgets stored but never checked: an ancestor\'s budget binds a child that has none of its own', async () => {
    const parent = s.token({ preset: 'write', budgetMicros: 10 });
    const child = s.token({ preset: 'write', parentId: parent.token.id });
    s.sim.clearRequests();
    const e = await errorOf(await call(s, child.secret, 'POST', '/v1/chat/completions', chatBody()));
    expect(e).toMatchObject({ status: 402, code: 'budget_exhausted' });
    expect(e.message).toContain(parent.token.id);
    expect(forwardedChats()).toBe(0);
  });

  it('F3 streams without usage still cost: with the upstream reporting no usage, the delivered text is counted and charged', async () => {
    const t = s.token({ preset: 'write', budgetUsd: 1 });
    s.sim.faults.omitUsage = true;
    const res = await call(s, t.secret, 'POST', '/v1/chat/completions', chatBody({ stream: true, messages: [{ role: 'user', content: 'count these words for me please' }] }));
    expect(await res.text()).toContain('[DONE]');
    const [row] = listUsage(s, t.token.id);
    expect(row).toMatchObject({ status: 200, usage_source: 'counted' });
    expect(row!.completion_tokens).toBeGreaterThan(0);
    expect(row!.cost_micros).toBeGreaterThan(0);
    expect(spendOf(t.token.id)).toBe(row!.cost_micros);
  });

  it('F4 a client that disconnects mid-stream pays for what was delivered, and its reservation is released', async () => {
    const t = s.token({ preset: 'write', budgetUsd: 1 });
    s.sim.faults.chunkDelayMs = 20;
    const settled = nextSettled(t.token.id);
    const ctl = new AbortController();
    const res = await call(s, t.secret, 'POST', '/v1/chat/completions', chatBody({ stream: true, max_tokens: 500, messages: [{ role: 'user', content: Array.from({ length: 200 }, (_, i) => `w${i}`).join(' ') }] }), {});
    const reader = res.body!.getReader();
    let seen = '';
    while (seen.split('\n\n').length < 6) seen += new TextDecoder().decode((await reader.read()).value);
    ctl.abort();
    await reader.cancel();
    const e = await settled;
    expect(e.status).toBe(499);
    expect(e.cost_micros).toBeGreaterThan(0);
    expect(spendOf(t.token.id)).toBe(e.cost_micros);
    expect(s.daemon.deps.budgets.reservedFor(t.token.id)).toBe(0);
  });

  it.each([
    { name: 'huge max_tokens', extra: { max_tokens: 10_000_000 } as Record<string, unknown> },
    { name: 'huge max_completion_tokens beside a small max_tokens', extra: { max_tokens: 1, max_completion_tokens: 5_000_000 } as Record<string, unknown> },
    { name: 'n = 128', extra: { n: 128, max_tokens: 4000 } as Record<string, unknown> },
  ])('F5 LiteLLM budget bypass with large max_tokens/n ($name): sent upstream with the bound the budget pays for (issue 25), spend within it', async ({ extra }) => {
    const t = s.token({ preset: 'write', budgetUsd: 0.5 });
    s.sim.clearRequests();
    const before = s.sim.balanceMicros();
    const res = await call(s, t.secret, 'POST', '/v1/chat/completions', chatBody(extra));
    expect(res.status).toBe(200);
    await res.arrayBuffer();
    const sent = JSON.parse(s.sim.requests.find((r) => r.path === '/v1/chat/completions')!.body) as Record<string, number>;
    // Every bounding field the agent set is lowered to the same bound, never left larger.
    for (const f of ['max_tokens', 'max_completion_tokens'] as const) if (f in extra) expect(sent[f]).toBeLessThan(Math.max(...Object.values(extra).map(Number)));
    expect(spendOf(t.token.id)).toBeLessThanOrEqual(500_000);
    expect(before - s.sim.balanceMicros()).toBeLessThanOrEqual(500_000);
    // Where not even the smallest useful answer fits, it is refused before anything goes upstream, as before.
    const tiny = s.token({ preset: 'write', budgetUsd: 0.0001 });
    s.sim.clearRequests();
    expect((await call(s, tiny.secret, 'POST', '/v1/chat/completions', chatBody(extra))).status).toBe(402);
    expect(forwardedChats()).toBe(0);
  });

  it.each([
    { name: 'n = 0', extra: { n: 0 } as Record<string, unknown>, status: 400 },
    { name: 'n = 1e9', extra: { n: 1_000_000_000 } as Record<string, unknown>, status: 400 },
    { name: 'n as a string', extra: { n: '5' } as Record<string, unknown>, status: 400 },
    { name: 'negative max_tokens', extra: { max_tokens: -1 } as Record<string, unknown>, status: 400 },
    { name: 'fractional max_tokens', extra: { max_tokens: 1.5 } as Record<string, unknown>, status: 400 },
    { name: 'max_tokens as a string', extra: { max_tokens: '100' } as Record<string, unknown>, status: 400 },
    { name: 'max_tokens beyond any model', extra: { max_tokens: 1e12 } as Record<string, unknown>, status: 400 },
  ])('F5 LiteLLM budget bypass with odd max_tokens/n ($name): refused ($status) before anything goes upstream', async ({ extra, status }) => {
    const t = s.token({ preset: 'write', budgetUsd: 1 });
    s.sim.clearRequests();
    const res = await call(s, t.secret, 'POST', '/v1/chat/completions', chatBody(extra));
    expect(res.status).toBe(status);
    expect(forwardedChats()).toBe(0);
    expect(spendOf(t.token.id)).toBe(0);
  });

  it('F6 LiteLLM budget bypass by a client header or body field naming someone else: spend always lands on the caller\'s token', async () => {
    const caller = s.token({ preset: 'write', budgetUsd: 1 });
    const victim = s.token({ preset: 'write', budgetUsd: 1 });
    const res = await call(
      s,
      caller.secret,
      'POST',
      `/v1/chat/completions?token_id=${victim.token.id}`,
      chatBody({ user: victim.token.id, metadata: { token_id: victim.token.id, user_api_key: victim.secret } }),
      { 'x-skillboss-token-id': victim.token.id, 'x-litellm-user': victim.token.id, 'openai-organization': victim.token.id, 'x-end-user': victim.token.id },
    );
    expect(res.status).toBe(200);
    expect(spendOf(caller.token.id)).toBeGreaterThan(0);
    expect(listUsage(s, victim.token.id)).toHaveLength(0);
    expect(spendOf(victim.token.id)).toBe(0);
  });

  it('F7 the period boundary: a spent budget is still refused at the last millisecond of the month, and only the new month starts afresh', async () => {
    const resetAt = periodResetAt(Date.now());
    s.clock.now = resetAt - 60_000;
    const t = s.token({ preset: 'write' });
    expect((await call(s, t.secret, 'POST', '/v1/chat/completions', chatBody())).status).toBe(200);
    const spent = spendOf(t.token.id);
    expect(spent).toBeGreaterThan(0);
    // A budget that holds one more worst case in a fresh month, but not on top of this month's spend.
    const big = chatBody({ max_tokens: 16 });
    s.tokens.setBudget(t.token.id, spent + (await reservation(big)) - 1, 'test');
    s.daemon.deps.principals.clear();
    s.clock.now = resetAt - 1;
    expect((await call(s, t.secret, 'POST', '/v1/chat/completions', big)).status).toBe(402);
    s.clock.now = resetAt;
    expect((await call(s, t.secret, 'POST', '/v1/chat/completions', big)).status).toBe(200);
    expect(spendOf(t.token.id)).toBe(ledgerOf(t.token.id));
  });

  it('F8 a stream that straddles the month boundary is charged (to the month it ends in), never dropped', async () => {
    const resetAt = periodResetAt(Date.now());
    s.clock.now = resetAt - 1;
    const t = s.token({ preset: 'write', budgetUsd: 1 });
    s.sim.faults.chunkDelayMs = 10;
    const res = await call(s, t.secret, 'POST', '/v1/chat/completions', chatBody({ stream: true }));
    const reader = res.body!.getReader();
    await reader.read();
    s.clock.now = resetAt + 1;
    let text = '';
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      text += new TextDecoder().decode(value);
    }
    expect(text).toContain('[DONE]');
    const cost = ledgerOf(t.token.id);
    expect(cost).toBeGreaterThan(0);
    expect(spendOf(t.token.id)).toBe(cost);
  });

  it('F9 an unpriced model is never free: it is reserved and charged at the default price, and a budget too small for that refuses it', async () => {
    s.daemon.db.prepare('UPDATE models SET prompt_price = NULL, completion_price = NULL WHERE id = ?').run('gpt-4o-mini');
    s.daemon.deps.prices.reload();
    try {
      expect(s.daemon.deps.prices.known('gpt-4o-mini')).toBe(false);
      const t = s.token({ preset: 'write', budgetUsd: 1 });
      expect((await call(s, t.secret, 'POST', '/v1/chat/completions', chatBody({ model: 'gpt-4o-mini' }))).status).toBe(200);
      const [row] = listUsage(s, t.token.id);
      expect(row).toMatchObject({ cost_source: 'default' });
      expect(row!.cost_micros).toBeGreaterThan(0);
      // At the default price, max_tokens 16 costs ≥ 16 × 75 µ$; a budget below that is refused before forwarding.
      const tiny = s.token({ preset: 'write', budgetMicros: 16 * 75 - 1 });
      s.sim.clearRequests();
      expect((await call(s, tiny.secret, 'POST', '/v1/chat/completions', chatBody({ model: 'gpt-4o-mini' }))).status).toBe(402);
      expect(forwardedChats()).toBe(0);
    } finally {
      await s.daemon.sync();
    }
  });

  it('F10 a client cannot switch off stream metering: include_usage false is overridden upstream, hidden from the client, and the usage is charged', async () => {
    const t = s.token({ preset: 'write', budgetUsd: 1 });
    s.sim.clearRequests();
    const res = await call(s, t.secret, 'POST', '/v1/chat/completions', chatBody({ stream: true, stream_options: { include_usage: false } }));
    const text = await res.text();
    expect(text).toContain('[DONE]');
    expect(text).not.toContain('"usage":{');
    const sent = JSON.parse(s.sim.requests.at(-1)!.body) as { stream_options: { include_usage: boolean } };
    expect(sent.stream_options.include_usage).toBe(true);
    expect(listUsage(s, t.token.id)[0]).toMatchObject({ usage_source: 'upstream' });
    expect(spendOf(t.token.id)).toBeGreaterThan(0);
  });
});
