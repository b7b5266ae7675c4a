/**
 * POST /v1/chat/completions: a deterministic echo model. The reply is
 * "Echo: <last user message>", {"echo": ...} for JSON response formats, a
 * tool call when the conversation asks for one, or "Tool result: …" after a
 * tool result (the rules are in tools.ts).
 */
import { countChatPromptTokens } from '../pricing/tokenizer.js';
import { costHeaders, nextSeq, nowSeconds, requireModel, usageOf, type Call } from './context.js';
import { checkSpend } from './spend.js';
import { badRequest, optPositiveInt, parseObject, sendJson, type JsonObject } from './http.js';
import { chatDetails, classCostMicros, classify, isReasoningModel } from './classes.js';
import { SSE_DONE, sseData, startStream, type SseChunk } from './sse.js';
import { injected, injectedChunks } from './real.js';
import { buildReply, countTokens, splitPieces, type Piece } from './tok.js';
import { decideToolCall, functionTools, toolResultReply } from './tools.js';

/** Text of the last user message (string content or the text parts of an array). */
export function lastUserText(messages: readonly unknown[]): string {
  for (let i = messages.length - 1; i >= 0; i--) {
    const m = messages[i] as JsonObject | null;
    if (!m || typeof m !== 'object' || m.role !== 'user') continue;
    return contentText(m.content);
  }
  return '';
}

export function contentText(content: unknown): string {
  if (typeof content === 'string') return content;
  if (!Array.isArray(content)) return '';
  let s = '';
  for (const part of content) {
    if (typeof part === 'string') s += part;
    else if (part && typeof part === 'object' && typeof (part as JsonObject).text === 'string') s += (part as JsonObject).text as string;
  }
  return s;
}

/** The text of the last message when it is a tool result (rule 2 in tools.ts), else undefined. */
function trailingToolResult(messages: readonly unknown[]): string | undefined {
  const last = messages[messages.length - 1] as JsonObject | null;
  if (!last || typeof last !== 'object' || (last.role !== 'tool' && last.role !== 'function')) return undefined;
  return contentText(last.content);
}

