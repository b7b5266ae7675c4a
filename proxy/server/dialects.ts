/**
 * The dialects the route table names, as values the pipeline is handed
 * (pipeline/dialect.ts): OpenAI's, the upstream's own, and Anthropic's
 * Messages API (proxy/anthropic/) for Claude Code and the Anthropic SDKs.
 * This is where a dialect's modules meet the pipeline, so that no stage
 * imports one; a dialect's own local routes (count_tokens) are here too.
 */
import { toAnthropicBody } from '../anthropic/errors.js';
import { toMessage } from '../anthropic/response.js';
import { AnthropicSseTap } from '../anthropic/stream.js';
import { chatBodyOf, countMessagesTokens } from '../anthropic/translate.js';
import type { LocalRoute } from '../pipeline/context.js';
import { OPENAI_DIALECT, type Dialect, type Dialects } from '../pipeline/dialect.js';
import { tokenizerReady } from '../pricing/tokenizer.js';

const ANTHROPIC_DIALECT: Dialect = {
  request: (json) => chatBodyOf(json),
  response: (answer, model) => toMessage(answer, model),
  tap: (o) => new AnthropicSseTap(o.model, o.promptTokens, o.readUsage, o.redact),
  errorBody: (err) => toAnthropicBody(err),
  // Claude Code asks for Anthropic's own model names by default; SkillBoss may call them otherwise.
  notFoundHint: ' Use a model SkillBoss serves (GET /v1/models lists them): claude --model ID, or ANTHROPIC_MODEL.',
};

export const DIALECTS: Dialects = { openai: OPENAI_DIALECT, anthropic: ANTHROPIC_DIALECT };

/** The local routes of the dialects' own APIs. */
export const DIALECT_ROUTES = {
  // Anthropic's count_tokens: answered here, free, from the same count the estimate makes.
  'count-tokens': async (_ctx, body) => {
    await tokenizerReady();
    return { status: 200, body: countMessagesTokens(body.json) };
  },
} satisfies Record<string, LocalRoute>;
