/**
 * The Anthropic Messages API on the sidecar (issue 18 item 2), driven by the
 * official `@anthropic-ai/sdk` against a real daemon and the SkillBoss
 * simulator (which speaks chat completions): messages, streams, a tool round
 * trip and count_tokens, the sidecar's refusals as the SDK's own error
 * classes, and one ledger row per request with the upstream's figures.
 */
import Anthropic, { APIError } from '@anthropic-ai/sdk';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ledgerOf } from '../helpers/ledger.js';
import { startStack, type Stack } from '../helpers/stack.js';

let s: Stack;
const MODEL = 'claude-4-5-sonnet';

beforeAll(async () => {
  s = await startStack();
});
afterAll(async () => {
  await s?.close();
});

const rows = (tokenId: string) => ledgerOf(s.daemon.db, tokenId);

/** The SDK as Claude Code is configured: the base URL without /v1, the token as a bearer (ANTHROPIC_AUTH_TOKEN). */
function client(secret: string, as: 'authToken' | 'apiKey' = 'authToken'): Anthropic {
  return new Anthropic({ baseURL: s.daemon.url, ...(as === 'apiKey' ? { apiKey: secret } : { authToken: secret, apiKey: null }), maxRetries: 0 });
}

/** The chat request the simulator received last. */
function lastUpstreamChat(): Record<string, unknown> {
  const r = s.sim.requests.filter((q) => q.path === '/v1/chat/completions').at(-1);
  return JSON.parse(r!.body) as Record<string, unknown>;
}

const weather: Anthropic.Tool = {
  name: 'get_weather',
  description: 'Current weather for a city',
  input_schema: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] },
};

