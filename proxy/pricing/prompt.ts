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
 * is prompt as much as a message is. Chat: messages, tools and functions (both when both are given), the
 * response_format schema. Responses: input, instructions, tools, and the text format's schema.
 */
export function promptTokensOf(shape: PromptShape, body: Record<string, unknown>, count: Counter): number {
  switch (shape) {
    case 'messages':
      return countChatPromptTokens(body.messages, definitions(body, ['tools', 'functions', 'response_format']), count);
    case 'prompt':
      return countInputTokens(body.prompt, count);
    case 'input':
      return countInputTokens(body.input, count);
    case 'input+instructions': {
      const extra = definitions(body, ['tools', 'text']);
      return countInputTokens(body.input, count) + countInputTokens(body.instructions, count) + (extra === undefined ? 0 : count(JSON.stringify(extra)));
    }
  }
}

/** The fields of `body` among `fields` that are given, as one value to count (undefined: none). */
function definitions(body: Record<string, unknown>, fields: readonly string[]): unknown {
  const given = fields.filter((f) => body[f] !== undefined && body[f] !== null);
  if (given.length === 0) return undefined;
  // One field alone is counted as it always was (its JSON), so the count matches the upstream's for it.
  if (given.length === 1) return body[given[0]!];
  return given.map((f) => body[f]);
}
