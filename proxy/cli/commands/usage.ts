/** `usage`: the ledger, per request and in total, with spend against budget. */
import type { Command } from 'commander';
import { microsToUsd } from '../../core/money.js';
import { periodOf } from '../../core/time.js';
import { periodAdjective, windowOf, type BudgetPeriod, type Window } from '../../core/period.js';
import { ledgerStore } from '../../db/ledger-store.js';
import { fallbackType, kindOfRoute } from '../../pipeline/route-kinds.js';
import { periodSpend } from '../../spend/views.js';
import { CliError, printJson, printTable, withTokens, type GlobalOptions } from '../context.js';

/** "tok_… daily budget (2026-12-06): $0.001200 of $5.00, resets at …": the token's spend in its own budget period. */
export function budgetLine(id: string, period: BudgetPeriod, budgetMicros: number | null, spentMicros: number, w: Window): string {
  const spent = `$${microsToUsd(spentMicros).toFixed(6)}`;
  if (budgetMicros === null) return `${id} this month (${w.key}): ${spent}, no budget`;
  const of = `${spent} of $${microsToUsd(budgetMicros).toFixed(2)}`;
  if (w.end === null) return `${id} ${periodAdjective(period)} budget: ${of} spent; it does not reset (add to it with \`token topup\`)`;
  return `${id} ${periodAdjective(period)} budget (${w.key}): ${of}, resets at ${new Date(w.end).toISOString()}`;
}

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
        const budgetOf = o.token ? tokens.get(o.token) : undefined;
        if (o.token && !budgetOf) throw new CliError(`no token with id ${o.token}; \`skillboss-sidecar token list\` shows them`);
        const { rows, totals: t } = ledgerStore(db).listSince(since, o.token, limit);
        // The token's budget in its own period (a day, a week, a month, or prepaid for all time), as every other view shows it.
        const window = budgetOf ? windowOf(budgetOf.budgetPeriod, now) : undefined;
        const spent = budgetOf ? periodSpend(db, budgetOf, now).spentMicros : undefined;
        const out = {
          requests: rows.map((r) => ({
            ts: new Date(r.ts).toISOString(),
            token_id: r.token_id,
            route: r.route,
            // How it was metered (chat, embedding, call, run, job, reported, local…), the model's vendor, and the SkillBoss job it started or settled.
            kind: kindOfRoute(r.route),
            model: r.model,
            vendor: r.vendor,
            job_id: r.job_id,
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
            prompt_tokens: t.prompt_tokens,
            completion_tokens: t.completion_tokens,
            cached_tokens: t.cached_tokens,
            reasoning_tokens: t.reasoning_tokens,
            cost_usd: microsToUsd(t.cost_micros),
            ...(budgetOf && window
              ? {
                  budget_period: budgetOf.budgetPeriod,
                  period: window.key,
                  resets_at: window.end === null ? null : new Date(window.end).toISOString(),
                  spent_this_period_usd: microsToUsd(spent ?? 0),
                  // The budget of the period above (the admin API's name for it, whatever the period).
                  monthly_budget_usd: budgetOf.budget === null ? null : microsToUsd(budgetOf.budget),
                }
              : {}),
          },
        };
        if (o.json) return printJson(out);
        printTable(
          out.requests.map((r) => ({
            time: r.ts.replace('T', ' ').slice(0, 19),
            token: r.token_id,
            kind: r.kind ?? '',
            model: r.model ?? '',
            job: r.job_id ?? '',
            in: String(r.prompt_tokens),
            out: String(r.completion_tokens),
            cached: String(r.cached_tokens),
            reasoning: String(r.reasoning_tokens),
            cost: `$${r.cost_usd.toFixed(6)}`,
            status: String(r.status),
            ms: r.latency_ms.toFixed(1),
          })),
          // A job column only when a listed row has one (most ledgers have no SkillBoss jobs); the vendor is the model's first part.
          ['time', 'token', 'kind', 'model', 'in', 'cached', 'out', 'reasoning', 'cost', 'status', 'ms', ...(out.requests.some((r) => r.job_id) ? ['job'] : [])],
        );
        const tt = out.totals;
        process.stdout.write(`\n${tt.requests} requests since ${tt.since}: ${tt.prompt_tokens} prompt + ${tt.completion_tokens} completion tokens, $${tt.cost_usd.toFixed(6)}\n`);
        // Where it went: per vendor and per type of model (chat, image, video, tts, …), over the same requests as the totals.
        const split = (rows: Array<{ key: string | null; cost_micros: number; requests: number }>) =>
          rows.map((g) => `${g.key ?? '(no model)'} $${microsToUsd(g.cost_micros).toFixed(6)} (${g.requests})`).join(', ');
        if (tt.requests > 0) {
          const store = ledgerStore(db);
          process.stdout.write(`by vendor: ${split(store.spendByVendor(since, Number.MAX_SAFE_INTEGER, o.token))}\n`);
          process.stdout.write(`by type: ${split(store.spendByType(since, Number.MAX_SAFE_INTEGER, o.token, fallbackType))}\n`);
        }
        if (budgetOf) process.stdout.write(`${budgetLine(budgetOf.id, budgetOf.budgetPeriod, budgetOf.budget, spent ?? 0, window!)}\n`);
      });
    });
}
