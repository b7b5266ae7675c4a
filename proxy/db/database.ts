/**
 * Opens the sidecar's SQLite file: WAL, pragmas set at open, migrations by
 * `user_version`, and a startup integrity check. Every process (daemon, CLI,
 * tray) opens the same file; SQLite's own locking arbitrates.
 */
import Database from 'better-sqlite3';
import { accessSync, chmodSync, constants, existsSync, mkdirSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { MIGRATIONS } from './migrations.js';

const requireHere = createRequire(import.meta.url);
let addonPath: string | null | undefined;

/**
 * better-sqlite3's addon by path: by default it finds it with the `bindings` package, which loads two more
 * packages and tries paths one by one at every start (issue 27 item 4). Not in Electron, whose packaged addon
 * lives outside the asar archive where `bindings` knows to look.
 */
export function sqliteAddon(): { nativeBinding?: string } {
  if (addonPath === undefined) {
    addonPath = null;
    try {
      const p = join(dirname(requireHere.resolve('better-sqlite3/package.json')), 'build', 'Release', 'better_sqlite3.node');
      if (!process.versions.electron && existsSync(p)) addonPath = p;
    } catch {
      /* bindings finds it */
    }
  }
  return addonPath ? { nativeBinding: addonPath } : {};
}

export type DB = Database.Database;

export const DB_FILE = 'sidecar.db';

export class DatabaseError extends Error {
  override name = 'DatabaseError';
}

export interface OpenOptions {
  readonly?: boolean;
  /** How long a writer waits for another process's lock before failing. */
  busyTimeoutMs?: number;
}

export function ensureDataDir(dataDir: string): void {
  try {
    mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  } catch (err) {
    throw new DatabaseError(`cannot create the data dir ${dataDir} (${(err as NodeJS.ErrnoException).code ?? (err as Error).message}); check the permissions of its parent, or pick another with --data-dir`, { cause: err });
  }
  try {
    chmodSync(dataDir, 0o700);
  } catch {
    /* not ours to change (e.g. a shared mount); the files inside are still created owner-only */
  }
}

/**
 * Fails closed, with a message that says what to fix, when the data dir (or
 * the database in it) cannot be written: a daemon that cannot record a
 * request must not serve it.
 */
export function checkWritable(dataDir: string): void {
  const file = join(dataDir, DB_FILE);
  for (const path of existsSync(file) ? [dataDir, file] : [dataDir]) {
    try {
      accessSync(path, constants.W_OK);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      const why = code === 'EROFS' ? 'it is on a read-only file system' : `this user may not write it (${code})`;
      throw new DatabaseError(`cannot write ${path}: ${why}. The sidecar records every request there and will not run without it; fix the permissions, or pick another data dir with --data-dir`, { cause: err });
    }
  }
}

/** A SQLite failure at open, in words that say what to do. */
function describeOpenFailure(file: string, err: unknown): string {
  const code = String((err as { code?: unknown }).code ?? '');
  const msg = (err as Error).message;
  if (code.startsWith('SQLITE_NOTADB') || code.startsWith('SQLITE_CORRUPT')) {
    return `the database at ${file} is damaged (${msg}); the sidecar will not run on it. Restore it from a backup, or move it aside to start fresh (its tokens and ledger would be lost)`;
  }
  if (code.startsWith('SQLITE_FULL')) return `the disk holding ${file} is full (${msg}); free some space, then start the sidecar again`;
  if (code.startsWith('SQLITE_READONLY') || code.startsWith('SQLITE_CANTOPEN') || code.startsWith('SQLITE_PERM')) {
    return `cannot write the database at ${file} (${msg}); check the permissions of the data dir and the files in it`;
  }
  return `cannot use the database at ${file}: ${msg}`;
}

/** Largest database file checked with quick_check before it is used. */
export const INLINE_CHECK_MAX_BYTES = 64 * 1024 * 1024;

export function fileSize(file: string): number {
  try {
    return statSync(file).size;
  } catch {
    return 0;
  }
}

export function openDatabase(dataDir: string, opts: OpenOptions = {}): DB {
  ensureDataDir(dataDir);
  if (!opts.readonly) checkWritable(dataDir);
  const file = join(dataDir, DB_FILE);
  let db: DB;
  try {
    db = new Database(file, { readonly: opts.readonly ?? false, timeout: opts.busyTimeoutMs ?? 5000, ...sqliteAddon() });
  } catch (err) {
    throw new DatabaseError(describeOpenFailure(file, err), { cause: err });
  }
  try {
    for (const f of [file, `${file}-wal`, `${file}-shm`]) {
      try {
        chmodSync(f, 0o600);
      } catch {
        /* -wal/-shm appear only after the first write */
      }
    }
    // quick_check reads the whole file (5.8 s for 2 GB): inline only for files small enough to check at once;
    // the daemon checks a larger one in its maintenance worker after it starts serving (proxy/db/maintenance.ts).
    if (fileSize(file) <= INLINE_CHECK_MAX_BYTES) {
      const check = db.pragma('quick_check', { simple: true });
      if (check !== 'ok') {
        throw new DatabaseError(`the database at ${file} failed its integrity check (${String(check)}); restore it from a backup or move it aside to start fresh`);
      }
    }
    if (!opts.readonly) {
      const mode = db.pragma('journal_mode = WAL', { simple: true });
      if (mode !== 'wal') throw new DatabaseError(`the database at ${file} could not switch to WAL (journal mode is ${String(mode)})`);
    }
    // NORMAL in WAL mode survives a process crash (SIGKILL) with every committed transaction;
    // only an OS crash or power loss can lose the last few, which FULL would cost a fsync per request to prevent.
    db.pragma('synchronous = NORMAL');
    db.pragma('foreign_keys = ON');
    if (!opts.readonly) migrate(db);
    return db;
  } catch (err) {
    db.close();
    if (err instanceof DatabaseError) throw err;
    throw new DatabaseError(describeOpenFailure(file, err), { cause: err });
  }
}

export function migrate(db: DB): void {
  const current = db.pragma('user_version', { simple: true }) as number;
  if (current > MIGRATIONS.length) {
    throw new DatabaseError(`the database schema (version ${current}) is newer than this sidecar understands (${MIGRATIONS.length}); upgrade the sidecar`);
  }
  for (let v = current; v < MIGRATIONS.length; v++) {
    db.transaction(() => {
      db.exec(MIGRATIONS[v]!);
      db.pragma(`user_version = ${v + 1}`);
    }).immediate();
  }
}
