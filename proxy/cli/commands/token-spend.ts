/**
 * The budget side of `token` (issue 16): `--period`, `--hold-above` and
 * `--hold-rate` for create, `token topup ID USD` for prepaid budgets,
 * `token set-hold ID`, and the period, hold and forecast columns of listings.
 */
import type { Command } from 'commander';
import { formatUsd, microsToUsd } from '../../core/money.js';
import { systemClock } from '../../core/time.js';
import type { DB } from '../../db/database.js';
import { setHoldLimits, topUp } from '../../spend/holds.js';
import type { BudgetPeriod } from '../../core/period.js';
import { budgetFields, periodSpend } from '../../spend/views.js';
import { TokenStore } from '../../tokens/store.js';
import type { Token } from '../../tokens/token.js';
import { CliError, printJson, withTokens, type GlobalOptions } from '../context.js';
import { parsePeriodFlag as parsePeriod, parseUsdFlag } from '../parse.js';
import { write } from '../daemon.js';

export interface SpendOptions {
  period?: string;
  holdAbove?: string;
  holdRate?: string;
}

/** A positive amount in USD (`2.50` or `$2.50`), or `none` where `allowNone`: the CLI's one money parser (cli/parse.ts). */
export function parsePositiveUsd(s: string, flag: string, allowNone = false): number | null {
  // The one money rule (wire/fields.ts), in its own words: the same answer as every other path, the input quoted once.
  return parseUsdFlag(s, flag, { none: allowNone });
}

export function parsePeriodFlag(s: string | undefined): BudgetPeriod | undefined {
  return s === undefined ? undefined : parsePeriod(s);
}

export function addSpendOptions(cmd: Command): Command {
  return cmd
    .option('--period <period>', 'what --budget is per: day | week | month (resets 00:00 UTC on the 1st) | total (prepaid, never resets; add with token topup)', 'month')
    .option('--hold-above <usd>', 'put the token on hold for your approval when its spend this period would pass this')
    .option('--hold-rate <usd>', 'put the token on hold for your approval when its spend in any hour would pass this');
}

/** The create fields these options give. */
export function spendInput(o: SpendOptions): { budgetPeriod: BudgetPeriod; holdAbove: number | null; holdRate: number | null } {
  return {
    budgetPeriod: parsePeriodFlag(o.period) ?? 'month',
    holdAbove: o.holdAbove === undefined ? null : parsePositiveUsd(o.holdAbove, '--hold-above'),
    holdRate: o.holdRate === undefined ? null : parsePositiveUsd(o.holdRate, '--hold-rate'),
  };
}

/** Period, spend this period, holds and forecast, for `token list|show|tree --json`. */
export function spendJson(db: DB, t: Token, now = systemClock()) {
  const spent = periodSpend(db, t, now).spentMicros;
  return { spent_this_period: microsToUsd(spent), ...budgetFields(t, spent, now) };
}

/** The table columns for `token list`. */
export function spendColumns(j: ReturnType<typeof spendJson>): Record<string, string> {
  const f = j.forecast;
  const day = (s: string | null) => (s ? s.slice(0, 16).replace('T', ' ') : '-');
  return {
    period: j.budget_period,
    hold: j.hold ? j.hold.state : j.hold_above_usd !== null || j.hold_rate_usd !== null ? 'armed' : '',
    'rate/h': `$${f.spend_rate_usd_per_hour.toFixed(4)}`,
    projected: f.projected_period_spend_usd === null ? '-' : `$${f.projected_period_spend_usd.toFixed(2)}`,
    'runs out': day(f.runs_out_at),
  };
}

/** Active tokens with a budget or a hold threshold: spend this period, forecast and hold, for `status`. */
export function spendForecasts(db: DB, now: number) {
  return new TokenStore(db, () => now)
    .list()
    .filter((t) => t.revokedAt === null && (t.expiresAt === null || t.expiresAt > now) && (t.budget !== null || t.holdAbove !== null || t.holdRate !== null || t.hold !== null))
    .map((t) => ({ id: t.id, name: t.name, budget: t.budget === null ? null : microsToUsd(t.budget), ...spendJson(db, t, now) }));
}

