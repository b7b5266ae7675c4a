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

export function promptTokensOf(shape: PromptShape, body: Record<string, unknown>, count: Counter): number {
  switch (shape) {
    case 'messages':
      return countChatPromptTokens(body.messages, body.tools ?? body.functions, count);
    case 'prompt':
      return countInputTokens(body.prompt, count);
    case 'input':
      return countInputTokens(body.input, count);
    case 'input+instructions':
      return countInputTokens(body.input, count) + (typeof body.instructions === 'string' ? count(body.instructions) : 0);
  }
}
