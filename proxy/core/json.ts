/**
 * A JSON request body parsed with a depth limit: the one parse the body stage
 * makes on the event loop for a small body, and the one the worker threads
 * make for a large body handed to them (a dialect's translation), so both
 * refuse the same bodies with the same 400s.
 */
import { badRequest } from './errors.js';

/**
 * A JSON object body known by its top-level fields without a parse of the rest: what the body
 * scanner finds in a large body (pipeline/scan.ts), or what a translation that wrote the body
 * says of it (anthropic/translate.ts), so the estimate and the forward stage read either alike.
 */
export interface BodyScan {
  /** The wanted top-level fields that are present, parsed. */
  fields: Record<string, unknown>;
  /** Every top-level field's value kind (`[]` for an empty array), e.g. for "messages is a non-empty array". */
  kinds: Record<string, 'string' | 'number' | 'literal' | 'object' | 'array' | '[]'>;
  /** Byte range of each wanted value in the body (to replace one without re-serialising the rest). */
  ranges: Record<string, [number, number]>;
  /** Offset of the top-level closing brace (to add a field before it), and whether the object has any field. */
  close: number;
  empty: boolean;
  /** An upper bound of the prompt tokens `promptTokensOf` can count from this body, for any meter. */
  promptBound: number;
}

/** Nesting deeper than any real request; a body that goes deeper is an attack on the parser or what walks the result. */
export const DEFAULT_MAX_DEPTH = 64;

/**
 * True when arrays/objects nest deeper than `max`. One pass over the bytes,
 * before JSON.parse: V8 parses millions of `[` happily (seconds of CPU, all
 * other agents stalled), and a later recursive walk or JSON.stringify of the
 * result would then overflow the stack.
 */
export function nestedDeeperThan(raw: Buffer, max: number): boolean {
  let depth = 0;
  let inString = false;
  for (let i = 0; i < raw.length; i++) {
    const c = raw[i];
    if (inString) {
      if (c === 0x5c) i++; // backslash: skip the escaped byte
      else if (c === 0x22) inString = false;
    } else if (c === 0x22) inString = true;
    else if (c === 0x5b || c === 0x7b) {
      if (++depth > max) return true;
    } else if (c === 0x5d || c === 0x7d) depth--;
  }
  return false;
}

export function parseJsonObject(raw: Buffer, maxDepth = DEFAULT_MAX_DEPTH): Record<string, unknown> {
  if (nestedDeeperThan(raw, maxDepth)) throw badRequest('invalid_json', `The request body nests arrays or objects more than ${maxDepth} levels deep.`);
  let value: unknown;
  try {
    value = JSON.parse(raw.toString('utf8'));
  } catch (err) {
    const reason = err instanceof RangeError ? 'it is nested too deeply' : (err as Error).message.slice(0, 120);
    throw badRequest('invalid_json', `The request body is not valid JSON: ${reason}.`);
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw badRequest('invalid_json', 'The request body must be a JSON object.');
  }
  return value as Record<string, unknown>;
}
