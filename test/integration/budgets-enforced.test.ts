/**
 * Issue 25 items 1-4 and 6: budgets hold whatever a request leaves out. A
 * request with no completion bound (or `null`) is forwarded with the bound it
 * was reserved for, so the simulator, which generates as long as the model's
 * limit allows when no bound is sent, cannot spend past the budget; every
 * part of a prompt (Responses tools) is in its bound; a malformed escape is a
 * 400; count_tokens counts off the event loop with a per-token cap; a
 * multipart field the upstream reads is the field that was priced.
 * Spend is checked twice: in the ledger and in the simulator's own balance.
 */
import { request as httpRequest } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { scopesFromPreset } from '../../proxy/tokens/scopes.js';
import { errorOf, startStack, type Stack } from '../helpers/stack.js';

let s: Stack;
beforeAll(async () => {
  s = await startStack();
});
afterAll(async () => {
  await s?.close();
});

const WORDS = 'the quick brown fox jumps over a lazy dog while seven agents read source files and write tests about budgets'.split(' ');
/** English-like text of about `bytes` bytes (about one token per five bytes). */
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

function post(path: string, secret: string, body: unknown): Promise<Response> {
  return fetch(`${s.baseURL}${path}`, {
    method: 'POST',
    headers: { authorization: `Bearer ${secret}`, 'content-type': 'application/json' },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
}

function spentMicros(tokenId: string): number {
  return (s.daemon.db.prepare('SELECT COALESCE(SUM(cost_micros), 0) FROM usage WHERE token_id = ?').pluck().get(tokenId) as number) ?? 0;
}

/** Runs `fn` and returns what the simulator charged meanwhile (its own balance, not the sidecar's ledger). */
async function simCharged(fn: () => Promise<unknown>): Promise<number> {
  const before = s.sim.balanceMicros();
  await fn();
  return before - s.sim.balanceMicros();
}

/** The bodies the simulator received on `path` since `from`, parsed. */
function received(path: string, from: number): Array<Record<string, unknown>> {
  return s.sim.requests
    .slice(from)
    .filter((r) => r.path.startsWith(path) && r.method === 'POST')
    .map((r) => JSON.parse(r.body) as Record<string, unknown>);
}

async function settle(res: Response): Promise<number> {
  await res.arrayBuffer();
  return res.status;
}

describe('no completion bound: the bound reserved for is the bound sent (item 1)', () => {
  const cases: Array<[string, string, number, number, Record<string, unknown>]> = [
    // name, model, prompt bytes, budget USD, extra fields
    ['parsed, no max_tokens', 'gpt-4o', 60 * 1024, 0.15, {}],
    ['parsed, max_tokens: null', 'gpt-4o', 60 * 1024, 0.15, { max_tokens: null }],
    ['scanned, no max_tokens', 'gpt-4o', 70 * 1024, 0.15, {}],
    ['scanned, max_completion_tokens: null', 'gpt-4o', 70 * 1024, 0.15, { max_completion_tokens: null }],
    ['a reasoning model, no bound', 'o4-mini', 60 * 1024, 0.05, {}],
    ['a reasoning model, scanned', 'o4-mini', 70 * 1024, 0.05, {}],
  ];
  for (const [name, model, bytes, budget, extra] of cases) {
    it(`${name}: spend stays within the budget, in the ledger and at the upstream`, async () => {
      const { token, secret } = s.token({ budgetUsd: budget });
      const from = s.sim.requests.length;
      let status = 0;
      const charged = await simCharged(async () => {
        status = await settle(await post('/chat/completions', secret, { model, messages: [{ role: 'user', content: text(bytes) }], ...extra }));
      });
      expect(status).toBe(200);
      expect(spentMicros(token.id)).toBeLessThanOrEqual(budget * 1e6);
      expect(charged).toBeLessThanOrEqual(budget * 1e6);
      // The ledger charges what the upstream did.
      expect(spentMicros(token.id)).toBe(charged);
      const sent = received('/v1/chat/completions', from)[0]!;
      const bound = (sent.max_completion_tokens ?? sent.max_tokens) as number;
      expect(bound).toBeGreaterThan(0);
      // Reasoning models take max_completion_tokens (reasoning counts inside it); others the documented max_tokens.
      expect(Object.keys(sent).filter((k) => k === 'max_tokens' || k === 'max_completion_tokens')).toEqual([model === 'o4-mini' ? 'max_completion_tokens' : Object.keys(extra)[0] ?? 'max_tokens']);
    });
  }

  it('ten such requests at once on one small budget stay within it', async () => {
    const { token, secret } = s.token({ budgetUsd: 0.5 });
    const charged = await simCharged(() =>
      Promise.all(Array.from({ length: 10 }, (_, i) => post('/chat/completions', secret, { model: 'gpt-4o', messages: [{ role: 'user', content: text(60 * 1024, i) }] }).then(settle))),
    );
    expect(spentMicros(token.id)).toBeLessThanOrEqual(500_000);
    expect(charged).toBeLessThanOrEqual(500_000);
  });

  it("never raises the agent's own smaller bound, and lowers a larger one to what the budget allows", async () => {
    const { secret } = s.token({ budgetUsd: 0.15 });
    const from = s.sim.requests.length;
    expect(await settle(await post('/chat/completions', secret, { model: 'gpt-4o', messages: [{ role: 'user', content: 'hello there' }], max_tokens: 7 }))).toBe(200);
    expect(received('/v1/chat/completions', from)[0]).toMatchObject({ max_tokens: 7 });
    const { token: t2, secret: s2 } = s.token({ budgetUsd: 0.15 });
    const from2 = s.sim.requests.length;
    const charged = await simCharged(async () => {
      expect(await settle(await post('/chat/completions', s2, { model: 'gpt-4o', messages: [{ role: 'user', content: text(60 * 1024) }], max_tokens: 100_000 }))).toBe(200);
    });
    const sent = received('/v1/chat/completions', from2)[0]!;
    expect(sent.max_tokens).toBeLessThan(100_000);
    expect(charged).toBeLessThanOrEqual(150_000);
    expect(spentMicros(t2.id)).toBe(charged);
  });

  it('Responses get max_output_tokens, and a request whose smallest answer does not fit is refused as before', async () => {
    const { token, secret } = s.token({ budgetUsd: 0.05 });
    const from = s.sim.requests.length;
    const charged = await simCharged(async () => {
      expect(await settle(await post('/responses', secret, { model: 'o4-mini', input: text(60 * 1024) }))).toBe(200);
    });
    expect(received('/v1/responses', from)[0]!.max_output_tokens).toBeGreaterThan(0);
    expect(charged).toBeLessThanOrEqual(50_000);
    expect(spentMicros(token.id)).toBe(charged);
    // $0.0001 cannot pay for a useful answer of gpt-4o.
    const tiny = s.token({ budgetUsd: 0.0001 });
    const res = await post('/chat/completions', tiny.secret, { model: 'gpt-4o', messages: [{ role: 'user', content: 'hi' }] });
    expect((await errorOf(res)).code).toBe('budget_exhausted');
  });

  it('a spend hold is not bypassed by leaving the bound out', async () => {
    const { token, secret } = s.tokens.create({ name: 'held', scopes: scopesFromPreset('write'), holdAbove: 100_000 }, 'test');
    s.daemon.deps.principals.clear();
    const charged = await simCharged(async () => {
      await settle(await post('/chat/completions', secret, { model: 'gpt-4o', messages: [{ role: 'user', content: text(60 * 1024) }] }));
    });
    expect(charged).toBeLessThanOrEqual(100_000);
    expect(spentMicros(token.id)).toBeLessThanOrEqual(100_000);
  });
});

describe('every part of a prompt is in its bound (item 2)', () => {
  const tool = (bytes: number) => ({ type: 'function', name: 'lookup', description: text(bytes), parameters: { type: 'object', properties: {} } });
  it('Responses tools, parsed (byte bound)', async () => {
    const { token, secret } = s.token({ budgetUsd: 0.01 });
    const charged = await simCharged(async () => {
      const res = await post('/responses', secret, { model: 'gpt-4o', input: 'hi', max_output_tokens: 16, tools: [tool(60 * 1024)] });
      expect((await errorOf(res)).code).toBe('budget_exhausted');
    });
    expect(charged).toBe(0);
    expect(spentMicros(token.id)).toBe(0);
  });

  it('Responses tools, scanned (exact count in the pool)', async () => {
    const { token, secret } = s.token({ budgetUsd: 0.01 });
    const charged = await simCharged(async () => {
      const res = await post('/responses', secret, { model: 'gpt-4o', input: 'hi', max_output_tokens: 16, tools: [tool(300 * 1024)] });
      expect((await errorOf(res)).code).toBe('budget_exhausted');
    });
    expect(charged).toBe(0);
    expect(spentMicros(token.id)).toBe(0);
  });

  it('twenty at once on a small token spend within it', async () => {
    const { token, secret } = s.token({ budgetUsd: 0.1 });
    const charged = await simCharged(() =>
      Promise.all(Array.from({ length: 20 }, () => post('/responses', secret, { model: 'gpt-4o', input: 'hi', max_output_tokens: 16, tools: [tool(20 * 1024)] }).then(settle))),
    );
    expect(charged).toBeLessThanOrEqual(100_000);
    expect(spentMicros(token.id)).toBe(charged);
  });

  it('chat response_format schemas and functions beside tools', async () => {
    const { token, secret } = s.token({ budgetUsd: 0.01 });
    const schema = { type: 'object', description: text(40 * 1024), properties: {} };
    const res = await post('/chat/completions', secret, {
      model: 'gpt-4o',
      messages: [{ role: 'user', content: 'hi' }],
      max_tokens: 16,
      tools: [{ type: 'function', function: { name: 'a', parameters: {} } }],
      functions: [{ name: 'b', description: text(40 * 1024, 3) }],
      response_format: { type: 'json_schema', json_schema: { name: 'x', schema } },
    });
    expect((await errorOf(res)).code).toBe('budget_exhausted');
    expect(spentMicros(token.id)).toBe(0);
  });
});

describe('malformed bodies are 400s (item 4)', () => {
  const big = text(70 * 1024);
  it('an invalid escape in a scanned field name names its position', async () => {
    const { secret } = s.token();
    const body = `{"model":"gpt-4o","ma\\x_tokens":5,"messages":[{"role":"user","content":${JSON.stringify(big)}}]}`;
    const e = await errorOf(await post('/chat/completions', secret, body));
    expect(e).toMatchObject({ status: 400, code: 'invalid_json' });
    expect(e.message).toMatch(/position 21\b/);
  });

  it('an invalid escape inside a skipped string of a scanned body too', async () => {
    const { secret } = s.token();
    const at = big.length >> 1;
    const content = `${JSON.stringify(big.slice(0, at)).slice(0, -1)}\\q${JSON.stringify(big.slice(at)).slice(1)}`;
    const body = `{"model":"gpt-4o","messages":[{"role":"user","content":${content}}]}`;
    const e = await errorOf(await post('/chat/completions', secret, body));
    expect(e).toMatchObject({ status: 400, code: 'invalid_json' });
    expect(e.message).toMatch(/invalid escape .*position \d+/);
    const bad = `{"model":"gpt-4o","messages":[{"role":"user","content":"${big}\\u12G4"}]}`;
    expect(await errorOf(await post('/chat/completions', secret, bad))).toMatchObject({ status: 400, code: 'invalid_json' });
  });
});

/** Sends a request and resolves once its body is handed to the socket; `answered` resolves with the status. */
function send(path: string, secret: string, method: string, body: string | null): { written: Promise<void>; answered: Promise<number> } {
  const url = new URL(`${s.baseURL}${path}`);
  let written!: () => void;
  const w = new Promise<void>((r) => (written = r));
  const answered = new Promise<number>((resolve, reject) => {
    const req = httpRequest(
      { host: url.hostname, port: url.port, path: url.pathname, method, headers: { authorization: `Bearer ${secret}`, 'content-type': 'application/json', 'anthropic-version': '2023-06-01' } },
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

describe('count_tokens runs in the tokenizer pool (item 3)', () => {
  it("a flood from one token neither delays another token's request nor takes more than its share", { timeout: 120_000 }, async () => {
    const flooder = s.token();
    const other = s.token();
    // Base64 text: no whitespace, the tokenizer's slowest input.
    const blob = Buffer.alloc(1024 * 1024, 'QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVo0NTY3').toString('latin1');
    const body = JSON.stringify({ model: 'claude-4-5-sonnet', messages: [{ role: 'user', content: blob }] });
    const order: string[] = [];
    const flood = Array.from({ length: 4 }, () => send('/messages/count_tokens', flooder.secret, 'POST', body));
    const floodDone = flood.map((f, i) => f.answered.then((st) => (order.push(`flood${i}`), st)));
    await Promise.all(flood.map((f) => f.written));
    const models = send('/models', other.secret, 'GET', null);
    const modelsDone = models.answered.then((st) => (order.push('other'), st));
    expect(await modelsDone).toBe(200);
    const statuses = await Promise.all(floodDone);
    // The other token's answer came before any of the flood's that was counted.
    const counted = statuses.map((st, i) => [st, i] as const).filter(([st]) => st === 200);
    expect(counted.length).toBeGreaterThan(0);
    for (const [, i] of counted) expect(order.indexOf('other')).toBeLessThan(order.indexOf(`flood${i}`));
    // One token has at most its cap in the pool: the rest were told to wait.
    expect(statuses.filter((st) => st === 429).length).toBeGreaterThan(0);
    expect(statuses.every((st) => st === 200 || st === 429)).toBe(true);
  });
});

describe('multipart fields are read as the upstream reads them (item 6)', () => {
  function form(parts: Array<{ name: string; value: string; headers?: string; filename?: string }>): { body: Buffer; type: string } {
    const boundary = '----sbsBoundary7MA4YWxkTrZu0gW';
    const chunks: string[] = [];
    for (const p of parts) {
      chunks.push(`--${boundary}\r\nContent-Disposition: form-data; name="${p.name}"${p.filename ? `; filename="${p.filename}"` : ''}\r\n${p.headers ?? ''}\r\n${p.value}\r\n`);
    }
    chunks.push(`--${boundary}--\r\n`);
    return { body: Buffer.from(chunks.join('')), type: `multipart/form-data; boundary=${boundary}` };
  }
  const edit = (secret: string, f: { body: Buffer; type: string }) =>
    fetch(`${s.baseURL}/images/edits`, { method: 'POST', headers: { authorization: `Bearer ${secret}`, 'content-type': f.type }, body: f.body });

  it('n=10 in a part with a 1.5 KB extra header is ten images', async () => {
    const { token, secret } = s.token({ budgetUsd: 0.1 });
    const f = form([
      { name: 'image', value: 'PNGDATA', filename: 'a.png', headers: 'Content-Type: image/png\r\n' },
      { name: 'prompt', value: 'a lighthouse' },
      { name: 'n', value: '10', headers: `X-Padding: ${'p'.repeat(1536)}\r\n` },
    ]);
    const e = await errorOf(await edit(secret, f));
    expect(e).toMatchObject({ status: 402, code: 'budget_exhausted' });
    expect(e.message).toContain('10 image calls');
    expect(spentMicros(token.id)).toBe(0);
  });

  it('a field that cannot be read unambiguously is refused', async () => {
    const { secret } = s.token({ budgetUsd: 1 });
    const twice = form([
      { name: 'prompt', value: 'x' },
      { name: 'n', value: '1' },
      { name: 'n', value: '10' },
    ]);
    expect((await errorOf(await edit(secret, twice))).status).toBe(400);
    const encoded = form([{ name: 'n', value: 'MTA=', headers: 'Content-Transfer-Encoding: base64\r\n' }]);
    expect((await errorOf(await edit(secret, encoded))).status).toBe(400);
    const spaced = form([{ name: 'n', value: ' 10' }]);
    expect((await errorOf(await edit(secret, spaced))).status).toBe(400);
  });

  it('size " 1024x1024" is priced as the upstream bills it (large), not as the small size', async () => {
    const { token, secret } = s.token({ budgetUsd: 0.06 });
    const charged = await simCharged(async () => {
      const res = await post('/images/generations', secret, { model: 'gpt-image-1', prompt: 'a lighthouse', size: ' 1024x1024' });
      expect((await errorOf(res)).code).toBe('budget_exhausted');
    });
    expect(charged).toBe(0);
    expect(spentMicros(token.id)).toBe(0);
  });
});

describe('an upstream that reports more than was reserved (item 1)', () => {
  it('is charged what it reported, and the human is told, with the request named', async () => {
    const r = await startStack({ sim: { reportCost: true } });
    try {
      // The sidecar's price is far below what the upstream charges, so the reservation cannot hold the reported cost.
      r.daemon.deps.prices.setOverride('gpt-4o', 0.01, 0.01);
      const { token, secret } = r.token({ budgetUsd: 1 });
      const res = await fetch(`${r.baseURL}/chat/completions`, {
        method: 'POST',
        headers: { authorization: `Bearer ${secret}`, 'content-type': 'application/json' },
        body: JSON.stringify({ model: 'gpt-4o', messages: [{ role: 'user', content: text(2000) }], max_tokens: 50 }),
      });
      expect(res.status).toBe(200);
      const requestId = res.headers.get('x-request-id');
      await res.arrayBuffer();
      const row = r.daemon.db.prepare('SELECT request_id, cost_micros, cost_source FROM usage WHERE token_id = ?').get(token.id) as { request_id: string; cost_micros: number; cost_source: string };
      expect(row.cost_source).toBe('upstream');
      const alert = r.daemon.db.prepare("SELECT token_id, detail FROM audit WHERE event = 'usage.upstream_overrun'").get() as { token_id: string; detail: string } | undefined;
      expect(alert?.token_id).toBe(token.id);
      const d = JSON.parse(alert!.detail) as { request_id: string; reserved_micros: number; charged_micros: number };
      expect(d.request_id).toBe(row.request_id);
      if (requestId) expect(d.request_id).toBe(requestId);
      expect(d.charged_micros).toBe(row.cost_micros);
      expect(d.charged_micros).toBeGreaterThan(d.reserved_micros);
    } finally {
      await r.close();
    }
  });
});

describe("the model's synced output limit, and the Messages route (item 1)", () => {
  it('a request without a bound is sent with the synced limit; a Messages max_tokens over the budget is lowered', async () => {
    const r = await startStack();
    try {
      // As a listing that names an output limit gives it (the simulator's lists none).
      r.daemon.deps.prices.syncFromUpstream([{ id: 'gpt-4o', pricing: { prompt: 2.5, completion: 10 }, max_output_tokens: 300 }], Date.now());
      expect(r.daemon.deps.prices.outputLimit('gpt-4o')).toBe(300);
      const { secret } = r.token({ budgetUsd: 1 });
      const call = (path: string, body: unknown, extra: Record<string, string> = {}) =>
        fetch(`${r.baseURL}${path}`, { method: 'POST', headers: { authorization: `Bearer ${secret}`, 'content-type': 'application/json', ...extra }, body: JSON.stringify(body) });
      let from = r.sim.requests.length;
      const res = await call('/chat/completions', { model: 'gpt-4o', messages: [{ role: 'user', content: text(4000) }] });
      expect(res.status).toBe(200);
      const answer = (await res.json()) as { usage: { completion_tokens: number }; choices: Array<{ finish_reason: string }> };
      expect(JSON.parse(r.sim.requests[from]!.body)).toMatchObject({ max_tokens: 300 });
      expect(answer.usage.completion_tokens).toBe(300);
      expect(answer.choices[0]!.finish_reason).toBe('length');

      const small = r.token({ budgetUsd: 0.02 });
      from = r.sim.requests.length;
      const msg = await fetch(`${r.baseURL}/messages`, {
        method: 'POST',
        headers: { 'x-api-key': small.secret, 'content-type': 'application/json', 'anthropic-version': '2023-06-01' },
        body: JSON.stringify({ model: 'claude-4-5-sonnet', max_tokens: 100_000, messages: [{ role: 'user', content: text(3000) }] }),
      });
      expect(msg.status).toBe(200);
      await msg.arrayBuffer();
      const sent = JSON.parse(r.sim.requests[from]!.body) as { max_tokens: number };
      // $0.02 at $15 per million tokens: prompt and answer within 1,333 tokens.
      expect(sent.max_tokens).toBeLessThan(1_333);
      expect(sent.max_tokens).toBeGreaterThanOrEqual(256);
    } finally {
      await r.close();
    }
  });
});
