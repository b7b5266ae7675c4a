/**
 * Prompt tokens of a request body, per meter: the one definition the budget
 * estimate uses, on the event loop for an upper bound and in the tokenizer
 * worker for an exact count.
 */
import { countChatPromptTokens, countInputTokens, type Counter } from './tokenizer.js';

/** Meters whose prompt is counted from the body (the others are priced per call or by a reported cost). */
export type CountedMeter = 'chat' | 'completion' | 'embedding' | 'responses';

export function promptTokensOf(meter: CountedMeter, body: Record<string, unknown>, count: Counter): number {
  switch (meter) {
    case 'chat':
      return countChatPromptTokens(body.messages, body.tools ?? body.functions, count);
    case 'completion':
      return countInputTokens(body.prompt, count);
    case 'embedding':
      return countInputTokens(body.input, count);
    case 'responses':
      return countInputTokens(body.input, count) + (typeof body.instructions === 'string' ? count(body.instructions) : 0);
  }
}
