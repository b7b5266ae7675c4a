/**
 * One-time login links and browser sessions. Both live in the settings table
 * as SHA-256 hashes only (never the values), so the CLI can mint a login
 * nonce for a running daemon through the shared SQLite file. A nonce is
 * consumed by one DELETE … RETURNING, so two concurrent uses cannot both
 * succeed.
 *
 * A session belongs to the daemon instance that made it: a restart ends every
 * session (issue 25 item 5). While the daemon is down, a browser still polls
 * with its cookie and key, and whoever binds the port meanwhile collects
 * both; what it collected must be worth nothing once the daemon is back. The
 * tray and `open` mint a fresh login link on every use, so signing in again
 * costs the human one click.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import type { DB } from '../db/database.js';
import { randomBase62 } from '../tokens/format.js';

export const LOGIN_NONCE_TTL_MS = 2 * 60_000;
export const SESSION_TTL_MS = 7 * 24 * 3_600_000;
const NONCE_PREFIX = 'login_nonce:';
const SESSION_PREFIX = 'admin_session:';
const SESSION_VALUE = /^[0-9A-Za-z]{43}$/;

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

/** Whether a nonce is still waiting to be used (not redeemed, not yet purged). */
export function loginNoncePending(db: DB, nonce: string, now: number): boolean {
  const v = db.prepare('SELECT value FROM settings WHERE key = ?').pluck().get(NONCE_PREFIX + hash(nonce)) as string | undefined;
  return v !== undefined && (JSON.parse(v) as { expires_at: number }).expires_at > now;
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

  /** This daemon's instance: random per start, never stored in clear or sent anywhere. */
  private readonly instance = randomBase62(43);

  constructor(
    private readonly db: DB,
    private readonly ttlMs = SESSION_TTL_MS,
  ) {
    // Sessions of earlier instances can never be valid again; drop them rather than keep dead rows.
    db.prepare('DELETE FROM settings WHERE key >= ? AND key < ?').run(SESSION_PREFIX, `${SESSION_PREFIX}\uffff`);
    this.q = {
      get: db.prepare('SELECT value FROM settings WHERE key = ?').pluck(),
      put: db.prepare('INSERT INTO settings (key, value) VALUES (?, ?)'),
      del: db.prepare('DELETE FROM settings WHERE key = ?'),
      set: db.prepare('UPDATE settings SET value = ? WHERE key = ?'),
    };
  }

  /**
   * A session: `id` goes into the cookie, `claim` to the dashboard page once
   * (the login redirect's fragment). The page trades the claim, with the
   * cookie, for the session's `key` (`claim()`), which then comes back as a
   * header on every request. Cookies on 127.0.0.1 reach every port, page
   * storage does not, so a listener on another port that collected the cookie
   * still lacks the key; and the claim works once, so the fragment left in a
   * history entry or read over a shoulder opens nothing (issue 25 item 5).
   */
  create(now: number): { id: string; claim: string; expiresAt: number } {
    const id = randomBase62(43);
    const claim = randomBase62(43);
    const expiresAt = now + this.ttlMs;
    purgeExpired(this.db, SESSION_PREFIX, now);
    this.q.put.run(SESSION_PREFIX + hash(id), JSON.stringify({ expires_at: expiresAt, created_at: now, claim_hash: hash(claim), claim_by: now + LOGIN_NONCE_TTL_MS, instance: hash(this.instance) }));
    return { id, claim, expiresAt };
  }

  /** Whether the cookie's session still has a claim to trade: checked before its body is read. */
  claimable(id: string, now: number): boolean {
    if (!SESSION_VALUE.test(id)) return false;
    const v = this.q.get.get(SESSION_PREFIX + hash(id)) as string | undefined;
    if (v === undefined) return false;
    const rec = JSON.parse(v) as { expires_at: number; claim_hash?: string; claim_by?: number; instance?: string };
    return rec.expires_at > now && rec.instance === hash(this.instance) && typeof rec.claim_hash === 'string' && (rec.claim_by ?? 0) > now;
  }

  /**
   * The session's key, made now, for the cookie's session and its unused claim; null for anything else (a
   * second use of the same claim included). The key exists only from here on, and only as a hash.
   */
  claim(id: string, claim: string, now: number): string | null {
    if (!SESSION_VALUE.test(id) || !SESSION_VALUE.test(claim)) return null;
    return this.db.transaction(() => {
      const v = this.q.get.get(SESSION_PREFIX + hash(id)) as string | undefined;
      if (v === undefined) return null;
      const rec = JSON.parse(v) as { expires_at: number; claim_hash?: string; claim_by?: number; key_hash?: string; instance?: string };
      if (rec.expires_at <= now || rec.instance !== hash(this.instance) || typeof rec.claim_hash !== 'string' || (rec.claim_by ?? 0) <= now) return null;
      if (!timingSafeEqual(Buffer.from(rec.claim_hash), Buffer.from(hash(claim)))) return null;
      const key = randomBase62(43);
      const { claim_hash: _used, claim_by: _by, ...rest } = rec;
      this.q.set.run(JSON.stringify({ ...rest, key_hash: hash(key) }), SESSION_PREFIX + hash(id));
      return key;
    })();
  }

  /** Both halves, unexpired, made by this instance; a session stored before keys existed has none and is not valid. */
  valid(id: string, key: string | undefined, now: number): boolean {
    if (!SESSION_VALUE.test(id) || key === undefined || !SESSION_VALUE.test(key)) return false;
    const v = this.q.get.get(SESSION_PREFIX + hash(id)) as string | undefined;
    if (v === undefined) return false;
    const rec = JSON.parse(v) as { expires_at: number; key_hash?: string; instance?: string };
    if (rec.expires_at <= now || typeof rec.key_hash !== 'string' || rec.instance !== hash(this.instance)) return false;
    return timingSafeEqual(Buffer.from(rec.key_hash), Buffer.from(hash(key)));
  }

  end(id: string): void {
    this.q.del.run(SESSION_PREFIX + hash(id));
  }
}
