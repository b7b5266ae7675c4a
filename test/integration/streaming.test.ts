/**
 * Streamed chat completions metered over real HTTP (raw SSE over fetch, no
 * SDK in between): the usage chunk shown only to a client that asked for it,
 * and what happens to the charge and the reservation when the client leaves,
 * the upstream drops the connection, or usage never arrives.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { costMicros } from '../../proxy/pricing/prices.js';
import { countChatPromptTokens, countTokens, tokenizerReady } from '../../proxy/pricing/tokenizer.js';
import { startStack, type Stack } from '../helpers/stack.js';
import { nextRow as nextLedgerRow, type UsageRow } from '../helpers/ledger.js';

let s: Stack;
beforeAll(async () => {
  await tokenizerReady();
  s = await startStack();
});
afterAll(async () => {
  await s?.close();
});
beforeEach(() => {
  s.sim.faults = {};
});

const MODEL = 'claude-4-5-sonnet';
const PRICE = { prompt: 15, completion: 15 };
const WORDS = Array.from({ length: 60 }, (_, i) => `w${i}`).join(' ');
const messages = [{ role: 'user', content: WORDS }];
/** The simulator's reply, and how many completion tokens it is. */
const REPLY = `Echo: ${WORDS}`;

function rowOf(requestId: string): UsageRow {
  return s.daemon.db.prepare('SELECT * FROM usage WHERE request_id = ?').get(requestId) as UsageRow;
}

const nextRow = (tokenId: string) => nextLedgerRow(s.daemon.events, tokenId);

function post(secret: string, b: Record<string, unknown>, signal?: AbortSignal): Promise<Response> {
  return fetch(`${s.baseURL}/chat/completions`, {
    method: 'POST',
    headers: { authorization: `Bearer ${secret}`, 'content-type': 'application/json' },
    body: JSON.stringify(b),
    signal,
  });
}

/** The data payloads of an SSE body, in order. */
function events(text: string): string[] {
  return text
    .split('\n\n')
    .filter((e) => e.trim() !== '')
    .map((e) =>
      e
        .split('\n')
        .filter((l) => l.startsWith('data:'))
        .map((l) => l.slice(5).trim())
        .join('\n'),
    );
}

/** Text the client saw in chat chunks. */
function contentOf(payloads: string[]): string {
  let out = '';
  for (const p of payloads) {
    if (p === '[DONE]') continue;
    const obj = JSON.parse(p) as { choices?: Array<{ delta?: { content?: string } }> };
    for (const c of obj.choices ?? []) out += c.delta?.content ?? '';
  }
  return out;
}

describe('the usage chunk', () => {
  it('is never shown to a client that did not ask for it, though the sidecar asked upstream and metered it', async () => {
    const { token, secret } = s.token();
    s.sim.clearRequests();
    const settled = nextRow(token.id);
    const res = await post(secret, { model: MODEL, messages, stream: true });
    expect(res.headers.get('content-type')).toMatch(/^text\/event-stream/);
    const payloads = events(await res.text());
    expect(payloads.at(-1)).toBe('[DONE]');
    const chunks = payloads.slice(0, -1).map((p) => JSON.parse(p) as { choices: unknown[]; usage?: unknown });
    expect(chunks.length).toBeGreaterThan(10);
    expect(chunks.every((c) => c.choices.length > 0 && (c.usage === undefined || c.usage === null))).toBe(true);
    expect(contentOf(payloads)).toBe(REPLY);

    const sent = JSON.parse(s.sim.requests.at(-1)!.body) as { stream_options?: { include_usage?: boolean } };
    expect(sent.stream_options).toEqual({ include_usage: true });
    const row = rowOf((await settled).request_id);
    expect(row).toMatchObject({ status: 200, streamed: 1, usage_source: 'upstream', completion_tokens: countTokens(REPLY) });
  });

  it('is shown, once and before [DONE], to a client that asked for it', async () => {
    const { secret } = s.token();
    const res = await post(secret, { model: MODEL, messages, stream: true, stream_options: { include_usage: true } });
    const payloads = events(await res.text());
    expect(payloads.at(-1)).toBe('[DONE]');
    const withUsage = payloads.filter((p) => p !== '[DONE]' && (JSON.parse(p) as { usage?: unknown }).usage);
    expect(withUsage).toHaveLength(1);
    expect(payloads.indexOf(withUsage[0]!)).toBe(payloads.length - 2);
    const u = JSON.parse(withUsage[0]!) as { choices: unknown[]; usage: { prompt_tokens: number; completion_tokens: number } };
    expect(u.choices).toEqual([]);
    expect(u.usage).toMatchObject({ prompt_tokens: countChatPromptTokens(messages), completion_tokens: countTokens(REPLY) });
  });
});

