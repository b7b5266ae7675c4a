/**
 * Messages API ⇄ chat completions, request and response, as pure functions:
 * each Anthropic feature Claude Code uses maps to its chat counterpart, and
 * what cannot be carried is refused with a 400 naming the field.
 */
import { describe, expect, it } from 'vitest';
import { SidecarError } from '../../../proxy/core/errors.js';
import { anthropicErrorType, toAnthropicBody } from '../../../proxy/anthropic/errors.js';
import { stopReason, toMessage, toolInput, usageOf } from '../../../proxy/anthropic/response.js';
import { chatBodyOf, chatBodyScanned, toChatPrompt, toChatRequest } from '../../../proxy/anthropic/translate.js';
import { withFields } from '../../../proxy/pipeline/scan.js';
import { promptTokensOf } from '../../../proxy/pricing/prompt.js';
import { upperBoundTokens } from '../../../proxy/pricing/tokenizer.js';
import { refusal } from '../../helpers/refusal.js';

const base = { model: 'claude-4-5-sonnet', max_tokens: 256 };

describe('toChatRequest', () => {
  it('carries model, max_tokens, sampling, stop sequences and streaming (asking for streamed usage)', () => {
    const { chat, model, stream } = toChatRequest({ ...base, messages: [{ role: 'user', content: 'Hi' }], temperature: 0.2, top_p: 0.9, top_k: 5, stop_sequences: ['END'], stream: true, metadata: { user_id: 'u' } });
    expect(model).toBe('claude-4-5-sonnet');
    expect(stream).toBe(true);
    expect(chat).toEqual({
      model: 'claude-4-5-sonnet',
      max_tokens: 256,
      messages: [{ role: 'user', content: 'Hi' }],
      stream: true,
      stream_options: { include_usage: true },
      temperature: 0.2,
      top_p: 0.9,
      stop: ['END'],
    });
  });

  it('puts the system prompt first, from a string or from text blocks (cache_control dropped)', () => {
    expect(toChatRequest({ ...base, system: 'Be brief.', messages: [{ role: 'user', content: 'x' }] }).chat.messages).toEqual([
      { role: 'system', content: 'Be brief.' },
      { role: 'user', content: 'x' },
    ]);
    const blocks = [{ type: 'text', text: 'One.' }, { type: 'text', text: 'Two.', cache_control: { type: 'ephemeral' } }];
    expect((toChatRequest({ ...base, system: blocks, messages: [{ role: 'user', content: 'x' }] }).chat.messages as unknown[])[0]).toEqual({ role: 'system', content: 'One.\n\nTwo.' });
  });

  it('turns text and image blocks into chat parts (base64 as a data URL, url as is)', () => {
    const { chat } = toChatRequest({
      ...base,
      messages: [
        {
          role: 'user',
          content: [
            { type: 'text', text: 'What is this?' },
            { type: 'image', source: { type: 'base64', media_type: 'image/png', data: 'iVBORw0KGgo=' } },
            { type: 'image', source: { type: 'url', url: 'https://example.invalid/a.png' } },
          ],
        },
      ],
    });
    expect(chat.messages).toEqual([
      {
        role: 'user',
        content: [
          { type: 'text', text: 'What is this?' },
          { type: 'image_url', image_url: { url: 'data:image/png;base64,iVBORw0KGgo=' } },
          { type: 'image_url', image_url: { url: 'https://example.invalid/a.png' } },
        ],
      },
    ]);
    // A single text block is sent as a plain string.
    expect(toChatRequest({ ...base, messages: [{ role: 'user', content: [{ type: 'text', text: 'only' }] }] }).chat.messages).toEqual([{ role: 'user', content: 'only' }]);
  });

  it('maps tools (input_schema → parameters) and every tool_choice', () => {
    const tools = [{ name: 'get_weather', description: 'Weather for a city', input_schema: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] } }];
    const req = (tool_choice?: unknown) => toChatRequest({ ...base, messages: [{ role: 'user', content: 'x' }], tools, tool_choice }).chat;
    expect(req().tools).toEqual([{ type: 'function', function: { name: 'get_weather', description: 'Weather for a city', parameters: tools[0]!.input_schema } }]);
    expect(req({ type: 'auto' }).tool_choice).toBe('auto');
    expect(req({ type: 'any' }).tool_choice).toBe('required');
    expect(req({ type: 'none' }).tool_choice).toBe('none');
    expect(req({ type: 'tool', name: 'get_weather' }).tool_choice).toEqual({ type: 'function', function: { name: 'get_weather' } });
    expect(req({ type: 'auto', disable_parallel_tool_use: true }).parallel_tool_calls).toBe(false);
    expect(refusal(() => req({ type: 'tool' })).status).toBe(400);
  });

  it('turns tool_use into tool_calls and tool_result into tool messages right after the call', () => {
    const { chat } = toChatRequest({
      ...base,
      messages: [
        { role: 'user', content: 'Weather in Paris?' },
        {
          role: 'assistant',
          content: [
            { type: 'thinking', thinking: 'hmm', signature: 'sig' },
            { type: 'text', text: 'Let me check.' },
            { type: 'tool_use', id: 'toolu_1', name: 'get_weather', input: { city: 'Paris' } },
          ],
        },
        {
          role: 'user',
          content: [
            { type: 'tool_result', tool_use_id: 'toolu_1', content: [{ type: 'text', text: '18 °C' }] },
            { type: 'text', text: 'And tomorrow?' },
          ],
        },
        { role: 'assistant', content: [{ type: 'tool_use', id: 'toolu_2', name: 'get_weather', input: {} }] },
        { role: 'user', content: [{ type: 'tool_result', tool_use_id: 'toolu_2', content: 'no data', is_error: true }] },
      ],
    });
    expect(chat.messages).toEqual([
      { role: 'user', content: 'Weather in Paris?' },
      { role: 'assistant', content: 'Let me check.', tool_calls: [{ id: 'toolu_1', type: 'function', function: { name: 'get_weather', arguments: '{"city":"Paris"}' } }] },
      { role: 'tool', tool_call_id: 'toolu_1', content: '18 °C' },
      { role: 'user', content: 'And tomorrow?' },
      { role: 'assistant', content: null, tool_calls: [{ id: 'toolu_2', type: 'function', function: { name: 'get_weather', arguments: '{}' } }] },
      { role: 'tool', tool_call_id: 'toolu_2', content: 'Error: no data' },
    ]);
  });

  it('refuses what it cannot carry, naming the field', () => {
    const msg = [{ role: 'user', content: 'x' }];
    expect(refusal(() => toChatRequest({ model: 'm', messages: msg })).details).toHaveProperty('max_tokens');
    expect(refusal(() => toChatRequest({ ...base, messages: [] })).details).toHaveProperty('messages');
    const server = refusal(() => toChatRequest({ ...base, messages: msg, tools: [{ type: 'web_search_20250305', name: 'web_search' }] }));
    expect(server.message).toContain('web_search_20250305');
    const doc = refusal(() => toChatRequest({ ...base, messages: [{ role: 'user', content: [{ type: 'document', source: {} }] }] }));
    expect(doc.details).toHaveProperty('messages.0.content.0.type');
    expect(refusal(() => toChatRequest({ ...base, messages: [{ role: 'tool', content: 'x' }] })).details).toHaveProperty('messages.0.role');
  });

  it("keeps Claude Code's mid-conversation system messages where they stand", () => {
    const { chat } = toChatRequest({ ...base, messages: [{ role: 'user', content: 'x' }, { role: 'system', content: 'Agents: …' }, { role: 'system', content: [{ type: 'text', text: 'More.' }] }] });
    expect(chat.messages).toEqual([{ role: 'user', content: 'x' }, { role: 'system', content: 'Agents: …' }, { role: 'system', content: 'More.' }]);
  });

  it('count_tokens takes the same prompt without max_tokens', () => {
    const p = toChatPrompt({ model: 'm', system: 'S', messages: [{ role: 'user', content: 'x' }], tools: [{ name: 't', input_schema: { type: 'object' } }] });
    expect(p.messages).toEqual([{ role: 'system', content: 'S' }, { role: 'user', content: 'x' }]);
    expect(p.tools).toEqual([{ type: 'function', function: { name: 't', parameters: { type: 'object' } } }]);
  });
});

