/**
 * The ledger tables (`usage`, `spend`) have one owner, proxy/db/ledger-store.ts
 * (issue 22, item 3): a scan of every source file under proxy/ and main/ finds
 * SQL naming them nowhere else. The scan's pattern is shown to catch each way
 * such SQL was written before, so a passing scan means something. And the
 * store itself: one per connection, spend read per period window.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { ledgerStore } from '../../../proxy/db/ledger-store.js';
import { useTempDb } from '../../helpers/db.js';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const OWNER = 'proxy/db/ledger-store.ts';
/** Where the tables are created and altered. */
const SCHEMA = 'proxy/db/migrations.ts';

/** SQL naming the usage or spend table after FROM, JOIN, INTO or UPDATE (this codebase writes SQL keywords in capitals, prose in lower case). */
const LEDGER_SQL = /\b(?:FROM|JOIN|INTO|UPDATE)\s+(?:usage|spend)\b/g;

function sources(dir: string): string[] {
  return readdirSync(join(ROOT, dir), { withFileTypes: true, recursive: true })
    .filter((e) => e.isFile() && /\.(?:c|m)?ts$/.test(e.name) && !e.name.endsWith('.d.ts'))
    .map((e) => relative(ROOT, join(e.parentPath, e.name)));
}

/** `file:line: text` of every ledger-table SQL in `text`, but for comment lines. */
function ledgerSql(file: string, text: string): string[] {
  const out: string[] = [];
  for (const m of text.matchAll(LEDGER_SQL)) {
    const lineStart = text.lastIndexOf('\n', m.index) + 1;
    const line = text.slice(lineStart, text.indexOf('\n', m.index));
    if (/^\s*(?:\*|\/\/)/.test(line)) continue; // a comment
    out.push(`${file}:${text.slice(0, m.index).split('\n').length}: ${line.trim()}`);
  }
  return out;
}

describe('the ledger tables', () => {
  it('are queried from proxy/db/ledger-store.ts alone', () => {
    const files = [...sources('proxy'), ...sources('main')].filter((f) => f !== OWNER && f !== SCHEMA);
    expect(files.length).toBeGreaterThan(100);
    expect(files.flatMap((f) => ledgerSql(f, readFileSync(join(ROOT, f), 'utf8')))).toEqual([]);
    // The owner really holds them (the scan finds its statements).
    expect(ledgerSql(OWNER, readFileSync(join(ROOT, OWNER), 'utf8')).length).toBeGreaterThanOrEqual(10);
  });

  it('the scan catches every way the tables were queried before', () => {
    const before = [
      "db.prepare('SELECT spent_micros FROM spend WHERE token_id = ? AND period = ?')",
      'db.prepare(`SELECT ts FROM usage ${where} ORDER BY id DESC`)',
      "'SELECT COALESCE(SUM(s.spent_micros), 0) AS total FROM spend s JOIN tokens t ON t.id = s.token_id'",
      '`SELECT u.*, t.name FROM tokens t\n   JOIN usage u ON t.id = u.token_id`',
      'db.prepare(`INSERT INTO usage (ts, request_id) VALUES (?, ?)`)',
      "db.prepare('UPDATE spend SET spent_micros = 0')",
      "db.prepare('DELETE FROM usage WHERE ts < ?')",
    ];
    for (const sql of before) expect(ledgerSql('x.ts', sql), sql).toHaveLength(1);
    // Prose and comments are not SQL.
    for (const text of ['// reads the usage table through its ts index', ' * spend from the same balance.', "log('a request cost more; spend from usage reports')"]) {
      expect(ledgerSql('x.ts', text), text).toEqual([]);
    }
  });
});

describe('ledgerStore', () => {
  const t = useTempDb('sbs-ledger-');

  it('is one store per connection, and reads spend per period window', () => {
    const store = ledgerStore(t.db);
    expect(ledgerStore(t.db)).toBe(store);
    store.addSpend('tok_a', '2031-01-15', 1_000);
    store.addSpend('tok_a', '2031-01-15', 2_000);
    store.addSpend('tok_a', '2031-01', 5_000);
    store.addSpend('tok_b', 'total', 7_000);
    expect(store.spendOf('tok_a', '2031-01-15')).toEqual({ spentMicros: 3_000, requests: 2 });
    expect(store.spendOf('tok_a', '2031-01')).toEqual({ spentMicros: 5_000, requests: 1 });
    expect(store.spendOf('tok_a', '2031-W03')).toEqual({ spentMicros: 0, requests: 0 });
    const rows = store.spendInWindows(['2031-01-15', 'total']).map((r) => `${r.token_id} ${r.period} ${r.spent_micros}`).sort();
    expect(rows).toEqual(['tok_a 2031-01-15 3000', 'tok_b total 7000']);
  });
});
