/**
 * The access-request service's SQL, prepared once per database: every read
 * and every guarded status move (`WHERE status = …`, so two processes cannot
 * both decide one request) of the `access_requests` table.
 */
import type Database from 'better-sqlite3';
import type { DB } from '../db/database.js';

type Statement = Database.Statement<unknown[]>;

const SQL = {
  get: 'SELECT * FROM access_requests WHERE id = ?',
  byCode: "SELECT * FROM access_requests WHERE user_code = ? AND status IN ('pending', 'approved') ORDER BY created_at DESC",
  list: 'SELECT * FROM access_requests ORDER BY created_at DESC, id LIMIT ?',
  open: "SELECT * FROM access_requests WHERE status = 'pending' AND expires_at > ? ORDER BY created_at, id",
  overdue: "SELECT * FROM access_requests WHERE status IN ('pending', 'approved') AND expires_at <= ?",
  openCodes: "SELECT user_code FROM access_requests WHERE status IN ('pending', 'approved')",
  pendingAll: "SELECT expires_at FROM access_requests WHERE status = 'pending' AND expires_at > ? ORDER BY expires_at",
  pendingName: "SELECT expires_at FROM access_requests WHERE status = 'pending' AND expires_at > ? AND lower(name) = lower(?) ORDER BY expires_at",
  recent: 'SELECT created_at FROM access_requests WHERE created_at > ? ORDER BY created_at',
  insert: `INSERT INTO access_requests (id, poll_hash, user_code, name, reason, scopes, monthly_budget, expiration_days, status, created_at, expires_at, models)
    VALUES (@id, @poll_hash, @user_code, @name, @reason, @scopes, @monthly_budget, @expiration_days, 'pending', @created_at, @expires_at, @models)`,
  approve: `UPDATE access_requests SET status = 'approved', decided_at = ?, decided_by = ?, approved_scopes = ?, approved_budget = ?,
    approved_expiration_days = ?, approved_models = ?, expires_at = ? WHERE id = ? AND status = 'pending'`,
  deny: "UPDATE access_requests SET status = 'denied', decided_at = ?, decided_by = ?, deny_reason = ? WHERE id = ? AND status = 'pending'",
  expire: "UPDATE access_requests SET status = 'expired' WHERE id = ? AND status IN ('pending', 'approved')",
  deliver: "UPDATE access_requests SET status = 'delivered', answered_at = ?, token_id = ? WHERE id = ? AND status = 'approved'",
  denialSeen: "UPDATE access_requests SET answered_at = ? WHERE id = ? AND status = 'denied' AND answered_at IS NULL",
} as const;

export type AccessQueries = { readonly [K in keyof typeof SQL]: Statement };

export function prepareAccessQueries(db: DB): AccessQueries {
  return Object.fromEntries(Object.entries(SQL).map(([name, sql]) => [name, db.prepare(sql)])) as AccessQueries;
}
