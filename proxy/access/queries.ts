/**
 * The access-request service's SQL, prepared once, and the flood limits it
 * enforces from the database (so they hold across restarts and for every
 * loopback client alike).
 */
import { rateLimited } from '../core/errors.js';
import type { Statement } from 'better-sqlite3';
import type { DB } from '../db/database.js';
import type { AccessOptions } from './model.js';

type QueryName = 'get' | 'byCode' | 'list' | 'open' | 'overdue' | 'openCodes' | 'pendingAll' | 'pendingName' | 'recent' | 'insert' | 'approve' | 'deny' | 'expire' | 'deliver' | 'denialSeen';
export type AccessQueries = Record<QueryName, Statement>;

export function accessQueries(db: DB): AccessQueries {
  return {
    get: db.prepare('SELECT * FROM access_requests WHERE id = ?'),
    byCode: db.prepare("SELECT * FROM access_requests WHERE user_code = ? AND status IN ('pending', 'approved') ORDER BY created_at DESC"),
    list: db.prepare('SELECT * FROM access_requests ORDER BY created_at DESC, id LIMIT ?'),
    open: db.prepare("SELECT * FROM access_requests WHERE status = 'pending' AND expires_at > ? ORDER BY created_at, id"),
    overdue: db.prepare("SELECT * FROM access_requests WHERE status IN ('pending', 'approved') AND expires_at <= ?"),
    openCodes: db.prepare("SELECT user_code FROM access_requests WHERE status IN ('pending', 'approved')"),
    pendingAll: db.prepare("SELECT expires_at FROM access_requests WHERE status = 'pending' AND expires_at > ? ORDER BY expires_at"),
    pendingName: db.prepare("SELECT expires_at FROM access_requests WHERE status = 'pending' AND expires_at > ? AND lower(name) = lower(?) ORDER BY expires_at"),
    recent: db.prepare('SELECT created_at FROM access_requests WHERE created_at > ? ORDER BY created_at'),
    insert: db.prepare(`INSERT INTO access_requests (id, poll_hash, user_code, name, reason, scopes, monthly_budget, expiration_days, status, created_at, expires_at)
        VALUES (@id, @poll_hash, @user_code, @name, @reason, @scopes, @monthly_budget, @expiration_days, 'pending', @created_at, @expires_at)`),
    approve: db.prepare(`UPDATE access_requests SET status = 'approved', decided_at = ?, decided_by = ?, approved_scopes = ?, approved_budget = ?,
        approved_expiration_days = ?, expires_at = ? WHERE id = ? AND status = 'pending'`),
    deny: db.prepare("UPDATE access_requests SET status = 'denied', decided_at = ?, decided_by = ?, deny_reason = ? WHERE id = ? AND status = 'pending'"),
    expire: db.prepare("UPDATE access_requests SET status = 'expired' WHERE id = ? AND status IN ('pending', 'approved')"),
    deliver: db.prepare("UPDATE access_requests SET status = 'delivered', answered_at = ?, token_id = ? WHERE id = ? AND status = 'approved'"),
    denialSeen: db.prepare("UPDATE access_requests SET answered_at = ? WHERE id = ? AND status = 'denied' AND answered_at IS NULL"),
  };
}

/** Throws 429 when a new request would pass a limit: per minute, pending in all, pending under this name. */
export function checkFloodLimits(q: AccessQueries, o: AccessOptions, name: string, now: number): void {
  const recent = q.recent.all(now - 60_000) as Array<{ created_at: number }>;
  if (recent.length >= o.maxPerMinute) {
    throw rateLimited('too_many_access_requests', `At most ${o.maxPerMinute} access requests a minute reach the human; try again later.`, (recent[0]!.created_at + 60_000 - now) / 1000);
  }
  const pending = q.pendingAll.all(now) as Array<{ expires_at: number }>;
  if (pending.length >= o.maxPending) {
    throw rateLimited('too_many_pending_requests', `${pending.length} access requests are already waiting for the human; try again when one is answered or expires.`, (pending[0]!.expires_at - now) / 1000);
  }
  const mine = q.pendingName.all(now, name) as Array<{ expires_at: number }>;
  if (mine.length >= o.maxPendingPerName) {
    throw rateLimited('too_many_pending_for_name', `${mine.length} access requests named ${JSON.stringify(name)} are already waiting; poll the one you have instead of asking again.`, (mine[0]!.expires_at - now) / 1000);
  }
}
