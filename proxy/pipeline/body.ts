/**
 * Stage 4, body: reads a request body with a hard size limit (413 before it is read whole)
 * and, for JSON routes, parses it into an object (400 with a reason otherwise).
 */
import type { IncomingMessage } from 'node:http';
import { badRequest, tooLarge } from '../core/errors.js';

export interface RequestBody {
  raw: Buffer;
  /** The parsed object for JSON bodies; undefined otherwise. */
  json: Record<string, unknown> | undefined;
}

const EMPTY: RequestBody = { raw: Buffer.alloc(0), json: undefined };

export function readRaw(req: IncomingMessage, maxBytes: number): Promise<Buffer> {
  const declared = req.headers['content-length'];
  if (declared !== undefined && Number(declared) > maxBytes) {
    return Promise.reject(tooLarge(`The request body (${declared} bytes) is over the limit of ${maxBytes} bytes.`));
  }
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let done = false;
    req.on('data', (chunk: Buffer) => {
      if (done) return;
      size += chunk.length;
      if (size > maxBytes) {
        done = true;
        req.pause();
        reject(tooLarge(`The request body is over the limit of ${maxBytes} bytes.`));
        return;
      }
      chunks.push(chunk);
    });
    req.on('end', () => {
      if (done) return;
      done = true;
      resolve(chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, size));
    });
    req.on('error', (err) => {
      if (done) return;
      done = true;
      reject(badRequest('body_read_failed', `The request body could not be read: ${err.message}`));
    });
  });
}

function isJsonType(contentType: string | undefined): boolean {
  if (!contentType) return false;
  const base = contentType.split(';', 1)[0]!.trim().toLowerCase();
  return base === 'application/json' || (base.startsWith('application/') && base.endsWith('+json'));
}

export async function readBody(req: IncomingMessage, kind: 'json' | 'any' | 'none', maxBytes: number, maxDepth = DEFAULT_MAX_DEPTH): Promise<RequestBody> {
  if (kind === 'none') {
    // GET/DELETE routes carry no body; drain whatever was sent so the connection stays usable.
    if (req.headers['content-length'] === undefined && req.headers['transfer-encoding'] === undefined) return EMPTY;
    await readRaw(req, maxBytes);
    return EMPTY;
  }
  const raw = await readRaw(req, maxBytes);
  if (kind === 'any') {
    if (raw.length > 0 && isJsonType(req.headers['content-type'])) return { raw, json: parseJsonObject(raw, maxDepth) };
    return { raw, json: undefined };
  }
  if (raw.length === 0) throw badRequest('missing_body', 'This route needs a JSON body.');
  if (!isJsonType(req.headers['content-type'])) {
    throw badRequest('unsupported_content_type', `This route takes a JSON body; send it with "Content-Type: application/json" (got ${JSON.stringify(String(req.headers['content-type'] ?? 'none').slice(0, 60))}).`);
  }
  return { raw, json: parseJsonObject(raw, maxDepth) };
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
