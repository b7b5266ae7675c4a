/** The simulator must look like the real thing to the official openai SDK. */
import OpenAI from 'openai';
import { describe, expect, it } from 'vitest';
import type { Simulator } from '../../../proxy/simulator/index.js';
import { useSimulatorWithSdk } from './helpers.js';

let sim: Simulator;
let client: OpenAI;
useSimulatorWithSdk((started, sdk) => {
  sim = started;
  client = sdk;
});

describe('openai SDK against the simulator', () => {
  it('chat completions, plain and streamed with usage', async () => {
    const r = await client.chat.completions.create({ model: 'gemini/gemini-2.5-flash', messages: [{ role: 'user', content: 'Hello' }] });
    expect(r.choices[0]?.message.content).toBe('Echo: Hello');
    const stream = await client.chat.completions.create({
      model: 'gpt-4o-mini',
      messages: [{ role: 'user', content: 'stream me please now' }],
      stream: true,
      stream_options: { include_usage: true },
    });
    let text = '';
    let usage: OpenAI.CompletionUsage | undefined | null;
    for await (const chunk of stream) {
      text += chunk.choices[0]?.delta.content ?? '';
      if (chunk.usage) usage = chunk.usage;
    }
    expect(text).toBe('Echo: stream me please now');
    expect(usage?.completion_tokens).toBeGreaterThan(0);
  });

  it('embeddings (the SDK asks for base64 and decodes it)', async () => {
    const e = await client.embeddings.create({ model: 'text-embedding-3-small', input: 'vector' });
    expect(e.data[0]?.embedding).toHaveLength(8);
    expect(e.data[0]?.embedding.every((x) => typeof x === 'number' && Math.abs(x) <= 1)).toBe(true);
    const sent = sim.requests.at(-1);
    expect(JSON.parse(sent?.body ?? '{}').encoding_format).toBe('base64');
  });

  it('responses, plain and streamed', async () => {
    const r = await client.responses.create({ model: 'gpt-4o', input: 'respond' });
    expect(r.output_text).toBe('Echo: respond');
    const s = await client.responses.create({ model: 'gpt-4o', input: 'respond', stream: true });
    let text = '';
    let completed = false;
    for await (const ev of s) {
      if (ev.type === 'response.output_text.delta') text += ev.delta;
      if (ev.type === 'response.completed') completed = true;
    }
    expect(text).toBe('Echo: respond');
    expect(completed).toBe(true);
  });

  it('surfaces simulator errors as typed SDK errors', async () => {
    sim.faults.failNext = { count: 1, status: 429, retryAfter: 1 };
    const err = await client.models.list().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(OpenAI.RateLimitError);
    const bad = new OpenAI({ apiKey: 'sk-wrong', baseURL: sim.url, maxRetries: 0 });
    expect(await bad.models.list().catch((e: unknown) => e)).toBeInstanceOf(OpenAI.AuthenticationError);
  });
});
