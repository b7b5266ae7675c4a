/**
 * A token with no budget anywhere in its chain skips exact prompt counting up
 * front (the tokenizer is not needed for a reservation), yet when the
 * upstream reports no usage the prompt is still charged as counted, never as
 * its UTF-8 upper bound.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { countChatPromptTokens, tokenizerReady } from '../../proxy/pricing/tokenizer.js';
import { startStack, type Stack } from '../helpers/stack.js';

let s: Stack;
beforeAll(async () => {
  s = await startStack();
  await tokenizerReady();
});
afterAll(async () => {
  await s?.close();
});

const messages = [{ role: 'user', content: 'Ünïcödé prompt, long enough that bytes and tokens differ a lot: ' + 'naïve café '.repeat(20) }];

function row(tokenId: string) {
  return s.daemon.db.prepare('SELECT prompt_tokens, completion_tokens, usage_source FROM usage WHERE token_id = ? ORDER BY id DESC LIMIT 1').get(tokenId) as {
    prompt_tokens: number;
    completion_tokens: number;
    usage_source: string;
  };
}

describe('metering without a budget', () => {
  it('charges the counted prompt when a JSON answer has no usage', async () => {
    s.sim.faults.omitUsage = true;
    try {
      const { token, secret } = s.token();
      const res = await fetch(`${s.baseURL}/chat/completions`, {
        method: 'POST',
        headers: { authorization: `Bearer ${secret}`, 'content-type': 'application/json' },
        body: JSON.stringify({ model: 'gpt-4o-mini', messages }),
      });
      expect(res.status).toBe(200);
      const r = row(token.id);
      expect(r.usage_source).toBe('counted');
      expect(r.prompt_tokens).toBe(countChatPromptTokens(messages));
      expect(r.prompt_tokens).toBeLessThan(Buffer.byteLength(messages[0]!.content) / 2);
      expect(r.completion_tokens).toBeGreaterThan(0);
    } finally {
      s.sim.faults.omitUsage = false;
    }
  });

  it('charges the counted prompt when a stream has no usage', async () => {
    s.sim.faults.omitUsage = true;
    try {
      const { token, secret } = s.token();
      const res = await fetch(`${s.baseURL}/chat/completions`, {
        method: 'POST',
        headers: { authorization: `Bearer ${secret}`, 'content-type': 'application/json' },
        body: JSON.stringify({ model: 'gpt-4o-mini', messages, stream: true }),
      });
      expect(res.status).toBe(200);
      expect(await res.text()).toContain('[DONE]');
      const r = row(token.id);
      expect(r.usage_source).toBe('counted');
      expect(r.prompt_tokens).toBe(countChatPromptTokens(messages));
    } finally {
      s.sim.faults.omitUsage = false;
    }
  });
});
