import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { startSimulator, type Simulator } from '../../../proxy/simulator/index.js';
import { ADMIN_KEY, api, readSse, send } from './helpers.js';

let sim: Simulator;
let now = Date.UTC(2026, 11, 4, 12);
beforeEach(async () => {
  now = Date.UTC(2026, 11, 4, 12);
  sim = await startSimulator({ apiKey: ADMIN_KEY, clock: () => now, reportCost: true });
});
afterEach(async () => {
  await sim.close();
});

/** A system prompt of roughly 2,000 tokens: past the 1,024-token caching minimum. */
const LONG = Array.from({ length: 400 }, (_, i) => `Rule ${i}: answer briefly.`).join(' ');
const chat = (question: string, model = 'gpt-4o') => ({ model, messages: [{ role: 'system', content: LONG }, { role: 'user', content: question }] });

describe('prompt caching', () => {
  it('reports a repeated long prefix as cached, in 128-token steps, and charges it at the cached rate', async () => {
    const first = await api(sim, 'POST', '/chat/completions', { body: chat('one') });
    expect(first.json.usage.prompt_tokens_details).toBeUndefined();
    const second = await api(sim, 'POST', '/chat/completions', { body: chat('two') });
    const cached = second.json.usage.prompt_tokens_details.cached_tokens as number;
    expect(cached).toBeGreaterThanOrEqual(1024);
    expect(cached % 128).toBe(0);
    expect(cached).toBeLessThanOrEqual(second.json.usage.prompt_tokens);
    // gpt-4o: $2.50 prompt, $1.25 cached, $10 completion per million.
    const u = second.json.usage;
    const expected = Math.ceil(((u.prompt_tokens - cached) * 2.5e6 + cached * 1.25e6 + u.completion_tokens * 10e6) / 1e6);
    expect(Math.round(u.cost * 1e6)).toBe(expected);
  });

  it('forgets after five minutes, keeps models apart, and ignores short prompts', async () => {
    await api(sim, 'POST', '/chat/completions', { body: chat('one') });
    expect((await api(sim, 'POST', '/chat/completions', { body: chat('one', 'gpt-4o-mini') })).json.usage.prompt_tokens_details).toBeUndefined();
    now += 5 * 60_000 + 1;
    expect((await api(sim, 'POST', '/chat/completions', { body: chat('two') })).json.usage.prompt_tokens_details).toBeUndefined();
    const short = { model: 'gpt-4o', messages: [{ role: 'user', content: 'hi' }] };
    await api(sim, 'POST', '/chat/completions', { body: short });
    expect((await api(sim, 'POST', '/chat/completions', { body: short })).json.usage.prompt_tokens_details).toBeUndefined();
  });

  it('reports cached tokens in streamed usage and in the Responses API', async () => {
    await api(sim, 'POST', '/chat/completions', { body: chat('one') });
    const res = await send(sim, 'POST', '/chat/completions', { body: { ...chat('two'), stream: true, stream_options: { include_usage: true } } });
    const frames = (await readSse(res)).frames as Array<{ usage?: { prompt_tokens_details: { cached_tokens: number } } }>;
    expect(frames.find((f) => f && typeof f === 'object' && f.usage)?.usage?.prompt_tokens_details.cached_tokens).toBeGreaterThanOrEqual(1024);
    const body = { model: 'gpt-4o', instructions: LONG, input: 'three' };
    expect((await api(sim, 'POST', '/responses', { body })).json.usage.input_tokens_details).toBeUndefined();
    expect((await api(sim, 'POST', '/responses', { body })).json.usage.input_tokens_details.cached_tokens).toBeGreaterThanOrEqual(1024);
  });
});

describe('reasoning', () => {
  it('a reasoning model reports reasoning tokens inside completion_tokens, within max_completion_tokens', async () => {
    const r = await api(sim, 'POST', '/chat/completions', { body: { model: 'o4-mini', messages: [{ role: 'user', content: 'think' }] } });
    const u = r.json.usage;
    expect(u.completion_tokens_details.reasoning_tokens).toBeGreaterThan(0);
    expect(u.completion_tokens).toBeGreaterThan(u.completion_tokens_details.reasoning_tokens);
    const capped = await api(sim, 'POST', '/chat/completions', { body: { model: 'o4-mini', max_completion_tokens: 5, messages: [{ role: 'user', content: 'think hard about this' }] } });
    expect(capped.json.usage.completion_tokens).toBeLessThanOrEqual(5);
    const plain = await api(sim, 'POST', '/chat/completions', { body: { model: 'gpt-4o', messages: [{ role: 'user', content: 'x' }] } });
    expect(plain.json.usage.completion_tokens_details).toBeUndefined();
    const resp = await api(sim, 'POST', '/responses', { body: { model: 'o4-mini', input: 'think' } });
    expect(resp.json.usage.output_tokens_details.reasoning_tokens).toBeGreaterThan(0);
  });

  it('lists class prices in /v1/models', async () => {
    const r = await api(sim, 'GET', '/models');
    const m = (r.json.data as Array<{ id: string; pricing?: Record<string, number> }>).find((x) => x.id === 'o4-mini');
    expect(m?.pricing).toMatchObject({ cached_prompt: 0.275, reasoning: 4.4 });
  });
});
