/**
 * Budgets with the byte bound (issue 15): a request is first reserved with a
 * bound of its prompt from its UTF-8 length, and counted exactly, in the
 * tokenizer pool, only when that bound does not fit. So a request that fits
 * its budget exactly is never refused because of the over-estimate, small or
 * large (a large body is scanned, not parsed), the budget still refuses one
 * micro-dollar over, and a 400 KiB prompt being counted does not hold up
 * another agent's request.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { estimate, estimateFromScan, SCANNED_FIELDS } from '../../proxy/pipeline/estimate.js';
import { scanBody } from '../../proxy/pipeline/scan.js';
import { errorOf, startStack, type Stack } from '../helpers/stack.js';

let s: Stack;
beforeAll(async () => {
  s = await startStack();
});
afterAll(async () => {
  await s?.close();
});

const MODEL = 'claude-4-5-sonnet';
/** Long enough that every reply is cut at max_tokens: the actual cost then equals the worst case. */
const LONG = Array.from({ length: 80 }, (_, i) => `word${i}`).join(' ');
const small = { model: MODEL, messages: [{ role: 'user', content: LONG }], max_tokens: 16 };

/** An agent's turn of ~400 KiB: the source files it has read, as tool results. */
function bigBody(): Record<string, unknown> {
  const dir = fileURLToPath(new URL('../../proxy/pipeline', import.meta.url));
  const messages: unknown[] = [{ role: 'system', content: 'You are a coding agent.' }];
  let size = 0;
  for (let round = 0; size < 400 * 1024; round++) {
    for (const f of readdirSync(dir).sort()) {
      const content = readFileSync(join(dir, f), 'utf8');
      messages.push({ role: 'user', content: `${f} (${round}):\n${content}` });
      size += content.length;
      if (size >= 400 * 1024) break;
    }
  }
  messages.push({ role: 'user', content: LONG });
  return { model: MODEL, messages, max_tokens: 16 };
}

function chat(secret: string, body: Record<string, unknown>): Promise<Response> {
  return fetch(`${s.baseURL}/chat/completions`, {
    method: 'POST',
    headers: { authorization: `Bearer ${secret}`, 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
}

/** The worst case as the sidecar reserves it after an exact count (the count from the same pool). */
async function exactWorst(body: Record<string, unknown>): Promise<number> {
  const tokens = await s.daemon.deps.tokenizer.countPrompt('messages', Buffer.from(JSON.stringify(body)));
  return s.daemon.deps.prices.cost(MODEL, tokens, body.max_tokens as number).micros;
}

function spent(tokenId: string): number {
  return (s.daemon.db.prepare('SELECT coalesce(sum(spent_micros), 0) FROM spend WHERE token_id = ?').pluck().get(tokenId) as number) ?? 0;
}

describe('the byte bound never refuses a request that fits', () => {
  it('a small request whose exact worst case is the whole budget is served; the next is refused', async () => {
    const worst = await exactWorst(small);
    const upper = estimate('chat', small, s.daemon.deps.prices, s.daemon.deps.limits.defaultMaxTokens, 'upper').worstCaseMicros;
    // The premise: reserving the bound alone would refuse it.
    expect(upper).toBeGreaterThan(worst);
    const { token, secret } = s.token({ budgetMicros: worst });
    const res = await chat(secret, small);
    expect(res.status).toBe(200);
    await res.arrayBuffer();
    expect(spent(token.id)).toBe(worst);
    const again = await chat(secret, small);
    expect(await errorOf(again)).toMatchObject({ status: 402, code: 'budget_exhausted' });
    expect(s.daemon.deps.budgets.reservedFor(token.id)).toBe(0);
  });

  it('a 400 KiB request (scanned, not parsed) is served at exactly its worst case and refused one micro-dollar below it', async () => {
    const body = bigBody();
    const raw = Buffer.from(JSON.stringify(body));
    expect(raw.length).toBeGreaterThan(400 * 1024);
    const worst = await exactWorst(body);
    const bound = estimateFromScan('chat', scanBody(raw, SCANNED_FIELDS, 64), s.daemon.deps.prices, s.daemon.deps.limits.defaultMaxTokens);
    expect(bound.worstCaseMicros).toBeGreaterThan(worst);

    const short = s.token({ budgetMicros: worst - 1 });
    const refused = await chat(short.secret, body);
    expect(await errorOf(refused)).toMatchObject({ status: 402, code: 'budget_exhausted' });
    expect(s.daemon.deps.budgets.reservedFor(short.token.id)).toBe(0);

    const exact = s.token({ budgetMicros: worst });
    const res = await chat(exact.secret, body);
    expect(res.status).toBe(200);
    await res.arrayBuffer();
    expect(spent(exact.token.id)).toBeLessThanOrEqual(worst);
    expect(s.daemon.deps.budgets.reservedFor(exact.token.id)).toBe(0);
  });
});

describe('a 400 KiB prompt is counted off the event loop', () => {
  it('another agent’s small request is answered while the big one is being counted', async () => {
    const body = bigBody();
    const worst = await exactWorst(body);
    // Room for the exact worst case but not for the byte bound: the big prompt must be counted.
    const tight = s.token({ budgetMicros: worst });
    const other = s.token();
    const pool = s.daemon.deps.tokenizer;
    const count = pool.countPrompt.bind(pool);
    let counting!: () => void;
    const started = new Promise<void>((r) => (counting = r));
    let smallAnswered!: () => void;
    const answered = new Promise<void>((r) => (smallAnswered = r));
    const order: string[] = [];
    // The count of the big prompt is only let through once the other request has been answered: that request can
    // only be answered meanwhile if the event loop is free while the prompt is counted.
    const spy = vi.spyOn(pool, 'countPrompt').mockImplementation(async (shape, raw) => {
      if (raw.length < 400 * 1024) return count(shape, raw);
      counting();
      const n = await count(shape, raw);
      await answered;
      order.push('big counted');
      return n;
    });
    try {
      const big = chat(tight.secret, body);
      await started;
      const res = await chat(other.secret, small);
      expect(res.status).toBe(200);
      await res.arrayBuffer();
      order.push('small answered');
      smallAnswered();
      const bigRes = await big;
      expect(bigRes.status).toBe(200);
      await bigRes.arrayBuffer();
      order.push('big answered');
    } finally {
      spy.mockRestore();
    }
    expect(order).toEqual(['small answered', 'big counted', 'big answered']);
    expect(spent(tight.token.id)).toBeLessThanOrEqual(worst);
  });
});
