/**
 * Seeds a sidecar database at scale with plain SQL (recursive CTEs, no
 * per-row JavaScript): N tokens (roots with nine children each) with one
 * secret each, M ledger rows spread over the last year across all tokens,
 * and 12 months of spend per token. The schema comes from the real migrations
 * (openDatabase); the ledger indexes are dropped for the bulk insert and
 * rebuilt after, which leaves the same schema and is much faster than
 * updating two B-trees row by row.
 */
import { statSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { periodOf } from '../proxy/core/time.js';
import { DB_FILE, openDatabase } from '../proxy/db/database.js';
import { PRESETS } from '../proxy/tokens/scopes.js';
import { normalizeScopes } from '../proxy/tokens/scopes.js';
import { round } from './common.js';

export interface SeedSpec {
  tokens: number;
  usageRows: number;
}

export interface SeedResult extends SeedSpec {
  seconds: number;
  steps: Record<string, number>;
  bytes: number;
  /** openDatabase on the seeded file (integrity check + migrations), seconds. */
  openSeconds: number;
}

const BATCH = 1_000_000;
const YEAR_MS = 365 * 24 * 3600 * 1000;

export function seedDatabase(dataDir: string, spec: SeedSpec, progress: (msg: string) => void): SeedResult {
  const t0 = performance.now();
  const steps: Record<string, number> = {};
  const step = <T>(name: string, f: () => T): T => {
    const s = performance.now();
    const r = f();
    steps[name] = round((performance.now() - s) / 1000, 2);
    progress(`seed: ${name} ${steps[name]} s`);
    return r;
  };
  openDatabase(dataDir).close();
  const db = new Database(join(dataDir, DB_FILE));
  try {
    db.pragma('journal_mode = DELETE');
    db.pragma('journal_mode = OFF');
    db.pragma('synchronous = OFF');
    db.pragma('cache_size = -1000000');
    db.pragma('temp_store = MEMORY');
    db.exec('DROP INDEX IF EXISTS usage_token_ts; DROP INDEX IF EXISTS usage_ts;');
    const now = Date.now();
    const scopes = normalizeScopes(PRESETS.write).join(' ');
    const tokenId = "printf('tok_s%015d', i)";
    step('tokens', () =>
      db
        .prepare(
          `WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < @count)
           INSERT INTO tokens (id, name, parent_id, depth, scopes, monthly_budget, rpm, max_concurrent, expires_at, created_at, meta)
           SELECT ${tokenId}, 'seed-agent-' || i,
                  CASE WHEN i % 10 = 1 THEN NULL ELSE printf('tok_s%015d', i - ((i - 1) % 10)) END,
                  CASE WHEN i % 10 = 1 THEN 0 ELSE 1 END,
                  @scopes, 50000000, NULL, NULL, NULL, @now - (@count - i) * 1000, '{}'
           FROM n`,
        )
        .run({ count: spec.tokens, scopes, now }),
    );
    step('token_secrets', () =>
      db
        .prepare(
          `WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < @count)
           INSERT INTO token_secrets (hash, token_id, created_at) SELECT lower(hex(randomblob(32))), ${tokenId}, @now FROM n`,
        )
        .run({ count: spec.tokens, now }),
    );
    const insertUsage = db.prepare(
      `WITH RECURSIVE n(i) AS (SELECT @from UNION ALL SELECT i + 1 FROM n WHERE i < @to)
       INSERT INTO usage (ts, request_id, token_id, method, route, model, prompt_tokens, completion_tokens, cost_micros, status, latency_ms, streamed, usage_source, cost_source, error_code)
       SELECT CAST(@start + (i * @span) / @rows AS INTEGER), lower(hex(randomblob(16))), printf('tok_s%015d', 1 + abs(random()) % @tokens),
              'POST', '/v1/chat/completions', 'gpt-4o-mini', 100 + i % 900, 10 + i % 300, 50 + i % 500,
              CASE WHEN i % 50 = 0 THEN 429 ELSE 200 END, 200 + (i % 1000) / 10.0, i % 3 = 0, 'upstream', 'price', NULL
       FROM n`,
    );
    const t = performance.now();
    for (let from = 1; from <= spec.usageRows; from += BATCH) {
      const to = Math.min(spec.usageRows, from + BATCH - 1);
      db.transaction(() => insertUsage.run({ from, to, start: now - YEAR_MS, span: YEAR_MS, rows: spec.usageRows, tokens: spec.tokens }))();
      progress(`seed: usage ${to.toLocaleString('en-US')} / ${spec.usageRows.toLocaleString('en-US')} rows (${round((performance.now() - t) / 1000, 1)} s)`);
    }
    steps.usage = round((performance.now() - t) / 1000, 2);
    const periods = Array.from({ length: 12 }, (_, k) => periodOf(Date.UTC(new Date(now).getUTCFullYear(), new Date(now).getUTCMonth() - k, 15)));
    step('spend', () =>
      db
        .prepare(
          `WITH p(period) AS (SELECT value FROM json_each(@periods))
           INSERT INTO spend (token_id, period, spent_micros, requests)
           SELECT t.id, p.period, 1000 + abs(random()) % 1000000, 1 + abs(random()) % 1000 FROM tokens t, p`,
        )
        .run({ periods: JSON.stringify(periods) }),
    );
    step('index usage_token_ts', () => db.exec('CREATE INDEX usage_token_ts ON usage(token_id, ts)'));
    step('index usage_ts', () => db.exec('CREATE INDEX usage_ts ON usage(ts)'));
    db.pragma('journal_mode = WAL');
  } finally {
    db.close();
  }
  const o = performance.now();
  openDatabase(dataDir).close();
  const openSeconds = round((performance.now() - o) / 1000, 2);
  progress(`seed: openDatabase (integrity check) on the seeded file took ${openSeconds} s`);
  return { ...spec, seconds: round((performance.now() - t0) / 1000, 1), steps, bytes: statSync(join(dataDir, DB_FILE)).size, openSeconds };
}
