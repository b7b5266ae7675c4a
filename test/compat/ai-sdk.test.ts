/**
 * The Vercel AI SDK (`ai` v6 + `@ai-sdk/openai` v3) pointed at the sidecar
 * with only baseURL and apiKey changed: generateText, streamText, embed and a
 * tool call, over both the chat and the Responses models.
 */
import { createOpenAI } from '@ai-sdk/openai';
import { APICallError, embed, embedMany, generateText, jsonSchema, streamText, tool } from 'ai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startStack, type Stack } from '../helpers/stack.js';

let s: Stack;
beforeAll(async () => {
  s = await startStack();
});
afterAll(async () => {
  await s?.close();
});

const provider = (apiKey: string) => createOpenAI({ baseURL: s.baseURL, apiKey });

const weatherTool = tool({
  description: 'Weather for a city',
  inputSchema: jsonSchema<{ city: string }>({ type: 'object', properties: { city: { type: 'string' } }, required: ['city'] }),
});

describe('Vercel AI SDK', () => {
  it('generateText over chat completions and over the Responses API', async () => {
    const { secret } = s.token();
    const chat = await generateText({ model: provider(secret).chat('gpt-4o-mini'), prompt: 'Hello from ai' });
    expect(chat.text).toBe('Echo: Hello from ai');
    expect(chat.usage.inputTokens).toBeGreaterThan(0);
    expect(chat.usage.outputTokens).toBeGreaterThan(0);
    const resp = await generateText({ model: provider(secret).responses('gpt-4o'), prompt: 'Hello responses' });
    expect(resp.text).toBe('Echo: Hello responses');
  });

  it('streamText, chat and Responses', async () => {
    const { secret } = s.token();
    const chat = streamText({ model: provider(secret).chat('gpt-4o-mini'), prompt: 'stream it to me' });
    const parts: string[] = [];
    for await (const t of chat.textStream) parts.push(t);
    expect(parts.join('')).toBe('Echo: stream it to me');
    expect(parts.length).toBeGreaterThan(2);
    expect((await chat.usage).outputTokens).toBeGreaterThan(0);
    expect(await chat.finishReason).toBe('stop');

    const resp = streamText({ model: provider(secret).responses('gpt-4o'), prompt: 'stream a response' });
    let text = '';
    for await (const t of resp.textStream) text += t;
    expect(text).toBe('Echo: stream a response');
  });

  it('embed and embedMany', async () => {
    const { secret } = s.token();
    const one = await embed({ model: provider(secret).embedding('text-embedding-3-small'), value: 'sunny day' });
    expect(one.embedding).toHaveLength(8);
    expect(one.usage.tokens).toBeGreaterThan(0);
    const many = await embedMany({ model: provider(secret).embedding('text-embedding-3-small'), values: ['a', 'b', 'c'] });
    expect(many.embeddings).toHaveLength(3);
  });

  it('a tool call, generated and streamed', async () => {
    const { secret } = s.token();
    const r = await generateText({
      model: provider(secret).chat('gpt-4o'),
      prompt: 'Weather in Paris?',
      tools: { get_weather: weatherTool },
    });
    expect(r.finishReason).toBe('tool-calls');
    expect(r.toolCalls).toHaveLength(1);
    expect(r.toolCalls[0]!.toolName).toBe('get_weather');
    expect(r.toolCalls[0]!.input).toEqual({ city: 'sim-city' });

    const st = streamText({ model: provider(secret).chat('gpt-4o'), prompt: 'Weather in Oslo?', tools: { get_weather: weatherTool } });
    const calls = await st.toolCalls;
    expect(calls.map((c) => c.toolName)).toEqual(['get_weather']);
    expect(calls[0]!.input).toEqual({ city: 'sim-city' });
  });

  it('a refusal surfaces as APICallError with the sidecar\'s status and message', async () => {
    const { secret } = s.token({ preset: 'read-only' });
    const err = await generateText({ model: provider(secret).chat('gpt-4o-mini'), prompt: 'x', maxRetries: 0 }).catch((e: unknown) => e);
    expect(APICallError.isInstance(err)).toBe(true);
    expect((err as APICallError).statusCode).toBe(403);
    expect((err as APICallError).message).toContain('models:use');
  });
});
