/** Small typed helpers over the settings and audit tables. */
import type { DB } from './database.js';

export function getSetting<T>(db: DB, key: string): T | undefined {
  const row = db.prepare('SELECT value FROM settings WHERE key = ?').get(key) as { value: string } | undefined;
  return row ? (JSON.parse(row.value) as T) : undefined;
}

export function setSetting(db: DB, key: string, value: unknown): void {
  db.prepare('INSERT INTO settings (key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value').run(
    key,
    JSON.stringify(value),
  );
}

export interface AuditEntry {
  actor: string;
  event: string;
  tokenId?: string | null;
  /** Never a secret: ids, names, amounts, reasons. */
  detail?: Record<string, unknown>;
}

export function audit(db: DB, ts: number, entry: AuditEntry): void {
  db.prepare('INSERT INTO audit (ts, actor, event, token_id, detail) VALUES (?, ?, ?, ?, ?)').run(
    ts,
    entry.actor,
    entry.event,
    entry.tokenId ?? null,
    JSON.stringify(entry.detail ?? {}),
  );
}

export interface AuditRow {
  id: number;
  ts: number;
  actor: string;
  event: string;
  token_id: string | null;
  detail: Record<string, unknown>;
}

export function listAudit(db: DB, opts: { limit?: number; tokenId?: string } = {}): AuditRow[] {
  const rows = (
    opts.tokenId
      ? db.prepare('SELECT * FROM audit WHERE token_id = ? ORDER BY id DESC LIMIT ?').all(opts.tokenId, opts.limit ?? 200)
      : db.prepare('SELECT * FROM audit ORDER BY id DESC LIMIT ?').all(opts.limit ?? 200)
  ) as Array<Omit<AuditRow, 'detail'> & { detail: string }>;
  return rows.map((r) => ({ ...r, detail: JSON.parse(r.detail) as Record<string, unknown> }));
}

export type Generation = 'tokens' | 'key' | 'prices' | 'settings';

const localListeners = new WeakMap<DB, Set<(kind: Generation) => void>>();

/**
 * Bumped whenever something the daemon caches changes. Other processes (the
 * CLI) are noticed through SQLite's data_version; changes made through this
 * same connection reach `onLocalChange` listeners right after the current
 * synchronous work (and so after the enclosing transaction) finishes.
 */
export function bumpGeneration(db: DB, kind: Generation): void {
  db.prepare(
    "INSERT INTO settings (key, value) VALUES (?, '1') ON CONFLICT(key) DO UPDATE SET value = CAST(value AS INTEGER) + 1",
  ).run(`gen:${kind}`);
  const listeners = localListeners.get(db);
  if (listeners) for (const fn of listeners) queueMicrotask(() => fn(kind));
}

/** Calls `fn` after every in-process `bumpGeneration` on this connection; returns an unsubscribe function. */
export function onLocalChange(db: DB, fn: (kind: Generation) => void): () => void {
  let set = localListeners.get(db);
  if (!set) localListeners.set(db, (set = new Set()));
  set.add(fn);
  return () => set.delete(fn);
}
