/**
 * The worst case a request may cost, computed before it goes upstream, and
 * the exact integer cost arithmetic it rests on.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openDatabase, type DB } from '../../../proxy/db/database.js';
import { estimate } from '../../../proxy/pipeline/estimate.js';
import { costMicros, PriceBook } from '../../../proxy/pricing/prices.js';
import { countChatPromptTokens, tokenizerReady } from '../../../proxy/pricing/tokenizer.js';
import { refusal } from '../../helpers/refusal.js';

let dir: string;
let db: DB;
let prices: PriceBook;
beforeAll(async () => {
  await tokenizerReady();
  dir = mkdtempSync(join(tmpdir(), 'sbs-estimate-'));
  db = openDatabase(dir);
  prices = new PriceBook(db);
  prices.syncFromUpstream(
    [
      { id: 'flat', cost: 15 },
      { id: 'split', pricing: { prompt: 0.15, completion: 0.6 } },
    ],
    Date.now(),
  );
});
afterAll(() => {
  db.close();
  rmSync(dir, { recursive: true, force: true });
});

const messages = [{ role: 'user', content: 'How much will this cost?' }];
const promptTokens = () => countChatPromptTokens(messages);
const chat = (extra: Record<string, unknown>) => estimate('chat', { model: 'split', messages, ...extra }, prices, 4096);

describe('estimate', () => {
  it('is prompt tokens plus max_tokens × n at the model price, rounded up', () => {
    const e = chat({ max_tokens: 100, n: 3 });
    expect(e.promptTokens).toBe(promptTokens());
    expect(e.maxCompletionTokens).toBe(300);
    expect(e.worstCaseMicros).toBe(Math.ceil((promptTokens() * 150_000 + 300 * 600_000) / 1e6));
  });

  it('uses the configured default when no maximum is set', () => {
    expect(chat({}).maxCompletionTokens).toBe(4096);
    expect(chat({ max_tokens: null }).maxCompletionTokens).toBe(4096);
  });

  it('takes the larger of max_tokens and max_completion_tokens', () => {
    expect(chat({ max_completion_tokens: 10 }).maxCompletionTokens).toBe(10);
    expect(chat({ max_completion_tokens: 1, max_tokens: 5000 }).maxCompletionTokens).toBe(5000);
    expect(chat({ max_completion_tokens: 5000, max_tokens: 1 }).maxCompletionTokens).toBe(5000);
  });

  it('counts best_of for legacy completions, and every prompt of a batch', () => {
    const e = estimate('completion', { model: 'flat', prompt: ['a', 'b'], max_tokens: 10, n: 1, best_of: 4 }, prices, 4096);
    expect(e.maxCompletionTokens).toBe(10 * 4 * 2);
  });

  it('prices an unknown model by the default, never free', () => {
    const e = estimate('chat', { model: 'no-such-model', messages, max_tokens: 10 }, prices, 4096);
    expect(e.worstCaseMicros).toBe(costMicros({ prompt: 15, completion: 75 }, promptTokens(), 10));
    expect(e.worstCaseMicros).toBeGreaterThan(0);
  });

  it('refuses a wrong type in a field that feeds the estimate with 400 naming the field', () => {
    for (const [field, value] of [
      ['max_tokens', '100'],
      ['max_tokens', 1.5],
      ['max_tokens', -1],
      ['max_tokens', 0],
      ['max_tokens', 1e12],
      ['max_completion_tokens', true],
      ['n', 0],
      ['n', 1000],
      ['n', '2'],
      ['stream', 'yes'],
      ['model', 42],
      ['messages', 'hi'],
    ] as const) {
      const e = refusal(() => estimate('chat', { model: 'split', messages, [field]: value }, prices, 4096));
      expect(e.status, `${field}=${String(value)}`).toBe(400);
      expect(e.message).toContain(field);
    }
  });
});

describe('costMicros', () => {
  it('is exact where floating point would charge a micro-dollar too much', () => {
    // 599 × 0.1 + 7 × 0.3 = 62 exactly, but 62.00000000000001 in floating point.
    expect(Math.ceil(599 * 0.1 + 7 * 0.3)).toBe(63);
    expect(costMicros({ prompt: 0.1, completion: 0.3 }, 599, 7)).toBe(62);
    expect(costMicros({ prompt: 0.15, completion: 0.6 }, 1, 0)).toBe(1);
    expect(costMicros({ prompt: 0.15, completion: 0.6 }, 20, 0)).toBe(3);
    expect(costMicros({ prompt: 0, completion: 0 }, 1000, 1000)).toBe(0);
  });

  it('stays exact beyond 2^53 (billions of tokens at a high price)', () => {
    const tokens = 128 * 10_000_000;
    expect(costMicros({ prompt: 75.000001, completion: 75.000001 }, tokens, tokens)).toBe(192_000_002_560);
  });
});
