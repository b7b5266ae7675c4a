/**
 * The official `openai` SDK (v6, TypeScript) pointed at the sidecar with only
 * baseURL and apiKey changed, against the simulator: every call an agent
 * makes, and every refusal surfacing as the SDK's own error class.
 */
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startStack, type Stack } from '../helpers/stack.js';

let s: Stack;
beforeAll(async () => {
  s = await startStack();
});
afterAll(async () => {
  await s?.close();
});

function client(apiKey: string, opts: { maxRetries?: number } = {}): OpenAI {
  return new OpenAI({ baseURL: s.baseURL, apiKey, maxRetries: opts.maxRetries ?? 0 });
}

const weather = {
  type: 'function' as const,
  function: {
    name: 'get_weather',
    description: 'Weather for a city',
    parameters: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] },
  },
};

describe('openai SDK: calls', () => {
  it('chat completion', async () => {
    const { secret } = s.token();
    const r = await client(secret).chat.completions.create({ model: 'gemini/gemini-2.5-flash', messages: [{ role: 'user', content: 'Hello' }] });
    expect(r.object).toBe('chat.completion');
    expect(r.choices[0]!.message.content).toBe('Echo: Hello');
    expect(r.usage!.total_tokens).toBeGreaterThan(0);
  });

  it('streaming chat, with and without the usage chunk', async () => {
    const { secret } = s.token();
    const stream = await client(secret).chat.completions.create({
      model: 'gpt-4o-mini',
      messages: [{ role: 'user', content: 'stream these words to me' }],
      stream: true,
    });
    let text = '';
    let chunks = 0;
    for await (const c of stream) {
      chunks++;
      text += c.choices[0]?.delta.content ?? '';
    }
    expect(text).toBe('Echo: stream these words to me');
    expect(chunks).toBeGreaterThan(3);

    // The SDK's stream helper (used by agents that want events and a final message).
    const runner = client(secret).chat.completions.stream({
      model: 'gpt-4o-mini',
      messages: [{ role: 'user', content: 'final please' }],
      stream_options: { include_usage: true },
    });
    const deltas: string[] = [];
    runner.on('content', (d) => deltas.push(d));
    const final = await runner.finalChatCompletion();
    expect(final.choices[0]!.message.content).toBe('Echo: final please');
    expect(deltas.join('')).toBe('Echo: final please');
    expect(final.usage?.completion_tokens).toBeGreaterThan(0);
  });

  it('tool calls, plain and streamed', async () => {
    const { secret } = s.token();
    const r = await client(secret).chat.completions.create({
      model: 'gpt-4o',
      messages: [{ role: 'user', content: 'Weather in Paris?' }],
      tools: [weather],
    });
    expect(r.choices[0]!.finish_reason).toBe('tool_calls');
    const call = r.choices[0]!.message.tool_calls![0]!;
    expect(call.type).toBe('function');
    if (call.type !== 'function') throw new Error('not a function call');
    expect(call.function.name).toBe('get_weather');
    expect(JSON.parse(call.function.arguments)).toHaveProperty('city');

    const runner = client(secret).chat.completions.stream({ model: 'gpt-4o', messages: [{ role: 'user', content: 'Weather in Oslo?' }], tools: [weather] });
    const final = await runner.finalChatCompletion();
    const streamed = final.choices[0]!.message.tool_calls![0]!;
    if (streamed.type !== 'function') throw new Error('not a function call');
    expect(streamed.function.name).toBe('get_weather');
    expect(JSON.parse(streamed.function.arguments)).toEqual(JSON.parse(call.function.arguments));
  });

  it('JSON mode and a JSON schema response_format', async () => {
    const { secret } = s.token();
    const json = await client(secret).chat.completions.create({
      model: 'gpt-4o-mini',
      messages: [{ role: 'user', content: 'as json' }],
      response_format: { type: 'json_object' },
    });
    expect(JSON.parse(json.choices[0]!.message.content!)).toEqual({ echo: 'as json' });
    const schema = await client(secret).chat.completions.create({
      model: 'gpt-4o-mini',
      messages: [{ role: 'user', content: 'schema' }],
      response_format: {
        type: 'json_schema',
        json_schema: { name: 'echo', strict: true, schema: { type: 'object', properties: { echo: { type: 'string' } }, required: ['echo'], additionalProperties: false } },
      },
    });
    expect(JSON.parse(schema.choices[0]!.message.content!)).toEqual({ echo: 'schema' });
  });

  it('embeddings (the SDK asks for base64 and decodes it)', async () => {
    const { secret } = s.token();
    const r = await client(secret).embeddings.create({ model: 'text-embedding-3-small', input: ['alpha', 'beta'] });
    expect(r.data).toHaveLength(2);
    expect(r.data[0]!.embedding).toHaveLength(8);
    expect(r.data[0]!.embedding.every((x) => Number.isFinite(x))).toBe(true);
    expect(r.data[0]!.embedding).not.toEqual(r.data[1]!.embedding);
    expect(JSON.parse(s.sim.requests.at(-1)!.body).encoding_format).toBe('base64');
  });

  it('the Responses API, plain and streamed', async () => {
    const { secret } = s.token();
    const r = await client(secret).responses.create({ model: 'gpt-4o', input: 'respond to me' });
    expect(r.output_text).toBe('Echo: respond to me');
    expect(r.usage?.output_tokens).toBeGreaterThan(0);
    const stream = await client(secret).responses.create({ model: 'gpt-4o', input: 'stream a response', stream: true });
    let text = '';
    const types = new Set<string>();
    for await (const ev of stream) {
      types.add(ev.type);
      if (ev.type === 'response.output_text.delta') text += ev.delta;
    }
    expect(text).toBe('Echo: stream a response');
    expect(types).toContain('response.created');
    expect(types).toContain('response.completed');
  });

  it('models.list (auto-paginated) and models.retrieve with a slash in the id', async () => {
    const { secret } = s.token({ preset: 'read-only' });
    const ids: string[] = [];
    for await (const m of client(secret).models.list()) ids.push(m.id);
    expect(ids).toEqual(expect.arrayContaining(['gemini/gemini-2.5-flash', 'gpt-4o-mini', 'text-embedding-3-small']));
    const one = await client(secret).models.retrieve('gemini/gemini-2.5-flash');
    expect(one.id).toBe('gemini/gemini-2.5-flash');
  });
});

