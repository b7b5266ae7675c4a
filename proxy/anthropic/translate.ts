/**
 * The Anthropic Messages API (what Claude Code and the Anthropic SDKs speak)
 * translated to the upstream's OpenAI chat completions (the answer comes back
 * through response.ts, streams through stream.ts). Pure
 * functions over parsed JSON: the request was parsed once by the pipeline and
 * its translation is stringified once (chatBodyOf), so no pass over the
 * prompt's bytes is made twice (only tool_use inputs are serialised apart,
 * since the chat format carries them as strings).
 *
 * What has no counterpart upstream is refused with a 400 naming it (server
 * tools, documents), never silently dropped; what only tunes Anthropic's own
 * service (cache_control, top_k, metadata, thinking, service_tier) is left out.
 */
import * as z from 'zod';
import { badRequest } from '../core/errors.js';
import type { BodyScan } from '../core/json.js';
import { parseInput } from '../core/validate.js';
import { promptTokensOf } from '../pricing/prompt.js';
import { countChatPromptTokens, upperBoundTokens } from '../pricing/tokenizer.js';

type Json = Record<string, unknown>;

/** The fields of a Messages request the translation reads; anything else is ignored as Anthropic-only tuning. */
const requestSchema = z.looseObject({
  model: z.string().min(1).max(256),
  max_tokens: z.number().int().positive().max(10_000_000),
  messages: z.array(z.unknown()).min(1),
  system: z.union([z.string(), z.array(z.unknown())]).nullish(),
  stream: z.boolean().nullish(),
  temperature: z.number().nullish(),
  top_p: z.number().nullish(),
  stop_sequences: z.array(z.string()).nullish(),
  tools: z.array(z.unknown()).nullish(),
  tool_choice: z.looseObject({ type: z.enum(['auto', 'any', 'tool', 'none']), name: z.string().optional(), disable_parallel_tool_use: z.boolean().optional() }).nullish(),
});

/** count_tokens takes the same prompt without max_tokens. */
const countSchema = requestSchema.extend({ max_tokens: z.number().int().positive().nullish() });

export interface TranslatedRequest {
  /** The chat completions body for the upstream. */
  chat: Json;
  /** The model the client asked for, echoed back in the answer. */
  model: string;
  stream: boolean;
}

/** A Messages request as a chat completions request. Throws 400 on anything it cannot carry faithfully. */
export function toChatRequest(json: Json | undefined): TranslatedRequest {
  const b = parseInput(requestSchema, json);
  return { chat: chatBody(b, b.max_tokens), model: b.model, stream: b.stream === true };
}

/**
 * A parsed Messages request body as the chat completions body the upstream
 * gets, already serialised: the one stringify of the translation, which the
 * forward stage then sends as it is (it asks for streamed usage itself).
 */
export function chatBodyOf(json: Json | undefined): { raw: Buffer; json: Json } {
  const { chat } = toChatRequest(json);
  return { raw: Buffer.from(JSON.stringify(chat)), json: chat };
}

/** The values written last, after every other field: the bulk of a body, whose byte ranges nobody needs. */
const BULK = new Set(['messages', 'tools']);

/**
 * `chatBodyOf` for a large body, in a worker thread (pricing/tokenizer-worker.ts):
 * the chat body serialised with its small fields first, so the byte range of each
 * is known as it is written, and said of as a scan says of a body (`BodyScan`:
 * fields, ranges, the closing brace, the prompt's upper bound as the estimate
 * bounds a parsed chat body). The event loop then estimates, bounds and splices
 * it like any scanned body, never parsing or re-serialising it.
 */
export function chatBodyScanned(json: Json | undefined): { raw: Buffer; scan: BodyScan } {
  const { chat } = toChatRequest(json);
  const fields: Json = {};
  const kinds: BodyScan['kinds'] = {};
  const ranges: BodyScan['ranges'] = {};
  const keys = Object.keys(chat);
  const order = [...keys.filter((k) => !BULK.has(k)), ...keys.filter((k) => BULK.has(k))];
  let text = '{';
  let bytes = 1;
  for (const k of order) {
    const v = chat[k];
    const head = `${text.length > 1 ? ',' : ''}${JSON.stringify(k)}:`;
    const value = JSON.stringify(v);
    text += head + value;
    kinds[k] = Array.isArray(v) ? (v.length === 0 ? '[]' : 'array') : v === null ? 'literal' : typeof v === 'object' ? 'object' : typeof v === 'string' ? 'string' : typeof v === 'number' ? 'number' : 'literal';
    if (BULK.has(k)) continue;
    const start = bytes + Buffer.byteLength(head);
    bytes = start + Buffer.byteLength(value);
    fields[k] = v;
    ranges[k] = [start, bytes];
  }
  const raw = Buffer.from(`${text}}`);
  const promptBound = promptTokensOf('messages', chat, upperBoundTokens);
  return { raw, scan: { fields, kinds, ranges, close: raw.length - 1, empty: order.length === 0, promptBound } };
}

