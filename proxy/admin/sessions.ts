/**
 * One-time login links and browser sessions. Both live in the settings table
 * as SHA-256 hashes only (never the values), so the CLI can mint a login
 * nonce for a running daemon through the shared SQLite file, and sessions
 * survive a daemon restart. A nonce is consumed by one DELETE … RETURNING, so
 * two concurrent uses cannot both succeed.
 */
import { createHash } from 'node:crypto';
import type { DB } from '../db/database.js';
import { randomBase62 } from '../tokens/format.js';

export const LOGIN_NONCE_TTL_MS = 2 * 60_000;
export const SESSION_TTL_MS = 7 * 24 * 3_600_000;
const NONCE_PREFIX = 'login_nonce:';
const SESSION_PREFIX = 'admin_session:';

function hash(s: string): string {
  return createHash('sha256').update(s).digest('hex');
}

function purgeExpired(db: DB, prefix: string, now: number): void {
  db.prepare("DELETE FROM settings WHERE key >= ? AND key < ? AND json_extract(value, '$.expires_at') <= ?").run(prefix, `${prefix}\uffff`, now);
}

/** A fresh single-use login nonce, valid for `ttlMs`. */
export function createLoginNonce(db: DB, now: number, ttlMs = LOGIN_NONCE_TTL_MS): { nonce: string; expiresAt: number } {
  const nonce = randomBase62(43);
  const expiresAt = now + ttlMs;
  db.transaction(() => {
    purgeExpired(db, NONCE_PREFIX, now);
    db.prepare('INSERT INTO settings (key, value) VALUES (?, ?)').run(NONCE_PREFIX + hash(nonce), JSON.stringify({ expires_at: expiresAt }));
  })();
  return { nonce, expiresAt };
}

/** True exactly once for a nonce that was issued and has not expired. */
export function consumeLoginNonce(db: DB, nonce: string, now: number): boolean {
  if (!/^[0-9A-Za-z]{43}$/.test(nonce)) return false;
  const row = db.prepare('DELETE FROM settings WHERE key = ? RETURNING value').get(NONCE_PREFIX + hash(nonce)) as { value: string } | undefined;
  if (!row) return false;
  return (JSON.parse(row.value) as { expires_at: number }).expires_at > now;
}

export class Sessions {
  private readonly q;

  constructor(
    private readonly db: DB,
    private readonly ttlMs = SESSION_TTL_MS,
  ) {
    this.q = {
      get: db.prepare('SELECT value FROM settings WHERE key = ?').pluck(),
      put: db.prepare('INSERT INTO settings (key, value) VALUES (?, ?)'),
      del: db.prepare('DELETE FROM settings WHERE key = ?'),
    };
  }

  create(now: number): { id: string; expiresAt: number } {
    const id = randomBase62(43);
    const expiresAt = now + this.ttlMs;
    purgeExpired(this.db, SESSION_PREFIX, now);
    this.q.put.run(SESSION_PREFIX + hash(id), JSON.stringify({ expires_at: expiresAt, created_at: now }));
    return { id, expiresAt };
  }

  valid(id: string, now: number): boolean {
    if (!/^[0-9A-Za-z]{43}$/.test(id)) return false;
    const v = this.q.get.get(SESSION_PREFIX + hash(id)) as string | undefined;
    return v !== undefined && (JSON.parse(v) as { expires_at: number }).expires_at > now;
  }

  end(id: string): void {
    this.q.del.run(SESSION_PREFIX + hash(id));
  }
}
