/**
 * Reading a large JSON request without parsing it: one pass that finds the
 * top-level fields the budget needs (model, stream, n, max_*, …), parses only
 * those small values, enforces the nesting limit, and bounds the prompt's
 * token count, so a 400 KiB agent context is forwarded as the bytes it came
 * in. String contents, the bulk of any prompt, are skipped with
 * Buffer#indexOf (native memchr), so the work on the event loop grows with
 * the number of strings and brackets, not with the text. Strings and
 * brackets are matched strictly, so which fields are at the top level is
 * exactly what any JSON parser sees; the syntax inside the skipped values is
 * left to the upstream, which parses the same bytes.
 */
import { isUtf8 } from 'node:buffer';
import { badRequest } from '../core/errors.js';
import type { BodyScan } from '../core/json.js';

export type { BodyScan } from '../core/json.js';

/** Per-message and per-reply tokens of the chat format, and the image allowance (tokenizer.ts). */
const PER_ELEMENT = 4;
const PER_REPLY = 3;
const PER_IMAGE = 765;
/** The longest a number can become when JSON.stringify writes it back (1e20 → 21 digits). */
const PER_EXPONENT = 24;
/** Depth of a content part: body { messages [ message { content [ part { . */
const PART_DEPTH = 5;
const IMAGE = Buffer.from('image');
const ESCAPE_U = Buffer.from('\\u');

const WS = new Uint8Array(256);
for (const c of [0x20, 0x09, 0x0a, 0x0d]) WS[c] = 1;

function invalid(msg: string): never {
  throw badRequest('invalid_json', `The request body is not valid JSON: ${msg}.`);
}

/** Bytes that may follow a backslash in a JSON string (`u` is checked for its four hex digits apart). */
const SIMPLE_ESCAPE = new Uint8Array(256);
for (const c of '"\\/bfnrt') SIMPLE_ESCAPE[c.charCodeAt(0)] = 1;
const HEX = new Uint8Array(256);
for (const c of '0123456789abcdefABCDEF') HEX[c.charCodeAt(0)] = 1;

/**
 * Where the scan is in the body's escapes: the offset of the next backslash
 * not yet checked (-1: none is left, -2: not looked for yet). One cursor per
 * scan, so finding every escape costs one pass of memchr over the body
 * whatever the number of strings (issue 25: an invalid escape anywhere is a
 * 400 naming its position, not a 500 or bytes the upstream reads otherwise).
 */
interface Escapes {
  next: number;
}

function invalidEscape(raw: Buffer, at: number): never {
  const seq = raw.toString('latin1', at, Math.min(raw.length, at + 2)).replace(/[^\x21-\x7e]/g, '?');
  return invalid(`an invalid escape (${seq}) at position ${at}`);
}

/** Index of the quote that closes the string opening at `i`; every escape inside is checked on the way. */
function stringEnd(raw: Buffer, i: number, e: Escapes): number {
  let k = i + 1;
  let q = -1;
  for (;;) {
    // The next quote is searched again only once the scan has passed it (an escaped quote).
    if (q < k) {
      q = raw.indexOf(0x22, k);
      if (q === -1) invalid('a string is not terminated');
    }
    if (e.next !== -1 && e.next < k) e.next = raw.indexOf(0x5c, k);
    const b = e.next;
    if (b === -1 || b > q) return q;
    const c = raw[b + 1] ?? 0;
    if (c === 0x75) {
      for (let h = b + 2; h < b + 6; h++) if (!HEX[raw[h] ?? 0]) invalidEscape(raw, b);
      k = b + 6;
    } else if (SIMPLE_ESCAPE[c]) k = b + 2;
    else invalidEscape(raw, b);
  }
}

function skipWs(raw: Buffer, i: number): number {
  while (i < raw.length && WS[raw[i]!]) i++;
  return i;
}

interface Tally {
  elements: number;
  exponents: number;
  images: number;
}

/**
 * Skips the value starting at `i` (whitespace already skipped) and returns
 * the offset after it; `depth` is the nesting of the value's container.
 */
function skipValue(raw: Buffer, i: number, depth: number, maxDepth: number, t: Tally, e: Escapes): number {
  const c = raw[i];
  if (c === 0x22) return stringEnd(raw, i, e) + 1;
  if (c !== 0x7b && c !== 0x5b) {
    // A number or literal: it runs to the next delimiter.
    let j = i;
    while (j < raw.length) {
      const b = raw[j]!;
      if (b === 0x2c || b === 0x7d || b === 0x5d || WS[b]) break;
      if ((b === 0x65 || b === 0x45) && j > i && raw[j - 1]! >= 0x30 && raw[j - 1]! <= 0x39) t.exponents++;
      j++;
    }
    if (j === i) invalid(i >= raw.length ? 'it ends in the middle' : `unexpected ${JSON.stringify(String.fromCharCode(c ?? 0))}`);
    return j;
  }
  // Containers: an explicit stack of what closes them and where objects start.
  const closers: number[] = [];
  const starts: number[] = [];
  let j = i;
  while (j < raw.length) {
    const b = raw[j]!;
    if (b === 0x22) {
      j = stringEnd(raw, j, e) + 1;
      continue;
    }
    if (b === 0x7b || b === 0x5b) {
      if (depth + closers.length + 1 > maxDepth) throw badRequest('invalid_json', `The request body nests arrays or objects more than ${maxDepth} levels deep.`);
      closers.push(b + 2); // { → }, [ → ]
      starts.push(j);
      t.elements++;
      j++;
      continue;
    }
    if (b === 0x7d || b === 0x5d) {
      if (closers.pop() !== b) invalid('brackets do not match');
      const start = starts.pop()!;
      // A content part that could be an image (its type written plainly or escaped) gets the image allowance.
      if (b === 0x7d && depth + closers.length + 1 === PART_DEPTH) {
        const part = raw.subarray(start, j);
        if (part.includes(IMAGE) || part.includes(ESCAPE_U)) t.images++;
      }
      j++;
      if (closers.length === 0) return j;
      continue;
    }
    if (b === 0x2c) t.elements++;
    else if ((b === 0x65 || b === 0x45) && raw[j - 1]! >= 0x30 && raw[j - 1]! <= 0x39) t.exponents++;
    j++;
  }
  return invalid('it ends in the middle');
}

