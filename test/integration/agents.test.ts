/**
 * An agent's view: the official openai SDK pointed at the sidecar, against
 * the simulator, with tokens of different scopes and states.
 */
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DAY_MS } from '../../proxy/core/time.js';
import { ledgerOf } from '../helpers/ledger.js';
import { errorOf, startStack, type Stack } from '../helpers/stack.js';

let s: Stack;
beforeAll(async () => {
  s = await startStack();
});
afterAll(async () => {
  await s?.close();
});

function client(apiKey: string): OpenAI {
  return new OpenAI({ apiKey, baseURL: s.baseURL, maxRetries: 0 });
}

const ledger = (tokenId: string) => ledgerOf(s.daemon.db, tokenId);

describe('the openai SDK through the sidecar', () => {
  it('does a chat completion, metered in the ledger at the model price', async () => {
    const { token, secret } = s.token();
    const r = await client(secret).chat.completions.create({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'Hello there, sidecar' }] });
    expect(r.choices[0]!.message.content).toBe('Echo: Hello there, sidecar');
    expect(r.usage!.prompt_tokens).toBeGreaterThan(0);
    const rows = ledger(token.id);
    expect(rows).toHaveLength(1);
    const row = rows[0]!;
    expect(row).toMatchObject({ route: '/v1/chat/completions', model: 'gpt-4o-mini', status: 200, streamed: 0, usage_source: 'upstream' });
    expect(row.prompt_tokens).toBe(r.usage!.prompt_tokens);
    expect(row.completion_tokens).toBe(r.usage!.completion_tokens);
    // gpt-4o-mini: $0.15 / $0.60 per million tokens = 0.15 / 0.6 micro-dollars per token.
    expect(row.cost_micros).toBe(Math.ceil(r.usage!.prompt_tokens * 0.15 + r.usage!.completion_tokens * 0.6));
  });

  it('streams chunk by chunk, hides the usage chunk it asked for, and meters the stream', async () => {
    const { token, secret } = s.token();
    const stream = await client(secret).chat.completions.create({
      model: 'claude-4-5-sonnet',
      messages: [{ role: 'user', content: 'one two three four five six' }],
      stream: true,
    });
    const chunks: OpenAI.Chat.Completions.ChatCompletionChunk[] = [];
    for await (const c of stream) chunks.push(c);
    const text = chunks.map((c) => c.choices[0]?.delta?.content ?? '').join('');
    expect(text).toBe('Echo: one two three four five six');
    expect(chunks.length).toBeGreaterThanOrEqual(5);
    // The client did not ask for usage: no chunk carries it and none has empty choices.
    expect(chunks.some((c) => c.usage)).toBe(false);
    expect(chunks.every((c) => c.choices.length > 0)).toBe(true);
    // But the sidecar asked upstream for it and metered from it.
    const sent = JSON.parse(s.sim.requests.at(-1)!.body) as { stream_options?: { include_usage?: boolean } };
    expect(sent.stream_options?.include_usage).toBe(true);
    const [row] = ledger(token.id);
    expect(row).toMatchObject({ streamed: 1, usage_source: 'upstream', status: 200 });
    expect(row!.completion_tokens).toBeGreaterThan(5);
    expect(row!.cost_micros).toBe(Math.ceil((row!.prompt_tokens + row!.completion_tokens) * 15));
  });

  it('passes the usage chunk to a client that asked for it', async () => {
    const { secret } = s.token();
    const stream = await client(secret).chat.completions.create({
      model: 'gpt-4o-mini',
      messages: [{ role: 'user', content: 'count me' }],
      stream: true,
      stream_options: { include_usage: true },
    });
    const usage = [];
    for await (const c of stream) if (c.usage) usage.push(c.usage);
    expect(usage).toHaveLength(1);
    expect(usage[0]!.completion_tokens).toBeGreaterThan(0);
  });

  it('does embeddings', async () => {
    const { token, secret } = s.token();
    const r = await client(secret).embeddings.create({ model: 'text-embedding-3-small', input: ['alpha', 'beta gamma'] });
    expect(r.data).toHaveLength(2);
    expect(r.data[0]!.embedding.length).toBeGreaterThan(0);
    const [row] = ledger(token.id);
    expect(row).toMatchObject({ route: '/v1/embeddings', status: 200, completion_tokens: 0 });
    expect(row!.prompt_tokens).toBe(r.usage.prompt_tokens);
    expect(row!.cost_micros).toBe(Math.ceil(r.usage.prompt_tokens * 0.02));
  });

  it('lists models with prices', async () => {
    const { secret } = s.token({ preset: 'read-only' });
    const page = await client(secret).models.list();
    const ids = page.data.map((m) => m.id);
    expect(ids).toContain('gemini/gemini-2.5-flash');
    const one = await client(secret).models.retrieve('gemini/gemini-2.5-flash');
    expect(one.id).toBe('gemini/gemini-2.5-flash');
  });

  it('sends upstream exactly one Authorization, the real key, and none of the agent headers', async () => {
    const { secret } = s.token();
    s.sim.clearRequests();
    await fetch(`${s.baseURL}/chat/completions`, {
      method: 'POST',
      headers: {
        authorization: `Bearer ${secret}`,
        'content-type': 'application/json',
        cookie: 'session=abc',
        'openai-organization': 'org-x',
        'x-forwarded-for': '10.0.0.1',
        forwarded: 'for=10.0.0.1',
      },
      body: JSON.stringify({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'hi' }] }),
    });
    const got = s.sim.requests.at(-1)!;
    expect(got.headers.authorization).toBe(`Bearer ${s.simKey}`);
    for (const h of ['cookie', 'openai-organization', 'x-forwarded-for', 'forwarded']) expect(got.headers[h]).toBeUndefined();
    expect(JSON.stringify(got.headers)).not.toContain(secret);
  });
});