/** The chat messages and tools a count_tokens request stands for (counted like a chat prompt). */
export function toChatPrompt(json: Json | undefined): { messages: Json[]; tools: unknown; model: string } {
  const b = parseInput(countSchema, json);
  const chat = chatBody(b, null);
  return { messages: chat.messages as Json[], tools: chat.tools, model: b.model };
}

function chatBody(b: z.infer<typeof countSchema>, maxTokens: number | null): Json {
  const messages: Json[] = [];
  const system = systemText(b.system);
  if (system !== null) messages.push({ role: 'system', content: system });
  b.messages.forEach((m, i) => pushMessage(messages, m, i));
  const chat: Json = { model: b.model, messages };
  if (maxTokens !== null) chat.max_tokens = maxTokens;
  if (b.stream === true) {
    chat.stream = true;
    chat.stream_options = { include_usage: true };
  }
  if (b.temperature != null) chat.temperature = b.temperature;
  if (b.top_p != null) chat.top_p = b.top_p;
  if (b.stop_sequences && b.stop_sequences.length > 0) chat.stop = b.stop_sequences;
  if (b.tools && b.tools.length > 0) chat.tools = b.tools.map(toolOf);
  const tc = b.tool_choice;
  if (tc) {
    if (tc.type === 'auto') chat.tool_choice = 'auto';
    else if (tc.type === 'any') chat.tool_choice = 'required';
    else if (tc.type === 'none') chat.tool_choice = 'none';
    else if (tc.name) chat.tool_choice = { type: 'function', function: { name: tc.name } };
    else throw badRequest('invalid_request', 'Invalid request body: tool_choice.name: required when tool_choice.type is "tool".', { 'tool_choice.name': 'required' });
    if (tc.disable_parallel_tool_use === true && chat.tools) chat.parallel_tool_calls = false;
  }
  return chat;
}

function systemText(system: string | unknown[] | null | undefined, field = 'system'): string | null {
  if (system == null) return null;
  if (typeof system === 'string') return system === '' ? null : system;
  const parts: string[] = [];
  system.forEach((blk, i) => {
    const block = blk as Json | null;
    if (block?.type !== 'text' || typeof block.text !== 'string') throw invalidBlock(`${field}.${i}`, 'system blocks must be text blocks');
    parts.push(block.text);
  });
  return parts.length > 0 ? parts.join('\n\n') : null;
}

function invalidBlock(field: string, msg: string) {
  return badRequest('invalid_request', `Invalid request body: ${field}: ${msg}.`, { [field]: msg });
}

function toolOf(t: unknown, i: number): Json {
  const tool = t as Json | null;
  if (!tool || typeof tool !== 'object') throw invalidBlock(`tools.${i}`, 'must be an object');
  if (tool.type !== undefined && tool.type !== 'custom') {
    throw invalidBlock(`tools.${i}.type`, `the server tool "${String(tool.type).slice(0, 60)}" runs at Anthropic and has no counterpart through the sidecar; define it as a client tool with input_schema`);
  }
  if (typeof tool.name !== 'string' || tool.name === '') throw invalidBlock(`tools.${i}.name`, 'must be a non-empty string');
  if (!tool.input_schema || typeof tool.input_schema !== 'object') throw invalidBlock(`tools.${i}.input_schema`, 'must be a JSON schema object');
  const fn: Json = { name: tool.name, parameters: tool.input_schema };
  if (typeof tool.description === 'string') fn.description = tool.description;
  return { type: 'function', function: fn };
}

/** An image block as a chat image part (base64 sources become data URLs). */
function imagePart(block: Json, field: string): Json {
  const src = block.source as Json | undefined;
  if (src?.type === 'base64' && typeof src.media_type === 'string' && typeof src.data === 'string') {
    return { type: 'image_url', image_url: { url: `data:${src.media_type};base64,${src.data}` } };
  }
  if (src?.type === 'url' && typeof src.url === 'string') return { type: 'image_url', image_url: { url: src.url } };
  throw invalidBlock(`${field}.source`, 'must be a base64 or url image source');
}

