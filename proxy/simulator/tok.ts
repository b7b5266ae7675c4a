/**
 * Reply tokenisation for the simulator. Counts come from the shared
 * `pricing/tokenizer.ts` (cl100k_base) so they match what the sidecar estimates.
 *
 * gpt-tokenizer's `decode` shares one streaming TextDecoder between calls, so
 * decoding a token slice that ends inside a UTF-8 character leaks bytes into
 * the next call. We therefore only decode whole pre-tokenizer segments, or
 * single tokens of pure-ASCII segments, which always end on a character.
 */
import { countTokens, tokenizerReady } from '../pricing/tokenizer.js';

type Encoder = typeof import('gpt-tokenizer/encoding/cl100k_base');
let enc: Encoder | undefined;

export { countTokens };

/** Loads the encoder (once); must be awaited before the simulator serves. */
export async function loadTokenizer(): Promise<void> {
  await tokenizerReady();
  enc ??= await import('gpt-tokenizer/encoding/cl100k_base');
}

export interface Piece {
  readonly text: string;
  readonly tokens: number;
}

export interface Reply {
  /** The (possibly truncated) text. */
  readonly content: string;
  /** One piece per token where possible (per word segment for non-ASCII words). */
  readonly pieces: readonly Piece[];
  /** Completion tokens the reply counts as. */
  readonly tokens: number;
  /** True when `maxTokens` cut the text short. */
  readonly truncated: boolean;
}

const ENCODE_OPTS = { disallowedSpecial: new Set<string>() };
const ASCII = /^[\x00-\x7f]*$/;

/** Splits `text` into token pieces, truncated to `maxTokens` when given. */
export function buildReply(text: string, maxTokens?: number): Reply {
  const e = enc;
  if (!e) throw new Error('simulator tokenizer not loaded');
  const limit = maxTokens ?? Number.POSITIVE_INFINITY;
  const pieces: Piece[] = [];
  let used = 0;
  let truncated = false;
  for (const group of e.encodeGenerator(text, ENCODE_OPTS)) {
    if (used >= limit) {
      truncated = true;
      break;
    }
    const room = limit - used;
    const segment = e.decode(group);
    if (group.length === 1) {
      pieces.push({ text: segment, tokens: 1 });
      used += 1;
    } else if (ASCII.test(segment)) {
      const take = Math.min(group.length, room);
      for (let i = 0; i < take; i++) pieces.push({ text: e.decode([group[i] as number]), tokens: 1 });
      used += take;
      if (take < group.length) {
        truncated = true;
        break;
      }
    } else if (group.length <= room) {
      pieces.push({ text: segment, tokens: group.length });
      used += group.length;
    } else {
      // A multi-token non-ASCII word that does not fit: keep the longest
      // character prefix that fits in the remaining tokens.
      const chars = Array.from(segment);
      let best = '';
      for (let i = 1; i <= chars.length; i++) {
        const p = chars.slice(0, i).join('');
        if (countTokens(p) > room) break;
        best = p;
      }
      if (best) pieces.push({ text: best, tokens: room });
      used = limit;
      truncated = true;
      break;
    }
  }
  let content = '';
  for (const p of pieces) content += p.text;
  return { content, pieces, tokens: used, truncated };
}

/** Token ids of `text` (the prompt cache compares prompts by them). */
export function encodeIds(text: string): number[] {
  if (!enc) throw new Error('simulator tokenizer not loaded');
  return enc.encode(text, ENCODE_OPTS);
}

/** Splits an arbitrary string into token-ish pieces (no truncation). */
export function splitPieces(text: string): readonly Piece[] {
  return buildReply(text).pieces;
}