describe('refusals', () => {
  it('a read-only token gets 403 on chat, and nothing reaches upstream', async () => {
    const { secret } = s.token({ preset: 'read-only' });
    s.sim.clearRequests();
    const err = await client(secret).chat.completions.create({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'x' }] }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(OpenAI.PermissionDeniedError);
    expect((err as InstanceType<typeof OpenAI.APIError>).status).toBe(403);
    expect((err as Error).message).toContain('models:use');
    expect(s.sim.requests).toHaveLength(0);
  });

  it('missing, malformed, unknown, revoked and expired tokens get 401', async () => {
    const good = s.token();
    const chat = (headers: Record<string, string>) =>
      fetch(`${s.baseURL}/chat/completions`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...headers },
        body: JSON.stringify({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'x' }] }),
      });
    const missing = await errorOf(await chat({}));
    expect(missing).toMatchObject({ status: 401, code: 'missing_token' });

    const flipped = good.secret.slice(0, -1) + (good.secret.endsWith('a') ? 'b' : 'a');
    const malformed = await errorOf(await chat({ authorization: `Bearer ${flipped}` }));
    expect(malformed).toMatchObject({ status: 401, code: 'invalid_token' });
    expect(malformed.message).toContain('checksum');
    expect(malformed.message).not.toContain(flipped);

    const realKey = await errorOf(await chat({ authorization: `Bearer ${s.simKey}` }));
    expect(realKey).toMatchObject({ status: 401, code: 'invalid_token' });

    const revoked = s.token();
    s.tokens.revoke(revoked.token.id, 'test');
    s.daemon.deps.principals.clear();
    expect(await errorOf(await chat({ authorization: `Bearer ${revoked.secret}` }))).toMatchObject({ status: 401, code: 'token_revoked' });

    const expiring = s.token({ expires: '30d' });
    expect((await chat({ authorization: `Bearer ${expiring.secret}` })).status).toBe(200);
    s.clock.now += 31 * DAY_MS;
    try {
      expect(await errorOf(await chat({ authorization: `Bearer ${expiring.secret}` }))).toMatchObject({ status: 401, code: 'token_expired' });
    } finally {
      s.clock.now -= 31 * DAY_MS;
    }
  });

  it('answers an unknown route 404 locally and never forwards it', async () => {
    const { secret } = s.token({ preset: 'admin' });
    s.sim.clearRequests();
    for (const path of ['/v1/fine_tuning/jobs', '/v1/files', '/v1/chat/completions/../../admin', '/v1//models', '/v1/%2e%2e/balance', '/v1/Models']) {
      const res = await fetch(`${s.daemon.url}${path}`, { headers: { authorization: `Bearer ${secret}` } });
      expect(res.status, path).toBe(404);
      expect(((await res.json()) as { error: { type: string } }).error.type).toBe('not_found_error');
    }
    expect(s.sim.requests).toHaveLength(0);
  });

  it('refuses bad bodies with 400/413 and keeps serving', async () => {
    const { secret } = s.token();
    const post = (body: string | Buffer, contentType = 'application/json') =>
      fetch(`${s.baseURL}/chat/completions`, { method: 'POST', headers: { authorization: `Bearer ${secret}`, 'content-type': contentType }, body });
    expect(await errorOf(await post('{"model": "gpt-4o-mini", "messages": [')).then((e) => e)).toMatchObject({ status: 400, code: 'invalid_json' });
    expect(await errorOf(await post('model=x', 'application/x-www-form-urlencoded'))).toMatchObject({ status: 400, code: 'unsupported_content_type' });
    const wrongType = await errorOf(await post(JSON.stringify({ model: 'gpt-4o-mini', messages: 'hi' })));
    expect(wrongType).toMatchObject({ status: 400, code: 'invalid_request' });
    expect(wrongType.message).toContain('messages');
    expect(await errorOf(await post(JSON.stringify({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'x' }], max_tokens: -5 })))).toMatchObject({ status: 400 });
    const huge = Buffer.alloc(33 * 1024 * 1024, 0x20);
    expect((await post(huge)).status).toBe(413);
    // Still serving.
    const ok = await client(secret).chat.completions.create({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'still there?' }] });
    expect(ok.choices[0]!.message.content).toBe('Echo: still there?');
  });

  it('maps upstream failures: 5xx to 502, a hang to 504, and the agent is never told its token is bad', async () => {
    const { secret } = s.token();
    s.sim.faults.failNext = { count: 1, status: 500 };
    expect(await errorOf(await fetch(`${s.baseURL}/models`, { headers: { authorization: `Bearer ${secret}` } }))).toMatchObject({ status: 502, code: 'upstream_error' });
    s.sim.faults.failNext = { count: 1, status: 401 };
    const keyBad = await errorOf(await fetch(`${s.baseURL}/models`, { headers: { authorization: `Bearer ${secret}` } }));
    expect(keyBad).toMatchObject({ status: 502, code: 'upstream_key_rejected' });
    expect(keyBad.message).toContain('key set');
    // A 401 makes the daemon re-run its validity probe; let it finish before the next fault is armed.
    await s.daemon.sync();
    s.sim.faults.failNext = { count: 1, status: 429, retryAfter: 7 };
    const limited = await fetch(`${s.baseURL}/models`, { headers: { authorization: `Bearer ${secret}` } });
    expect(limited.status).toBe(429);
    expect(limited.headers.get('retry-after')).toBe('7');
  });
});
