import { encode } from 'gpt-tokenizer/encoding/cl100k_base';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { countChatPromptTokens, countTokens } from '../../../proxy/pricing/tokenizer.js';
import { SIMULATOR_MODELS, startSimulator, type Simulator } from '../../../proxy/simulator/index.js';
import { ADMIN_KEY, api, readSse, send } from './helpers.js';

let sim: Simulator;
beforeEach(async () => {
  sim = await startSimulator({ apiKey: ADMIN_KEY });
});
afterEach(async () => {
  await sim.close();
});

const userMsg = (content: string) => [{ role: 'user', content }];

describe('auth and routing', () => {
  it('refuses missing, malformed and unknown keys with 401 invalid_api_key', async () => {
    for (const key of [null, 'not-a-sk-key', 'sk-unknown-key']) {
      const r = await api(sim, 'GET', '/models', { key });
      expect(r.status).toBe(401);
      expect(r.json.error.type).toBe('authentication_error');
      expect(r.json.error.code).toBe('invalid_api_key');
    }
  });

  it('refuses a key lacking the route scope with 403 naming the scope', async () => {
    const child = await api(sim, 'POST', '/api-keys', { body: { name: 'ro', scopes: ['models:read'] } });
    expect(child.status).toBe(200);
    const key = child.json.api_key as string;
    expect((await api(sim, 'GET', '/models', { key })).status).toBe(200);
    const r = await api(sim, 'POST', '/chat/completions', { key, body: { model: 'gpt-4o-mini', messages: userMsg('hi') } });
    expect(r.status).toBe(403);
    expect(r.json.error).toMatchObject({ type: 'permission_error', code: 'insufficient_scope' });
    expect(r.json.error.message).toContain('models:use');
    expect((await api(sim, 'GET', '/balance', { key })).status).toBe(403);
  });

  it('answers 404 not_found_error for unknown routes and records every request before auth', async () => {
    const r = await api(sim, 'GET', '/nope?x=1', { key: null });
    expect(r.status).toBe(404);
    expect(r.json.error.type).toBe('not_found_error');
    await api(sim, 'POST', '/chat/completions?trace=1', { key: 'sk-bad', body: { a: 1 } });
    await api(sim, 'GET', '/_sim/requests');
    expect(sim.requests.map((q) => `${q.method} ${q.path}`)).toEqual(['GET /v1/nope?x=1', 'POST /v1/chat/completions?trace=1']);
    expect(sim.requests[1]?.body).toBe('{"a":1}');
    expect(sim.requests[1]?.headers.authorization).toBe('Bearer sk-bad');
    sim.clearRequests();
    expect(sim.requests).toHaveLength(0);
  });
});

describe('models', () => {
  it('lists the catalogue, every entry in one shape with both price forms', async () => {
    const r = await api(sim, 'GET', '/models');
    expect(r.status).toBe(200);
    expect(r.json.object).toBe('list');
    const byId = new Map<string, Record<string, unknown>>(r.json.data.map((m: { id: string }) => [m.id, m]));
    expect(byId.get('gemini/gemini-2.5-flash')).toMatchObject({ object: 'model', cost: 0.075 });
    expect(byId.get('claude-4-5-sonnet')).toMatchObject({ cost: 15 });
    expect(byId.get('gpt-4o-mini')).toMatchObject({ pricing: { prompt: 0.15, completion: 0.6 } });
    expect(byId.get('gpt-4o')).toMatchObject({ pricing: { prompt: 2.5, completion: 10 } });
    expect(byId.get('text-embedding-3-small')).toMatchObject({ pricing: { prompt: 0.02, completion: 0 } });
    expect(r.json.data).toHaveLength(SIMULATOR_MODELS.length);
    const keys = r.json.data.map((m: Record<string, unknown>) => Object.keys(m).sort().join(','));
    expect(new Set(keys)).toEqual(new Set(['cost,created,id,object,owned_by,pricing']));
  });

  it('gets one model by an id containing a slash, and 404s unknown ones', async () => {
    const r = await api(sim, 'GET', '/models/gemini/gemini-2.5-flash');
    expect(r.status).toBe(200);
    expect(r.json.id).toBe('gemini/gemini-2.5-flash');
    const miss = await api(sim, 'GET', '/models/no-such-model');
    expect(miss.status).toBe(404);
    expect(miss.json.error.code).toBe('model_not_found');
    const chat = await api(sim, 'POST', '/chat/completions', { body: { model: 'no-such-model', messages: userMsg('x') } });
    expect(chat.status).toBe(404);
    expect(chat.json.error.code).toBe('model_not_found');
  });
});

