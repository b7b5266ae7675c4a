/**
 * Which requests proved who sent them (a known agent token, the admin secret
 * or a dashboard session). The connection gate (server/capacity.ts) keeps a
 * socket alive after its answer only for these: an unauthenticated client
 * gets its answer and a closed socket (issue 25 item 9).
 */
import type { IncomingMessage } from 'node:http';

const authenticated = new WeakSet<IncomingMessage>();

export function markAuthenticated(req: IncomingMessage): void {
  authenticated.add(req);
}

export function wasAuthenticated(req: IncomingMessage): boolean {
  return authenticated.has(req);
}
