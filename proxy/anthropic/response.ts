/**
 * The upstream's chat completion answer as an Anthropic message: content
 * blocks, stop reason and usage. Pure functions over the object the relay
 * already parsed for metering; the caller stringifies the result once.
 */
import { randomUUID } from 'node:crypto';

type Json = Record<string, unknown>;

/**
 * Chat `finish_reason` → Anthropic `stop_reason`. Some upstreams say "stop"
 * after a tool call; the client must still see `tool_use` to run the tool.
 */
export function stopReason(finish: unknown, sawToolCall: boolean): string {
  if (sawToolCall && finish !== 'length' && finish !== 'content_filter') return 'tool_use';
  switch (finish) {
    case 'stop':
      return 'end_turn';
    case 'length':
      return 'max_tokens';
    case 'tool_calls':
    case 'function_call':
      return 'tool_use';
    case 'content_filter':
      return 'refusal';
    default:
      return 'end_turn';
  }
}

export interface AnthropicUsage {
  input_tokens: number;
  output_tokens: number;
  cache_creation_input_tokens?: number;
  cache_read_input_tokens?: number;
}

const int = (v: unknown): number => (typeof v === 'number' && Number.isFinite(v) && v >= 0 ? Math.round(v) : 0);

/**
 * Chat usage → Anthropic usage. Anthropic's `input_tokens` excludes cached
 * prompt tokens (they are reported beside it), so cached reads are moved out.
 */
export function usageOf(u: unknown): AnthropicUsage {
  const usage = (u && typeof u === 'object' ? u : {}) as Json;
  const details = (usage.prompt_tokens_details ?? {}) as Json;
  const cacheRead = int(details.cached_tokens ?? usage.cache_read_input_tokens);
  const cacheWrite = int(usage.cache_creation_input_tokens);
  const out: AnthropicUsage = {
    input_tokens: Math.max(0, int(usage.prompt_tokens ?? usage.input_tokens) - cacheRead - cacheWrite),
    output_tokens: int(usage.completion_tokens ?? usage.output_tokens),
  };
  if (cacheRead > 0 || cacheWrite > 0 || details.cached_tokens !== undefined) {
    out.cache_creation_input_tokens = cacheWrite;
    out.cache_read_input_tokens = cacheRead;
  }
  return out;
}

/** A tool call's `arguments` string as the `input` object Anthropic clients expect (never lost: unparsable text is kept). */
export function toolInput(args: unknown): Json {
  if (typeof args !== 'string' || args.trim() === '') return {};
  try {
    const v: unknown = JSON.parse(args);
    if (v && typeof v === 'object' && !Array.isArray(v)) return v as Json;
  } catch {
    /* kept below */
  }
  return { _raw_arguments: args };
}

/** A new Anthropic-style message id. */
export function messageId(upstreamId: unknown): string {
  return `msg_${typeof upstreamId === 'string' && /^[A-Za-z0-9_-]{1,100}$/.test(upstreamId) ? upstreamId : randomUUID().replaceAll('-', '')}`;
}

/** A chat completion as an Anthropic message (first choice; Messages has no `n`). */
export function toMessage(chat: Json, model: string): Json {
  const choice = (Array.isArray(chat.choices) ? (chat.choices[0] as Json | undefined) : undefined) ?? {};
  const msg = (choice.message ?? {}) as Json;
  const content: Json[] = [];
  if (typeof msg.content === 'string' && msg.content !== '') content.push({ type: 'text', text: msg.content });
  if (Array.isArray(msg.tool_calls)) {
    for (const tc of msg.tool_calls as Json[]) {
      const fn = (tc?.function ?? {}) as Json;
      content.push({ type: 'tool_use', id: typeof tc?.id === 'string' ? tc.id : `toolu_${content.length}`, name: typeof fn.name === 'string' ? fn.name : '', input: toolInput(fn.arguments) });
    }
  }
  return {
    id: messageId(chat.id),
    type: 'message',
    role: 'assistant',
    model,
    content,
    stop_reason: stopReason(choice.finish_reason, content.some((c) => c.type === 'tool_use')),
    stop_sequence: null,
    usage: usageOf(chat.usage),
  };
}