describe('POST /v1/messages through the Anthropic SDK', () => {
  it('answers a message, with x-api-key or a bearer token, and leaves a ledger row with the upstream usage', async () => {
    const { token, secret } = s.token({ budgetUsd: 5 });
    for (const as of ['apiKey', 'authToken'] as const) {
      const msg = await client(secret, as).messages.create({ model: MODEL, max_tokens: 64, system: 'Be brief.', messages: [{ role: 'user', content: 'Hello' }] });
      expect(msg.type).toBe('message');
      expect(msg.role).toBe('assistant');
      expect(msg.model).toBe(MODEL);
      expect(msg.content).toEqual([{ type: 'text', text: 'Echo: Hello' }]);
      expect(msg.stop_reason).toBe('end_turn');
      expect(msg.usage.input_tokens).toBeGreaterThan(0);
      expect(msg.usage.output_tokens).toBeGreaterThan(0);
      const row = rows(token.id).at(-1)!;
      expect(row).toMatchObject({ route: '/v1/messages', model: MODEL, status: 200, streamed: 0, usage_source: 'upstream', error_code: null });
      expect([row.prompt_tokens, row.completion_tokens]).toEqual([msg.usage.input_tokens, msg.usage.output_tokens]);
      // $15 per million tokens, both ways, as the simulator prices this model.
      expect(row.cost_micros).toBe(Math.ceil((msg.usage.input_tokens + msg.usage.output_tokens) * 15));
    }
    // The upstream got a chat completions request with the system prompt first, never the agent's token.
    const up = lastUpstreamChat();
    expect(up.messages).toEqual([{ role: 'system', content: 'Be brief.' }, { role: 'user', content: 'Hello' }]);
    expect(up.max_tokens).toBe(64);
    const headers = s.sim.requests.at(-1)!.headers;
    expect(headers.authorization).toBe(`Bearer ${s.simKey}`);
    expect(JSON.stringify(headers)).not.toContain(secret);
  });

  it('streams: text arrives event by event and the final message carries the usage the ledger records', async () => {
    const { token, secret } = s.token();
    const stream = client(secret).messages.stream({ model: MODEL, max_tokens: 64, messages: [{ role: 'user', content: 'one two three four five' }] });
    const types: string[] = [];
    let text = '';
    for await (const ev of stream) {
      types.push(ev.type);
      if (ev.type === 'content_block_delta' && ev.delta.type === 'text_delta') text += ev.delta.text;
    }
    const final = await stream.finalMessage();
    expect(text).toBe('Echo: one two three four five');
    expect(final.content).toEqual([{ type: 'text', text }]);
    expect(final.stop_reason).toBe('end_turn');
    expect(types[0]).toBe('message_start');
    expect(types.filter((t) => t === 'content_block_delta').length).toBeGreaterThan(3);
    expect(types.slice(-3)).toEqual(['content_block_stop', 'message_delta', 'message_stop']);
    const row = rows(token.id).at(-1)!;
    expect(row).toMatchObject({ route: '/v1/messages', status: 200, streamed: 1, usage_source: 'upstream' });
    expect([row.prompt_tokens, row.completion_tokens]).toEqual([final.usage.input_tokens, final.usage.output_tokens]);
  });

  it('relays a stream as it is produced, never waiting for its end (the upstream here never ends)', async () => {
    const { token, secret } = s.token();
    s.sim.faults = { streamForever: true };
    try {
      const stream = client(secret).messages.stream({ model: MODEL, max_tokens: 64, messages: [{ role: 'user', content: 'go' }] });
      let deltas = 0;
      for await (const ev of stream) {
        if (ev.type === 'content_block_delta' && ++deltas === 5) break; // leaves the stream: the SDK aborts the request
      }
      expect(deltas).toBe(5);
      // The abandoned stream is still metered: what was delivered is charged.
      await expect.poll(() => rows(token.id).at(-1)?.status, { timeout: 10_000 }).toBe(499);
      expect(rows(token.id).at(-1)).toMatchObject({ streamed: 1, error_code: 'client_closed', usage_source: 'counted' });
      expect(rows(token.id).at(-1)!.completion_tokens).toBeGreaterThan(0);
    } finally {
      s.sim.faults = {};
    }
  });

  it('does a tool round trip: tool_use → tool_result → text', async () => {
    const { secret } = s.token();
    const c = client(secret);
    const question: Anthropic.MessageParam = { role: 'user', content: 'What is the weather in Paris? Use the get_weather tool.' };
    const first = await c.messages.create({ model: MODEL, max_tokens: 128, tools: [weather], messages: [question] });
    expect(first.stop_reason).toBe('tool_use');
    const use = first.content.find((b): b is Anthropic.ToolUseBlock => b.type === 'tool_use')!;
    expect(use.name).toBe('get_weather');
    expect(use.input).toHaveProperty('city');
    expect(lastUpstreamChat().tools).toEqual([{ type: 'function', function: { name: 'get_weather', description: weather.description, parameters: weather.input_schema } }]);

    const second = await c.messages.create({
      model: MODEL,
      max_tokens: 128,
      tools: [weather],
      messages: [question, { role: 'assistant', content: first.content }, { role: 'user', content: [{ type: 'tool_result', tool_use_id: use.id, content: '18 °C and sunny' }] }],
    });
    // The tool call and its result reached the upstream as chat messages, paired by id.
    const sent = lastUpstreamChat().messages as Array<Record<string, unknown>>;
    expect(sent.at(-2)).toMatchObject({ role: 'assistant', tool_calls: [{ id: use.id, type: 'function', function: { name: 'get_weather', arguments: JSON.stringify(use.input) } }] });
    expect(sent.at(-1)).toEqual({ role: 'tool', tool_call_id: use.id, content: '18 °C and sunny' });
    expect(second.stop_reason).toBe('end_turn');
    expect(second.content[0]).toMatchObject({ type: 'text' });
  });

  it('streams a tool call as input_json_delta and assembles its input', async () => {
    const { secret } = s.token();
    const stream = client(secret).messages.stream({ model: MODEL, max_tokens: 128, tools: [weather], tool_choice: { type: 'tool', name: 'get_weather' }, messages: [{ role: 'user', content: 'Weather in Paris?' }] });
    let json = '';
    stream.on('inputJson', (partial) => {
      json += partial;
    });
    const final = await stream.finalMessage();
    expect(final.stop_reason).toBe('tool_use');
    const use = final.content.find((b): b is Anthropic.ToolUseBlock => b.type === 'tool_use')!;
    expect(use.input).toEqual(JSON.parse(json));
    expect(lastUpstreamChat().tool_choice).toEqual({ type: 'function', function: { name: 'get_weather' } });
  });

  it('counts tokens as the upstream will bill the same prompt, for free', async () => {
    const { token, secret } = s.token();
    const c = client(secret);
    const params = { model: MODEL, system: 'Be brief.', tools: [weather], messages: [{ role: 'user' as const, content: 'How many tokens is this?' }] };
    const before = s.sim.requests.length;
    const counted = await c.messages.countTokens(params);
    expect(s.sim.requests.length).toBe(before); // answered by the sidecar
    const msg = await c.messages.create({ ...params, max_tokens: 16, tool_choice: { type: 'none' } });
    expect(counted.input_tokens).toBe(msg.usage.input_tokens);
    expect(rows(token.id).find((r) => r.route === '/v1/messages/count_tokens')).toMatchObject({ status: 200, cost_micros: 0 });
  });
});

