/**
 * The scan of a large body (scan.ts): it finds exactly the top-level fields a
 * JSON parser finds, refuses what a parse refuses where it matters to the
 * budget, splices stream_options into the bytes, and its prompt bound is never
 * below the exact count, including the cases where a body's bytes alone would
 * be (images, empty messages, numbers JSON.stringify writes longer).
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { scanBody, withField } from '../../../proxy/pipeline/scan.js';
import { SCANNED_FIELDS } from '../../../proxy/pipeline/estimate.js';
import { promptTokensOf } from '../../../proxy/pricing/prompt.js';
import { countTokens, tokenizerReady } from '../../../proxy/pricing/tokenizer.js';

beforeAll(async () => {
  await tokenizerReady();
});

const scan = (body: string) => scanBody(Buffer.from(body), SCANNED_FIELDS, 64);

describe('scanBody', () => {
  it('reads the top-level fields a parser reads, and only those', () => {
    const body = {
      messages: [{ role: 'user', content: 'say "max_tokens": 9 and {"model":"x"} \\" ]}' }],
      tools: [{ type: 'function', function: { name: 'f', parameters: { max_tokens: 5, stream: true } } }],
      model: 'gpt-4o',
      stream: true,
      stream_options: { include_usage: false },
      max_tokens: 300,
      n: 2,
    };
    const s = scan(JSON.stringify(body, null, 2));
    expect(s.fields).toEqual({ model: 'gpt-4o', stream: true, stream_options: { include_usage: false }, max_tokens: 300, n: 2 });
    expect(s.kinds.messages).toBe('array');
    expect(scan('{"messages": [ ], "model":"m"}').kinds.messages).toBe('[]');
  });

  it('refuses a wanted field given twice, unbalanced brackets, unterminated strings, nesting past the limit, a non-object', () => {
    expect(() => scan('{"model":"a","max_tokens":1,"max_tokens":100000}')).toThrow(/more than once/);
    expect(() => scan('{"messages":[{"content":"x"}]],"max_tokens":1}')).toThrow(/not valid JSON/);
    expect(() => scan('{"messages":["abc\\"]}')).toThrow(/not valid JSON/);
    expect(() => scan(`{"messages":${'['.repeat(80)}${']'.repeat(80)}}`)).toThrow(/more than 64 levels/);
    expect(() => scan('[1,2]')).toThrow(/must be a JSON object/);
    expect(() => scan('{"model":"a"} x')).toThrow(/not valid JSON/);
  });

  it('splices stream_options into the bytes: added before the closing brace, or replacing the one given', () => {
    const added = '{"model":"m","messages":[{"role":"user","content":"hi"}],"stream":true}';
    const a = withField(Buffer.from(added), scan(added), 'stream_options', { include_usage: true });
    expect(JSON.parse(a.toString())).toEqual({ ...JSON.parse(added), stream_options: { include_usage: true } });
    const given = '{"stream_options":{"x":1},"model":"m","messages":[1]}';
    const b = withField(Buffer.from(given), scan(given), 'stream_options', { x: 1, include_usage: true });
    expect(JSON.parse(b.toString())).toEqual({ stream_options: { x: 1, include_usage: true }, model: 'm', messages: [1] });
  });

  it('bounds the prompt from above where bytes alone would not', () => {
    const cases: Array<Record<string, unknown>> = [
      { model: 'm', messages: [{ role: 'user', content: [{ type: 'image_url', image_url: { url: 'x' } }, { type: 'image_url', image_url: { url: 'y' } }] }] },
      { model: 'm', messages: Array.from({ length: 200 }, () => ({})) },
      { model: 'm', messages: Array.from({ length: 200 }, () => 1) },
      { model: 'm', messages: [{ role: 'user', content: 'x' }], tools: Array.from({ length: 50 }, () => ({ n: 1e20 })) },
      { model: 'm', messages: [{ role: 'user', content: 'plain English prose, the usual case. '.repeat(200) }] },
    ];
    for (const body of cases) {
      const raw = JSON.stringify(body);
      expect(scan(raw).promptBound).toBeGreaterThanOrEqual(promptTokensOf('messages', JSON.parse(raw) as Record<string, unknown>, countTokens));
    }
    // An image type written with an escape still gets the image allowance.
    const escaped = '{"model":"m","messages":[{"role":"user","content":[{"type":"image\\u005furl","image_url":{"url":"x"}}]}]}';
    expect(scan(escaped).promptBound).toBeGreaterThanOrEqual(promptTokensOf('messages', JSON.parse(escaped) as Record<string, unknown>, countTokens));
  });
});
