/**
 * The simulator behaves like a model for agents: it calls a tool only when the
 * conversation asks for one, answers in text once a tool's result is back (so
 * agent loops end by themselves), does function calls on /v1/responses, and
 * honours `dimensions` on embeddings. Driven with the official openai SDK.
 */
import OpenAI from 'openai';
import { describe, expect, it } from 'vitest';
import type { Simulator } from '../../../proxy/simulator/index.js';
import { api, useSimulatorWithSdk } from './helpers.js';

let sim: Simulator;
let client: OpenAI;
useSimulatorWithSdk((started, sdk) => {
  sim = started;
  client = sdk;
});

const fn = (name: string, properties: Record<string, unknown> = {}, required: string[] = Object.keys(properties)) => ({
  type: 'function' as const,
  function: { name, description: `the ${name} tool`, parameters: { type: 'object', properties, required } },
});
const tools = [
  fn('read_file', { path: { type: 'string' } }),
  fn('run_shell_command', { command: { type: 'string' }, timeout: { type: 'integer' }, background: { type: 'boolean' }, args: { type: 'array' } }),
  fn('get_weather', { city: { type: 'string' } }),
];

async function chat(content: string, extra: Partial<OpenAI.ChatCompletionCreateParamsNonStreaming> = {}) {
  return client.chat.completions.create({ model: 'gpt-4o-mini', messages: [{ role: 'user', content }], tools, ...extra });
}

describe('chat completions with tools', () => {
  it('answers in text when the message asks for no tool', async () => {
    const r = await chat('Say hello');
    expect(r.choices[0]!.finish_reason).toBe('stop');
    expect(r.choices[0]!.message.content).toBe('Echo: Say hello');
    expect(r.choices[0]!.message.tool_calls ?? []).toHaveLength(0);
  });

  it('calls the tool named in the message, or whose name words it uses (most words win)', async () => {
    const name = async (text: string) => {
      const c = (await chat(text)).choices[0]!.message.tool_calls?.[0];
      return c?.type === 'function' ? c.function.name : undefined;
    };
    expect(await name('please use get_weather')).toBe('get_weather');
    expect(await name('What is the weather in Oslo?')).toBe('get_weather');
    expect(await name('run a shell command for me')).toBe('run_shell_command');
    expect(await name('read the file README.md')).toBe('read_file');
  });

  it('fills required parameters with placeholders of their type, or takes a JSON object from the message', async () => {
    const r = await chat('use the shell');
    const call = r.choices[0]!.message.tool_calls![0]!;
    if (call.type !== 'function') throw new Error('not a function call');
    expect(JSON.parse(call.function.arguments)).toEqual({ command: 'sim-command', timeout: 1, background: true, args: [] });
    const j = await chat('use the shell with {"command": "echo hi"}');
    const jc = j.choices[0]!.message.tool_calls![0]!;
    if (jc.type !== 'function') throw new Error('not a function call');
    expect(JSON.parse(jc.function.arguments)).toEqual({ command: 'echo hi' });
    // OpenCode sends the user's text as one JSON string literal.
    const q = await chat(JSON.stringify('use the shell with {"command": "echo quoted"}'));
    const qc = q.choices[0]!.message.tool_calls![0]!;
    if (qc.type !== 'function') throw new Error('not a function call');
    expect(JSON.parse(qc.function.arguments)).toEqual({ command: 'echo quoted' });
  });

  it('honours tool_choice none, required and a named function', async () => {
    expect((await chat('weather please', { tool_choice: 'none' })).choices[0]!.message.tool_calls ?? []).toHaveLength(0);
    const req = (await chat('Say hello', { tool_choice: 'required' })).choices[0]!.message.tool_calls![0]!;
    expect(req.type === 'function' && req.function.name).toBe('read_file');
    const named = (await chat('Say hello', { tool_choice: { type: 'function', function: { name: 'get_weather' } } })).choices[0]!.message.tool_calls![0]!;
    expect(named.type === 'function' && named.function.name).toBe('get_weather');
  });

  it('answers in text once the last message is a tool result, even when a tool is required', async () => {
    const first = await chat('weather in Oslo?');
    const call = first.choices[0]!.message.tool_calls![0]!;
    for (const tool_choice of ['auto', 'required'] as const) {
      const r = await client.chat.completions.create({
        model: 'gpt-4o-mini',
        tools,
        tool_choice,
        messages: [
          { role: 'user', content: 'weather in Oslo?' },
          first.choices[0]!.message,
          { role: 'tool', tool_call_id: call.id, content: 'Sunny, 21 degrees' },
        ],
      });
      expect(r.choices[0]!.finish_reason).toBe('stop');
      expect(r.choices[0]!.message.content).toBe('Tool result: Sunny, 21 degrees');
    }
  });

  it("the SDK's own tool runner ends after one round trip", async () => {
    let ran = 0;
    const runner = client.chat.completions.runTools({
      model: 'gpt-4o-mini',
      messages: [{ role: 'user', content: 'What is the weather in Paris?' }],
      tools: [
        {
          type: 'function',
          function: {
            name: 'get_weather',
            description: 'the weather in a city',
            parameters: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] },
            function: (args: { city: string }) => {
              ran++;
              return `rain in ${args.city}`;
            },
            parse: JSON.parse,
          },
        },
      ],
    });
    expect(await runner.finalContent()).toBe('Tool result: rain in sim-city');
    expect(ran).toBe(1);
  });

  it('streams a call with a fresh id per request', async () => {
    const ids = new Set<string>();
    for (let i = 0; i < 2; i++) {
      const final = await client.chat.completions.stream({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'weather?' }], tools }).finalChatCompletion();
      ids.add(final.choices[0]!.message.tool_calls![0]!.id);
    }
    expect(ids.size).toBe(2);
  });
});

