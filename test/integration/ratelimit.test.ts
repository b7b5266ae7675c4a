/**
 * 429s and upstream refusals over real HTTP: per-token requests per minute
 * and requests in flight (set with the real CLI), an upstream 429 passing its
 * Retry-After through, and an upstream 402 reaching the agent as 402 and
 * marking the upstream out of credits.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { runCli } from '../helpers/cli.js';
import { errorOf, startStack, type Stack } from '../helpers/stack.js';

let s: Stack;
beforeAll(async () => {
  s = await startStack();
});
afterAll(async () => {
  await s?.close();
});
beforeEach(() => {
  s.sim.faults = {};
  s.sim.clearRequests();
});

const body = { model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'rate me' }], max_tokens: 8 };

function chat(secret: string): Promise<Response> {
  return fetch(`${s.baseURL}/chat/completions`, {
    method: 'POST',
    headers: { authorization: `Bearer ${secret}`, 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
}

/** Creates a token with the real CLI on the daemon's data dir, and waits until the daemon knows it. */
async function cliToken(...flags: string[]): Promise<{ id: string; secret: string }> {
  const r = await runCli(['--data-dir', s.dataDir, 'token', 'create', '--name', 'limited', '--preset', 'write', '--json', ...flags]);
  expect(r.code, r.stderr).toBe(0);
  const out = JSON.parse(r.stdout) as { id: string; api_key: string };
  return { id: out.id, secret: out.api_key };
}

function ledgerStatuses(tokenId: string): number[] {
  return s.daemon.db.prepare('SELECT status FROM usage WHERE token_id = ? ORDER BY id').pluck().all(tokenId) as number[];
}

describe('per-token limits', () => {
  it('--rpm: the request past the limit gets 429 with Retry-After and is not forwarded; the bucket refills with time', async () => {
    const { id, secret } = await cliToken('--rpm', '3');
    for (let i = 0; i < 3; i++) expect((await chat(secret)).status).toBe(200);
    const res = await chat(secret);
    expect(res.status).toBe(429);
    expect(res.headers.get('retry-after')).toBe('20');
    expect(await errorOf(res)).toEqual({
      status: 429,
      type: 'rate_limit_error',
      code: 'rate_limit_exceeded',
      message: 'This token is limited to 3 requests per minute; retry after 20 s.',
      param: null,
    });
    expect(s.sim.requests).toHaveLength(3);
    expect(ledgerStatuses(id)).toEqual([200, 200, 200, 429]);

    const before = s.clock.now;
    try {
      s.clock.now += 20_000;
      expect((await chat(secret)).status).toBe(200);
      expect((await chat(secret)).status).toBe(429);
    } finally {
      s.clock.now = before;
    }
  });

  it('--max-concurrent: a request past the cap gets 429 with Retry-After while the others are in flight', async () => {
    const { id, secret } = await cliToken('--max-concurrent', '2');
    s.sim.faults.latencyMs = 1_000;
    const first = [chat(secret), chat(secret)];
    await vi.waitFor(() => expect(s.daemon.deps.limiter.inFlightFor(id)).toBe(2), { timeout: 5_000, interval: 5 });
    const res = await chat(secret);
    expect(res.status).toBe(429);
    expect(res.headers.get('retry-after')).toBe('1');
    expect(await errorOf(res)).toMatchObject({
      code: 'concurrency_limit',
      message: 'This token may have at most 2 requests in flight; wait for one to finish.',
    });
    for (const r of await Promise.all(first)) expect(r.status).toBe(200);
    expect(s.daemon.deps.limiter.inFlightFor(id)).toBe(0);
    s.sim.faults.latencyMs = 0;
    expect((await chat(secret)).status).toBe(200);
    expect(s.sim.requests).toHaveLength(3);
  });

  it('limits one token without touching another', async () => {
    const limited = await cliToken('--rpm', '1');
    const other = s.token();
    expect((await chat(limited.secret)).status).toBe(200);
    expect((await chat(limited.secret)).status).toBe(429);
    for (let i = 0; i < 5; i++) expect((await chat(other.secret)).status).toBe(200);
  });
});

describe('upstream refusals', () => {
  it('an upstream 429 reaches the agent with its Retry-After, charged nothing, reservation released', async () => {
    const { token, secret } = s.token({ budgetUsd: 1 });
    s.sim.faults.failNext = { count: 1, status: 429, retryAfter: 7 };
    const res = await chat(secret);
    expect(res.status).toBe(429);
    expect(res.headers.get('retry-after')).toBe('7');
    const e = await errorOf(res);
    expect(e).toMatchObject({ type: 'rate_limit_error', code: 'upstream_rate_limited' });
    expect(e.message).toBe('SkillBoss is rate limiting requests; retry later. SkillBoss said: Rate limit exceeded (simulated)');
    expect(s.daemon.deps.budgets.reservedFor(token.id)).toBe(0);
    const row = s.daemon.db.prepare('SELECT status, cost_micros, error_code FROM usage WHERE token_id = ?').get(token.id);
    expect(row).toEqual({ status: 429, cost_micros: 0, error_code: 'upstream_rate_limited' });
  });

  it('an upstream 402 reaches the agent as 402 and marks the upstream out of credits', async () => {
    const { token, secret } = s.token({ budgetUsd: 1 });
    const announced: string[] = [];
    const onUpstream = (e: { kind: string }) => announced.push(e.kind);
    s.daemon.events.on('upstream', onUpstream);
    try {
      expect(s.daemon.deps.upstreamState.get().credits).not.toBe('out');
      s.sim.faults.failNext = { count: 1, status: 402 };
      const e = await errorOf(await chat(secret));
      expect(e).toMatchObject({ status: 402, type: 'insufficient_quota', code: 'upstream_credits_exhausted' });
      expect(e.message).toBe('The SkillBoss account behind this sidecar is out of credits; the human must add funds. SkillBoss said: Insufficient credits (simulated)');
      expect(s.daemon.deps.upstreamState.get().credits).toBe('out');
      expect(announced).toEqual(['credits_out']);
      expect(s.daemon.deps.budgets.reservedFor(token.id)).toBe(0);

      // Once the upstream has credit again, a sync clears it.
      await s.daemon.sync();
      expect(s.daemon.deps.upstreamState.get().credits).toBe('ok');
    } finally {
      s.daemon.events.off('upstream', onUpstream);
    }
  });
});
