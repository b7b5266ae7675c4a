/** Writing JSON and errors to the agent; the one place an error envelope reaches the wire. */
import type { ServerResponse } from 'node:http';
import type { SidecarError } from '../core/errors.js';
import { OPENAI_DIALECT, type Dialect } from './dialect.js';

export function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text), ...headers });
  res.end(text);
}

/** Sends a refusal in the envelope of the route's dialect (OpenAI's when there is no route). */
export function sendError(res: ServerResponse, err: SidecarError, dialect: Dialect = OPENAI_DIALECT): void {
  if (res.headersSent) {
    // Too late for a status: the client sees the connection end early.
    res.destroy();
    return;
  }
  const headers: Record<string, string> = { ...err.headers };
  // A body we refused to read must not be parsed as the next request on this connection.
  if (err.status === 413) headers.connection = 'close';
  sendJson(res, err.status, dialect.errorBody(err), headers);
}
