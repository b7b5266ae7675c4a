/**
 * Issue 25, "every part of a prompt is in its bound": on the Responses API,
 * `previous_response_id` and `conversation` make the upstream prepend items
 * the body does not hold, and bill them as input. The sidecar cannot see
 * them, so it enforces a bound rather than assuming none: a response it
 * relayed carries its recorded input + output tokens; one it did not relay,
 * or a conversation, is bounded by the model's synced context window; with
 * neither known, a token with a budget is refused 400 `unbounded_prompt`.
 * The simulator bills the previous response's tokens as the real API does.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startStack, type Stack } from '../helpers/stack.js';

let s: Stack;
beforeAll(async () => {
  s = await startStack();
});
afterAll(async () => {
  await s?.close();
});

const WORDS = 'the quick brown fox jumps over a lazy dog while seven agents read source files and write tests about budgets'.split(' ');
function text(bytes: number): string {
  const out: string[] = [];
  for (let i = 0, n = 0; n < bytes; i++) {
    const w = WORDS[(i * 7 + (i >> 3)) % WORDS.length]!;
    out.push(w);
    n += w.length + 1;
  }
  return out.join(' ');
}

function respond(st: Stack, secret: string, body: Record<string, unknown>): Promise<Response> {
  return fetch(`${st.baseURL}/responses`, { method: 'POST', headers: { authorization: `Bearer ${secret}`, 'content-type': 'application/json' }, body: JSON.stringify(body) });
}

function spentMicros(st: Stack, tokenId: string): number {
  return st.daemon.db.prepare('SELECT COALESCE(SUM(cost_micros), 0) FROM usage WHERE token_id = ?').pluck().get(tokenId) as number;
}

/** gpt-4o in the simulator: $2.5 per 1M prompt tokens, $10 per 1M completion tokens. */
const promptMicros = (tokens: number) => Math.ceil(tokens * 2.5);

describe('previous_response_id of a response this sidecar relayed (issue 25 item 2)', () => {
  let previous = '';
  let carried = 0;
  let creator = '';

  beforeAll(async () => {
    const { secret, token } = s.token({ budgetUsd: 10 });
    creator = token.id;
    const r = await respond(s, secret, { model: 'gpt-4o', input: text(40_000), max_output_tokens: 16 });
    expect(r.status).toBe(200);
    const body = (await r.json()) as { id: string; usage: { input_tokens: number; output_tokens: number } };
    previous = body.id;
    carried = body.usage.input_tokens + body.usage.output_tokens;
    expect(carried).toBeGreaterThan(5000);
  });

  it('is counted: a budget below what the continued prompt costs is refused 402, nothing sent, nothing spent', async () => {
    // "hi" and 16 output tokens cost well under a cent; the prepended items alone cost more than this budget.
    const budgetMicros = Math.floor(promptMicros(carried) * 0.9);
    // A child of the token that made it: its own family may continue it.
    const { secret, token: { id } } = s.token({ budgetMicros, parentId: creator });
    const from = s.sim.requests.length;
    const before = s.sim.balanceMicros();
    const r = await respond(s, secret, { model: 'gpt-4o', input: 'hi', max_output_tokens: 16, previous_response_id: previous });
    expect(r.status).toBe(402);
    await r.arrayBuffer();
    expect(s.sim.requests.slice(from).filter((q) => q.path.endsWith('/responses'))).toHaveLength(0);
    expect(s.sim.balanceMicros()).toBe(before);
    expect(spentMicros(s, id)).toBe(0);
  });

  it('belongs to the token that made it and its family: another token naming it gets 404, nothing sent', async () => {
    const { secret, token: { id } } = s.token({ budgetUsd: 10 });
    const from = s.sim.requests.length;
    const r = await respond(s, secret, { model: 'gpt-4o', input: 'hi', max_output_tokens: 16, previous_response_id: previous });
    expect(r.status).toBe(404);
    expect(((await r.json()) as { error: { code: string } }).error.code).toBe('response_not_found');
    expect(s.sim.requests.slice(from).filter((q) => q.path.endsWith('/responses'))).toHaveLength(0);
    expect(spentMicros(s, id)).toBe(0);
  });

  it('a budget that holds the bound is admitted, and the bound reserved is at least what the upstream charged', async () => {
    const bound = promptMicros(carried + 64) + 16 * 10;
    const budgetMicros = bound + 2000;
    const { secret, token: { id } } = s.token({ budgetMicros, parentId: creator });
    const before = s.sim.balanceMicros();
    const r = await respond(s, secret, { model: 'gpt-4o', input: 'hi', max_output_tokens: 16, previous_response_id: previous });
    expect(r.status).toBe(200);
    const body = (await r.json()) as { usage: { input_tokens: number } };
    // The simulator billed the previous items as input, as the real API does.
    expect(body.usage.input_tokens).toBeGreaterThan(carried);
    const charged = before - s.sim.balanceMicros();
    expect(spentMicros(s, id)).toBe(charged);
    expect(charged).toBeLessThanOrEqual(budgetMicros);
    // And the chain continues: the answer is recorded with its own tokens for the next one.
    const row = s.daemon.db.prepare('SELECT tokens FROM relayed_responses WHERE response_id = ?').pluck().get((body as unknown as { id: string }).id);
    expect(row).toBeGreaterThan(carried);
  });
});

