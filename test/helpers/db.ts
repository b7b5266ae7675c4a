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

/**
 * Inserts `count` tokens in one statement (no per-row JavaScript): roots with nine children each
 * (`many-agent-1` is a root, 2-10 its children, 11 the next root, …), ids `tok_m` + 15 digits, write
 * scopes, a $50 monthly budget, one secret hash each. For tests of many tokens (the Tokens page).
 */
export function insertTokens(db: DB, count: number, now = Date.now()): void {
  const id = "printf('tok_m%015d', i)";
  db.transaction(() => {
    db.prepare(
      `WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < @count)
       INSERT INTO tokens (id, name, parent_id, depth, scopes, monthly_budget, created_at, meta)
       SELECT ${id}, 'many-agent-' || i,
              CASE WHEN i % 10 = 1 THEN NULL ELSE printf('tok_m%015d', i - ((i - 1) % 10)) END,
              CASE WHEN i % 10 = 1 THEN 0 ELSE 1 END,
              'billing:read models:read models:use services:read services:use', 50000000, @now - (@count - i) * 1000, '{}'
       FROM n`,
    ).run({ count, now });
    db.prepare(
      `WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < @count)
       INSERT INTO token_secrets (hash, token_id, created_at) SELECT lower(hex(randomblob(32))), ${id}, @now FROM n`,
    ).run({ count, now });
  })();
}

/** The id `insertTokens` gave its `i`th token. */
export const manyTokenId = (i: number): string => `tok_m${String(i).padStart(15, '0')}`;
