/** Unit tests over a real SQLite file: a fresh database in its own temp dir for each test, removed after it. */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach } from 'vitest';
import { openDatabase, type DB } from '../../proxy/db/database.js';

/** Call at the top of a test file; `.db` is the current test's database (open it in your own beforeEach). */
export function useTempDb(prefix = 'sbs-db-'): { readonly db: DB } {
  let dir = '';
  let db: DB | null = null;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), prefix));
    db = openDatabase(dir);
  });
  afterEach(() => {
    db?.close();
    db = null;
    rmSync(dir, { recursive: true, force: true });
  });
  return {
    get db(): DB {
      if (!db) throw new Error('useTempDb: the database exists only inside a test');
      return db;
    },
  };
}
