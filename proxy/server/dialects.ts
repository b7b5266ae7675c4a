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
import { chatBodyOf, toChatPrompt } from '../anthropic/translate.js';
import type { LocalRoute } from '../pipeline/context.js';
import { OPENAI_DIALECT, type Dialect, type Dialects } from '../pipeline/dialect.js';

const ANTHROPIC_DIALECT: Dialect = {
  // A small body is translated here (its parse costs less than a thread's round trip); a large one in the pool.
  request: async (body, o) =>
    body.json ? chatBodyOf(body.json) : { ...(await o.pool.translate('anthropic', body.raw, o.maxDepth, { owner: o.owner, maxInFlight: TRANSLATIONS_IN_FLIGHT })), json: undefined },
  response: (answer, model) => toMessage(answer, model),
  tap: (o) => new AnthropicSseTap(o.model, o.promptTokens, o.readUsage, o.redact),
  errorBody: (err) => toAnthropicBody(err),
  // Claude Code asks for Anthropic's own model names by default; SkillBoss may call them otherwise.
  notFoundHint: ' Use a model SkillBoss serves (GET /v1/models lists them): claude --model ID, or ANTHROPIC_MODEL.',
};

/** count_tokens requests one token may have in the tokenizer pool at once; more get 429. */
const COUNTS_IN_FLIGHT = 2;
/**
 * Large /v1/messages bodies one token may have waiting in or read by the pool at once (before its concurrency
 * limit, which is taken once a body is read); more get 429, so that one agent's connections cannot queue
 * unbounded memory there. Above what parallel subagents on one token send.
 */
const TRANSLATIONS_IN_FLIGHT = 8;

export const DIALECTS: Dialects = { openai: OPENAI_DIALECT, anthropic: ANTHROPIC_DIALECT };

/** The local routes of the dialects' own APIs. */
export const DIALECT_ROUTES = {
  // Anthropic's count_tokens: answered here, free, from the same count the estimate makes, in the tokenizer
  // pool like every count (issue 25: on the event loop a 4 MiB body stalled every agent for seconds), and at
  // most COUNTS_IN_FLIGHT of one token's at a time there, so that one agent cannot take every thread either.
  // A large body comes unparsed (body.ts) and is parsed, translated and counted in the pool, all off the loop.
  'count-tokens': async (ctx, body) => {
    const who = { owner: ctx.principal.token.id, maxInFlight: COUNTS_IN_FLIGHT };
    if (!body.json) return { status: 200, body: { input_tokens: await ctx.deps.tokenizer.countTranslated('anthropic', body.raw, ctx.deps.limits.maxJsonDepth, who) } };
    const { messages, tools } = toChatPrompt(body.json);
    const raw = Buffer.from(JSON.stringify({ messages, tools }));
    const input_tokens = await ctx.deps.tokenizer.countPrompt('messages', raw, who);
    return { status: 200, body: { input_tokens } };
  },
} satisfies Record<string, LocalRoute>;
