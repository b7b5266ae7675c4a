/** `usage`: the ledger, per request and in total, with spend against budget. */
import type { Command } from 'commander';
import type { LedgerRow } from '../../core/ledger.js';
import { microsToUsd } from '../../core/money.js';
import { periodOf } from '../../core/time.js';
import { CliError, printJson, printTable, withTokens, type GlobalOptions } from '../context.js';

/** The ledger columns this command lists. */
type UsageRow = Pick<LedgerRow, 'ts' | 'token_id' | 'route' | 'model' | 'prompt_tokens' | 'completion_tokens' | 'cached_tokens' | 'cache_write_tokens' | 'reasoning_tokens' | 'cost_micros' | 'status' | 'latency_ms'>;

export function registerUsage(program: Command, globals: () => GlobalOptions): void {
  program
    .command('usage')
    .description('requests and spend from the ledger')
    .option('--token <id>', 'only this token')
    .option('--since <date>', 'only requests at or after this date/time (default: start of this month, UTC)')
    .option('--limit <n>', 'at most this many requests listed (totals cover all)', '100')
    .option('--json', 'print JSON only')
    .action((o: { token?: string; since?: string; limit: string; json?: boolean }) => {
      const now = Date.now();
      const since = o.since ? Date.parse(o.since) : Date.parse(`${periodOf(now)}-01T00:00:00Z`);
      if (Number.isNaN(since)) throw new CliError(`--since ${JSON.stringify(o.since)} is not a date`);
      const limit = Number(o.limit);
      if (!Number.isInteger(limit) || limit < 0) throw new CliError('--limit takes a whole number');
      withTokens(globals(), (tokens, db) => {
        const where = o.token ? 'WHERE ts >= ? AND token_id = ?' : 'WHERE ts >= ?';
        const args = o.token ? [since, o.token] : [since];
        const rows = db.prepare(`SELECT ts, token_id, route, model, prompt_tokens, completion_tokens, cached_tokens, cache_write_tokens, reasoning_tokens, cost_micros, status, latency_ms FROM usage ${where} ORDER BY id DESC LIMIT ?`).all(...args, limit) as UsageRow[];
        const t = db
          .prepare(`SELECT count(*) AS requests, coalesce(sum(prompt_tokens),0) AS p, coalesce(sum(completion_tokens),0) AS c,
            coalesce(sum(cached_tokens),0) AS cached, coalesce(sum(reasoning_tokens),0) AS reasoning, coalesce(sum(cost_micros),0) AS cost FROM usage ${where}`)
          .get(...args) as { requests: number; p: number; c: number; cached: number; reasoning: number; cost: number };
        const budgetOf = o.token ? tokens.get(o.token) : undefined;
        const spent = o.token ? ((db.prepare('SELECT spent_micros FROM spend WHERE token_id = ? AND period = ?').pluck().get(o.token, periodOf(now)) as number | undefined) ?? 0) : undefined;
        const out = {
          requests: rows.map((r) => ({
            ts: new Date(r.ts).toISOString(),
            token_id: r.token_id,
            route: r.route,
            model: r.model,
            prompt_tokens: r.prompt_tokens,
            completion_tokens: r.completion_tokens,
            // Parts of the two counts above: priced at their own rates (see price list).
            cached_tokens: r.cached_tokens,
            cache_write_tokens: r.cache_write_tokens,
            reasoning_tokens: r.reasoning_tokens,
            cost_usd: microsToUsd(r.cost_micros),
            status: r.status,
            latency_ms: Math.round(r.latency_ms * 100) / 100,
          })),
          totals: {
            since: new Date(since).toISOString(),
            requests: t.requests,
            prompt_tokens: t.p,
            completion_tokens: t.c,
            cached_tokens: t.cached,
            reasoning_tokens: t.reasoning,
            cost_usd: microsToUsd(t.cost),
            ...(o.token
              ? {
                  period: periodOf(now),
                  spent_this_period_usd: microsToUsd(spent ?? 0),
                  monthly_budget_usd: budgetOf?.budget == null ? null : microsToUsd(budgetOf.budget),
                }
              : {}),
          },
        };
        if (o.json) return printJson(out);
        printTable(
          out.requests.map((r) => ({
            time: r.ts.replace('T', ' ').slice(0, 19),
            token: r.token_id,
            model: r.model ?? '',
            in: String(r.prompt_tokens),
            out: String(r.completion_tokens),
            cached: String(r.cached_tokens),
            reasoning: String(r.reasoning_tokens),
            cost: `$${r.cost_usd.toFixed(6)}`,
            status: String(r.status),
            ms: r.latency_ms.toFixed(1),
          })),
          ['time', 'token', 'model', 'in', 'cached', 'out', 'reasoning', 'cost', 'status', 'ms'],
        );
        const tt = out.totals;
        process.stdout.write(`\n${tt.requests} requests since ${tt.since}: ${tt.prompt_tokens} prompt + ${tt.completion_tokens} completion tokens, $${tt.cost_usd.toFixed(6)}\n`);
        if (o.token) {
          process.stdout.write(`${o.token} this month: $${(tt.spent_this_period_usd ?? 0).toFixed(6)} of ${tt.monthly_budget_usd === null ? 'no budget' : `$${tt.monthly_budget_usd!.toFixed(2)}`}\n`);
        }
      });
    });
}