/** Appends one Anthropic message as one or more chat messages (tool results become `tool` messages, first, as the chat format wants them right after the call). */
function pushMessage(out: Json[], m: unknown, i: number): void {
  const msg = m as Json | null;
  const field = `messages.${i}`;
  if (msg?.role === 'system') {
    // Claude Code's mid-conversation system messages (a beta): text, kept where they stand.
    const text = typeof msg.content === 'string' ? msg.content : systemText(Array.isArray(msg.content) ? msg.content : [msg.content], `${field}.content`);
    if (text) out.push({ role: 'system', content: text });
    return;
  }
  if (!msg || typeof msg !== 'object' || (msg.role !== 'user' && msg.role !== 'assistant')) throw invalidBlock(`${field}.role`, 'must be "user", "assistant" or "system"');
  if (typeof msg.content === 'string') {
    out.push({ role: msg.role, content: msg.content });
    return;
  }
  if (!Array.isArray(msg.content)) throw invalidBlock(`${field}.content`, 'must be a string or an array of content blocks');
  if (msg.role === 'assistant') {
    out.push(assistantMessage(msg.content, field));
    return;
  }
  const parts: Json[] = [];
  msg.content.forEach((blk, j) => {
    const block = blk as Json | null;
    const f = `${field}.content.${j}`;
    switch (block?.type) {
      case 'text':
        if (typeof block.text !== 'string') throw invalidBlock(`${f}.text`, 'must be a string');
        parts.push({ type: 'text', text: block.text });
        break;
      case 'image':
        parts.push(imagePart(block, f));
        break;
      case 'tool_result':
        if (typeof block.tool_use_id !== 'string') throw invalidBlock(`${f}.tool_use_id`, 'must be a string');
        out.push({ role: 'tool', tool_call_id: block.tool_use_id, content: toolResultText(block, f, parts) });
        break;
      default:
        throw invalidBlock(`${f}.type`, `the content block type "${String(block?.type).slice(0, 40)}" is not supported through the sidecar (text, image, tool_use and tool_result are)`);
    }
  });
  if (parts.length === 0) return;
  // One text part is sent as a plain string: every upstream model takes that.
  out.push({ role: 'user', content: parts.length === 1 && parts[0]!.type === 'text' ? parts[0]!.text : parts });
}

/** A tool result's text; images in it go to the user message that follows (chat tool messages carry text only). */
function toolResultText(block: Json, field: string, images: Json[]): string {
  const prefix = block.is_error === true ? 'Error: ' : '';
  const c = block.content;
  if (c === undefined || c === null) return prefix;
  if (typeof c === 'string') return prefix + c;
  if (!Array.isArray(c)) throw invalidBlock(`${field}.content`, 'must be a string or an array of blocks');
  let text = '';
  c.forEach((blk, k) => {
    const b = blk as Json | null;
    if (b?.type === 'text' && typeof b.text === 'string') text += (text ? '\n' : '') + b.text;
    else if (b?.type === 'image') images.push(imagePart(b, `${field}.content.${k}`));
    else throw invalidBlock(`${field}.content.${k}.type`, 'tool results may hold text and image blocks');
  });
  return prefix + text;
}

function assistantMessage(content: unknown[], field: string): Json {
  let text = '';
  const calls: Json[] = [];
  content.forEach((blk, j) => {
    const block = blk as Json | null;
    const f = `${field}.content.${j}`;
    if (block?.type === 'text') {
      if (typeof block.text !== 'string') throw invalidBlock(`${f}.text`, 'must be a string');
      text += block.text;
    } else if (block?.type === 'tool_use') {
      if (typeof block.id !== 'string' || typeof block.name !== 'string') throw invalidBlock(f, 'a tool_use block needs an id and a name');
      calls.push({ id: block.id, type: 'function', function: { name: block.name, arguments: JSON.stringify(block.input ?? {}) } });
    } else if (block?.type === 'thinking' || block?.type === 'redacted_thinking') {
      // Earlier reasoning is Anthropic-signed and means nothing to another model: left out.
    } else {
      throw invalidBlock(`${f}.type`, `the assistant content block type "${String(block?.type).slice(0, 40)}" is not supported through the sidecar`);
    }
  });
  const out: Json = { role: 'assistant', content: text === '' && calls.length > 0 ? null : text };
  if (calls.length > 0) out.tool_calls = calls;
  return out;
}

/**
 * count_tokens: the prompt counted as the sidecar counts a chat prompt for
 * its estimates (the same translation, the same tokenizer), so it matches
 * what the reservation assumes. Needs `await tokenizerReady()` first.
 */
export function countMessagesTokens(json: Json | undefined): { input_tokens: number } {
  const p = toChatPrompt(json);
  return { input_tokens: countChatPromptTokens(p.messages, p.tools) };
}
