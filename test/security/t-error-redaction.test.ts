/**
 * Issue 25 item 8: redaction works on what the agent reads. An upstream error
 * that writes the real key with JSON escapes (`\u002d` for `-`, every
 * character escaped, upper-case hex, `\/`), percent-encoded, or without its
 * `sk-` reached the agent in clear and was stored in `usage.error_message`:
 * the relay redacted the raw text, then decoded it. Here the simulator writes
 * the key in each form, as a refusal on the OpenAI and the Anthropic route and
 * as an error event in the middle of a stream on both, and neither the agent,
 * the ledger nor the admin API ever holds it.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startStack, type Stack } from '../helpers/stack.js';
import { adminSecret, call, chatBody } from './kit.js';

let s: Stack;
let agent: { secret: string; id: string };

beforeAll(async () => {
  s = await startStack();
  const t = s.token({ preset: 'write', budgetUsd: 5 });
  agent = { secret: t.secret, id: t.token.id };
});
afterAll(async () => {
  await s?.close();
});

const esc = (c: string) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`;
/** The key as each writer might put it inside a JSON string literal. */
function forms(key: string): Array<[string, string]> {
  return [
    ['literal', key],
    ['dash as \\u002d', key.replace(/-/g, '\\u002d')],
    ['dash as \\u002D', key.replace(/-/g, '\\u002D')],
    ['every character escaped', [...key].map(esc).join('')],
    ['letters escaped, dashes literal', [...key].map((c) => (/[a-z]/.test(c) ? esc(c) : c)).join('')],
    ['percent-encoded dash', key.replace(/-/g, '%2D')],
    ['without sk-', key.slice(3)],
  ];
}

/** Nothing of the key in the text, decoded or not. */
function expectClean(text: string, where: string): void {
  const body = s.simKey.slice(3);
  const decoded = text.replace(/\\u([0-9a-fA-F]{4})/g, (_m, h: string) => String.fromCharCode(parseInt(h, 16)));
  for (const t of [text, decoded, decodeURIComponent(decoded.replace(/%(?![0-9a-fA-F]{2})/g, '%25'))]) expect(t, where).not.toContain(body);
}

const CHAT = '/v1/chat/completions';
const refusal = (written: string) => `{"error":{"message":"Incorrect API key provided: ${written}. You can find your key at https://example","type":"invalid_request_error","code":"invalid_api_key","param":"${written}"}}`;

describe('T. the real key in upstream errors, in every escaped form (issue 25 item 8)', () => {
  it.each(forms('KEY'))('T1 a 400 writing the key %s: the OpenAI route, the Anthropic route, the ledger and the admin API hold none of it', async (what) => {
    const written = forms(s.simKey).find(([w]) => w === what)![1];
    s.sim.faults.failNext = { count: 1, status: 400, path: CHAT, rawBody: refusal(written) };
    const openai = await call(s, agent.secret, 'POST', CHAT, chatBody());
    expect(openai.status).toBe(400);
    const openaiText = await openai.text();
    expect(openaiText).toContain('Incorrect API key provided');
    expectClean(openaiText, `openai ${what}`);

    s.sim.faults.failNext = { count: 1, status: 400, path: CHAT, rawBody: refusal(written) };
    const anthropic = await call(s, agent.secret, 'POST', '/v1/messages', { model: 'gpt-4o', max_tokens: 16, messages: [{ role: 'user', content: 'hi' }] });
    expect(anthropic.status).toBe(400);
    const anthropicText = await anthropic.text();
    expect(anthropicText).toContain('Incorrect API key provided');
    expectClean(anthropicText, `anthropic ${what}`);

    const stored = s.daemon.db.prepare('SELECT error_message FROM usage WHERE token_id = ? AND error_message IS NOT NULL').pluck().all(agent.id) as string[];
    expect(stored.length).toBeGreaterThan(0);
    for (const m of stored) expectClean(m, `usage.error_message ${what}`);
    const requests = await fetch(`${s.daemon.url}/admin/api/requests`, { headers: { authorization: `Bearer ${adminSecret(s)}` } });
    expect(requests.status).toBe(200);
    expectClean(await requests.text(), `GET /admin/api/requests ${what}`);
  });

  it.each(forms('KEY'))('T2 an error event mid-stream writing the key %s: the OpenAI and the Anthropic stream hold none of it', async (what) => {
    const written = forms(s.simKey).find(([w]) => w === what)![1];
    for (const [path, body] of [
      [CHAT, chatBody({ stream: true })],
      ['/v1/messages', { model: 'gpt-4o', max_tokens: 16, stream: true, messages: [{ role: 'user', content: 'hi' }] }],
    ] as const) {
      s.sim.faults.streamError = { after: 1, data: `{"error":{"message":"upstream failed for key ${written}","type":"server_error"}}` };
      try {
        const res = await call(s, agent.secret, 'POST', path, body);
        expect(res.status).toBe(200);
        const text = await res.text();
        expect(text, `${path}: the premise, an error event reached the client`).toMatch(/error/);
        expectClean(text, `${path} ${what}`);
      } finally {
        delete s.sim.faults.streamError;
      }
    }
  });
});