describe('toMessage', () => {
  it('turns a text completion into a message with usage and end_turn', () => {
    const m = toMessage(
      { id: 'chatcmpl-1', model: 'x', choices: [{ index: 0, message: { role: 'assistant', content: 'Hello' }, finish_reason: 'stop' }], usage: { prompt_tokens: 12, completion_tokens: 3 } },
      'claude-4-5-sonnet',
    );
    expect(m).toEqual({
      id: 'msg_chatcmpl-1',
      type: 'message',
      role: 'assistant',
      model: 'claude-4-5-sonnet',
      content: [{ type: 'text', text: 'Hello' }],
      stop_reason: 'end_turn',
      stop_sequence: null,
      usage: { input_tokens: 12, output_tokens: 3 },
    });
  });

  it('turns tool_calls into tool_use blocks with parsed input', () => {
    const m = toMessage(
      {
        choices: [{ message: { role: 'assistant', content: null, tool_calls: [{ id: 'call_1', type: 'function', function: { name: 'get_weather', arguments: '{"city":"Paris"}' } }] }, finish_reason: 'tool_calls' }],
        usage: { prompt_tokens: 5, completion_tokens: 7 },
      },
      'm',
    );
    expect(m.content).toEqual([{ type: 'tool_use', id: 'call_1', name: 'get_weather', input: { city: 'Paris' } }]);
    expect(m.stop_reason).toBe('tool_use');
  });

  it('maps every finish reason', () => {
    expect(stopReason('stop', false)).toBe('end_turn');
    expect(stopReason('length', false)).toBe('max_tokens');
    expect(stopReason('tool_calls', true)).toBe('tool_use');
    expect(stopReason('stop', true)).toBe('tool_use');
    expect(stopReason('length', true)).toBe('max_tokens');
    expect(stopReason('content_filter', false)).toBe('refusal');
  });

  it('reports cached prompt tokens beside input_tokens, as Anthropic does', () => {
    expect(usageOf({ prompt_tokens: 100, completion_tokens: 5, prompt_tokens_details: { cached_tokens: 60 } })).toEqual({
      input_tokens: 40,
      output_tokens: 5,
      cache_creation_input_tokens: 0,
      cache_read_input_tokens: 60,
    });
  });

  it('keeps unparsable tool arguments rather than losing them', () => {
    expect(toolInput('')).toEqual({});
    expect(toolInput('{"a":1}')).toEqual({ a: 1 });
    expect(toolInput('{"a":')).toEqual({ _raw_arguments: '{"a":' });
  });
});

