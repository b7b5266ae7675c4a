/**
 * POST /v1/responses: the Responses API (JSON and SSE events) over the echo
 * model, with function calls: a `function_call` output item (streamed as
 * `response.function_call_arguments.delta/done`) when the input asks for a
 * tool, and a text answer once the last input item is a tool's output (the
 * rules are in tools.ts). Stored responses are served by responses-store.ts.
 */
import { countChatPromptTokens, countTokens } from '../pricing/tokenizer.js';
import { contentText, lastUserText } from './chat.js';
import { costHeaders, nextSeq, nowSeconds, requireModel, usageOf, type Call } from './context.js';
import { checkSpend } from './spend.js';
import { badRequest, optPositiveInt, parseObject, sendJson, type JsonObject } from './http.js';
import { storedResponse, storeResponse } from './responses-store.js';
import { classCostMicros, classify, isReasoningModel, responsesDetails } from './classes.js';
import { sseEvent, startStream, type SseChunk } from './sse.js';
import { buildReply, splitPieces, type Piece } from './tok.js';
import { decideToolCall, functionTools, toolResultReply, type ToolCall } from './tools.js';

/** The output of a tool when it is the last input item (`function_call_output`, `custom_tool_call_output`, …). */
function trailingToolOutput(input: unknown): string | undefined {
  if (!Array.isArray(input)) return undefined;
  const last = input[input.length - 1] as JsonObject | null;
  if (!last || typeof last !== 'object' || typeof last.type !== 'string' || !last.type.endsWith('_call_output')) return undefined;
  return typeof last.output === 'string' ? last.output : contentText(last.output);
}

/** Prompt tokens: messages as in chat, plus the arguments and outputs of earlier tool calls. */
export function responsesPromptTokens(input: unknown, instructions: string, tools: unknown): number {
  if (typeof input === 'string') return countTokens(input) + countTokens(instructions) + (tools ? countChatPromptTokens([], tools) : 0);
  let extra = 0;
  for (const it of input as unknown[]) {
    const o = it as JsonObject | null;
    if (!o || typeof o !== 'object' || o.role !== undefined) continue;
    for (const v of [o.arguments, o.output, o.input]) if (v !== undefined) extra += countTokens(typeof v === 'string' ? v : JSON.stringify(v));
  }
  return countChatPromptTokens(input, tools) + countTokens(instructions) + extra;
}

interface Answer {
  /** The one output item, final. */
  readonly item: JsonObject;
  readonly pieces: readonly Piece[];
  readonly tokens: number;
  readonly truncated: boolean;
  readonly text: string;
}

function answerOf(seq: number, tool: ToolCall | undefined, text: string, maxTokens: number | undefined): Answer {
  if (tool) {
    const item = { type: 'function_call', id: `fc_sim_${seq}`, call_id: `call_sim_${seq}`, name: tool.name, arguments: tool.arguments, status: 'completed' };
    return { item, pieces: splitPieces(tool.arguments), tokens: countTokens(tool.name) + countTokens(tool.arguments), truncated: false, text: '' };
  }
  const reply = buildReply(text, maxTokens);
  const status = reply.truncated ? 'incomplete' : 'completed';
  const item = { type: 'message', id: `msg_sim_${seq}`, status, role: 'assistant', content: [{ type: 'output_text', text: reply.content, annotations: [] }] };
  return { item, pieces: reply.pieces, tokens: reply.tokens, truncated: reply.truncated, text: reply.content };
}