export function handleChat(call: Call): void {
  const { ctx } = call;
  const b = parseObject(call.body);
  if (typeof b.model !== 'string' || b.model === '') throw badRequest('model must be a non-empty string', 'invalid_model');
  if (!Array.isArray(b.messages) || b.messages.length === 0) throw badRequest('messages must be a non-empty array', 'invalid_messages');
  const sim = requireModel(b);
  const model = sim.id;
  const n = optPositiveInt(b, 'n', 128) ?? 1;
  // Without a bound a model generates up to its output limit, reasoning included.
  const maxTokens = optPositiveInt(b, 'max_completion_tokens') ?? optPositiveInt(b, 'max_tokens') ?? sim.outputLimit;
  const promptTokens = countChatPromptTokens(b.messages, b.tools);

  const toolResult = trailingToolResult(b.messages);
  const tool = decideToolCall(functionTools(b.tools), b.tool_choice, lastUserText(b.messages), toolResult !== undefined);
  const seq = nextSeq(ctx);
  // A fresh id per call: agents key their tool results by it across turns.
  const toolCall = tool && { id: `call_sim_${seq}`, type: 'function', function: { name: tool.name, arguments: tool.arguments } };
  let perChoice: number;
  let finish: string;
  let pieces: readonly Piece[];
  let content: string | null;
  let nameTokens = 0;
  if (tool) {
    pieces = splitPieces(tool.arguments);
    nameTokens = countTokens(tool.name);
    perChoice = nameTokens + countTokens(tool.arguments);
    finish = 'tool_calls';
    content = null;
  } else {
    const text = toolResult ?? lastUserText(b.messages);
    const rf = b.response_format as JsonObject | undefined;
    const json = rf && (rf.type === 'json_object' || rf.type === 'json_schema');
    const plain = toolResult !== undefined ? toolResultReply(toolResult) : `Echo: ${text}`;
    const reply = buildReply(json ? JSON.stringify({ echo: text }) : plain, maxTokens);
    pieces = reply.pieces;
    perChoice = reply.tokens;
    finish = reply.truncated ? 'length' : 'stop';
    content = reply.content;
  }
  const cls = classify(ctx, model, { tools: b.tools ?? null, messages: b.messages }, promptTokens, perChoice, maxTokens);
  const reasoning = cls.reasoning * n;
  const completionTokens = (perChoice + cls.reasoning) * n;
  const fullCost = classCostMicros(model, promptTokens, completionTokens, { cached: cls.cached, reasoning });
  checkSpend(call, fullCost);

  const id = `chatcmpl-sim-${seq}`;
  const created = nowSeconds(ctx);
  const usage = { prompt_tokens: promptTokens, completion_tokens: completionTokens, total_tokens: promptTokens + completionTokens, ...chatDetails({ cached: cls.cached, reasoning }, isReasoningModel(model)) };

  if (b.stream !== true) {
    ctx.state.charge(call.caller.key, fullCost);
    const message = toolCall ? { role: 'assistant', content: null, tool_calls: [toolCall] } : { role: 'assistant', content };
    const choices = [];
    for (let i = 0; i < n; i++) choices.push({ index: i, message, finish_reason: finish, logprobs: null });
    const u = usageOf(ctx, usage, fullCost);
    const body: JsonObject = { id, object: 'chat.completion', created, model, choices };
    if (u) body.usage = u;
    Object.assign(body, injected(ctx));
    sendJson(call.res, 200, body, costHeaders(ctx, fullCost));
    return;
  }

  const chunk = (index: number, delta: unknown, finishReason: string | null, tokens: number): SseChunk =>
    sseData({ id, object: 'chat.completion.chunk', created, model, choices: [{ index, delta, finish_reason: finishReason }] }, tokens);
  const firstDelta = toolCall
    ? { role: 'assistant', content: null, tool_calls: [{ index: 0, ...toolCall, function: { name: tool?.name, arguments: '' } }] }
    : { role: 'assistant', content: '' };
  const pieceDelta = (p: Piece) => (toolCall ? { tool_calls: [{ index: 0, function: { arguments: p.text } }] } : { content: p.text });
  const streamOpts = b.stream_options as JsonObject | undefined;
  const includeUsage = streamOpts?.include_usage === true;
  const forever = ctx.faults.streamForever === true;

  function* chunks(): Generator<SseChunk> {
    if (forever) {
      yield chunk(0, firstDelta, null, nameTokens);
      const loop = pieces.length > 0 ? pieces : [{ text: ' ', tokens: 1 }];
      for (;;) for (const p of loop) yield chunk(0, pieceDelta(p), null, p.tokens);
    }
    const real = ctx.dialect === 'real';
    for (let i = 0; i < n; i++) {
      // The real service puts its own fields into ordinary chunks too, beside the delta.
      yield real && i === 0 ? sseData({ ...(JSON.parse(chunk(i, firstDelta, null, 0).data.slice(6)) as JsonObject), _savings: { usd: 0.001 } }, nameTokens) : chunk(i, firstDelta, null, nameTokens);
      for (const p of pieces) yield chunk(i, pieceDelta(p), null, p.tokens);
      yield chunk(i, {}, finish, 0);
    }
    const u = includeUsage ? usageOf(ctx, usage, fullCost) : undefined;
    if (u) yield sseData({ id, object: 'chat.completion.chunk', created, model, choices: [], usage: u });
    yield* injectedChunks(ctx);
    yield SSE_DONE;
  }

  startStream(call, {
    chunks: chunks(),
    minDelayMs: forever ? 10 : 0,
    headers: costHeaders(ctx, fullCost),
    // Reasoning happens before the first visible token: a stream that started has spent it.
    onEnd: (delivered) => ctx.state.charge(call.caller.key, classCostMicros(model, promptTokens, delivered + reasoning, { cached: cls.cached, reasoning })),
  });
}
