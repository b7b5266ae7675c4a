/**
 * Where a request's price comes from, over real HTTP: synced upstream prices,
 * a local override set with the real CLI (`price set`), the default for an
 * unknown model (flagged, never free), and a cost the upstream reports itself,
 * which wins over both, even when it is more than was reserved.
 */
import { Writable } from 'node:stream';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { periodOf } from '../../proxy/core/time.js';
import { estimate } from '../../proxy/pipeline/estimate.js';
import { costMicros, DEFAULT_UNKNOWN_PRICE } from '../../proxy/pricing/prices.js';
import { tokenizerReady } from '../../proxy/pricing/tokenizer.js';
import { costMicros as simCostMicros } from '../../proxy/simulator/models.js';
import { runCli } from '../helpers/cli.js';
import { errorOf, startStack, type Stack } from '../helpers/stack.js';

interface Row {
  model: string | null;
  prompt_tokens: number;
  completion_tokens: number;
  cost_micros: number;
  cost_source: string;
  usage_source: string;
  status: number;
}

function lastRow(st: Stack, tokenId: string): Row {
  return st.daemon.db.prepare('SELECT * FROM usage WHERE token_id = ? ORDER BY id DESC LIMIT 1').get(tokenId) as Row;
}

function chat(st: Stack, secret: string, b: Record<string, unknown>): Promise<Response> {
  return fetch(`${st.baseURL}/chat/completions`, {
    method: 'POST',
    headers: { authorization: `Bearer ${secret}`, 'content-type': 'application/json' },
    body: JSON.stringify(b),
  });
}

async function cli(st: Stack, ...args: string[]): Promise<string> {
  const r = await runCli(['--data-dir', st.dataDir, ...args]);
  expect(r.code, r.stderr).toBe(0);
  return r.stdout;
}

const messages = [{ role: 'user', content: 'price this request for me' }];

beforeAll(async () => {
  await tokenizerReady();
});

describe('prices from the sync, the CLI and the default', () => {
  let s: Stack;
  beforeAll(async () => {
    s = await startStack();
  });
  afterAll(async () => {
    await s?.close();
  });

  it('charges a synced model its upstream price', async () => {
    const { token, secret } = s.token();
    expect((await chat(s, secret, { model: 'gpt-4o', messages })).status).toBe(200);
    const row = lastRow(s, token.id);
    expect(row).toMatchObject({ cost_source: 'price', usage_source: 'upstream' });
    expect(row.cost_micros).toBe(costMicros({ prompt: 2.5, completion: 10 }, row.prompt_tokens, row.completion_tokens));
  });

  it('prices a model it has no price for by the default, flags it, and never lets it be free', async () => {
    const { token, secret } = s.token();
    // The upstream serves gpt-4o but the sidecar has not synced it (yet).
    s.daemon.db.prepare("DELETE FROM models WHERE id = 'gpt-4o'").run();
    s.daemon.deps.prices.reload();
    try {
      expect(s.daemon.deps.prices.known('gpt-4o')).toBe(false);
      expect((await chat(s, secret, { model: 'gpt-4o', messages })).status).toBe(200);
      const row = lastRow(s, token.id);
      expect(row.cost_source).toBe('default');
      expect(row.cost_micros).toBe(costMicros(DEFAULT_UNKNOWN_PRICE, row.prompt_tokens, row.completion_tokens));
      expect(row.cost_micros).toBeGreaterThan(costMicros({ prompt: 2.5, completion: 10 }, row.prompt_tokens, row.completion_tokens));

      // The default is configurable with the CLI; the running daemon picks it up.
      await cli(s, 'price', 'default', '--prompt', '3', '--completion', '4');
      await vi.waitFor(() => expect(s.daemon.deps.prices.priceFor('gpt-4o')).toMatchObject({ prompt: 3, completion: 4, source: 'default' }), { interval: 10 });
      expect((await chat(s, secret, { model: 'gpt-4o', messages })).status).toBe(200);
      const again = lastRow(s, token.id);
      expect(again).toMatchObject({ cost_source: 'default' });
      expect(again.cost_micros).toBe(costMicros({ prompt: 3, completion: 4 }, again.prompt_tokens, again.completion_tokens));
      expect(again.cost_micros).toBeGreaterThan(0);
    } finally {
      await s.daemon.sync();
    }
    expect(s.daemon.deps.prices.known('gpt-4o')).toBe(true);
  });

  it('lets a local override (`price set`) win over the synced price, and keeps it across syncs', async () => {
    const { token, secret } = s.token();
    await cli(s, 'price', 'set', 'gpt-4o-mini', '--prompt', '1', '--completion', '2');
    await vi.waitFor(() => expect(s.daemon.deps.prices.priceFor('gpt-4o-mini').source).toBe('override'), { interval: 10 });
    await s.daemon.sync();
    const listed = JSON.parse(await cli(s, 'price', 'list', '--json')) as { models: Array<{ id: string; prompt: number; completion: number; source: string }> };
    // An override without class rates: cached at its prompt rate, reasoning at its completion rate, shown as the fallback.
    expect(listed.models.find((m) => m.id === 'gpt-4o-mini')).toEqual({
      id: 'gpt-4o-mini',
      prompt: 1,
      completion: 2,
      cached: 1,
      cacheWrite: 1,
      reasoning: 2,
      classSource: { cached: 'fallback', cacheWrite: 'fallback', reasoning: 'fallback' },
      source: 'override',
    });

    expect((await chat(s, secret, { model: 'gpt-4o-mini', messages, max_tokens: 50 })).status).toBe(200);
    const row = lastRow(s, token.id);
    expect(row.cost_source).toBe('override');
    expect(row.cost_micros).toBe(costMicros({ prompt: 1, completion: 2 }, row.prompt_tokens, row.completion_tokens));
    // The reservation used the override too: a budget of exactly that worst case lets one request through.
    const worst = estimate('chat', { model: 'gpt-4o-mini', messages, max_tokens: 50 }, s.daemon.deps.prices, 4096).worstCaseMicros;
    expect(worst).toBe(costMicros({ prompt: 1, completion: 2 }, row.prompt_tokens, 50));

    await cli(s, 'price', 'unset', 'gpt-4o-mini');
    await vi.waitFor(() => expect(s.daemon.deps.prices.priceFor('gpt-4o-mini').source).toBe('upstream'), { interval: 10 });
  });
});

