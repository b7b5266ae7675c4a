/**
 * Signing the dashboard window in: the same one-time login link as
 * `skillboss-sidecar open` — a nonce written (hashed) to the shared database,
 * consumed once by the daemon's GET /admin/login, which sets the HttpOnly
 * session cookie. Minted on the app's own connection, so it works for an
 * in-process daemon and an attached headless one alike. The link is a
 * credential for two minutes: never log it.
 */
import type { DB } from '../../proxy/db/database.js';
import { createLoginNonce } from '../../proxy/admin/sessions.js';

export function loginLink(db: DB, origin: string, now: number): string {
  const { nonce } = createLoginNonce(db, now);
  return `${origin}/admin/login?nonce=${nonce}`;
}