const rtools: OpenAI.Responses.Tool[] = [
  { type: 'function', name: 'get_weather', parameters: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] }, strict: false },
  { type: 'web_search' } as OpenAI.Responses.Tool,
];

describe('responses with function calls', () => {
  it('returns a function_call item, and text once its output comes back', async () => {
    const r = await client.responses.create({ model: 'gpt-4o', input: 'weather in Rome?', tools: rtools });
    const item = r.output[0]!;
    expect(item.type).toBe('function_call');
    if (item.type !== 'function_call') throw new Error('no call');
    expect(item).toMatchObject({ name: 'get_weather', status: 'completed' });
    expect(JSON.parse(item.arguments)).toEqual({ city: 'sim-city' });
    expect(r.output_text).toBe('');

    const next = await client.responses.create({
      model: 'gpt-4o',
      tools: rtools,
      input: [{ role: 'user', content: 'weather in Rome?' }, item, { type: 'function_call_output', call_id: item.call_id, output: 'cloudy' }],
    });
    expect(next.output[0]!.type).toBe('message');
    expect(next.output_text).toBe('Tool result: cloudy');
    expect(next.usage!.input_tokens).toBeGreaterThan(r.usage!.input_tokens);
  });

  it('streams function_call_arguments.delta and .done events the SDK assembles', async () => {
    const stream = client.responses.stream({ model: 'gpt-4o', input: [{ role: 'user', content: [{ type: 'input_text', text: 'weather now' }] }], tools: rtools });
    const types: string[] = [];
    let args = '';
    stream.on('event', (e) => types.push(e.type));
    stream.on('response.function_call_arguments.delta', (e) => (args += e.delta));
    const final = await stream.finalResponse();
    expect(types).toEqual(
      expect.arrayContaining(['response.created', 'response.output_item.added', 'response.function_call_arguments.delta', 'response.function_call_arguments.done', 'response.output_item.done', 'response.completed']),
    );
    expect(types).not.toContain('response.output_text.delta');
    const item = final.output[0]!;
    if (item.type !== 'function_call') throw new Error('no call');
    expect(args).toBe(item.arguments);
    expect(JSON.parse(args)).toEqual({ city: 'sim-city' });
  });

  it('retrieves, lists the input of, and deletes a stored response; counts input tokens', async () => {
    const r = await client.responses.create({ model: 'gpt-4o', input: 'keep me' });
    expect((await client.responses.retrieve(r.id)).output_text).toBe('Echo: keep me');
    const items = await client.responses.inputItems.list(r.id);
    expect(items.data).toHaveLength(1);
    expect(items.data[0]).toMatchObject({ type: 'message', role: 'user' });
    await client.responses.delete(r.id);
    expect(await client.responses.retrieve(r.id).catch((e: unknown) => e)).toBeInstanceOf(OpenAI.NotFoundError);
    const unstored = await client.responses.create({ model: 'gpt-4o', input: 'forget me', store: false });
    expect(await client.responses.retrieve(unstored.id).catch((e: unknown) => e)).toBeInstanceOf(OpenAI.NotFoundError);
    const counted = await api(sim, 'POST', '/responses/input_tokens', { body: { model: 'gpt-4o', input: 'keep me' } });
    expect(counted.json).toMatchObject({ object: 'response.input_tokens' });
    expect(counted.json.input_tokens).toBeGreaterThan(0);
  });
});

describe('embeddings', () => {
  it('honours dimensions, with unit-length vectors, and refuses a bad value', async () => {
    const e = await client.embeddings.create({ model: 'text-embedding-3-small', input: ['a', 'b'], dimensions: 256 });
    expect(e.data.map((d) => d.embedding.length)).toEqual([256, 256]);
    const norm = Math.sqrt(e.data[0]!.embedding.reduce((s, x) => s + x * x, 0));
    expect(norm).toBeCloseTo(1, 5);
    expect((await client.embeddings.create({ model: 'text-embedding-3-small', input: 'a' })).data[0]!.embedding).toHaveLength(8);
    const bad = await api(sim, 'POST', '/embeddings', { body: { model: 'text-embedding-3-small', input: 'a', dimensions: 0 } });
    expect(bad.status).toBe(400);
    expect(bad.json.error.message).toContain('dimensions');
  });
});
