/** `audit`: the append-only log of lifecycle events (it holds ids, names, amounts and reasons; never a secret). */
import type { Command } from 'commander';
import { listAudit } from '../../db/records.js';
import { CliError, iso, openDb, printJson, printTable, type GlobalOptions } from '../context.js';

export function registerAudit(program: Command, globals: () => GlobalOptions): void {
  program
    .command('audit')
    .description('lifecycle events, newest first: token create/rotate/auto-rotate/revoke/budget, key set/rotate, webhook deliveries and failures')
    .option('--token <id>', 'only events about this token (or upstream child key)')
    .option('--limit <n>', 'how many events', '50')
    .option('--json', 'print JSON only')
    .action((o: { token?: string; limit: string; json?: boolean }) => {
      const limit = Number(o.limit);
      if (!Number.isInteger(limit) || limit < 1 || limit > 100_000) throw new CliError('--limit takes a whole number from 1 to 100000');
      const db = openDb(globals());
      try {
        const rows = listAudit(db, { limit, ...(o.token ? { tokenId: o.token } : {}) });
        if (o.json) return printJson({ events: rows.map((r) => ({ ...r, ts: new Date(r.ts).toISOString() })) });
        printTable(
          rows.map((r) => ({ time: iso(r.ts), actor: r.actor, event: r.event, token: r.token_id ?? '', detail: JSON.stringify(r.detail) })),
          ['time', 'actor', 'event', 'token', 'detail'],
        );
      } finally {
        db.close();
      }
    });
}
