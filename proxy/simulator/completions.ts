/** POST /v1/completions: legacy text completions with the same echo model as chat. */
import { countInputTokens } from '../pricing/tokenizer.js';
import { costHeaders, nextSeq, nowSeconds, requireModel, usageOf, type Call } from './context.js';
import { checkSpend } from './spend.js';
import { badRequest, optPositiveInt, parseObject, sendJson, type JsonObject } from './http.js';
import { chatDetails, classCostMicros, classify } from './classes.js';
import { SSE_DONE, sseData, startStream, type SseChunk } from './sse.js';
import { buildReply, type Reply } from './tok.js';

export function handleCompletion(call: Call): void {
  const { ctx } = call;
  const b = parseObject(call.body);
  const sim = requireModel(b);
  const model = sim.id;
  const prompt = b.prompt;
  if (typeof prompt !== 'string' && !Array.isArray(prompt)) throw badRequest('prompt must be a string or an array', 'invalid_prompt');
  const n = optPositiveInt(b, 'n', 128) ?? 1;
  const maxTokens = optPositiveInt(b, 'max_tokens') ?? sim.outputLimit;
  const prompts: string[] =
    typeof prompt === 'string' ? [prompt] : prompt.length > 0 && prompt.every((p) => typeof p === 'string') ? (prompt as string[]) : [''];
  const promptTokens = countInputTokens(prompt);

  const replies: Reply[] = prompts.map((p) => buildReply(`Echo: ${p}`, maxTokens));
  let completionTokens = 0;
  for (const r of replies) completionTokens += r.tokens * n;
  const cls = classify(ctx, model, prompt, promptTokens, completionTokens, undefined);
  const fullCost = classCostMicros(model, promptTokens, completionTokens, { cached: cls.cached, reasoning: 0 });
  checkSpend(call, fullCost);

  const id = `cmpl-sim-${nextSeq(ctx)}`;
  const created = nowSeconds(ctx);
  const usage = { prompt_tokens: promptTokens, completion_tokens: completionTokens, total_tokens: promptTokens + completionTokens, ...chatDetails({ cached: cls.cached, reasoning: 0 }, false) };
  const finishOf = (r: Reply) => (r.truncated ? 'length' : 'stop');

  if (b.stream !== true) {
    ctx.state.charge(call.caller.key, fullCost);
    const choices = [];
    for (let p = 0; p < replies.length; p++) {
      const r = replies[p] as Reply;
      for (let i = 0; i < n; i++) choices.push({ text: r.content, index: p * n + i, logprobs: null, finish_reason: finishOf(r) });
    }
    const body: JsonObject = { id, object: 'text_completion', created, model, choices };
    const u = usageOf(ctx, usage, fullCost);
    if (u) body.usage = u;
    sendJson(call.res, 200, body, costHeaders(ctx, fullCost));
    return;
  }

  const chunk = (index: number, text: string, finish: string | null, tokens: number): SseChunk =>
    sseData({ id, object: 'text_completion', created, model, choices: [{ text, index, logprobs: null, finish_reason: finish }] }, tokens);
  const includeUsage = (b.stream_options as JsonObject | undefined)?.include_usage === true;
  const forever = ctx.faults.streamForever === true;

  function* chunks(): Generator<SseChunk> {
    if (forever) {
      const pieces = (replies[0] as Reply).pieces;
      for (;;) for (const p of pieces) yield chunk(0, p.text, null, p.tokens);
    }
    for (let p = 0; p < replies.length; p++) {
      const r = replies[p] as Reply;
      for (let i = 0; i < n; i++) {
        for (const piece of r.pieces) yield chunk(p * n + i, piece.text, null, piece.tokens);
        yield chunk(p * n + i, '', finishOf(r), 0);
      }
    }
    const u = includeUsage ? usageOf(ctx, usage, fullCost) : undefined;
    if (u) yield sseData({ id, object: 'text_completion', created, model, choices: [], usage: u });
    yield SSE_DONE;
  }

  startStream(call, {
    chunks: chunks(),
    minDelayMs: forever ? 10 : 0,
    headers: costHeaders(ctx, fullCost),
    onEnd: (delivered) => ctx.state.charge(call.caller.key, classCostMicros(model, promptTokens, delivered, { cached: cls.cached, reasoning: 0 })),
  });
}
