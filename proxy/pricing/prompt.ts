/**
 * Prompt tokens of a request body, by where its prompt is: the one definition
 * the budget estimate uses, on the event loop for an upper bound and in the
 * tokenizer worker for an exact count. Which shape a route's body has is its
 * meter's business (pipeline/meters.ts); this module knows only the shapes.
 */
import { countChatPromptTokens, countInputTokens, type Counter } from './tokenizer.js';

/**
 * Where a body's prompt is: chat `messages` (with tools or functions), a
 * completions `prompt`, an `input`, or an `input` with `instructions` (Responses).
 */
export type PromptShape = 'messages' | 'prompt' | 'input' | 'input+instructions';

/**
 * Every part of a prompt the upstream reads into the model (issue 25 item 2): a tool's 60 KB description
 * is prompt as much as a message is. Chat: messages, tools, functions, the response_format schema.
 * Responses: input (messages, and the arguments and outputs of earlier calls), instructions, tools, the
 * text format's schema. Each counted as the upstream counts it, and never less (a property test checks
 * this against the simulator's count: test/unit/pricing-prompt.test.ts).
 */
export function promptTokensOf(shape: PromptShape, body: Record<string, unknown>, count: Counter): number {
  switch (shape) {
    case 'messages':
      return countChatPromptTokens(body.messages, body.tools, count) + definitions(body, ['functions', 'response_format'], count);
    case 'prompt':
      return countInputTokens(body.prompt, count);
    case 'input':
      return countInputTokens(body.input, count);
    case 'input+instructions':
      return responsesInput(body.input, body.tools, count) + countInputTokens(body.instructions, count) + definitions(body, ['text'], count);
  }
}

/** A Responses `input`: a text, or items (messages as chat counts them, other items by their JSON), with the tools. */
function responsesInput(input: unknown, tools: unknown, count: Counter): number {
  if (!Array.isArray(input)) return countInputTokens(input, count) + (tools !== undefined && tools !== null ? countChatPromptTokens([], tools, count) : 0);
  let total = countChatPromptTokens(input, tools, count);
  for (const item of input) {
    if (typeof item === 'string') total += count(item);
    else if (item && typeof item === 'object' && (item as Record<string, unknown>).role === undefined) total += count(JSON.stringify(item));
  }
  return total;
}

/** Tokens of the given fields among `fields`, each by its JSON. */
function definitions(body: Record<string, unknown>, fields: readonly string[], count: Counter): number {
  let total = 0;
  for (const f of fields) if (body[f] !== undefined && body[f] !== null) total += count(JSON.stringify(body[f]));
  return total;
}