describe("the sidecar's refusals as Anthropic errors", () => {
  it('401 for a bad key, as AuthenticationError with an authentication_error body', async () => {
    const { secret } = s.token();
    const bad = `${secret.slice(0, -1)}${secret.endsWith('A') ? 'B' : 'A'}`;
    for (const as of ['apiKey', 'authToken'] as const) {
      const err = await client(bad, as).messages.create({ model: MODEL, max_tokens: 8, messages: [{ role: 'user', content: 'x' }] }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(Anthropic.AuthenticationError);
      expect((err as APIError).status).toBe(401);
      expect((err as APIError).error).toMatchObject({ type: 'error', error: { type: 'authentication_error', code: 'invalid_token' } });
    }
  });

  it('takes the token from x-api-key and Authorization alike, and refuses two different tokens', async () => {
    const a = s.token().secret;
    const b = s.token().secret;
    const send = (headers: Record<string, string>) =>
      fetch(`${s.daemon.url}/v1/messages`, { method: 'POST', headers: { 'content-type': 'application/json', 'anthropic-version': '2023-06-01', ...headers }, body: JSON.stringify({ model: MODEL, max_tokens: 8, messages: [{ role: 'user', content: 'x' }] }) });
    // Claude Code's apiKeyHelper sends the same token both ways; an Anthropic key left in the environment is not ours and is ignored.
    expect((await send({ 'x-api-key': a, authorization: `Bearer ${a}` })).status).toBe(200);
    expect((await send({ 'x-api-key': 'sk-ant-api03-elsewhere', authorization: `Bearer ${a}` })).status).toBe(200);
    expect((await send({ 'x-api-key': a, authorization: 'Bearer sk-ant-api03-elsewhere' })).status).toBe(200);
    const two = await send({ 'x-api-key': a, authorization: `Bearer ${b}` });
    expect(two.status).toBe(401);
    expect(await two.json()).toMatchObject({ type: 'error', error: { type: 'authentication_error', message: expect.stringContaining('two different') } });
    expect(JSON.stringify(s.sim.requests.at(-1)!.headers)).not.toContain('sk-ant-api03-elsewhere');
  });

  it('403 without models:use, as PermissionDeniedError', async () => {
    const { token, secret } = s.token({ preset: 'read-only' });
    const err = await client(secret).messages.create({ model: MODEL, max_tokens: 8, messages: [{ role: 'user', content: 'x' }] }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(Anthropic.PermissionDeniedError);
    expect((err as APIError).error).toMatchObject({ type: 'error', error: { type: 'permission_error', code: 'insufficient_scope' } });
    expect(rows(token.id).at(-1)).toMatchObject({ route: '/v1/messages', status: 403, cost_micros: 0 });
  });

  it('402 over budget before anything goes upstream, as an APIError with billing_error', async () => {
    const { token, secret } = s.token({ budgetMicros: 100 });
    s.sim.clearRequests();
    const err = await client(secret).messages.create({ model: MODEL, max_tokens: 4096, messages: [{ role: 'user', content: 'x' }] }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(Anthropic.APIError);
    expect((err as APIError).status).toBe(402);
    expect((err as APIError).error).toMatchObject({ type: 'error', error: { type: 'billing_error', code: 'budget_exhausted' } });
    expect(s.sim.requests).toHaveLength(0);
    expect(rows(token.id).at(-1)).toMatchObject({ status: 402, error_code: 'budget_exhausted' });
  });

  it('429 past the rate limit, as RateLimitError with Retry-After', async () => {
    const { secret } = s.token({ rpm: 1 });
    const c = client(secret);
    await c.messages.create({ model: MODEL, max_tokens: 8, messages: [{ role: 'user', content: 'x' }] });
    const err = await c.messages.create({ model: MODEL, max_tokens: 8, messages: [{ role: 'user', content: 'x' }] }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(Anthropic.RateLimitError);
    expect((err as APIError).error).toMatchObject({ type: 'error', error: { type: 'rate_limit_error', code: 'rate_limit_exceeded' } });
    expect(Number((err as APIError).headers?.get('retry-after'))).toBeGreaterThan(0);
  });

  it("404 for a model SkillBoss does not serve (Claude Code's own default names), as NotFoundError", async () => {
    const { secret } = s.token();
    const err = await client(secret).messages.create({ model: 'claude-sonnet-4-5-20250929', max_tokens: 8, messages: [{ role: 'user', content: 'x' }] }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(Anthropic.NotFoundError);
    expect((err as APIError).error).toMatchObject({ type: 'error', error: { type: 'not_found_error', message: expect.stringContaining('claude-sonnet-4-5-20250929') } });
    expect((err as APIError).message).toContain('ANTHROPIC_MODEL');
  });

  it('400 for a request the translation cannot carry, naming the field', async () => {
    const { secret } = s.token();
    const err = await client(secret)
      .messages.create({ model: MODEL, max_tokens: 8, messages: [{ role: 'user', content: [{ type: 'document', source: { type: 'text', media_type: 'text/plain', data: 'x' } }] }] })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(Anthropic.BadRequestError);
    expect((err as APIError).message).toContain('messages.0.content.0.type');
  });
});
