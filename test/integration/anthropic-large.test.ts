/**
 * Large /v1/messages bodies (a Claude Code context, hundreds of KiB every
 * turn) are parsed, validated and translated in the worker pool, not on the
 * event loop (issue 27 item 5), and come back as bytes the pipeline bounds
 * and splices like a scanned body. Against the real daemon and simulator:
 * the upstream gets the very chat request the small-body translation makes,
 * streams and refusals behave as on the small path, the enforced max_tokens
 * bound is spliced in, system and tools are in the prompt's bound, and
 * another agent is answered while a multi-MiB body is being translated.
 */
import { request as httpRequest } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chatBodyOf, countMessagesTokens } from '../../proxy/anthropic/translate.js';
import { tokenizerReady } from '../../proxy/pricing/tokenizer.js';
import { SCAN_FROM_BYTES } from '../../proxy/pipeline/body.js';
import { ledgerOf } from '../helpers/ledger.js';
import { startStack, type Stack } from '../helpers/stack.js';

let s: Stack;
const MODEL = 'claude-4-5-sonnet';

beforeAll(async () => {
  s = await startStack();
});
afterAll(async () => {
  await s?.close();
});

type Json = Record<string, unknown>;

const WORDS = 'the agent reads a source file then edits the budget module and runs seven tests about the ledger'.split(' ');
function text(bytes: number, seed = 0): string {
  const out: string[] = [];
  let n = 0;
  for (let i = seed; n < bytes; i++) {
    const w = WORDS[(i * 7 + (i >> 3)) % WORDS.length]!;
    out.push(w);
    n += w.length + 1;
  }
  return out.join(' ');
}

const readFile = { name: 'read_file', description: 'Read a file of the workspace.', input_schema: { type: 'object', properties: { path: { type: 'string' } }, required: ['path'] } };

/** A Claude Code-like turn of about `bytes`: system blocks, tools, tool calls and results (one with an image), assistant text. */
function conversation(bytes: number, extra: Json = {}): Json {
  const messages: Json[] = [{ role: 'user', content: 'Fix the budget bug.' }];
  let size = 0;
  for (let i = 0; size < bytes; i++) {
    const id = `toolu_${i}`;
    const result = text(8 * 1024, i);
    messages.push(
      { role: 'assistant', content: [{ type: 'text', text: `Reading file ${i}.` }, { type: 'thinking', thinking: 'hm', signature: 'x' }, { type: 'tool_use', id, name: 'read_file', input: { path: `src/${i}.ts` } }] },
      {
        role: 'user',
        content: [
          { type: 'tool_result', tool_use_id: id, content: i === 1 ? [{ type: 'text', text: result }, { type: 'image', source: { type: 'base64', media_type: 'image/png', data: 'iVBORw0KGgo=' } }] : result, ...(i === 2 ? { is_error: true } : {}) },
          { type: 'text', text: 'Go on. ✓ ünïcödé' },
        ],
      },
    );
    size += result.length + 200;
  }
  messages.push({ role: 'user', content: 'Now run the tests.' });
  return {
    model: MODEL,
    max_tokens: 512,
    system: [{ type: 'text', text: 'You are a coding agent.' }, { type: 'text', text: 'Be careful.', cache_control: { type: 'ephemeral' } }],
    tools: [readFile],
    tool_choice: { type: 'auto' },
    temperature: 0.2,
    stop_sequences: ['END'],
    metadata: { user_id: 'u' },
    messages,
    ...extra,
  };
}

