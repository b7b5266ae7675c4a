/**
 * SseTap: whole events out of arbitrarily split bytes (TCP chunks, CRLF and
 * CR line endings, multi-byte characters cut in half), the usage chunk hidden
 * from a client that did not ask, `[DONE]` held back for the caller, and what
 * was delivered counted with the tokenizer when usage never arrives.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { reportedCost, usageOf } from '../../../proxy/pipeline/meter.js';
import { DONE_EVENT, SseTap } from '../../../proxy/pipeline/sse.js';
import { countTokens, tokenizerReady } from '../../../proxy/pricing/tokenizer.js';

beforeAll(async () => {
  await tokenizerReady();
});

const chunk = (content: string, extra: Record<string, unknown> = {}) =>
  JSON.stringify({ id: 'c1', object: 'chat.completion.chunk', model: 'gpt-4o-mini', choices: [{ index: 0, delta: { content }, finish_reason: null }], ...extra });
const usageChunk = JSON.stringify({ id: 'c1', object: 'chat.completion.chunk', model: 'gpt-4o-mini', choices: [], usage: { prompt_tokens: 11, completion_tokens: 7, total_tokens: 18 } });

/** A whole upstream stream as SSE text with the given line ending. */
function stream(eol: string, words: string[], withUsage = true): string {
  const events = words.map((w) => `data: ${chunk(w)}`);
  if (withUsage) events.push(`data: ${usageChunk}`);
  events.push('data: [DONE]');
  return events.map((e) => e + eol + eol).join('');
}

/** Feeds `text` to a tap in pieces cut at the given byte offsets; returns everything it let through. */
function feed(tap: SseTap, bytes: Buffer, cuts: number[]): string {
  let out = '';
  let at = 0;
  for (const c of [...cuts, bytes.length]) {
    out += tap.push(bytes.subarray(at, c));
    at = c;
  }
  return out + tap.flush();
}

function dataLines(out: string): string[] {
  return out
    .split('\n\n')
    .filter((e) => e !== '')
    .map((e) => e.replace(/^data: /, ''));
}

const WORDS = ['Echo', ':', ' héllo', ' wörld', ' 🚀', ' done'];

describe('SseTap framing', () => {
  for (const [name, eol] of [
    ['LF', '\n'],
    ['CRLF', '\r\n'],
    ['CR', '\r'],
  ] as const) {
    it(`splits ${name}-separated events cut at every byte boundary`, () => {
      const bytes = Buffer.from(stream(eol, WORDS));
      const expected = [...WORDS.map((w) => chunk(w)), usageChunk];
      // Every single cut point, including inside "\r\n" and inside multi-byte characters.
      for (let cut = 1; cut < bytes.length; cut++) {
        const tap = new SseTap(false);
        const out = feed(tap, bytes, [cut]);
        expect(dataLines(out), `cut at ${cut}`).toEqual(expected);
        expect(tap.sawDone).toBe(true);
        expect(tap.usage).toMatchObject({ promptTokens: 11, completionTokens: 7 });
      }
    });
  }

  it('survives a byte-by-byte stream and mixed line endings', () => {
    const text = `data: ${chunk('a')}\r\n\r\n: keep-alive comment\n\ndata: ${chunk('b')}\r\rdata: ${chunk('c')}\n\r\ndata: [DONE]\n\n`;
    const bytes = Buffer.from(text);
    const tap = new SseTap(false);
    const out = feed(tap, bytes, Array.from({ length: bytes.length - 1 }, (_, i) => i + 1));
    expect(out.split('\n\n').filter(Boolean)).toEqual([`data: ${chunk('a')}`, ': keep-alive comment', `data: ${chunk('b')}`, `data: ${chunk('c')}`]);
    expect(tap.sawDone).toBe(true);
  });

  it('forwards each event as soon as it is complete, not at the end', () => {
    const tap = new SseTap(false);
    const first = `data: ${chunk('one')}\n\n`;
    expect(tap.push(Buffer.from(first.slice(0, 10)))).toBe('');
    expect(tap.push(Buffer.from(first.slice(10)))).toBe(first);
    expect(tap.push(Buffer.from(`data: ${chunk('two')}\n`))).toBe('');
    expect(tap.push(Buffer.from('\n'))).toBe(`data: ${chunk('two')}\n\n`);
  });

  it('joins multi-line data fields', () => {
    const tap = new SseTap(false);
    tap.push(Buffer.from(`event: x\ndata: {"usage":\ndata: {"prompt_tokens": 3, "completion_tokens": 2}}\n\n`));
    expect(tap.usage).toMatchObject({ promptTokens: 3, completionTokens: 2 });
  });

  it('passes an unterminated last event through at the end', () => {
    const tap = new SseTap(false);
    expect(tap.push(Buffer.from(`data: ${chunk('x')}`))).toBe('');
    expect(tap.flush()).toBe(`data: ${chunk('x')}\n\n`);
  });
});