describe('a stream that does not finish', () => {
  async function readEvents(res: Response, n: number): Promise<string[]> {
    const reader = res.body!.getReader();
    const decoder = new TextDecoder();
    let text = '';
    while (events(text).length < n || !text.endsWith('\n\n')) {
      const { value, done } = await reader.read();
      if (done) break;
      text += decoder.decode(value, { stream: true });
    }
    return events(text);
  }

  for (const omitUsage of [false, true]) {
    it(`is charged prompt + delivered tokens when the client disconnects${omitUsage ? ' (upstream omitting usage)' : ''}, and its reservation is released`, async () => {
      const { token, secret } = s.token({ budgetUsd: 5 });
      s.sim.faults = { chunkDelayMs: 25, omitUsage };
      const simBefore = s.sim.balanceMicros();
      const settled = nextRow(token.id);
      const abort = new AbortController();
      const res = await post(secret, { model: MODEL, messages, stream: true }, abort.signal);
      expect(res.status).toBe(200);
      const seen = await readEvents(res, 8);
      expect(s.daemon.deps.budgets.reservedFor(token.id)).toBeGreaterThan(0);
      abort.abort();

      const row = rowOf((await settled).request_id);
      const seenTokens = countTokens(contentOf(seen));
      expect(seenTokens).toBeGreaterThanOrEqual(6);
      expect(row).toMatchObject({ status: 499, streamed: 1, usage_source: 'counted', error_code: 'client_closed', prompt_tokens: countChatPromptTokens(messages) });
      // At least what the client saw, and less than the whole reply.
      expect(row.completion_tokens).toBeGreaterThanOrEqual(seenTokens);
      expect(row.completion_tokens).toBeLessThan(countTokens(REPLY));
      expect(row.cost_micros).toBe(costMicros(PRICE, row.prompt_tokens, row.completion_tokens));
      expect(s.daemon.deps.budgets.reservedFor(token.id)).toBe(0);
      expect(s.daemon.deps.budgets.spent(token.id, s.clock.now)).toBe(row.cost_micros);
      // The upstream charges what it wrote once it notices the close: never less than the sidecar counted.
      await vi.waitFor(() => expect(simBefore - s.sim.balanceMicros()).toBeGreaterThanOrEqual(row.cost_micros), { interval: 5 });
    });
  }

  it('is charged prompt + delivered tokens when the upstream drops the connection mid-stream, and the client is told', async () => {
    const { token, secret } = s.token({ budgetUsd: 5 });
    // The first chunk carries the role, the next four one token each.
    s.sim.faults = { dropAfterChunks: 5 };
    const simBefore = s.sim.balanceMicros();
    const settled = nextRow(token.id);
    const res = await post(secret, { model: MODEL, messages, stream: true });
    const payloads = events(await res.text());
    expect(payloads).not.toContain('[DONE]');
    const last = JSON.parse(payloads.at(-1)!) as { error?: { code: string } };
    expect(last.error?.code).toBe('upstream_stream_broken');
    const delivered = contentOf(payloads.slice(0, -1));
    expect(REPLY.startsWith(delivered)).toBe(true);
    expect(countTokens(delivered)).toBe(4);

    const row = rowOf((await settled).request_id);
    expect(row).toMatchObject({ status: 502, streamed: 1, usage_source: 'counted', error_code: 'upstream_stream_broken', prompt_tokens: countChatPromptTokens(messages), completion_tokens: 4 });
    expect(row.cost_micros).toBe(costMicros(PRICE, row.prompt_tokens, 4));
    // Exactly what the upstream charged for the same stream.
    expect(row.cost_micros).toBe(simBefore - s.sim.balanceMicros());
    expect(s.daemon.deps.budgets.reservedFor(token.id)).toBe(0);
  });

  it('is charged by counting when the upstream finishes without usage, and the client still gets [DONE]', async () => {
    const { token, secret } = s.token({ budgetUsd: 5 });
    s.sim.faults = { omitUsage: true };
    const simBefore = s.sim.balanceMicros();
    const settled = nextRow(token.id);
    const payloads = events(await (await post(secret, { model: MODEL, messages, stream: true, stream_options: { include_usage: true } })).text());
    expect(payloads.at(-1)).toBe('[DONE]');
    expect(contentOf(payloads)).toBe(REPLY);
    const row = rowOf((await settled).request_id);
    expect(row).toMatchObject({ status: 200, usage_source: 'counted', error_code: null, prompt_tokens: countChatPromptTokens(messages), completion_tokens: countTokens(REPLY) });
    expect(row.cost_micros).toBe(simBefore - s.sim.balanceMicros());
    expect(s.daemon.deps.budgets.reservedFor(token.id)).toBe(0);
  });

  it('is charged by counting a non-streamed answer without usage', async () => {
    const { token, secret } = s.token({ budgetUsd: 5 });
    s.sim.faults = { omitUsage: true };
    const simBefore = s.sim.balanceMicros();
    const res = await post(secret, { model: MODEL, messages });
    expect(res.status).toBe(200);
    expect(((await res.json()) as { usage?: unknown }).usage).toBeUndefined();
    const row = s.daemon.db.prepare('SELECT * FROM usage WHERE token_id = ?').get(token.id) as UsageRow;
    expect(row).toMatchObject({ status: 200, usage_source: 'counted', completion_tokens: countTokens(REPLY) });
    expect(row.cost_micros).toBe(simBefore - s.sim.balanceMicros());
  });

  it('releases the reservation when the client leaves before the upstream answers', async () => {
    const { token, secret } = s.token({ budgetUsd: 5 });
    s.sim.faults = { latencyMs: 10_000 };
    const settled = nextRow(token.id);
    const abort = new AbortController();
    const pending = post(secret, { model: MODEL, messages, stream: true }, abort.signal).catch((e: unknown) => e);
    await vi.waitFor(() => expect(s.daemon.deps.budgets.reservedFor(token.id)).toBeGreaterThan(0), { interval: 5 });
    abort.abort();
    expect(await pending).toBeInstanceOf(Error);
    const row = rowOf((await settled).request_id);
    expect(row).toMatchObject({ status: 499, error_code: 'client_closed', completion_tokens: 0, prompt_tokens: countChatPromptTokens(messages) });
    expect(s.daemon.deps.budgets.reservedFor(token.id)).toBe(0);
  });
});