/**
 * Scans a JSON object body. Throws the same 400s as a full parse for what it
 * checks: not an object, unbalanced, too deep; and refuses a wanted field
 * given twice (parsers disagree on which one wins, and the budget must price
 * the one the upstream uses).
 */
export function scanBody(raw: Buffer, wanted: ReadonlySet<string>, maxDepth: number): BodyScan {
  const fields: Record<string, unknown> = {};
  const kinds: BodyScan['kinds'] = {};
  const ranges: BodyScan['ranges'] = {};
  const t: Tally = { elements: 0, exponents: 0, images: 0 };
  const e: Escapes = { next: -2 };
  let i = skipWs(raw, raw[0] === 0xef && raw[1] === 0xbb && raw[2] === 0xbf ? 3 : 0);
  if (raw[i] !== 0x7b) throw badRequest('invalid_json', 'The request body must be a JSON object.');
  i = skipWs(raw, i + 1);
  let empty = true;
  while (raw[i] !== 0x7d) {
    if (!empty) {
      if (raw[i] !== 0x2c) invalid('expected "," or "}" after a field');
      i = skipWs(raw, i + 1);
    }
    if (raw[i] !== 0x22) invalid('expected a field name');
    const keyEnd = stringEnd(raw, i, e);
    const keyRaw = raw.toString('utf8', i, keyEnd + 1);
    let key: string;
    try {
      key = keyRaw.includes('\\') ? (JSON.parse(keyRaw) as string) : keyRaw.slice(1, -1);
    } catch (err) {
      invalid(`the field name at position ${i}: ${(err as Error).message.slice(0, 80)}`);
    }
    i = skipWs(raw, keyEnd + 1);
    if (raw[i] !== 0x3a) invalid(`expected ":" after ${JSON.stringify(key.slice(0, 40))}`);
    const start = skipWs(raw, i + 1);
    const end = skipValue(raw, start, 1, maxDepth, t, e);
    const c = raw[start];
    kinds[key] = c === 0x22 ? 'string' : c === 0x7b ? 'object' : c === 0x5b ? (skipWs(raw, start + 1) === end - 1 ? '[]' : 'array') : c === 0x2d || (c! >= 0x30 && c! <= 0x39) ? 'number' : 'literal';
    if (wanted.has(key)) {
      if (key in ranges) throw badRequest('invalid_request', `Invalid request body: "${key}" is given more than once.`);
      try {
        fields[key] = JSON.parse(raw.toString('utf8', start, end));
      } catch (err) {
        invalid(`${key}: ${(err as Error).message.slice(0, 80)}`);
      }
      ranges[key] = [start, end];
    }
    empty = false;
    i = skipWs(raw, end);
    if (i >= raw.length) invalid('it ends in the middle');
  }
  if (skipWs(raw, i + 1) !== raw.length) invalid('there is more after the top-level object');
  // Every text is at most its escaped length in bytes (a token covers at least one byte); invalid UTF-8 is
  // decoded to U+FFFD, three bytes for each bad one.
  const textBound = isUtf8(raw) ? raw.length : 3 * raw.length;
  const promptBound = textBound + PER_ELEMENT * (t.elements + 1) + PER_REPLY + PER_EXPONENT * t.exponents + PER_IMAGE * t.images;
  return { fields, kinds, ranges, close: i, empty, promptBound };
}

/** The body with `field` set to `value`: replaced in place when present, else added before the closing brace. */
export function withField(raw: Buffer, scan: BodyScan, field: string, value: unknown): Buffer {
  return withFields(raw, scan, { [field]: value });
}

/**
 * The body with each of `values` set: a field present is replaced in place
 * (its bytes spliced), one absent is added before the closing brace. The
 * rest of the body is copied as it came, never parsed or re-serialised.
 */
export function withFields(raw: Buffer, scan: BodyScan, values: Record<string, unknown>): Buffer {
  const edits: Array<[number, number, string]> = [];
  let added = '';
  let empty = scan.empty;
  for (const [field, value] of Object.entries(values)) {
    const json = JSON.stringify(value);
    const range = scan.ranges[field];
    if (range) edits.push([range[0], range[1], json]);
    else {
      added += `${empty ? '' : ','}${JSON.stringify(field)}:${json}`;
      empty = false;
    }
  }
  if (added) edits.push([scan.close, scan.close, added]);
  edits.sort((a, b) => a[0] - b[0]);
  const parts: Buffer[] = [];
  let at = 0;
  for (const [start, end, text] of edits) {
    parts.push(raw.subarray(at, start), Buffer.from(text));
    at = end;
  }
  parts.push(raw.subarray(at));
  return Buffer.concat(parts);
}
