/**
 * Upstream chat chunks → Anthropic stream events, fed the way the network
 * delivers them: events come out as soon as their chunk is complete, in the
 * order Anthropic clients require, and the closing events are held for the
 * trailer.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { AnthropicSseTap as Tap } from '../../../proxy/anthropic/stream.js';
import { usageOf } from '../../../proxy/pipeline/meter.js';
import { tokenizerReady } from '../../../proxy/pricing/tokenizer.js';

type Ev = { event: string; data: Record<string, unknown> };

function events(text: string): Ev[] {
  return text
    .split('\n\n')
    .filter((e) => e !== '')
    .map((e) => {
      const [ev, data] = e.split('\n');
      return { event: ev!.slice(7), data: JSON.parse(data!.slice(6)) as Record<string, unknown> };
    });
}

const chunk = (delta: unknown, finish: string | null = null) => `data: ${JSON.stringify({ id: 'c1', model: 'x', choices: [{ index: 0, delta, finish_reason: finish }] })}\n\n`;
const usage = (p: number, c: number) => `data: ${JSON.stringify({ id: 'c1', model: 'x', choices: [], usage: { prompt_tokens: p, completion_tokens: c } })}\n\n`;

class AnthropicSseTap extends Tap<ReturnType<typeof usageOf>> {
  constructor(model: string, hint: number) {
    super(model, hint, usageOf);
  }
}

beforeAll(async () => {
  await tokenizerReady();
});

describe('AnthropicSseTap', () => {
  it('streams text as message_start, ping, a text block and, at the end, message_delta and message_stop', () => {
    const tap = new AnthropicSseTap('claude-4-5-sonnet', 9);
    const first = events(tap.push(Buffer.from(chunk({ role: 'assistant', content: '' }))));
    expect(first.map((e) => e.event)).toEqual(['message_start', 'ping']);
    expect(first[0]!.data.message).toMatchObject({ role: 'assistant', model: 'claude-4-5-sonnet', content: [], usage: { input_tokens: 9, output_tokens: 0 } });
    // Each piece is out as soon as its chunk is.
    const a = events(tap.push(Buffer.from(chunk({ content: 'Hel' }))));
    expect(a.map((e) => e.event)).toEqual(['content_block_start', 'content_block_delta']);
    expect(a[1]!.data).toEqual({ type: 'content_block_delta', index: 0, delta: { type: 'text_delta', text: 'Hel' } });
    expect(events(tap.push(Buffer.from(chunk({ content: 'lo' }))))[0]!.data.delta).toEqual({ type: 'text_delta', text: 'lo' });
    expect(tap.push(Buffer.from(chunk({}, 'stop') + usage(20, 2) + 'data: [DONE]\n\n'))).toBe('');
    expect(tap.sawDone).toBe(true);
    expect(tap.usage).toMatchObject({ promptTokens: 20, completionTokens: 2 });
    const end = events(tap.trailer()!);
    expect(end.map((e) => e.event)).toEqual(['content_block_stop', 'message_delta', 'message_stop']);
    expect(end[1]!.data).toEqual({ type: 'message_delta', delta: { stop_reason: 'end_turn', stop_sequence: null }, usage: { input_tokens: 20, output_tokens: 2 } });
  });

  it('streams a tool call as a tool_use block with input_json_delta fragments', () => {
    const tap = new AnthropicSseTap('m', 0);
    let out = tap.push(Buffer.from(chunk({ role: 'assistant', content: 'Checking.' })));
    out += tap.push(Buffer.from(chunk({ tool_calls: [{ index: 0, id: 'call_1', type: 'function', function: { name: 'get_weather', arguments: '' } }] })));
    out += tap.push(Buffer.from(chunk({ tool_calls: [{ index: 0, function: { arguments: '{"city":' } }] })));
    out += tap.push(Buffer.from(chunk({ tool_calls: [{ index: 0, function: { arguments: '"Paris"}' } }] })));
    out += tap.push(Buffer.from(chunk({}, 'tool_calls') + 'data: [DONE]\n\n'));
    out += tap.trailer();
    const ev = events(out);
    expect(ev.map((e) => e.event)).toEqual([
      'message_start',
      'ping',
      'content_block_start',
      'content_block_delta',
      'content_block_stop',
      'content_block_start',
      'content_block_delta',
      'content_block_delta',
      'content_block_stop',
      'message_delta',
      'message_stop',
    ]);
    expect(ev[5]!.data).toEqual({ type: 'content_block_start', index: 1, content_block: { type: 'tool_use', id: 'call_1', name: 'get_weather', input: {} } });
    const json = ev.filter((e) => (e.data.delta as { type?: string } | undefined)?.type === 'input_json_delta').map((e) => (e.data.delta as { partial_json: string }).partial_json);
    expect(JSON.parse(json.join(''))).toEqual({ city: 'Paris' });
    expect((ev[9]!.data.delta as { stop_reason: string }).stop_reason).toBe('tool_use');
  });

  it('reassembles events split anywhere, CRLF included', () => {
    const tap = new AnthropicSseTap('m', 0);
    const bytes = Buffer.from((chunk({ content: 'héllo' }) + chunk({}, 'stop') + 'data: [DONE]\n\n').replace(/\n/g, '\r\n'));
    let out = '';
    for (let i = 0; i < bytes.length; i += 3) out += tap.push(bytes.subarray(i, i + 3));
    out += tap.flush();
    const text = events(out).filter((e) => e.event === 'content_block_delta').map((e) => (e.data.delta as { text: string }).text).join('');
    expect(text).toBe('héllo');
    expect(tap.sawDone).toBe(true);
  });

  it('counts what was delivered when the upstream sends no usage, and reports it in message_delta', () => {
    const tap = new AnthropicSseTap('m', 4);
    tap.push(Buffer.from(chunk({ content: 'one two three' }) + chunk({}, 'stop') + 'data: [DONE]\n\n'));
    expect(tap.usage).toBeNull();
    const counted = tap.countDelivered();
    expect(counted).toBeGreaterThan(0);
    const delta = events(tap.trailer()!).find((e) => e.event === 'message_delta')!;
    expect(delta.data.usage).toEqual({ input_tokens: 4, output_tokens: counted });
  });

  it('turns an upstream error inside the stream into an Anthropic error event and stops there', () => {
    const tap = new AnthropicSseTap('m', 0);
    const out = tap.push(Buffer.from(chunk({ content: 'a' }) + `data: ${JSON.stringify({ error: { message: 'boom' } })}\n\n` + chunk({ content: 'b' })));
    const ev = events(out);
    expect(ev.at(-1)).toEqual({ event: 'error', data: { type: 'error', error: { type: 'api_error', message: expect.stringContaining('boom') } } });
    expect(ev.some((e) => (e.data.delta as { text?: string } | undefined)?.text === 'b')).toBe(false);
    expect(tap.finished).toBe(false);
    expect(tap.trailer()).toBeNull(); // nothing may follow the error event
  });

  it('scrubs the real key from an upstream error it writes into the error event', () => {
    const key = 'sk-upstream-real-key-1234567890';
    const tap = new Tap<ReturnType<typeof usageOf>>('m', 0, usageOf, (t) => t.split(key).join('[key]'));
    const out = tap.push(Buffer.from(`data: ${JSON.stringify({ error: { message: `invalid key ${key}` } })}\n\n`));
    expect(out).not.toContain(key);
    expect(out).toContain('invalid key [key]');
  });

  it('ends an unfinished stream with an error event, not message_stop', () => {
    const tap = new AnthropicSseTap('m', 0);
    tap.push(Buffer.from(chunk({ content: 'cut' })));
    tap.flush();
    const ev = events(tap.trailer()!);
    expect(ev.map((e) => e.event)).toEqual(['error']);
  });
});
