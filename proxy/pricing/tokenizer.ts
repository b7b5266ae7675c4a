/**
 * Token counting with a real BPE tokenizer (gpt-tokenizer, cl100k_base).
 *
 * The encoder costs ~130 ms and ~40 MB to load, so it is loaded lazily, with
 * `tokenizerReady()`. The daemon counts only in its tokenizer threads
 * (tokenizer-pool.ts), so its own thread never loads it; the simulator and
 * tests count here. Counts for non-OpenAI models are estimates; the
 * upstream's reported usage always wins at settlement.
 */
type Encoder = typeof import('gpt-tokenizer/encoding/cl100k_base');

let encoder: Encoder | undefined;
let loading: Promise<void> | undefined;

export function tokenizerReady(): Promise<void> | undefined {
  if (encoder) return undefined;
  loading ??= import('gpt-tokenizer/encoding/cl100k_base').then((m) => {
    encoder = m;
  });
  return loading;
}

/** Special-token markers in agent text (`<|endoftext|>`) are counted as plain text, never refused. */
const ENCODE_OPTIONS = { disallowedSpecial: new Set<string>() };
/** BPE merging is quadratic in the length of a run without whitespace; such runs are counted in slices. */
const LONG_RUN = /\S{256}/;
const SLICE = 256;

/** Tokens in `text`. Before the encoder has loaded, a safe over-estimate (one token per UTF-8 byte). */
export function countTokens(text: string): number {
  if (text.length === 0) return 0;
  if (!encoder) return Buffer.byteLength(text, 'utf8');
  if (text.length <= SLICE || !LONG_RUN.test(text)) return encoder.countTokens(text, ENCODE_OPTIONS);
  // Linear time for adversarial input (base64, minified code, a 100 KB word); slicing can only add a token per cut.
  let total = 0;
  for (let i = 0; i < text.length; i += SLICE) total += encoder.countTokens(text.slice(i, i + SLICE), ENCODE_OPTIONS);
  return total;
}

/** A token covers at least one byte, so the UTF-8 length bounds the count from above without loading anything. */
export function upperBoundTokens(text: string): number {
  return Buffer.byteLength(text, 'utf8');
}

export type Counter = (text: string) => number;

/** Per-message overhead of the chat format (role markers), as OpenAI documents it. */
const TOKENS_PER_MESSAGE = 4;
const TOKENS_PER_REPLY = 3;
/** Fixed allowance for an image part; high-detail images cost more upstream, the settlement corrects it. */
const TOKENS_PER_IMAGE = 765;

function contentText(content: unknown, images: { n: number }): string {
  if (typeof content === 'string') return content;
  if (Array.isArray(content)) {
    let s = '';
    for (const part of content) {
      if (part && typeof part === 'object') {
        const p = part as Record<string, unknown>;
        if (typeof p.text === 'string') s += p.text;
        else if (p.type === 'image_url' || p.type === 'input_image') images.n++;
      } else if (typeof part === 'string') s += part;
    }
    return s;
  }
  if (content && typeof content === 'object') return JSON.stringify(content);
  return '';
}

/** Prompt tokens of a chat `messages` array (plus tools and function definitions when given). */
export function countChatPromptTokens(messages: unknown, extra?: unknown, count: Counter = countTokens): number {
  let total = TOKENS_PER_REPLY;
  const images = { n: 0 };
  if (Array.isArray(messages)) {
    for (const m of messages) {
      total += TOKENS_PER_MESSAGE;
      if (!m || typeof m !== 'object') continue;
      const msg = m as Record<string, unknown>;
      if (typeof msg.role === 'string') total += count(msg.role);
      if (typeof msg.name === 'string') total += count(msg.name);
      total += count(contentText(msg.content, images));
      if (msg.tool_calls !== undefined) total += count(JSON.stringify(msg.tool_calls));
    }
  }
  if (extra !== undefined) total += count(JSON.stringify(extra));
  return total + images.n * TOKENS_PER_IMAGE;
}

/** Tokens of a prompt given as a string, an array of strings, or token arrays (completions, embeddings). */
export function countInputTokens(input: unknown, count: Counter = countTokens): number {
  if (typeof input === 'string') return count(input);
  if (Array.isArray(input)) {
    let total = 0;
    for (const item of input) {
      if (typeof item === 'number') total += 1;
      else total += countInputTokens(item, count);
    }
    return total;
  }
  if (input && typeof input === 'object') return count(JSON.stringify(input));
  return 0;
}
