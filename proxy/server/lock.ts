/**
 * One daemon per data dir. The lock is an exclusive SQLite lock on a file of
 * its own: the OS drops it when the process dies, however it dies, so there
 * is never a stale lock to clean up. `daemon.json` beside it says who holds it.
 */
import Database from 'better-sqlite3';
import { chmodSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { sqliteAddon } from '../db/database.js';

export const LOCK_FILE = 'daemon.lock';
export const RUNTIME_FILE = 'daemon.json';

export interface RuntimeInfo {
  pid: number;
  url: string;
  host: string;
  port: number;
  started_at: string;
  version: string;
}

export class DataDirLocked extends Error {
  override name = 'DataDirLocked';
  constructor(
    readonly dataDir: string,
    readonly holder: RuntimeInfo | null,
  ) {
    super(
      `another sidecar daemon is already serving ${dataDir}` +
        (holder ? ` (pid ${holder.pid}, ${holder.url})` : '') +
        '; stop it first, or use another --data-dir',
    );
  }
}

export interface DataDirLock {
  writeRuntime(info: RuntimeInfo): void;
  release(): void;
}

export function readRuntime(dataDir: string): RuntimeInfo | null {
  try {
    return JSON.parse(readFileSync(join(dataDir, RUNTIME_FILE), 'utf8')) as RuntimeInfo;
  } catch {
    return null;
  }
}

export function acquireLock(dataDir: string): DataDirLock {
  const db = new Database(join(dataDir, LOCK_FILE), { timeout: 0, ...sqliteAddon() });
  try {
    // Owner-only like everything else in the data dir (SQLite creates it with the umask's mode).
    chmodSync(join(dataDir, LOCK_FILE), 0o600);
    db.pragma('locking_mode = EXCLUSIVE');
    db.exec('BEGIN EXCLUSIVE');
  } catch (err) {
    db.close();
    if ((err as { code?: string }).code === 'SQLITE_BUSY') throw new DataDirLocked(dataDir, readRuntime(dataDir));
    throw err;
  }
  const runtimePath = join(dataDir, RUNTIME_FILE);
  return {
    writeRuntime(info) {
      writeFileSync(runtimePath, JSON.stringify(info, null, 2), { mode: 0o600 });
    },
    release() {
      try {
        rmSync(runtimePath, { force: true });
      } finally {
        db.close();
      }
    },
  };
}

/** Whether a daemon holds the lock right now (without taking it). */
export function isLocked(dataDir: string): boolean {
  try {
    acquireLock(dataDir).release();
    return false;
  } catch (err) {
    if (err instanceof DataDirLocked) return true;
    throw err;
  }
}
