/**
 * The daemon as the app sees it, whether it runs in this process or is a
 * headless one we attached to. Either way the app keeps a database
 * connection of its own, like the CLI: it reads state from it and writes
 * (pause) through it, and the daemon's Watcher notices those writes.
 */
import { openDatabase, type DB } from '../../proxy/db/database.js';
import { bumpGeneration, getSetting } from '../../proxy/db/records.js';
import type { Daemon } from '../../proxy/server/daemon.js';
import { isPaused, setPaused } from '../../proxy/server/pause.js';
import { isLocked } from '../../proxy/server/lock.js';
import { probeDaemon, type StartOutcome } from './lifecycle.js';
import { readStoredState, type StoredState } from './state.js';

export interface Backend {
  readonly mode: 'owned' | 'attached';
  /** The daemon's root URL, e.g. http://127.0.0.1:7373 */
  readonly url: string;
  readonly dataDir: string;
  /** The app's own connection to the shared database. */
  readonly db: DB;
  /** The in-process daemon, when we run it. */
  readonly daemon: Daemon | null;
  read(now: number): StoredState;
  paused(): boolean;
  setPaused(paused: boolean, now: number): boolean;
  /**
   * Has the daemon sync with SkillBoss now (key validity, balance). In
   * process: directly. Attached: by bumping the key generation, which makes
   * the headless daemon reload its key and sync, then waiting for the
   * status it writes. False when no fresh status appeared in time.
   */
  resync(timeoutMs?: number): Promise<boolean>;
  /** Attached: whether the headless daemon still answers (and still holds the data dir). */
  alive(): Promise<boolean>;
  close(): Promise<void>;
}

export function backendFor(outcome: Extract<StartOutcome, { kind: 'owned' | 'attached' }>, dataDir: string): Backend {
  const db = openDatabase(dataDir);
  const daemon = outcome.kind === 'owned' ? outcome.daemon : null;
  const url = outcome.kind === 'owned' ? outcome.daemon.url : outcome.url;
  return {
    mode: outcome.kind,
    url,
    dataDir,
    db,
    daemon,
    read: (now) => readStoredState(db, now),
    paused: () => isPaused(db),
    setPaused: (paused, now) => setPaused(db, paused, { actor: 'tray', now }),
    async resync(timeoutMs = 5000) {
      if (daemon) {
        await daemon.sync();
        return true;
      }
      const before = JSON.stringify(getSetting(db, 'upstream_status') ?? null);
      bumpGeneration(db, 'key');
      const deadline = Date.now() + timeoutMs;
      while (Date.now() < deadline) {
        await new Promise((r) => setTimeout(r, 100));
        if (JSON.stringify(getSetting(db, 'upstream_status') ?? null) !== before) return true;
      }
      return false;
    },
    async alive() {
      if (daemon) return true;
      return (await probeDaemon(url)) && isLocked(dataDir);
    },
    async close() {
      db.close();
      // An attached headless daemon is not ours to stop.
      await daemon?.close();
    },
  };
}