describe('chat completions (JSON)', () => {
  it('echoes the last user message with exact usage and charges tokens × price', async () => {
    const messages = [{ role: 'system', content: 'be brief' }, { role: 'user', content: 'earlier' }, { role: 'assistant', content: 'ok' }, { role: 'user', content: 'hello there' }];
    const before = sim.balanceMicros();
    const r = await api(sim, 'POST', '/chat/completions', { body: { model: 'gpt-4o-mini', messages } });
    expect(r.status).toBe(200);
    expect(r.json.id).toMatch(/^chatcmpl-sim-\d+$/);
    expect(r.json.object).toBe('chat.completion');
    expect(r.json.choices[0]).toEqual({ index: 0, message: { role: 'assistant', content: 'Echo: hello there' }, finish_reason: 'stop', logprobs: null });
    const pt = countChatPromptTokens(messages);
    const ct = encode('Echo: hello there').length;
    expect(r.json.usage).toEqual({ prompt_tokens: pt, completion_tokens: ct, total_tokens: pt + ct });
    expect(r.json.usage.cost).toBeUndefined();
    expect(r.headers.get('x-skillboss-cost')).toBeNull();
    // gpt-4o-mini: 0.15 / 0.6 USD per 1M tokens = micro-dollars per token.
    expect(before - sim.balanceMicros()).toBe(Math.ceil((pt * 15 + ct * 60) / 100));
  });

  it('truncates to max_tokens with finish_reason length', async () => {
    const r = await api(sim, 'POST', '/chat/completions', {
      body: { model: 'gpt-4o-mini', max_tokens: 3, messages: userMsg('one two three four five six') },
    });
    expect(r.json.choices[0].message.content).toBe('Echo: one');
    expect(r.json.choices[0].finish_reason).toBe('length');
    expect(r.json.usage.completion_tokens).toBe(3);
    const r2 = await api(sim, 'POST', '/chat/completions', {
      body: { model: 'gpt-4o-mini', max_completion_tokens: 50, messages: userMsg('short') },
    });
    expect(r2.json.choices[0].finish_reason).toBe('stop');
  });

  it('returns n choices and counts completion tokens n times', async () => {
    const r = await api(sim, 'POST', '/chat/completions', { body: { model: 'gpt-4o', n: 3, messages: userMsg('abc') } });
    expect(r.json.choices.map((c: { index: number }) => c.index)).toEqual([0, 1, 2]);
    expect(r.json.usage.completion_tokens).toBe(3 * countTokens('Echo: abc'));
  });

  it('calls the tool the message asks for, with its required parameters', async () => {
    const tools = [
      { type: 'function', function: { name: 'get_weather', parameters: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] } } },
      { type: 'function', function: { name: 'other', parameters: { type: 'object', properties: {} } } },
    ];
    const messages = userMsg('weather?');
    const r = await api(sim, 'POST', '/chat/completions', { body: { model: 'gpt-4o', messages, tools } });
    const c = r.json.choices[0];
    expect(c.finish_reason).toBe('tool_calls');
    expect(c.message.content).toBeNull();
    expect(c.message.tool_calls).toHaveLength(1);
    expect(c.message.tool_calls[0]).toMatchObject({ id: 'call_sim_1', type: 'function', function: { name: 'get_weather' } });
    expect(JSON.parse(c.message.tool_calls[0].function.arguments)).toEqual({ city: 'sim-city' });
    expect(r.json.usage.prompt_tokens).toBe(countChatPromptTokens(messages, tools));
  });

  it('answers JSON for response_format json_object', async () => {
    const r = await api(sim, 'POST', '/chat/completions', {
      body: { model: 'gpt-4o', response_format: { type: 'json_object' }, messages: userMsg('give json') },
    });
    expect(JSON.parse(r.json.choices[0].message.content)).toEqual({ echo: 'give json' });
  });

  it('rejects malformed requests with 400 and does not charge', async () => {
    const before = sim.balanceMicros();
    for (const opts of [{ rawBody: '{not json' }, { body: { model: 'gpt-4o' } }, { body: { model: 'gpt-4o', messages: [] } }, { body: { messages: userMsg('x') } }]) {
      const r = await api(sim, 'POST', '/chat/completions', opts);
      expect(r.status).toBe(400);
      expect(r.json.error.type).toBe('invalid_request_error');
    }
    expect(sim.balanceMicros()).toBe(before);
  });
});