function post(secret: string, body: unknown, path = '/v1/messages'): Promise<Response> {
  return fetch(`${s.daemon.url}${path}`, {
    method: 'POST',
    headers: { 'x-api-key': secret, 'content-type': 'application/json', 'anthropic-version': '2023-06-01' },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
}

const chats = () => s.sim.requests.filter((q) => q.path === '/v1/chat/completions');
const lastChat = (): Json => JSON.parse(chats().at(-1)!.body) as Json;

describe('a large /v1/messages body, translated in the worker pool', () => {
  it('reaches the upstream as the very chat request the small-body translation makes, and is answered as a message', async () => {
    const { token, secret } = s.token({ budgetUsd: 50 });
    const body = conversation(200 * 1024);
    const raw = JSON.stringify(body);
    expect(raw.length).toBeGreaterThan(SCAN_FROM_BYTES);
    const res = await post(secret, raw);
    expect(res.status).toBe(200);
    const msg = (await res.json()) as Json;
    expect(msg).toMatchObject({ type: 'message', role: 'assistant', model: MODEL, stop_reason: 'end_turn' });
    expect(lastChat()).toEqual(chatBodyOf(body).json);
    expect(ledgerOf(s.daemon.db, token.id).at(-1)).toMatchObject({ route: '/v1/messages', model: MODEL, status: 200, usage_source: 'upstream' });
  });

  it('streams, with the usage asked for and the final message carrying it', async () => {
    const { token, secret } = s.token({ budgetUsd: 50 });
    const res = await post(secret, conversation(150 * 1024, { stream: true }));
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toContain('text/event-stream');
    const events = (await res.text()).split('\n').filter((l) => l.startsWith('event: ')).map((l) => l.slice(7));
    expect(events[0]).toBe('message_start');
    expect(events.slice(-2)).toEqual(['message_delta', 'message_stop']);
    expect(lastChat()).toMatchObject({ stream: true, stream_options: { include_usage: true } });
    expect(ledgerOf(s.daemon.db, token.id).at(-1)).toMatchObject({ status: 200, streamed: 1, usage_source: 'upstream' });
  });

  it('is sent with the smaller max_tokens the budget pays for, spliced into the translated bytes', async () => {
    const { token, secret } = s.token({ budgetUsd: 1 });
    const body = conversation(100 * 1024, { max_tokens: 60_000 });
    const res = await post(secret, body);
    expect(res.status).toBe(200);
    const sent = lastChat();
    expect(sent.max_tokens).toBeLessThan(60_000);
    expect(sent.max_tokens).toBeGreaterThanOrEqual(256);
    // Everything else is the translation as it was made.
    expect({ ...sent, max_tokens: 60_000 }).toEqual(chatBodyOf(body).json);
    const spent = ledgerOf(s.daemon.db, token.id).reduce((a, r) => a + r.cost_micros, 0);
    expect(spent).toBeLessThanOrEqual(1_000_000);
  });

  it.each([
    ['system', (big: string) => ({ system: big })],
    ['tools', (big: string) => ({ tools: [{ ...readFile, description: big }] })],
    ['a tool_result', (big: string) => ({ messages: [{ role: 'assistant', content: [{ type: 'tool_use', id: 't', name: 'read_file', input: {} }] }, { role: 'user', content: [{ type: 'tool_result', tool_use_id: 't', content: big }] }] })],
  ])('counts %s in the prompt bound: 402 when only it makes the prompt too dear', async (_what, part) => {
    // ~240 KB of words is ~50k tokens ($0.75 at $15/M): over a $0.40 budget, while the rest of the request is a few tokens.
    const { token, secret } = s.token({ budgetUsd: 0.4 });
    const before = chats().length;
    const res = await post(secret, { model: MODEL, max_tokens: 16, messages: [{ role: 'user', content: 'hi' }], ...part(text(240 * 1024)) });
    expect(res.status).toBe(402);
    expect(await res.json()).toMatchObject({ type: 'error', error: { type: 'billing_error', code: 'budget_exhausted' } });
    expect(chats().length).toBe(before);
    expect(ledgerOf(s.daemon.db, token.id).at(-1)).toMatchObject({ status: 402, model: MODEL });
  });

  it('refuses as the small path does: invalid JSON, too deep, a block with no counterpart (naming the field, the model in the ledger)', async () => {
    const { token, secret } = s.token();
    const raw = JSON.stringify(conversation(100 * 1024));
    const cut = await post(secret, raw.slice(0, -3));
    expect(cut.status).toBe(400);
    expect(await cut.json()).toMatchObject({ type: 'error', error: { type: 'invalid_request_error', code: 'invalid_json' } });
    const deep = await post(secret, `${raw.slice(0, -1)},"x":${'['.repeat(80)}${']'.repeat(80)}}`);
    expect(deep.status).toBe(400);
    expect(((await deep.json()) as { error: { message: string } }).error.message).toContain('levels deep');
    const body = conversation(100 * 1024, { tools: [readFile, { type: 'web_search_20250305', name: 'web_search' }] });
    const server = await post(secret, body);
    expect(server.status).toBe(400);
    expect(((await server.json()) as { error: { message: string } }).error.message).toContain('tools.1.type');
    expect(ledgerOf(s.daemon.db, token.id).at(-1)).toMatchObject({ status: 400, model: MODEL, error_code: 'invalid_request' });
    const noMax = await post(secret, { ...conversation(100 * 1024), max_tokens: undefined });
    expect(noMax.status).toBe(400);
    expect(((await noMax.json()) as { error: { message: string } }).error.message).toContain('max_tokens');
  });
});

describe('a large count_tokens body, parsed, translated and counted in the worker pool', () => {
  it('counts what the small path counts, free, and refuses what it refuses', async () => {
    const { token, secret } = s.token();
    const body = conversation(150 * 1024);
    delete body.max_tokens;
    await tokenizerReady();
    const res = await post(secret, body, '/v1/messages/count_tokens');
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual(countMessagesTokens(body));
    expect(ledgerOf(s.daemon.db, token.id).at(-1)).toMatchObject({ route: '/v1/messages/count_tokens', status: 200, cost_micros: 0 });
    const bad = await post(secret, { ...body, tools: [{ type: 'web_search_20250305', name: 'web_search' }] }, '/v1/messages/count_tokens');
    expect(bad.status).toBe(400);
    expect(await bad.json()).toMatchObject({ type: 'error', error: { type: 'invalid_request_error', message: expect.stringContaining('tools.0.type') } });
    expect(ledgerOf(s.daemon.db, token.id).at(-1)).toMatchObject({ status: 400, model: MODEL });
    const cut = await post(secret, JSON.stringify(body).slice(0, -2), '/v1/messages/count_tokens');
    expect(cut.status).toBe(400);
    expect(await cut.json()).toMatchObject({ error: { code: 'invalid_json' } });
  });
});

/** A request whose moment of being written and of being answered the test can see. */
function send(path: string, secret: string, method: string, body: string | null): { written: Promise<void>; answered: Promise<number> } {
  let written!: () => void;
  const w = new Promise<void>((r) => (written = r));
  const answered = new Promise<number>((resolve, reject) => {
    const req = httpRequest(
      { host: s.daemon.host, port: s.daemon.port, path, method, headers: { 'x-api-key': secret, 'content-type': 'application/json', 'anthropic-version': '2023-06-01' } },
      (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode ?? 0));
      },
    );
    req.on('error', reject);
    req.on('finish', () => written());
    req.end(body ?? undefined);
  });
  return { written: w, answered };
}

