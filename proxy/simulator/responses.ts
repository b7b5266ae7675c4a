/** POST /v1/responses: a minimal Responses API (JSON and SSE events) over the echo model. */
import { countChatPromptTokens, countTokens } from '../pricing/tokenizer.js';
import { lastUserText } from './chat.js';
import { costHeaders, nextSeq, nowSeconds, requireModel, usageOf, type Call } from './context.js';
import { badRequest, optPositiveInt, parseObject, sendJson, type JsonObject } from './http.js';
import { classCostMicros, classify, isReasoningModel, responsesDetails } from './classes.js';
import { sseEvent, startStream, type SseChunk } from './sse.js';
import { buildReply } from './tok.js';

export function handleResponses(call: Call): void {
  const { ctx } = call;
  const b = parseObject(call.body);
  const model = requireModel(b).id;
  const input = b.input;
  if (typeof input !== 'string' && !(Array.isArray(input) && input.length > 0)) {
    throw badRequest('input must be a string or a non-empty array of messages', 'invalid_input');
  }
  const instructions = typeof b.instructions === 'string' ? b.instructions : '';
  const promptTokens = (typeof input === 'string' ? countTokens(input) : countChatPromptTokens(input)) + countTokens(instructions);
  const text = typeof input === 'string' ? input : lastUserText(input);
  const maxOutput = optPositiveInt(b, 'max_output_tokens');
  const reply = buildReply(`Echo: ${text}`, maxOutput);
  const cls = classify(ctx, model, { instructions, input }, promptTokens, reply.tokens, maxOutput);
  const outputTokens = reply.tokens + cls.reasoning;
  const fullCost = classCostMicros(model, promptTokens, outputTokens, cls);
  ctx.state.checkSpend(call.caller.key, fullCost);

  const seq = nextSeq(ctx);
  const id = `resp_sim_${seq}`;
  const msgId = `msg_sim_${seq}`;
  const createdAt = nowSeconds(ctx);
  const status = reply.truncated ? 'incomplete' : 'completed';
  const part = { type: 'output_text', text: reply.content, annotations: [] };
  const item = { type: 'message', id: msgId, status, role: 'assistant', content: [part] };
  const usage = { input_tokens: promptTokens, output_tokens: outputTokens, total_tokens: promptTokens + outputTokens, ...responsesDetails(cls, isReasoningModel(model)) };
  const response = (final: boolean): JsonObject => {
    const r: JsonObject = {
      id,
      object: 'response',
      created_at: createdAt,
      model,
      status: final ? status : 'in_progress',
      incomplete_details: final && reply.truncated ? { reason: 'max_output_tokens' } : null,
      output: final ? [item] : [],
      output_text: final ? reply.content : '',
    };
    const u = final ? usageOf(ctx, usage, fullCost) : undefined;
    if (u) r.usage = u;
    return r;
  };

  if (b.stream !== true) {
    ctx.state.charge(call.caller.key, fullCost);
    sendJson(call.res, 200, response(true), costHeaders(ctx, fullCost));
    return;
  }

  const forever = ctx.faults.streamForever === true;
  function* chunks(): Generator<SseChunk> {
    let n = 0;
    const ev = (type: string, value: JsonObject, tokens = 0, last = false) =>
      sseEvent(type, { type, sequence_number: n++, ...value }, tokens, last);
    const at = { item_id: msgId, output_index: 0, content_index: 0 };
    yield ev('response.created', { response: response(false) });
    yield ev('response.output_item.added', { output_index: 0, item: { ...item, status: 'in_progress', content: [] } });
    yield ev('response.content_part.added', { ...at, part: { ...part, text: '' } });
    do for (const p of reply.pieces) yield ev('response.output_text.delta', { ...at, delta: p.text }, p.tokens);
    while (forever);
    yield ev('response.output_text.done', { ...at, text: reply.content });
    yield ev('response.content_part.done', { ...at, part });
    yield ev('response.output_item.done', { output_index: 0, item });
    yield ev(reply.truncated ? 'response.incomplete' : 'response.completed', { response: response(true) }, 0, true);
  }

  startStream(call, {
    chunks: chunks(),
    minDelayMs: forever ? 10 : 0,
    headers: costHeaders(ctx, fullCost),
    onEnd: (delivered) => ctx.state.charge(call.caller.key, classCostMicros(model, promptTokens, delivered + cls.reasoning, cls)),
  });
}
