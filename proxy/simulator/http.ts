/** Small HTTP helpers shared by the simulator's handlers. */
import type { IncomingMessage, ServerResponse } from 'node:http';

export const MAX_BODY_BYTES = 50 * 1024 * 1024;

/** An OpenAI-style error answer; handlers throw it, the router sends it. */
export class SimError extends Error {
  constructor(
    readonly status: number,
    readonly type: string,
    readonly code: string,
    message: string,
    readonly headers?: Record<string, string>,
  ) {
    super(message);
    this.name = 'SimError';
  }
}

export const badRequest = (message: string, code = 'invalid_request') =>
  new SimError(400, 'invalid_request_error', code, message);
export const notFound = (message: string, code = 'not_found') => new SimError(404, 'not_found_error', code, message);

export function sendJson(res: ServerResponse, status: number, value: unknown, headers?: Record<string, string>): void {
  sendRaw(res, status, JSON.stringify(value), 'application/json', headers);
}

export function sendRaw(
  res: ServerResponse,
  status: number,
  body: string | Buffer,
  contentType: string,
  headers?: Record<string, string>,
): void {
  if (res.headersSent || res.destroyed) return;
  const h: Record<string, string | number> = {
    'content-type': contentType,
    'content-length': typeof body === 'string' ? Buffer.byteLength(body) : body.length,
  };
  if (headers) Object.assign(h, headers);
  res.writeHead(status, h);
  res.end(body);
}

export function sendError(res: ServerResponse, err: SimError): void {
  sendJson(res, err.status, { error: { message: err.message, type: err.type, code: err.code } }, err.headers);
}

/** Reads the request body as UTF-8, refusing more than MAX_BODY_BYTES with a 413 SimError. */
export function readBody(req: IncomingMessage): Promise<string> | string {
  const len = req.headers['content-length'];
  if (len === undefined && req.headers['transfer-encoding'] === undefined) return '';
  if (len !== undefined && Number(len) > MAX_BODY_BYTES) {
    return Promise.reject(new SimError(413, 'invalid_request_error', 'body_too_large', 'Request body exceeds 50 MB'));
  }
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > MAX_BODY_BYTES) {
        reject(new SimError(413, 'invalid_request_error', 'body_too_large', 'Request body exceeds 50 MB'));
        req.pause();
        return;
      }
      chunks.push(c);
    });
    req.on('end', () => resolve(chunks.length === 1 ? (chunks[0] as Buffer).toString('utf8') : Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

export type JsonObject = Record<string, unknown>;

/** Parses a JSON object body; malformed JSON or a non-object → 400. */
export function parseObject(body: string, optional = false): JsonObject {
  if (body.trim() === '') {
    if (optional) return {};
    throw badRequest('Request body must be a JSON object', 'invalid_json');
  }
  let v: unknown;
  try {
    v = JSON.parse(body);
  } catch {
    throw badRequest('Request body is not valid JSON', 'invalid_json');
  }
  if (!v || typeof v !== 'object' || Array.isArray(v)) throw badRequest('Request body must be a JSON object', 'invalid_json');
  return v as JsonObject;
}

/** An optional positive integer field, or undefined; anything else → 400. */
export function optPositiveInt(b: JsonObject, field: string, max = Number.MAX_SAFE_INTEGER): number | undefined {
  const v = b[field];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 1 || v > max) {
    throw badRequest(`${field} must be an integer between 1 and ${max}`, 'invalid_value');
  }
  return v;
}

export function usd(micros: number): number {
  return micros / 1_000_000;
}