describe('the event loop while a multi-MiB /v1/messages body is translated', () => {
  it("answers another token's requests first", { timeout: 120_000 }, async () => {
    const big = s.token();
    const other = s.token();
    // ~8 MiB of small blocks (the parse and the walk are the work), refused at its very last block, so its answer comes
    // the moment the whole body has been translated: on the event loop, before anything else could be answered.
    const messages: Json[] = [];
    for (let i = 0; i < 20_000; i++) messages.push({ role: 'user', content: Array.from({ length: 8 }, (_, k) => ({ type: 'text', text: `part ${i}.${k} ${WORDS[k]}` })) }, { role: 'assistant', content: [{ type: 'text', text: `ok ${i}` }] });
    messages.push({ role: 'user', content: [{ type: 'document', source: { type: 'text', media_type: 'text/plain', data: 'x' } }] });
    const body = JSON.stringify({ model: MODEL, max_tokens: 64, messages });
    expect(body.length).toBeGreaterThan(8 * 1024 * 1024);
    const order: string[] = [];
    const heavy = send('/v1/messages', big.secret, 'POST', body);
    const heavyDone = heavy.answered.then((st) => (order.push('big'), st));
    await heavy.written;
    // Two of the other token's requests, one after the other: each is a full round trip through the daemon.
    for (const name of ['other1', 'other2']) {
      const r = send('/v1/balance', other.secret, 'GET', null);
      expect(await r.answered).toBe(200);
      order.push(name);
    }
    expect(await heavyDone).toBe(400);
    expect(order).toEqual(['other1', 'other2', 'big']);
    // The body was translated all the way to its last message.
    expect(ledgerOf(s.daemon.db, big.token.id).at(-1)).toMatchObject({ status: 400, model: MODEL, error_message: expect.stringContaining('messages.40000.content.0.type') });
  });
});
