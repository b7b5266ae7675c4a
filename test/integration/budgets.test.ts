/**
 * Budgets that cannot be overspent, over real HTTP against the simulator:
 * 200 overlapping requests against a budget that fits exactly K worst cases
 * (on the token, and on a parent shared by its children), huge `n` and
 * `max_tokens`, the 402 message, the month boundary, `GET /v1/balance` against
 * the ledger, and the 80% / 100% warnings.
 *
 * Worst cases are computed the way the sidecar computes them: with `estimate`
 * from proxy/pipeline/estimate.ts and the daemon's own PriceBook and limits.
 */
import { Writable } from 'node:stream';
import pino from 'pino';
import { afterAll, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { formatUsd } from '../../proxy/core/money.js';
import { periodOf, periodResetAt } from '../../proxy/core/time.js';
import { estimate } from '../../proxy/pipeline/estimate.js';
import { tokenizerReady } from '../../proxy/pricing/tokenizer.js';
import { runCli } from '../helpers/cli.js';
import { errorOf, startStack, type Stack } from '../helpers/stack.js';

let s: Stack;
const logLines: Array<{ level: number; msg: string; tokenId?: string }> = [];
beforeAll(async () => {
  await tokenizerReady();
  const sink = new Writable({
    write(chunk: Buffer, _enc, cb) {
      for (const line of chunk.toString().split('\n')) if (line) logLines.push(JSON.parse(line) as (typeof logLines)[number]);
      cb();
    },
  });
  s = await startStack({ daemon: { log: pino({ level: 'info' }, sink) } });
});
afterAll(async () => {
  await s?.close();
});
beforeEach(() => {
  s.sim.faults = {};
  s.sim.clearRequests();
});

const MODEL = 'claude-4-5-sonnet';
/** Long enough that every reply is cut at max_tokens: the actual cost then equals the worst case. */
const LONG = Array.from({ length: 80 }, (_, i) => `word${i}`).join(' ');
const body = (extra: Record<string, unknown> = {}) => ({ model: MODEL, messages: [{ role: 'user', content: LONG }], max_tokens: 16, ...extra });

function worstCase(b: Record<string, unknown>): number {
  return estimate('chat', b, s.daemon.deps.prices, s.daemon.deps.limits.defaultMaxTokens).worstCaseMicros;
}

function chat(secret: string, b: Record<string, unknown> = body()): Promise<Response> {
  return fetch(`${s.baseURL}/chat/completions`, {
    method: 'POST',
    headers: { authorization: `Bearer ${secret}`, 'content-type': 'application/json' },
    body: JSON.stringify(b),
  });
}

const period = () => periodOf(s.clock.now);
function spent(tokenId: string, p = period()): number {
  return (s.daemon.db.prepare('SELECT spent_micros FROM spend WHERE token_id = ? AND period = ?').pluck().get(tokenId, p) as number | undefined) ?? 0;
}
function ledgerSum(tokenIds: string[]): number {
  const marks = tokenIds.map(() => '?').join(',');
  return s.daemon.db.prepare(`SELECT coalesce(sum(cost_micros), 0) FROM usage WHERE token_id IN (${marks})`).pluck().get(...tokenIds) as number;
}
function statuses(tokenIds: string[]): Record<number, number> {
  const marks = tokenIds.map(() => '?').join(',');
  const rows = s.daemon.db.prepare(`SELECT status, count(*) AS n FROM usage WHERE token_id IN (${marks}) GROUP BY status`).all(...tokenIds) as Array<{ status: number; n: number }>;
  return Object.fromEntries(rows.map((r) => [r.status, r.n]));
}

/** Fires all requests at once and tallies the statuses; the simulator's latency makes them overlap. */
async function storm(secrets: string[], count: number): Promise<{ ok: number; refused: Response[]; other: number[] }> {
  const responses = await Promise.all(Array.from({ length: count }, (_, i) => chat(secrets[i % secrets.length]!)));
  const refused = responses.filter((r) => r.status === 402);
  const other = responses.filter((r) => r.status !== 200 && r.status !== 402).map((r) => r.status);
  await Promise.all(responses.filter((r) => r.status === 200).map((r) => r.arrayBuffer()));
  return { ok: responses.filter((r) => r.status === 200).length, refused, other };
}

describe('concurrent requests against a budget that fits exactly K worst cases', () => {
  const K = 37;
  const N = 200;

  it('lets exactly K of 200 through on the token itself; the rest get 402 and never reach upstream', async () => {
    const worst = worstCase(body());
    expect(worst).toBeGreaterThan(0);
    // One micro-dollar short of K + 1 worst cases.
    const budget = K * worst + worst - 1;
    const { token, secret } = s.token({ budgetMicros: budget });
    s.sim.faults.latencyMs = 300;
    const { ok, refused, other } = await storm([secret], N);
    expect(other).toEqual([]);
    expect(ok).toBe(K);
    expect(refused).toHaveLength(N - K);
    expect(s.sim.requests.filter((r) => r.path === '/v1/chat/completions')).toHaveLength(K);
    const e = await errorOf(refused[0]!);
    expect(e).toMatchObject({ status: 402, type: 'insufficient_quota', code: 'budget_exhausted' });
    expect(e.message).toContain(`this token's monthly budget (${token.id})`);

    expect(spent(token.id)).toBeLessThanOrEqual(budget);
    expect(spent(token.id)).toBe(K * worst);
    expect(ledgerSum([token.id])).toBe(spent(token.id));
    expect(statuses([token.id])).toEqual({ 200: K, 402: N - K });
    expect(s.daemon.deps.budgets.reservedFor(token.id)).toBe(0);
  });

  it('lets exactly K of 200 through when the budget is on a parent and the requests come from its children', async () => {
    const worst = worstCase(body());
    const budget = K * worst + worst - 1;
    const parent = s.token({ name: 'team', budgetMicros: budget });
    const children = [1, 2, 3, 4, 5].map((i) => s.token({ name: `worker-${i}`, parentId: parent.token.id }));
    s.sim.faults.latencyMs = 300;
    const { ok, refused, other } = await storm(
      children.map((c) => c.secret),
      N,
    );
    expect(other).toEqual([]);
    expect(ok).toBe(K);
    expect(refused).toHaveLength(N - K);
    const e = await errorOf(refused[0]!);
    expect(e.message).toContain(`the monthly budget of its ancestor team (${parent.token.id})`);

    const ids = children.map((c) => c.token.id);
    expect(spent(parent.token.id)).toBeLessThanOrEqual(budget);
    expect(spent(parent.token.id)).toBe(K * worst);
    // The parent's spend is exactly its children's ledger rows; each child's spend is its own rows.
    expect(ledgerSum(ids)).toBe(spent(parent.token.id));
    for (const id of ids) expect(spent(id)).toBe(ledgerSum([id]));
    expect(ledgerSum([parent.token.id])).toBe(0);
    const st = statuses(ids);
    expect(st).toEqual({ 200: K, 402: N - K });
    for (const id of [parent.token.id, ...ids]) expect(s.daemon.deps.budgets.reservedFor(id)).toBe(0);
  });
});

describe('requests that try to get around the budget', () => {
  it('huge n or max_tokens go upstream with the bound the budget pays for (issue 25), and are refused when not even a useful answer fits', async () => {
    const cases = [{ n: 128, max_tokens: 100_000 }, { max_tokens: 10_000_000 }, { max_completion_tokens: 1, max_tokens: 1_000_000 }, { max_tokens: undefined, n: 20 }];
    for (const extra of cases) {
      for (const asChild of [false, true]) {
        const parent = s.token({ budgetUsd: 1 });
        const t = asChild ? s.token({ parentId: parent.token.id }) : parent;
        s.sim.clearRequests();
        const res = await chat(t.secret, body(extra));
        expect(res.status, JSON.stringify(extra)).toBe(200);
        await res.arrayBuffer();
        const sent = JSON.parse(s.sim.requests[0]!.body) as Record<string, number>;
        const bound = Math.max(sent.max_tokens ?? 0, sent.max_completion_tokens ?? 0);
        // $1 at $15 per million tokens: the prompt and every choice's bound together fit in 66,666 tokens.
        expect(bound * (sent.n ?? 1), JSON.stringify(extra)).toBeLessThanOrEqual(66_666);
        const spent = s.daemon.db.prepare('SELECT SUM(cost_micros) FROM usage WHERE token_id = ?').pluck().get(t.token.id) as number;
        expect(spent).toBeLessThanOrEqual(1_000_000);
      }
    }
    // $0.005 pays for the plain request (16 tokens), not for a useful answer to these.
    const tiny = s.token({ budgetUsd: 0.005 });
    s.sim.clearRequests();
    for (const extra of cases) {
      const res = await chat(tiny.secret, body(extra));
      expect(res.status, JSON.stringify(extra)).toBe(402);
      expect((await errorOf(res)).code).toBe('budget_exhausted');
    }
    expect(s.sim.requests).toHaveLength(0);
    expect((await chat(tiny.secret)).status).toBe(200);
  });

  it('refuses max_tokens or n of the wrong type with 400 naming the field', async () => {
    const { secret } = s.token({ budgetUsd: 1 });
    for (const [field, value] of [
      ['max_tokens', '16'],
      ['max_tokens', 16.5],
      ['max_tokens', -1],
      ['max_tokens', 1e12],
      ['max_completion_tokens', [16]],
      ['n', '2'],
      ['n', 10_000],
    ] as const) {
      const e = await errorOf(await chat(secret, body({ [field]: value })));
      expect(e.status, `${field}=${JSON.stringify(value)}`).toBe(400);
      expect(e.code).toBe('invalid_request');
      expect(e.message).toContain(field);
    }
    expect(s.sim.requests).toHaveLength(0);
  });
});

describe('the 402 message and the month boundary', () => {
  it('says which budget is exhausted, what is left, what the request may cost, and when it resets; spend starts over next month', async () => {
    const before = s.clock.now;
    try {
      const worst = worstCase(body());
      const { token, secret } = s.token({ budgetMicros: 2 * worst });
      expect((await chat(secret)).status).toBe(200);
      expect((await chat(secret)).status).toBe(200);
      const resetAt = new Date(periodResetAt(s.clock.now)).toISOString();
      const e = await errorOf(await chat(secret));
      expect(e).toMatchObject({ status: 402, type: 'insufficient_quota', code: 'budget_exhausted' });
      expect(e.message).toBe(
        `Budget exhausted: this token's monthly budget (${token.id}) is ${formatUsd(2 * worst)} with $0.00 left, and this request may cost up to ${formatUsd(worst)}. ` +
          `It resets at ${resetAt}. Lower max_tokens, or ask the human to raise the budget.`,
      );
      const oldPeriod = period();
      expect(spent(token.id, oldPeriod)).toBe(2 * worst);

      // The first millisecond of the next month (UTC): a fresh budget, and last month kept as it was.
      s.clock.now = periodResetAt(s.clock.now);
      expect(period()).not.toBe(oldPeriod);
      expect((await chat(secret)).status).toBe(200);
      expect(spent(token.id)).toBe(worst);
      expect(spent(token.id, oldPeriod)).toBe(2 * worst);
      const bal = (await (await fetch(`${s.baseURL}/balance`, { headers: { authorization: `Bearer ${secret}` } })).json()) as Record<string, unknown>;
      expect(bal).toMatchObject({ period: period(), spent: worst / 1e6, remaining: worst / 1e6, resets_at: new Date(periodResetAt(s.clock.now)).toISOString() });

      // One millisecond before the boundary it would still have been refused.
      s.clock.now = periodResetAt(before) - 1;
      expect((await chat(secret)).status).toBe(402);
    } finally {
      s.clock.now = before;
    }
  });
});

describe('GET /v1/balance', () => {
  async function balance(secret: string): Promise<Record<string, unknown>> {
    const res = await fetch(`${s.baseURL}/balance`, { headers: { authorization: `Bearer ${secret}` } });
    expect(res.status).toBe(200);
    return (await res.json()) as Record<string, unknown>;
  }

  it('matches the ledger: spent, reserved in flight, remaining limited by the tightest budget, reset time, upstream balance', async () => {
    const worst = worstCase(body());
    const parent = s.token({ name: 'lead', budgetMicros: 10 * worst });
    const child = s.token({ name: 'helper', budgetMicros: 8 * worst, parentId: parent.token.id });
    const sibling = s.token({ parentId: parent.token.id });
    expect((await chat(child.secret)).status).toBe(200);
    for (let i = 0; i < 4; i++) expect((await chat(sibling.secret)).status).toBe(200);
    await s.daemon.sync();
    const upstreamUsd = s.sim.balanceMicros() / 1e6;

    // One request of the child in flight, held by the simulator's latency.
    s.sim.faults.latencyMs = 2_000;
    const inFlight = chat(child.secret);
    await vi.waitFor(() => expect(s.daemon.deps.budgets.reservedFor(child.token.id)).toBe(worst), { timeout: 5_000, interval: 5 });

    const b = await balance(child.secret);
    const childSpent = ledgerSum([child.token.id]);
    expect(childSpent).toBe(worst);
    expect(b).toMatchObject({
      object: 'balance',
      token_id: child.token.id,
      currency: 'USD',
      period: period(),
      monthly_budget: (8 * worst) / 1e6,
      spent: childSpent / 1e6,
      reserved: worst / 1e6,
      // The parent has 10 - 5 spent - 1 reserved = 4 worst cases left; the child 8 - 1 - 1 = 6: the parent is tighter.
      remaining: (4 * worst) / 1e6,
      remaining_limited_by: parent.token.id,
      resets_at: new Date(periodResetAt(s.clock.now)).toISOString(),
    });
    expect((b.upstream as { balance: number }).balance).toBe(upstreamUsd);
    expect(b.balance).toBe(b.remaining);

    expect((await inFlight).status).toBe(200);
    s.sim.faults.latencyMs = 0;
    const after = await balance(child.secret);
    expect(after).toMatchObject({ spent: (2 * worst) / 1e6, reserved: 0, remaining: (4 * worst) / 1e6, remaining_limited_by: parent.token.id });
    expect(after.spent).toBe(spent(child.token.id) / 1e6);

    const p = await balance(parent.secret);
    expect(p).toMatchObject({ spent: (6 * worst) / 1e6, reserved: 0, remaining: (4 * worst) / 1e6, remaining_limited_by: parent.token.id });
    expect(p.spent).toBe(ledgerSum([child.token.id, sibling.token.id]) / 1e6);

    const free = s.token();
    // The real service reports the balance after each call (wallet_balance_after_usd): fresher than the sync's.
    const account = s.sim.dialect === 'real' ? s.sim.balanceMicros() / 1e6 : upstreamUsd;
    expect(await balance(free.secret)).toMatchObject({ monthly_budget: null, remaining: null, remaining_limited_by: null, balance: account });
  });
});

describe('warnings at 80% and 100%', () => {
  it('records one event each per period and logs it', async () => {
    const worst = worstCase(body());
    const { token, secret } = s.token({ budgetMicros: 5 * worst });
    const events = () =>
      s.daemon.db.prepare('SELECT kind, period FROM events WHERE token_id = ? ORDER BY id').all(token.id) as Array<{ kind: string; period: string }>;
    const announced: string[] = [];
    const onBudget = (e: { kind: string; token_id: string }) => {
      if (e.token_id === token.id) announced.push(e.kind);
    };
    s.daemon.events.on('budget', onBudget);
    try {
      for (let i = 0; i < 3; i++) expect((await chat(secret)).status).toBe(200);
      expect(events()).toEqual([]);
      expect((await chat(secret)).status).toBe(200); // 4 of 5: 80%
      expect(events()).toEqual([{ kind: 'budget_80', period: period() }]);
      expect((await chat(secret)).status).toBe(200); // 5 of 5: 100%
      expect(events()).toEqual([
        { kind: 'budget_80', period: period() },
        { kind: 'budget_100', period: period() },
      ]);
      expect((await chat(secret)).status).toBe(402);
      expect(events()).toHaveLength(2);
      expect(announced).toEqual(['budget_80', 'budget_100']);
      const logged = logLines.filter((l) => l.tokenId === token.id && l.level === 40).map((l) => l.msg);
      expect(logged).toEqual([
        `token ${token.id} reached 80% of its monthly budget (${formatUsd(4 * worst)} of ${formatUsd(5 * worst)})`,
        `token ${token.id} reached 100% of its monthly budget (${formatUsd(5 * worst)} of ${formatUsd(5 * worst)})`,
      ]);
    } finally {
      s.daemon.events.off('budget', onBudget);
    }
  });
});

describe('budgets from the CLI', () => {
  async function cli(...args: string[]): Promise<string> {
    const r = await runCli(['--data-dir', s.dataDir, ...args]);
    expect(r.code, r.stderr).toBe(0);
    return r.stdout;
  }

  it('`token create --budget`, `token set-budget` and `usage` act on the running daemon', async () => {
    const worst = worstCase(body());
    const created = JSON.parse(await cli('token', 'create', '--name', 'cli-budgeted', '--preset', 'write', '--budget', String(worst / 1e6), '--json')) as { id: string; api_key: string; monthly_budget: number };
    expect(created.monthly_budget).toBe(worst / 1e6);
    expect((await chat(created.api_key)).status).toBe(200);
    expect((await chat(created.api_key)).status).toBe(402);

    const usage = JSON.parse(await cli('usage', '--token', created.id, '--json')) as { totals: Record<string, unknown> };
    expect(usage.totals).toMatchObject({ requests: 2, cost_usd: worst / 1e6, spent_this_period_usd: spent(created.id) / 1e6, monthly_budget_usd: worst / 1e6 });

    await cli('token', 'set-budget', created.id, String((3 * worst) / 1e6));
    await vi.waitFor(async () => expect((await chat(created.api_key)).status).toBe(200), { interval: 20 });
    expect(spent(created.id)).toBe(2 * worst);
    await cli('token', 'set-budget', created.id, 'none');
    await vi.waitFor(async () => expect((await chat(created.api_key, body({ max_tokens: 100_000 }))).status).toBe(200), { interval: 20 });
  });
});
