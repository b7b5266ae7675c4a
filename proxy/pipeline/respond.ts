/** Writing JSON and errors to the agent; the one place the error envelope reaches the wire. */
import type { ServerResponse } from 'node:http';
import { toOpenAIBody, type SidecarError } from '../core/errors.js';

export function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text), ...headers });
  res.end(text);
}

export function sendError(res: ServerResponse, err: SidecarError): void {
  if (res.headersSent) {
    // Too late for a status: the client sees the connection end early.
    res.destroy();
    return;
  }
  const headers: Record<string, string> = { ...err.headers };
  // A body we refused to read must not be parsed as the next request on this connection.
  if (err.status === 413) headers.connection = 'close';
  sendJson(res, err.status, toOpenAIBody(err), headers);
}