describe('openai SDK: refusals are the SDK\'s own error classes', () => {
  async function failure(p: Promise<unknown>): Promise<InstanceType<typeof OpenAI.APIError>> {
    const e = await p.then(
      () => null,
      (err: unknown) => err,
    );
    expect(e).toBeInstanceOf(OpenAI.APIError);
    return e as InstanceType<typeof OpenAI.APIError>;
  }
  const hello = { model: 'gpt-4o-mini', messages: [{ role: 'user' as const, content: 'hi' }] };

  it('401: a wrong token is an AuthenticationError', async () => {
    const good = s.token().secret;
    const wrong = good.slice(0, -1) + (good.endsWith('a') ? 'b' : 'a');
    const e = await failure(client(wrong).chat.completions.create(hello));
    expect(e).toBeInstanceOf(OpenAI.AuthenticationError);
    expect(e.status).toBe(401);
    expect(e.code).toBe('invalid_token');
    expect(e.type).toBe('authentication_error');
  });

  it('402: an exhausted budget is an APIError with status 402 and code budget_exhausted, not retried', async () => {
    const { secret } = s.token({ budgetUsd: 0.000001 });
    s.sim.clearRequests();
    const e = await failure(client(secret, { maxRetries: 2 }).chat.completions.create({ ...hello, model: 'claude-4-5-sonnet' }));
    expect(e.status).toBe(402);
    expect(e.code).toBe('budget_exhausted');
    expect(e.message).toContain('Budget exhausted');
    expect(s.sim.requests).toHaveLength(0);
  });

  it('403: a missing scope is a PermissionDeniedError', async () => {
    const { secret } = s.token({ preset: 'read-only' });
    const e = await failure(client(secret).chat.completions.create(hello));
    expect(e).toBeInstanceOf(OpenAI.PermissionDeniedError);
    expect(e.status).toBe(403);
  });

  it('404: an unknown model (from upstream) and an unknown route (local) are NotFoundErrors', async () => {
    const { secret } = s.token({ preset: 'admin' });
    const model = await failure(client(secret).models.retrieve('no-such-model'));
    expect(model).toBeInstanceOf(OpenAI.NotFoundError);
    expect(model.status).toBe(404);
    s.sim.clearRequests();
    const route = await failure(client(secret).files.list());
    expect(route).toBeInstanceOf(OpenAI.NotFoundError);
    expect(route.code).toBe('unknown_route');
    expect(s.sim.requests).toHaveLength(0);
  });

  it('429: a token over its rate is a RateLimitError carrying Retry-After', async () => {
    const { secret } = s.token({ rpm: 1 });
    await client(secret).models.list();
    const e = await failure(client(secret).models.list());
    expect(e).toBeInstanceOf(OpenAI.RateLimitError);
    expect(e.status).toBe(429);
    expect(Number(e.headers?.get('retry-after'))).toBeGreaterThanOrEqual(1);
  });

  it('429 from upstream: the SDK\'s own retry honours Retry-After and then succeeds', async () => {
    const { secret } = s.token();
    s.sim.clearRequests();
    s.sim.faults.failNext = { count: 1, status: 429, retryAfter: 1 };
    const started = performance.now();
    const r = await client(secret, { maxRetries: 1 }).chat.completions.create({ ...hello, messages: [{ role: 'user', content: 'retry me' }] });
    const elapsed = performance.now() - started;
    expect(r.choices[0]!.message.content).toBe('Echo: retry me');
    expect(s.sim.requests.filter((q) => q.path === '/v1/chat/completions')).toHaveLength(2);
    // Retry-After: 1 means the SDK waited about a second before its retry (not its 0.5 s default backoff).
    expect(elapsed).toBeGreaterThanOrEqual(950);
  });
});