describe('errors', () => {
  it("uses Anthropic's error shape and types for the sidecar's statuses", () => {
    const e = new SidecarError(402, 'insufficient_quota', 'budget_exhausted', 'Budget exhausted.');
    expect(toAnthropicBody(e, 'req_1')).toEqual({ type: 'error', error: { type: 'billing_error', message: 'Budget exhausted.', code: 'budget_exhausted' }, request_id: 'req_1' });
    expect([400, 401, 403, 404, 413, 429, 500, 502, 503, 504].map(anthropicErrorType)).toEqual([
      'invalid_request_error',
      'authentication_error',
      'permission_error',
      'not_found_error',
      'request_too_large',
      'rate_limit_error',
      'api_error',
      'api_error',
      'overloaded_error',
      'timeout_error',
    ]);
  });
});

describe('chatBodyScanned (a large body, translated in the worker pool)', () => {
  // Non-ASCII in the small fields, so a range counted in characters instead of bytes would be off.
  const req = {
    model: 'clåude-✓-sonnet',
    max_tokens: 300,
    stream: true,
    stop_sequences: ['ÉND', '🛑'],
    temperature: 0.5,
    system: [{ type: 'text', text: 'Système ✓' }],
    tools: [{ name: 'read', description: 'Lire ✓', input_schema: { type: 'object' } }],
    tool_choice: { type: 'any', disable_parallel_tool_use: true },
    messages: [{ role: 'user', content: 'Grüße 🌍' }, { role: 'assistant', content: [{ type: 'tool_use', id: 't', name: 'read', input: { p: 'ü' } }] }, { role: 'user', content: [{ type: 'tool_result', tool_use_id: 't', content: 'ok' }] }],
  };

  it('writes the same chat request as chatBodyOf, each small field at its byte range, the closing brace at close', () => {
    const { raw, scan } = chatBodyScanned(req);
    const expected = chatBodyOf(req).json;
    expect(JSON.parse(raw.toString('utf8'))).toEqual(expected);
    for (const [k, [start, end]] of Object.entries(scan.ranges)) expect(JSON.parse(raw.toString('utf8', start, end))).toEqual(expected[k]);
    expect(Object.keys(scan.ranges).sort()).toEqual(Object.keys(expected).filter((k) => k !== 'messages' && k !== 'tools').sort());
    expect(scan.fields).toMatchObject({ model: req.model, max_tokens: 300, stream: true, stream_options: { include_usage: true } });
    expect(scan.kinds).toMatchObject({ model: 'string', max_tokens: 'number', stream: 'literal', messages: 'array', tools: 'array', stop: 'array' });
    expect(raw[scan.close]).toBe(0x7d);
    expect(scan.close).toBe(raw.length - 1);
    // The bound the estimate made of the parsed translation (system and tools in it).
    expect(scan.promptBound).toBe(promptTokensOf('messages', expected, upperBoundTokens));
  });

  it('takes a spliced bound in place and a new field before the closing brace, the rest untouched', () => {
    const { raw, scan } = chatBodyScanned(req);
    const spliced = JSON.parse(withFields(raw, scan, { max_tokens: 7, max_completion_tokens: 9 }).toString('utf8'));
    expect(spliced).toEqual({ ...chatBodyOf(req).json, max_tokens: 7, max_completion_tokens: 9 });
  });

  it('refuses what toChatRequest refuses, with the same error', () => {
    const bad = { ...req, messages: [{ role: 'user', content: [{ type: 'document' }] }] };
    const of = (e: SidecarError) => [e.status, e.code, e.message, e.details];
    expect(of(refusal(() => chatBodyScanned(bad)))).toEqual(of(refusal(() => chatBodyOf(bad))));
  });
});
