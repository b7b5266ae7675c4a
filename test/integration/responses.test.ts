/**
 * The Responses API through the sidecar as agents use it (Codex speaks only
 * this): a function-call round trip, streamed, metered per request; and the
 * routes the openai SDK calls around a stored response.
 */
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ledgerOf } from '../helpers/ledger.js';
import { startStack, type Stack } from '../helpers/stack.js';

let s: Stack;
beforeAll(async () => {
  s = await startStack();
});
afterAll(async () => {
  await s?.close();
});

const client = (apiKey: string) => new OpenAI({ apiKey, baseURL: s.baseURL, maxRetries: 0 });

const ledger = (tokenId: string) => ledgerOf(s.daemon.db, tokenId);

const tools: OpenAI.Responses.Tool[] = [
  { type: 'function', name: 'exec_command', strict: false, parameters: { type: 'object', properties: { cmd: { type: 'string' } }, required: ['cmd'] } },
];

describe('Responses API through the sidecar', () => {
  it('a streamed function-call round trip that ends in text, each request metered', async () => {
    const { token, secret } = s.token();
    const c = client(secret);
    const first = await c.responses.stream({ model: 'gpt-4o', input: 'run the command {"cmd": "ls"}', tools }).finalResponse();
    const call = first.output[0]!;
    if (call.type !== 'function_call') throw new Error(`expected a function call, got ${call.type}`);
    expect(call.name).toBe('exec_command');
    expect(JSON.parse(call.arguments)).toEqual({ cmd: 'ls' });

    const second = await c.responses
      .stream({ model: 'gpt-4o', tools, input: [{ role: 'user', content: 'run the command {"cmd": "ls"}' }, call, { type: 'function_call_output', call_id: call.call_id, output: 'a.txt b.txt' }] })
      .finalResponse();
    expect(second.output_text).toBe('Tool result: a.txt b.txt');

    const rows = ledger(token.id);
    expect(rows).toHaveLength(2);
    for (const [i, r] of [first, second].entries()) {
      expect(rows[i]).toMatchObject({ route: '/v1/responses', model: 'gpt-4o', status: 200, streamed: 1 });
      expect(rows[i]!.prompt_tokens).toBe(r.usage!.input_tokens);
      expect(rows[i]!.completion_tokens).toBe(r.usage!.output_tokens);
      expect(rows[i]!.cost_micros).toBeGreaterThan(0);
    }
  });

  it('retrieve, input items, cancel, delete and input-token counts are routed, with a ledger row each', async () => {
    const { token, secret } = s.token();
    const c = client(secret);
    const r = await c.responses.create({ model: 'gpt-4o-mini', input: 'keep this one' });
    expect((await c.responses.retrieve(r.id)).output_text).toBe('Echo: keep this one');
    const items = await c.responses.inputItems.list(r.id, { limit: 10 });
    expect(items.data[0]).toMatchObject({ type: 'message', role: 'user' });
    expect((await c.responses.cancel(r.id)).id).toBe(r.id);
    const counted = await c.post<{ input_tokens: number }>('/responses/input_tokens', { body: { model: 'gpt-4o-mini', input: 'count me' } });
    expect(counted.input_tokens).toBeGreaterThan(0);
    await c.responses.delete(r.id);
    expect(await c.responses.retrieve(r.id).catch((e: unknown) => e)).toBeInstanceOf(OpenAI.NotFoundError);
    // The ledger names the route (a pattern), never the id in the path.
    expect(ledger(token.id).map((row) => `${row.route} ${row.status}`)).toEqual([
      '/v1/responses 200',
      '/v1/responses/* 200',
      '/v1/responses/*/input_items 200',
      '/v1/responses/*/cancel 200',
      '/v1/responses/input_tokens 200',
      '/v1/responses/* 200',
      '/v1/responses/* 404',
    ]);
  });

  it('the routes need models:use', async () => {
    const { secret } = s.token({ preset: 'read-only' });
    const err = await client(secret).responses.retrieve('resp_sim_1').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(OpenAI.PermissionDeniedError);
  });
});
