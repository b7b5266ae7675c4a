/**
 * The README's "Connect your agent" recipes (docs/recipes/*), each run as its
 * own process against the sidecar: Node SDKs, Python `requests` exactly as
 * the SkillBoss reference uses it, and curl (with -N for streaming).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startStack, type Stack } from '../helpers/stack.js';
import { agentEnv, runRecipe } from './recipes.js';

let s: Stack;
beforeAll(async () => {
  s = await startStack();
});
afterAll(async () => {
  await s?.close();
});

function envFor(preset: 'write' | 'read-only' = 'write') {
  return agentEnv(s.baseURL, s.token({ preset }).secret);
}

async function ok(name: string, env = envFor()) {
  const r = await runRecipe(name, env);
  expect(r.code, `${name} failed:\n${r.stderr}`).toBe(0);
  return r;
}

function ledgerRoutes(): string[] {
  return (s.daemon.db.prepare('SELECT route FROM usage ORDER BY id').pluck().all() as string[]);
}

describe('Node recipes', () => {
  it('openai SDK: chat and a stream', async () => {
    const r = await ok('openai-sdk.mjs');
    expect(r.stdout).toBe('Echo: Hello\nEcho: Stream please\n');
  });

  it('Vercel AI SDK: generateText and streamText', async () => {
    const r = await ok('vercel-ai-sdk.mjs');
    expect(r.stdout).toBe('Echo: Hello\nEcho: Stream please\n');
  });

  it('LangChain: invoke, stream and embeddings', async () => {
    const r = await ok('langchain.mjs');
    expect(r.stdout).toBe('Echo: Hello\nEcho: Stream please\n8 dimensions\n');
  });
});

describe('Python requests, as the SkillBoss reference uses it', () => {
  it('the standard-auth chat snippet', async () => {
    const before = ledgerRoutes().length;
    const r = await ok('requests-chat.py');
    // print(response.json()) prints the parsed dict.
    expect(r.stdout).toContain("'object': 'chat.completion'");
    expect(r.stdout).toContain("'content': 'Echo: Hello'");
    expect(ledgerRoutes().slice(before)).toEqual(['/v1/chat/completions']);
  });

  it('the same snippet with a bad token prints the OpenAI-style 401 body', async () => {
    const r = await ok('requests-chat.py', agentEnv(s.baseURL, 'sk-sbl-not-a-real-token'));
    expect(r.stdout).toContain("'type': 'authentication_error'");
    expect(r.stdout).toContain("'code': 'invalid_token'");
  });

  it('listing models', async () => {
    const r = await ok('requests-models.py', envFor('read-only'));
    expect(r.stdout.trim().split('\n')).toEqual(expect.arrayContaining(['gemini/gemini-2.5-flash', 'claude-4-5-sonnet', 'text-embedding-3-small']));
  });
});

describe('curl', () => {
  it('lists models as the reference\'s "Testing Your Authentication" does', async () => {
    const r = await ok('curl-models.sh', envFor('read-only'));
    const body = JSON.parse(r.stdout) as { data: Array<{ id: string; cost?: number }> };
    expect(body.data.find((m) => m.id === 'gemini/gemini-2.5-flash')?.cost).toBe(0.075);
  });

  it('a chat completion', async () => {
    const r = await ok('curl-chat.sh');
    const body = JSON.parse(r.stdout) as { choices: Array<{ message: { content: string } }> };
    expect(body.choices[0]!.message.content).toBe('Echo: test');
  });

  it('-N streams events as they arrive, not at the end', async () => {
    s.sim.faults.chunkDelayMs = 80;
    try {
      const r = await ok('curl-stream.sh');
      const data = r.lineTimes.filter((l) => l.line.startsWith('data: '));
      expect(data.at(-1)!.line).toBe('data: [DONE]');
      const text = data
        .slice(0, -1)
        .map((l) => (JSON.parse(l.line.slice(6)) as { choices: Array<{ delta: { content?: string } }> }).choices[0]?.delta.content ?? '')
        .join('');
      expect(text).toBe('Echo: one two three four five');
      // The client did not ask for usage, so no usage chunk reaches it.
      expect(r.stdout).not.toContain('"usage"');
      // With 80 ms between upstream chunks, the first event reached curl long before the last.
      expect(data.at(-1)!.at - data[0]!.at).toBeGreaterThan(300);
    } finally {
      delete s.sim.faults.chunkDelayMs;
    }
  });
});