describe('a cost reported by the upstream', () => {
  let s: Stack;
  const logLines: Array<{ level: number; msg: string }> = [];
  beforeAll(async () => {
    const sink = new Writable({
      write(chunk: Buffer, _enc, cb) {
        for (const line of chunk.toString().split('\n')) if (line) logLines.push(JSON.parse(line) as (typeof logLines)[number]);
        cb();
      },
    });
    s = await startStack({ sim: { reportCost: true }, daemon: { log: pino({ level: 'info' }, sink) } });
    // A local override far below the real price.
    s.daemon.deps.prices.setOverride('gpt-4o', 0.1, 0.1);
  });
  afterAll(async () => {
    await s?.close();
  });

  it('wins over the override and the synced price, in JSON and in streams, and reaches the client', async () => {
    const { token, secret } = s.token();
    const res = await chat(s, secret, { model: 'gpt-4o', messages });
    expect(res.status).toBe(200);
    const json = (await res.json()) as { usage: { prompt_tokens: number; completion_tokens: number; cost: number } };
    const simCost = simCostMicros('gpt-4o', json.usage.prompt_tokens, json.usage.completion_tokens);
    expect(res.headers.get('x-skillboss-cost')).toBe(String(simCost / 1e6));
    expect(json.usage.cost).toBe(simCost / 1e6);
    const row = lastRow(s, token.id);
    expect(row).toMatchObject({ cost_source: 'upstream', cost_micros: simCost });
    expect(simCost).not.toBe(costMicros({ prompt: 0.1, completion: 0.1 }, row.prompt_tokens, row.completion_tokens));

    const streamed = await chat(s, secret, { model: 'gpt-4o', messages, stream: true });
    const text = await streamed.text();
    expect(text).not.toContain('"usage"');
    const srow = lastRow(s, token.id);
    expect(srow).toMatchObject({ cost_source: 'upstream', usage_source: 'upstream', cost_micros: simCostMicros('gpt-4o', srow.prompt_tokens, srow.completion_tokens) });
  });

  it('is charged in full even above the reservation, logged, and refuses the next request', async () => {
    const b = { model: 'gpt-4o', messages, max_tokens: 5 };
    const worst = estimate('chat', b, s.daemon.deps.prices, 4096).worstCaseMicros;
    const { token, secret } = s.token({ budgetMicros: worst });
    expect((await chat(s, secret, b)).status).toBe(200);
    const row = lastRow(s, token.id);
    expect(row.cost_micros).toBeGreaterThan(worst);
    const spent = s.daemon.db.prepare('SELECT spent_micros FROM spend WHERE token_id = ? AND period = ?').pluck().get(token.id, periodOf(s.clock.now));
    expect(spent).toBe(row.cost_micros);
    expect(logLines.some((l) => l.level === 40 && l.msg === 'a request cost more than its reservation; the actual cost was charged')).toBe(true);
    expect(logLines.some((l) => l.level === 40 && l.msg.startsWith(`spend of ${token.id} passed its monthly budget`))).toBe(true);
    const kinds = s.daemon.db.prepare('SELECT kind FROM events WHERE token_id = ? ORDER BY id').pluck().all(token.id);
    expect(kinds).toEqual(['budget_80', 'budget_100', 'budget_overrun']);

    const e = await errorOf(await chat(s, secret, { ...b, max_tokens: 1 }));
    expect(e).toMatchObject({ status: 402, code: 'budget_exhausted' });
    expect(e.message).toContain('with $0.00 left');
    expect(s.daemon.deps.budgets.reservedFor(token.id)).toBe(0);
  });
});