/** One line per token for `status`: spend against budget, rate, projection, run-out, hold. */
export function forecastLine(f: ReturnType<typeof spendForecasts>[number]): string {
  const fc = f.forecast;
  const per = f.budget_period === 'total' ? 'prepaid' : `per ${f.budget_period}`;
  return (
    `  ${f.name} (${f.id}): $${f.spent_this_period.toFixed(4)}${f.budget === null ? '' : ` of $${f.budget.toFixed(2)} ${per}`}; $${fc.spend_rate_usd_per_hour.toFixed(4)}/h` +
    (fc.projected_period_spend_usd === null ? '' : `, projected $${fc.projected_period_spend_usd.toFixed(2)} by ${fc.period_ends_at}`) +
    (fc.runs_out_at ? `, runs out ${fc.runs_out_at}` : f.budget === null ? '' : ', lasts the period') +
    (f.hold ? ` [${f.hold.state === 'denied' ? 'HELD, denied' : 'ON HOLD'}]` : '')
  );
}

export function registerTokenSpend(token: Command, globals: () => GlobalOptions): void {
  token
    .command('topup <id> <usd>')
    .description('add USD to a prepaid (--period total) budget; it never resets, so this is how it grows')
    .option('--json', 'print JSON only')
    .action(async (id: string, usd: string, o: { json?: boolean }) => {
      const micros = parsePositiveUsd(usd, 'the top-up')!;
      const g = globals();
      const t = await write(
        g,
        async (d) => {
          await d.call('POST', `/tokens/${id}/topup`, { amount_usd: microsToUsd(micros) });
          return withTokens(g, (tokens) => tokens.require(id));
        },
        () => withTokens(g, (tokens, db) => topUp(db, tokens, id, micros, 'cli', systemClock())),
      );
      if (o.json) return printJson({ id: t.id, budget: microsToUsd(t.budget ?? 0), topped_up: microsToUsd(t.toppedUp) });
      process.stdout.write(`${t.id} now has a prepaid budget of ${formatUsd(t.budget)} (${formatUsd(t.toppedUp)} of it from top-ups).\n`);
    });

  token
    .command('set-hold <id>')
    .description('change when a token is put on hold for your approval (USD, or none)')
    .option('--above <usd>', 'spend per budget period')
    .option('--rate <usd>', 'spend per hour')
    .option('--json', 'print JSON only')
    .action(async (id: string, o: { above?: string; rate?: string; json?: boolean }) => {
      if (o.above === undefined && o.rate === undefined) throw new CliError('give --above USD|none and/or --rate USD|none');
      const limits = {
        ...(o.above === undefined ? {} : { holdAbove: parsePositiveUsd(o.above, '--above', true) }),
        ...(o.rate === undefined ? {} : { holdRate: parsePositiveUsd(o.rate, '--rate', true) }),
      };
      const g = globals();
      const usd = (m: number | null | undefined) => (m === undefined ? {} : m === null ? null : microsToUsd(m));
      const body = { ...(limits.holdAbove === undefined ? {} : { hold_above_usd: usd(limits.holdAbove) }), ...(limits.holdRate === undefined ? {} : { hold_rate_usd: usd(limits.holdRate) }) };
      const t = await write(
        g,
        async (d) => {
          withTokens(g, (tokens) => tokens.require(id));
          await d.call('PATCH', `/tokens/${id}`, body);
          return withTokens(g, (tokens) => tokens.require(id));
        },
        () => withTokens(g, (tokens, db) => setHoldLimits(db, tokens, id, limits, 'cli', systemClock())),
      );
      if (o.json) return printJson({ id: t.id, hold_above: t.holdAbove === null ? null : microsToUsd(t.holdAbove), hold_rate: t.holdRate === null ? null : microsToUsd(t.holdRate) });
      process.stdout.write(`${t.id}: held above ${formatUsd(t.holdAbove)} per ${t.budgetPeriod}, above ${formatUsd(t.holdRate)} per hour.\n`);
    });
}
