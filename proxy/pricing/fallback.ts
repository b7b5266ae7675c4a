/**
 * What was charged at the fallback price, for `status` and the dashboard: the
 * models SkillBoss names but does not price, and this period's ledger rows
 * priced at the default (cost_source 'default': the flag on the row).
 * The ledger's part is asked of proxy/db/ledger-store.ts, which owns those tables.
 */
import type { DB } from '../db/database.js';
import { ledgerStore } from '../db/ledger-store.js';

/** Models listed by the last sync with no token price from SkillBoss and no local override. */
export function unpricedModels(db: DB): string[] {
  return db
    .prepare(
      `SELECT id FROM models WHERE synced_at IS NOT NULL AND prompt_price IS NULL AND completion_price IS NULL
         AND override_prompt IS NULL AND override_completion IS NULL ORDER BY id`,
    )
    .pluck()
    .all() as string[];
}

/** Requests since `since` charged at the fallback price, and the models they named. */
export function fallbackChargedSince(db: DB, since: number): { requests: number; models: string[] } {
  const rows = ledgerStore(db).fallbackChargedSince(since);
  return { requests: rows.reduce((a, r) => a + r.n, 0), models: rows.map((r) => r.model) };
}