describe('SseTap usage and [DONE]', () => {
  it('hides the usage-only chunk from a client that did not ask, but still reads it', () => {
    const tap = new SseTap(true);
    const out = feed(tap, Buffer.from(stream('\n', WORDS)), [37]);
    expect(out).not.toContain('"usage"');
    expect(dataLines(out)).toHaveLength(WORDS.length);
    expect(tap.usage).toMatchObject({ promptTokens: 11, completionTokens: 7, model: 'gpt-4o-mini' });
  });

  it('passes the usage chunk to a client that asked', () => {
    const tap = new SseTap(false);
    const out = feed(tap, Buffer.from(stream('\n', WORDS)), []);
    expect(dataLines(out).at(-1)).toBe(usageChunk);
  });

  it('never hides a chunk that carries content, even with usage on it', () => {
    const tap = new SseTap(true);
    const both = chunk('tail', { usage: { prompt_tokens: 1, completion_tokens: 1 } });
    expect(tap.push(Buffer.from(`data: ${both}\n\n`))).toBe(`data: ${both}\n\n`);
    expect(tap.usage).not.toBeNull();
  });

  it('ignores "usage": null on ordinary chunks', () => {
    const tap = new SseTap(true);
    const c = chunk('x', { usage: null });
    expect(tap.push(Buffer.from(`data: ${c}\n\n`))).toBe(`data: ${c}\n\n`);
    expect(tap.usage).toBeNull();
  });

  it('holds [DONE] back for the caller to write after settling', () => {
    const tap = new SseTap(false);
    expect(tap.push(Buffer.from('data: [DONE]\n\n'))).toBe('');
    expect(tap.sawDone).toBe(true);
    expect(DONE_EVENT).toBe('data: [DONE]\n\n');
  });
});

describe('SseTap counting what was delivered', () => {
  it('counts the delivered text with the tokenizer when usage is missing', () => {
    const tap = new SseTap(true);
    feed(tap, Buffer.from(stream('\r\n', WORDS, false)), [50]);
    expect(tap.usage).toBeNull();
    expect(tap.countDelivered()).toBe(countTokens(WORDS.join('')));
  });

  it('counts tool-call names and arguments', () => {
    const tap = new SseTap(false);
    const tc = JSON.stringify({ choices: [{ index: 0, delta: { tool_calls: [{ index: 0, function: { name: 'get_weather', arguments: '{"city":"Paris"}' } }] } }] });
    tap.push(Buffer.from(`data: ${tc}\n\n`));
    expect(tap.countDelivered()).toBe(countTokens('get_weather{"city":"Paris"}'));
  });

  it('counts text past the kept-bytes cap as one token per byte, never less', () => {
    const tap = new SseTap(false, 10);
    tap.push(Buffer.from(`data: ${chunk('first')}\n\ndata: ${chunk('second')}\n\n`));
    expect(tap.countDelivered()).toBe(countTokens('first') + Buffer.byteLength(chunk('second')));
  });
});

describe('reported costs', () => {
  it('takes whole micro-dollars exactly and rounds only real fractions up', () => {
    for (let m = 1; m < 20_000; m++) expect(reportedCost(m / 1e6)).toBe(m);
    expect(reportedCost('0.000003')).toBe(3);
    expect(reportedCost(0.0000031)).toBe(4);
    expect(reportedCost(12.5)).toBe(12_500_000);
    for (const bad of [-1, 'abc', '', null, undefined, Number.NaN, Infinity]) expect(reportedCost(bad)).toBeNull();
  });

  it('reads usage.cost from a body', () => {
    expect(usageOf({ model: 'm', usage: { prompt_tokens: 5, completion_tokens: 2, cost: 0.000021 } })).toEqual({
      promptTokens: 5,
      completionTokens: 2,
      reportedCostMicros: 21,
      model: 'm',
    });
    expect(usageOf({ usage: { input_tokens: 4, output_tokens: 1 } })).toMatchObject({ promptTokens: 4, completionTokens: 1 });
    expect(usageOf({ usage: 'nope' })).toBeNull();
  });
});