describe('chat completions (streaming)', () => {
  const text = 'the quick brown fox jumps over the lazy dog';

  it('streams a role delta, one chunk per token, a finish chunk and [DONE], without usage by default', async () => {
    const res = await send(sim, 'POST', '/chat/completions', { body: { model: 'gpt-4o-mini', stream: true, messages: userMsg(text) } });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('text/event-stream');
    const s = await readSse(res);
    expect(s.error).toBeUndefined();
    expect(s.raw.at(-1)).toBe('[DONE]');
    // eslint-disable-next-line @typescript-eslint/no-explicit-any
    const chunks = s.frames.slice(0, -1) as any[];
    expect(chunks[0].object).toBe('chat.completion.chunk');
    expect(chunks[0].choices[0].delta.role).toBe('assistant');
    const content = chunks.slice(1, -1).map((c) => c.choices[0].delta.content);
    expect(content.length).toBe(encode(`Echo: ${text}`).length);
    expect(content.length).toBeGreaterThanOrEqual(5);
    expect(content.join('')).toBe(`Echo: ${text}`);
    expect(chunks.at(-1).choices[0]).toMatchObject({ delta: {}, finish_reason: 'stop' });
    expect(chunks.some((c) => 'usage' in c)).toBe(false);
  });

  it('adds a usage chunk before [DONE] only when include_usage is set, and charges the stream', async () => {
    const before = sim.balanceMicros();
    const res = await send(sim, 'POST', '/chat/completions', {
      body: { model: 'claude-4-5-sonnet', stream: true, stream_options: { include_usage: true }, messages: userMsg(text) },
    });
    const s = await readSse(res);
    // eslint-disable-next-line @typescript-eslint/no-explicit-any
    const usageChunk = s.frames.at(-2) as any;
    expect(usageChunk.choices).toEqual([]);
    const pt = countChatPromptTokens(userMsg(text));
    const ct = countTokens(`Echo: ${text}`);
    expect(usageChunk.usage).toEqual({ prompt_tokens: pt, completion_tokens: ct, total_tokens: pt + ct });
    expect(s.frames.filter((f) => typeof f === 'object' && f !== null && 'usage' in f)).toHaveLength(1);
    expect(before - sim.balanceMicros()).toBe((pt + ct) * 15);
  });

  it('streams tool calls as tool_calls deltas', async () => {
    const tools = [{ type: 'function', function: { name: 'lookup', parameters: { type: 'object', required: ['q', 'lang'] } } }];
    const res = await send(sim, 'POST', '/chat/completions', { body: { model: 'gpt-4o', stream: true, tools, messages: userMsg('lookup x') } });
    // eslint-disable-next-line @typescript-eslint/no-explicit-any
    const chunks = (await readSse(res)).frames.slice(0, -1) as any[];
    const first = chunks[0].choices[0].delta.tool_calls[0];
    expect(first).toMatchObject({ index: 0, id: 'call_sim_1', type: 'function', function: { name: 'lookup', arguments: '' } });
    const args = chunks.slice(1, -1).map((c) => c.choices[0].delta.tool_calls[0].function.arguments).join('');
    expect(JSON.parse(args)).toEqual({ q: 'sim-q', lang: 'sim-lang' });
    expect(chunks.at(-1).choices[0].finish_reason).toBe('tool_calls');
  });
});

describe('balance and cost', () => {
  it('reports the balance and answers 402 once it is exhausted', async () => {
    sim.setBalanceUsd(0.00002); // 20 micro-dollars
    const b = await api(sim, 'GET', '/balance');
    expect(b.json).toMatchObject({ balance: 0.00002, balance_micros: 20, currency: 'USD', auto_recharge_enabled: false });
    const body = { model: 'claude-4-5-sonnet', messages: userMsg('spend it') };
    expect((await api(sim, 'POST', '/chat/completions', { body })).status).toBe(200);
    expect(sim.balanceMicros()).toBeLessThanOrEqual(0);
    const r = await api(sim, 'POST', '/chat/completions', { body });
    expect(r.status).toBe(402);
    expect(r.json.error).toMatchObject({ type: 'insufficient_quota', code: 'insufficient_credits' });
    expect((await api(sim, 'GET', '/models')).status).toBe(200);
  });

  it('reports cost in usage and x-skillboss-cost when reportCost is on', async () => {
    const s2 = await startSimulator({ apiKey: ADMIN_KEY, reportCost: true, balanceUsd: 5 });
    try {
      expect(s2.balanceMicros()).toBe(5_000_000);
      const r = await api(s2, 'POST', '/chat/completions', { body: { model: 'claude-4-5-sonnet', messages: userMsg('cost me') } });
      const micros = 5_000_000 - s2.balanceMicros();
      expect(micros).toBe(r.json.usage.total_tokens * 15);
      expect(r.json.usage.cost).toBeCloseTo(micros / 1e6, 12);
      expect(Number(r.headers.get('x-skillboss-cost'))).toBeCloseTo(micros / 1e6, 12);
    } finally {
      await s2.close();
    }
  });
});

