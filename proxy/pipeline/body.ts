/**
 * Stage 4, body: reads a request body with a hard size limit (413 before it is read whole)
 * and, for JSON routes, parses it into an object (400 with a reason otherwise) — or, for a
 * large body of a forwarded model call, only scans it (scan.ts): it is sent on as it came; or,
 * for a large body of a route whose dialect translates it, leaves it unparsed for the worker pool.
 */
import type { IncomingMessage } from 'node:http';
import { badRequest, tooLarge } from '../core/errors.js';
import { DEFAULT_MAX_DEPTH, parseJsonObject } from '../core/json.js';
import { scanBody, type BodyScan } from './scan.js';

export interface RequestBody {
  raw: Buffer;
  /** The parsed object for JSON bodies; undefined otherwise, and for a scanned body. */
  json: Record<string, unknown> | undefined;
  /** A large JSON body that was scanned instead of parsed: its top-level fields and its prompt bound. */
  scan?: BodyScan;
}

/** From this size a body given `scanFields` is scanned, not parsed (below it a parse costs less than ~0.1 ms). */
export const SCAN_FROM_BYTES = 64 * 1024;

const EMPTY: RequestBody = { raw: Buffer.alloc(0), json: undefined };

/** Declared lengths from here to PREALLOCATE_UP_TO are read into one buffer; the cap keeps a lying Content-Length from reserving memory. */
const PREALLOCATE_FROM_BYTES = SCAN_FROM_BYTES;
const PREALLOCATE_UP_TO = 8 * 1024 * 1024;

export function readRaw(req: IncomingMessage, maxBytes: number): Promise<Buffer> {
  const declared = req.headers['content-length'];
  if (declared !== undefined && Number(declared) > maxBytes) {
    return Promise.reject(tooLarge(`The request body (${declared} bytes) is over the limit of ${maxBytes} bytes.`));
  }
  // A large body of declared length is copied into one buffer as it arrives, so each socket chunk dies at once instead
  // of living (and being copied again) until the end: half the memory a 400 KiB prompt holds, and fewer major GCs.
  const length = declared !== undefined ? Number(declared) : Number.NaN;
  const into = Number.isSafeInteger(length) && length >= PREALLOCATE_FROM_BYTES ? Buffer.allocUnsafeSlow(Math.min(length, PREALLOCATE_UP_TO)) : null;
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let filled = 0; // bytes of `into` written; whatever does not fit goes to `chunks`
    let size = 0;
    let done = false;
    req.on('data', (chunk: Buffer) => {
      if (done) return;
      if (into && chunks.length === 0 && filled + chunk.length <= into.length) {
        chunk.copy(into, filled);
        filled += chunk.length;
      } else chunks.push(chunk);
      size += chunk.length;
      if (size > maxBytes) {
        done = true;
        req.pause();
        reject(tooLarge(`The request body is over the limit of ${maxBytes} bytes.`));
        return;
      }
    });
    req.on('end', () => {
      if (done) return;
      done = true;
      if (into && filled > 0) resolve(chunks.length === 0 ? into.subarray(0, filled) : Buffer.concat([into.subarray(0, filled), ...chunks], size));
      else resolve(chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, size));
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

export async function readBody(
  req: IncomingMessage,
  kind: 'json' | 'any' | 'none',
  maxBytes: number,
  maxDepth = DEFAULT_MAX_DEPTH,
  scanFields?: ReadonlySet<string>,
  leaveLarge = false,
): Promise<RequestBody> {
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
  if (scanFields && raw.length >= SCAN_FROM_BYTES) return { raw, json: undefined, scan: scanBody(raw, scanFields, maxDepth) };
  // A large body of a translated route is parsed and translated in a worker thread (its dialect's `request`), not here.
  if (leaveLarge && raw.length >= SCAN_FROM_BYTES) return { raw, json: undefined };
  return { raw, json: parseJsonObject(raw, maxDepth) };
}

export { DEFAULT_MAX_DEPTH, nestedDeeperThan, parseJsonObject } from '../core/json.js';