export function handleResponses(call: Call): void {
  const { ctx } = call;
  const b = parseObject(call.body);
  const model = requireModel(b).id;
  const input = b.input;
  if (typeof input !== 'string' && !(Array.isArray(input) && input.length > 0)) {
    throw badRequest('input must be a string or a non-empty array of messages', 'invalid_input');
  }
  const instructions = typeof b.instructions === 'string' ? b.instructions : '';
  // As the real API does: a continued response's input and output items are prepended to this input, and billed.
  let carried = 0;
  if (b.previous_response_id !== undefined && b.previous_response_id !== null) {
    const prev = typeof b.previous_response_id === 'string' ? storedResponse(ctx, b.previous_response_id) : undefined;
    if (!prev) throw badRequest(`Previous response with id '${String(b.previous_response_id)}' not found.`, 'previous_response_not_found');
    const u = prev.usage as { input_tokens?: number; output_tokens?: number } | undefined;
    carried = (u?.input_tokens ?? 0) + (u?.output_tokens ?? 0);
  }
  const promptTokens = responsesPromptTokens(input, instructions, b.tools) + carried;
  const userText = typeof input === 'string' ? input : lastUserText(input);
  const toolOutput = trailingToolOutput(input);
  const tool = decideToolCall(functionTools(b.tools), b.tool_choice, userText, toolOutput !== undefined);
  const seq = nextSeq(ctx);
  const maxOutput = optPositiveInt(b, 'max_output_tokens') ?? requireModel(b).outputLimit;
  const answer = answerOf(seq, tool, toolOutput !== undefined ? toolResultReply(toolOutput) : `Echo: ${userText}`, maxOutput);
  const cls = classify(ctx, model, { instructions, input }, promptTokens, answer.tokens, maxOutput);
  const outputTokens = answer.tokens + cls.reasoning;
  const fullCost = classCostMicros(model, promptTokens, outputTokens, cls);
  checkSpend(call, fullCost);

  const id = `resp_sim_${seq}`;
  const createdAt = nowSeconds(ctx);
  const status = answer.truncated ? 'incomplete' : 'completed';
  const usage = { input_tokens: promptTokens, output_tokens: outputTokens, total_tokens: promptTokens + outputTokens, ...responsesDetails(cls, isReasoningModel(model)) };
  const response = (final: boolean): JsonObject => {
    const r: JsonObject = {
      id,
      object: 'response',
      created_at: createdAt,
      model,
      status: final ? status : 'in_progress',
      error: null,
      incomplete_details: final && answer.truncated ? { reason: 'max_output_tokens' } : null,
      instructions: b.instructions ?? null,
      previous_response_id: b.previous_response_id ?? null,
      tools: Array.isArray(b.tools) ? b.tools : [],
      tool_choice: b.tool_choice ?? 'auto',
      parallel_tool_calls: b.parallel_tool_calls ?? true,
      output: final ? [answer.item] : [],
      output_text: final ? answer.text : '',
    };
    const u = final ? usageOf(ctx, usage, fullCost) : undefined;
    if (u) r.usage = u;
    return r;
  };
  if (b.store !== false) storeResponse(ctx, response(true), input);

  if (b.stream !== true) {
    ctx.state.charge(call.caller.key, fullCost);
    sendJson(call.res, 200, response(true), costHeaders(ctx, fullCost));
    return;
  }

  const forever = ctx.faults.streamForever === true;
  const item = answer.item;
  const itemId = item.id as string;
  function* chunks(): Generator<SseChunk> {
    let n = 0;
    const ev = (type: string, value: JsonObject, tokens = 0, last = false) =>
      sseEvent(type, { type, sequence_number: n++, ...value }, tokens, last);
    yield ev('response.created', { response: response(false) });
    yield ev('response.in_progress', { response: response(false) });
    if (item.type === 'function_call') {
      const at = { item_id: itemId, output_index: 0 };
      yield ev('response.output_item.added', { output_index: 0, item: { ...item, arguments: '', status: 'in_progress' } }, countTokens(item.name as string));
      do for (const p of answer.pieces) yield ev('response.function_call_arguments.delta', { ...at, delta: p.text }, p.tokens);
      while (forever);
      yield ev('response.function_call_arguments.done', { ...at, name: item.name, arguments: item.arguments });
    } else {
      const at = { item_id: itemId, output_index: 0, content_index: 0 };
      const part = (item.content as JsonObject[])[0] as JsonObject;
      yield ev('response.output_item.added', { output_index: 0, item: { ...item, status: 'in_progress', content: [] } });
      yield ev('response.content_part.added', { ...at, part: { ...part, text: '' } });
      do for (const p of answer.pieces) yield ev('response.output_text.delta', { ...at, delta: p.text, logprobs: [] }, p.tokens);
      while (forever);
      yield ev('response.output_text.done', { ...at, text: answer.text, logprobs: [] });
      yield ev('response.content_part.done', { ...at, part });
    }
    yield ev('response.output_item.done', { output_index: 0, item });
    yield ev(answer.truncated ? 'response.incomplete' : 'response.completed', { response: response(true) }, 0, true);
  }

  startStream(call, {
    chunks: chunks(),
    minDelayMs: forever ? 10 : 0,
    headers: costHeaders(ctx, fullCost),
    onEnd: (delivered) => ctx.state.charge(call.caller.key, classCostMicros(model, promptTokens, delivered + cls.reasoning, cls)),
  });
}

/** POST /v1/responses/input_tokens: what the input would count as, without a reply. */
export function handleInputTokens(call: Call): void {
  const b = parseObject(call.body);
  requireModel(b);
  const input = b.input;
  if (typeof input !== 'string' && !Array.isArray(input)) throw badRequest('input must be a string or an array of items', 'invalid_input');
  const instructions = typeof b.instructions === 'string' ? b.instructions : '';
  sendJson(call.res, 200, { object: 'response.input_tokens', input_tokens: responsesPromptTokens(input, instructions, b.tools) });
}