describe('other endpoints', () => {
  it('embeds deterministically, as floats or little-endian float32 base64, and charges prompt tokens', async () => {
    const f = await api(sim, 'POST', '/embeddings', { body: { model: 'text-embedding-3-small', input: ['alpha', 'beta'] } });
    expect(f.status).toBe(200);
    expect(f.json.data).toHaveLength(2);
    expect(f.json.data[0].embedding).toHaveLength(8);
    expect(f.json.data[0].embedding).not.toEqual(f.json.data[1].embedding);
    expect(f.json.usage).toEqual({ prompt_tokens: countTokens('alpha') + countTokens('beta'), total_tokens: countTokens('alpha') + countTokens('beta') });
    const b = await api(sim, 'POST', '/embeddings', { body: { model: 'text-embedding-3-small', input: 'alpha', encoding_format: 'base64' } });
    const buf = Buffer.from(b.json.data[0].embedding as string, 'base64');
    expect(buf.length).toBe(32);
    const floats = Array.from({ length: 8 }, (_, i) => buf.readFloatLE(i * 4));
    expect(floats).toEqual(f.json.data[0].embedding);
  });

  it('serves completions, responses, moderations, images, speech and services', async () => {
    const c = await api(sim, 'POST', '/completions', { body: { model: 'gpt-4o-mini', prompt: 'hi there' } });
    expect(c.json).toMatchObject({ object: 'text_completion', choices: [{ text: 'Echo: hi there', index: 0, finish_reason: 'stop' }] });
    const cs = await readSse(await send(sim, 'POST', '/completions', { body: { model: 'gpt-4o-mini', prompt: 'hi there', stream: true } }));
    // eslint-disable-next-line @typescript-eslint/no-explicit-any
    expect((cs.frames.slice(0, -1) as any[]).map((x) => x.choices[0].text).join('')).toBe('Echo: hi there');
    const r = await api(sim, 'POST', '/responses', { body: { model: 'gpt-4o', input: 'respond' } });
    expect(r.json).toMatchObject({ object: 'response', status: 'completed', output_text: 'Echo: respond' });
    expect(r.json.output[0].content[0]).toEqual({ type: 'output_text', text: 'Echo: respond', annotations: [] });
    expect(r.json.usage.output_tokens).toBe(countTokens('Echo: respond'));
    const m = await api(sim, 'POST', '/moderations', { body: { input: 'fine' } });
    expect(m.json.results[0].flagged).toBe(false);
    let before = sim.balanceMicros();
    const img = await api(sim, 'POST', '/images/generations', { body: { prompt: 'a cat', n: 2 } });
    expect(img.json.data).toEqual([{ url: 'https://example.invalid/sim.png' }, { url: 'https://example.invalid/sim.png' }]);
    expect(before - sim.balanceMicros()).toBe(80_000);
    before = sim.balanceMicros();
    const sp = await send(sim, 'POST', '/audio/speech', { body: { model: 'tts-1', input: 'say', voice: 'alloy' } });
    expect(sp.headers.get('content-type')).toBe('audio/mpeg');
    expect((await sp.arrayBuffer()).byteLength).toBeGreaterThan(0);
    expect(before - sim.balanceMicros()).toBe(15_000);
    const list = await api(sim, 'GET', '/services');
    expect(list.json.data.map((s: { id: string }) => s.id)).toEqual(['email', 'stripe']);
    before = sim.balanceMicros();
    const sv = await api(sim, 'POST', '/services/email', { body: { to: 'a@b.c' } });
    expect(sv.json).toMatchObject({ ok: true, service: 'email' });
    expect(before - sim.balanceMicros()).toBe(1000);
    expect((await api(sim, 'POST', '/services/fax', { body: {} })).status).toBe(404);
  });
});
