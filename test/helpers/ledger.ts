/** Reading the ledger, and waiting for it: the daemon emits a request event only after that request's row is committed. */
import type { SidecarEvents } from '../../proxy/core/events.js';
import type { LedgerRow, RequestEvent } from '../../proxy/core/ledger.js';
import type { DB } from '../../proxy/db/database.js';
import { ledgerStore } from '../../proxy/db/ledger-store.js';

/** A row of the `usage` table as stored. */
export type UsageRow = LedgerRow & { id: number };

/** A token's ledger rows, oldest first. */
export function ledgerOf(db: DB, tokenId: string): UsageRow[] {
  // Rows answered but still in the writer's commit window are committed first, as every read in the daemon does.
  ledgerStore(db).commitWaiting();
  return db.prepare('SELECT * FROM usage WHERE token_id = ? ORDER BY id').all(tokenId) as UsageRow[];
}

/** Resolves with the ledger event of this token's next settled request. Call it before sending the request. */
export function nextRow(events: SidecarEvents, tokenId: string): Promise<RequestEvent> {
  return new Promise((resolve) => {
    const on = (e: RequestEvent) => {
      if (e.token_id !== tokenId) return;
      events.off('request', on);
      resolve(e);
    };
    events.on('request', on);
  });
}