describe('streamed responses are recorded too', () => {
  it('a streamed answer\'s id and tokens are recorded from its closing event, so continuing it is bounded the same way', async () => {
    const { secret, token: maker } = s.token({ budgetUsd: 10 });
    const r = await respond(s, secret, { model: 'gpt-4o', input: text(20_000), max_output_tokens: 16, stream: true });
    expect(r.status).toBe(200);
    const sse = await r.text();
    const id = /"response":\{"id":"(resp_[^"]+)"/.exec(sse)?.[1];
    expect(id).toBeDefined();
    const tokens = s.daemon.db.prepare('SELECT tokens FROM relayed_responses WHERE response_id = ?').pluck().get(id) as number;
    expect(tokens).toBeGreaterThan(2500);
    const tight = s.token({ budgetMicros: Math.floor(promptMicros(tokens) * 0.9), parentId: maker.id });
    const refused = await respond(s, tight.secret, { model: 'gpt-4o', input: 'hi', max_output_tokens: 16, previous_response_id: id, stream: true });
    expect(refused.status).toBe(402);
    await refused.arrayBuffer();
  });
});

describe('previous_response_id unknown to the sidecar, or a conversation (issue 25 item 2)', () => {
  let foreign = '';
  beforeAll(async () => {
    // A response made at the upstream directly, not through this sidecar: it has never seen its tokens.
    const r = await fetch(`${s.sim.url}/responses`, { method: 'POST', headers: { authorization: `Bearer ${s.simKey}`, 'content-type': 'application/json' }, body: JSON.stringify({ model: 'gpt-4o', input: text(40_000), max_output_tokens: 16 }) });
    expect(r.status).toBe(200);
    foreign = ((await r.json()) as { id: string }).id;
  });

  it('without a synced context window, a token with a budget is refused 400 unbounded_prompt (parsed and scanned bodies), nothing sent', async () => {
    const { secret, token: { id } } = s.token({ budgetUsd: 5 });
    const from = s.sim.requests.length;
    for (const body of [
      { model: 'gpt-4o', input: 'hi', max_output_tokens: 16, previous_response_id: foreign },
      { model: 'gpt-4o', input: text(70 * 1024), max_output_tokens: 16, previous_response_id: foreign },
      { model: 'gpt-4o', input: 'hi', max_output_tokens: 16, conversation: 'conv_sim_1' },
    ]) {
      const r = await respond(s, secret, body);
      expect(r.status).toBe(400);
      const e = (await r.json()) as { error: { code: string; message: string } };
      expect(e.error.code).toBe('unbounded_prompt');
      expect(e.error.message).toContain('context window');
    }
    expect(s.sim.requests.slice(from).filter((q) => q.path.endsWith('/responses'))).toHaveLength(0);
    expect(spentMicros(s, id)).toBe(0);
  });

  it('with the context window synced, it is the prompt bound: a budget below it is refused 402, one above it is admitted and spends no more than it', async () => {
    const r2 = await startStack();
    try {
      // As a listing that names a context window gives it (the simulator's lists none).
      r2.daemon.deps.prices.syncFromUpstream([{ id: 'gpt-4o', pricing: { prompt: 2.5, completion: 10 }, context_length: 20_000 }], Date.now());
      expect(r2.daemon.deps.prices.contextLimit('gpt-4o')).toBe(20_000);
      const made = await fetch(`${r2.sim.url}/responses`, { method: 'POST', headers: { authorization: `Bearer ${r2.simKey}`, 'content-type': 'application/json' }, body: JSON.stringify({ model: 'gpt-4o', input: text(40_000), max_output_tokens: 16 }) });
      const other = ((await made.json()) as { id: string }).id;
      const window = promptMicros(20_000) + 16 * 10;

      const tight = r2.token({ budgetMicros: window - 1000 });
      const refused = await respond(r2, tight.secret, { model: 'gpt-4o', input: 'hi', max_output_tokens: 16, previous_response_id: other });
      expect(refused.status).toBe(402);
      await refused.arrayBuffer();
      expect(spentMicros(r2, tight.token.id)).toBe(0);

      const room = r2.token({ budgetMicros: window + 1000 });
      const before = r2.sim.balanceMicros();
      const ok = await respond(r2, room.secret, { model: 'gpt-4o', input: 'hi', max_output_tokens: 16, previous_response_id: other });
      expect(ok.status).toBe(200);
      await ok.arrayBuffer();
      const charged = before - r2.sim.balanceMicros();
      expect(charged).toBeGreaterThan(promptMicros(5000));
      expect(spentMicros(r2, room.token.id)).toBe(charged);
      expect(charged).toBeLessThanOrEqual(window + 1000);

      // A conversation (its items live upstream, never in the body) is bounded by the window the same way.
      const convTight = r2.token({ budgetMicros: window - 1000 });
      const convRefused = await respond(r2, convTight.secret, { model: 'gpt-4o', input: 'hi', max_output_tokens: 16, conversation: 'conv_sim_1' });
      expect(convRefused.status).toBe(402);
      await convRefused.arrayBuffer();
      const convRoom = r2.token({ budgetMicros: window + 1000 });
      const convOk = await respond(r2, convRoom.secret, { model: 'gpt-4o', input: 'hi', max_output_tokens: 16, conversation: 'conv_sim_1' });
      expect(convOk.status).toBe(200);
      await convOk.arrayBuffer();
      expect(spentMicros(r2, convRoom.token.id)).toBeLessThanOrEqual(window + 1000);
    } finally {
      await r2.close();
    }
  });

  it('a token without a budget or hold is not refused: nothing to overspend', async () => {
    const { secret } = s.token({ budgetUsd: null });
    const r = await respond(s, secret, { model: 'gpt-4o', input: 'hi', max_output_tokens: 16, previous_response_id: foreign });
    expect(r.status).toBe(200);
    await r.arrayBuffer();
  });
});
