/**
 * The kill switch: while the `paused` setting is true every agent call gets
 * 503 `sidecar_paused` (proxy/pipeline/handler.ts). It is a setting, so it
 * survives restarts, and a change bumps `gen:settings` so a running daemon's
 * Watcher picks it up within its poll interval — whoever wrote it (tray, CLI,
 * dashboard).
 */
import type { DB } from '../db/database.js';
import { audit, bumpGeneration, getSetting, setSetting } from '../db/records.js';

export function isPaused(db: DB): boolean {
  return getSetting<boolean>(db, 'paused') === true;
}

/**
 * Pauses or resumes all agents. Returns false when nothing changed (no audit
 * row for a no-op). A running daemon notices at once when this runs on its
 * own connection (onLocalChange), and within its watch interval from another
 * process (SQLite's data_version).
 */
export function setPaused(db: DB, paused: boolean, by: { actor: string; now: number }): boolean {
  return db
    .transaction(() => {
      if (isPaused(db) === paused) return false;
      setSetting(db, 'paused', paused);
      audit(db, by.now, { actor: by.actor, event: paused ? 'agents.pause' : 'agents.resume' });
      bumpGeneration(db, 'settings');
      return true;
    })
    .immediate();
}
