/**
 * LangChain (`@langchain/openai`) pointed at the sidecar with only the base
 * URL and the key changed: invoke, stream, tool binding and embeddings.
 */
import { ChatOpenAI, OpenAIEmbeddings } from '@langchain/openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startStack, type Stack } from '../helpers/stack.js';

let s: Stack;
beforeAll(async () => {
  s = await startStack();
});
afterAll(async () => {
  await s?.close();
});

const chat = (apiKey: string, model = 'gpt-4o-mini') => new ChatOpenAI({ model, apiKey, configuration: { baseURL: s.baseURL }, maxRetries: 0 });

describe('LangChain', () => {
  it('invoke', async () => {
    const { secret } = s.token();
    const msg = await chat(secret).invoke('Hello LangChain');
    expect(msg.content).toBe('Echo: Hello LangChain');
    expect(msg.usage_metadata?.output_tokens).toBeGreaterThan(0);
  });

  it('stream', async () => {
    const { secret } = s.token();
    const parts: string[] = [];
    for await (const chunk of await chat(secret).stream('stream through langchain')) parts.push(String(chunk.content));
    expect(parts.join('')).toBe('Echo: stream through langchain');
    expect(parts.filter((p) => p !== '').length).toBeGreaterThan(2);
  });

  it('a bound tool is called', async () => {
    const { secret } = s.token();
    const withTools = chat(secret, 'gpt-4o').bindTools([
      { type: 'function', function: { name: 'lookup', description: 'Look something up', parameters: { type: 'object', properties: { q: { type: 'string' } }, required: ['q'] } } },
    ]);
    const msg = await withTools.invoke('look up the sidecar');
    expect(msg.tool_calls?.map((c) => c.name)).toEqual(['lookup']);
    expect(msg.tool_calls?.[0]?.args).toEqual({ q: 'sim-q' });
  });

  it('embeddings: embedQuery and embedDocuments', async () => {
    const { secret } = s.token();
    const emb = new OpenAIEmbeddings({ model: 'text-embedding-3-small', apiKey: secret, configuration: { baseURL: s.baseURL }, maxRetries: 0 });
    const q = await emb.embedQuery('what is a sidecar');
    expect(q).toHaveLength(8);
    const docs = await emb.embedDocuments(['one', 'two']);
    expect(docs).toHaveLength(2);
    expect(docs[0]).not.toEqual(docs[1]);
  });

  it('a refusal surfaces with the sidecar\'s status', async () => {
    const { secret } = s.token({ preset: 'read-only' });
    const err = (await chat(secret).invoke('x').catch((e: unknown) => e)) as { status?: number; message: string };
    expect(err.status).toBe(403);
    expect(err.message).toContain('models:use');
  });
});
