/** `token create|list|show|revoke|rotate|set-budget|set-limits|tree` */
import type { Command } from 'commander';
import { formatUsd, microsToUsd } from '../../core/money.js';
import { DEFAULT_BASE_PATH, localBaseUrl } from '../urls.js';
import { DAY_MS, parseDuration, systemClock } from '../../core/time.js';
import { TokenStore, type Token } from '../../tokens/store.js';
import { write, writeDirect } from '../daemon.js';
import { tokenJson } from '../../../wire/tokens.js';
import { CliError, iso, openDb, printJson, printTable, withTokens, type GlobalOptions } from '../context.js';
import { parseCountFlag, parseUsdFlag } from '../parse.js';
import { MODELS_FLAG_HELP, newTokenFields, parseModelsFlag } from '../token-options.js';
import { escapeUnprintable, isPrintable, PRINTABLE_MESSAGE } from '../../core/text.js';
import type { DB } from '../../db/database.js';
import { writeEnvSink } from '../../lifecycle/envsink.js';
import { rotateToken, setEnvSink } from '../../lifecycle/rotation.js';
import { cliLifecycle, envSinkPath, registerTokenAutoRotate } from './rotation.js';
import { createUpstreamChildCli, revokeUpstreamChildCli, upstreamChildRows } from './token-upstream.js';
import { addSpendOptions, parsePeriodFlag, registerTokenSpend, spendColumns, spendInput, spendJson, type SpendOptions } from './token-spend.js';

/** A token in the CLI's --json output: the shared token JSON plus the limits, state, and (given the db) spend, period, holds and forecast. */
function tokenListJson(t: Token, db?: DB) {
  return {
    ...tokenJson(t),
    ...(db === undefined ? {} : spendJson(db, t)),
    rpm: t.rpm,
    max_concurrent: t.maxConcurrent,
    status: status(t),
    revoked_at: t.revokedAt === null ? null : new Date(t.revokedAt).toISOString(),
  };
}

type CreateTokenInput = Parameters<TokenStore['create']>[0];

/** The admin API's body for the same token (POST /admin/api/tokens). */
function createBody(i: CreateTokenInput) {
  const usd = (m: number | null | undefined) => (m === null || m === undefined ? null : microsToUsd(m));
  return {
    name: i.name,
    scopes: [...i.scopes],
    monthly_budget_usd: usd(i.budget),
    ...(i.budgetPeriod ? { budget_period: i.budgetPeriod } : {}),
    hold_above_usd: usd(i.holdAbove),
    hold_rate_usd: usd(i.holdRate),
    expires: i.expiresAt === null || i.expiresAt === undefined ? 'never' : new Date(i.expiresAt).toISOString(),
    parent_id: i.parentId ?? null,
    rpm: i.rpm ?? null,
    max_concurrent: i.maxConcurrent ?? null,
    models: i.models ? [...i.models] : null,
  };
}

function status(t: Token): 'active' | 'revoked' | 'expired' {
  if (t.revokedAt !== null) return 'revoked';
  if (t.expiresAt !== null && t.expiresAt <= Date.now()) return 'expired';
  return 'active';
}

// The admin API's rules for the same fields (cli/parse.ts): --rpm up to 1,000,000, --max-concurrent up to 10,000.
const parseUsd = (s: string, flag: string): number | null => parseUsdFlag(s, flag);
const parsePositiveInt = (s: string, flag: string): number | null => parseCountFlag(s, flag, flag === '--max-concurrent' ? 10_000 : 1_000_000);

export function registerToken(program: Command, globals: () => GlobalOptions): void {
  const token = program.command('token').description('create, list, rotate and revoke local agent tokens');

  addSpendOptions(token
    .command('create'))
    .description('create a token for an agent; its secret is printed once')
    .requiredOption('--name <name>', 'who will use it (shown in listings and the dashboard)')
    .option('--scopes <list>', 'comma-separated scopes: models:read,models:use,services:read,services:use,billing:read,billing:write,agents:create')
    .option('--preset <preset>', 'read-only | write | admin')
    .option('--budget <usd>', 'budget in USD per --period (default: a month, resetting on the 1st, UTC)')
    .option('--expires <when>', 'never | 30d | 90d | 365d | a date (2027-01-31)', 'never')
    .option('--parent <id>', 'make it a child of this token (its scopes, budget, expiry and models must fit inside the parent\'s)')
    .option('--models <list>', MODELS_FLAG_HELP)
    .option('--rpm <n>', 'requests per minute')
    .option('--max-concurrent <n>', 'requests in flight at once')
    .option('--write-env <path>', 'write the secret to this .env file (OPENAI_API_KEY, OPENAI_BASE_URL, SKILLBOSS_API_KEY; 0600), rewritten at every rotation')
    .option('--upstream', 'make a real SkillBoss child key (for an agent on another machine) instead of a local token; needs --budget')
    .option('--upstream-url <url>', 'with --upstream: the SkillBoss API (default: the saved setting, SKILLBOSS_UPSTREAM_URL, or api.skillboss.co)')
    .option('--json', 'print JSON only')
    .action(async (o: SpendOptions & { name: string; scopes?: string; preset?: string; budget?: string; expires: string; models?: string; parent?: string; rpm?: string; maxConcurrent?: string; writeEnv?: string; upstream?: boolean; upstreamUrl?: string; json?: boolean }) => {
      if (!isPrintable(o.name)) throw new CliError(`--name ${PRINTABLE_MESSAGE}`);
      // Scopes are required here: no command-wide default for a token made by hand.
      const { scopes, budget, expiresAt, models } = newTokenFields(o);
      if (o.upstream) {
        if (o.parent || o.rpm || o.maxConcurrent || o.writeEnv) throw new CliError('--upstream keys are children of the real key: --parent, --rpm, --max-concurrent and --write-env do not apply');
        if ((o.period && o.period !== 'month') || o.holdAbove || o.holdRate) throw new CliError('--upstream keys are budgeted by SkillBoss per month: --period, --hold-above and --hold-rate apply to local tokens only');
        return createUpstreamChildCli(globals(), { name: o.name, scopes, budgetMicros: budget, expiresAt, models, ...(o.upstreamUrl ? { upstreamUrl: o.upstreamUrl } : {}), ...(o.json ? { json: true } : {}) });
      }
      const sink = o.writeEnv === undefined ? undefined : envSinkPath(o.writeEnv);
      const g = globals();
      const input: CreateTokenInput = {
        name: o.name,
        scopes,
        budget,
        ...spendInput(o),
        expiresAt,
        parentId: o.parent ?? null,
        rpm: o.rpm === undefined ? null : parsePositiveInt(o.rpm, '--rpm'),
        maxConcurrent: o.maxConcurrent === undefined ? null : parsePositiveInt(o.maxConcurrent, '--max-concurrent'),
        models,
      };
      const created = await write(
        g,
        async (d) => {
          const r = await d.call<{ token: { id: string }; secret: string }>('POST', '/tokens', createBody(input));
          return { token: withTokens(g, (tokens) => tokens.require(r.token.id)), secret: r.secret };
        },
        () => withTokens(g, (tokens) => tokens.create(input, 'cli')),
      );
      if (sink) {
        await writeDirect(g, () =>
          withTokens(g, (tokens, db) => {
            const ctx = cliLifecycle(g, db, tokens);
            setEnvSink(ctx, created.token.id, sink, 'cli');
            writeEnvSink(sink, { secret: created.secret, baseUrl: ctx.agentBaseUrl(), tokenId: created.token.id, tokenName: created.token.name });
          }),
        );
      }
      const t = created.token;
      if (o.json) {
        printJson({
          ...tokenJson(t),
          budget_period: t.budgetPeriod,
          hold_above: t.holdAbove === null ? null : microsToUsd(t.holdAbove),
          hold_rate: t.holdRate === null ? null : microsToUsd(t.holdRate),
          api_key: created.secret,
          env_file: sink ?? null,
        });
        return;
      }
      const base = localBaseUrl(globals());
      process.stdout.write(
        `Created ${t.id} (${escapeUnprintable(t.name)}) with scopes ${t.scopes.join(' ')}; budget ${formatUsd(t.budget)}${t.budget === null ? '' : t.budgetPeriod === 'total' ? ' prepaid' : ` per ${t.budgetPeriod}`}; expires ${iso(t.expiresAt)}.\n\n` +
          `  ${created.secret}\n\n` +
          'This secret is shown once; the sidecar keeps only its hash. Give it to the agent as:\n\n' +
          `  export OPENAI_BASE_URL=${base}${DEFAULT_BASE_PATH}\n  export OPENAI_API_KEY=${created.secret}\n` +
          (sink ? `\nAlso written to ${sink} (0600), and rewritten there at every rotation.\n` : ''),
      );
    });

  token
    .command('list')
    .description('list tokens with their spend this period, spend rate and forecast')
    .option('--all', 'include revoked and expired tokens')
    .option('--json', 'print JSON only')
    .action((o: { all?: boolean; json?: boolean }) => {
      withTokens(globals(), (tokens, db) => {
        const rows = tokens.list().filter((t) => o.all || status(t) === 'active');
        const items = rows.map((t) => tokenListJson(t, db));
        const upstream = upstreamChildRows(db, o.all === true);
        if (o.json) return printJson({ tokens: items, upstream_keys: upstream });
        printTable(
          [...items.map((t) => ({
            id: t.id,
            name: t.name,
            scopes: t.scopes.join(','),
            budget: t.monthly_budget === null ? 'none' : `$${t.monthly_budget.toFixed(2)}`,
            spent: `$${t.spent_this_period!.toFixed(4)}`,
            ...spendColumns(t as ReturnType<typeof tokenListJson> & ReturnType<typeof spendJson>),
            expires: t.expires_at ?? 'never',
            status: t.status,
            parent: t.parent_id ?? '',
          })),
          // Real SkillBoss child keys: their spend is on the SkillBoss account, not metered here.
          ...upstream.map((c) => ({ id: c.id, name: c.name, scopes: c.scopes.join(','), budget: c.monthly_budget === null ? 'none' : `$${c.monthly_budget.toFixed(2)}`, spent: '-', expires: c.expires_at ?? 'never', status: c.status, parent: '(SkillBoss)' }))],
          ['id', 'name', 'scopes', 'budget', 'period', 'spent', 'rate/h', 'projected', 'runs out', 'hold', 'expires', 'status', 'parent'],
        );
      });
    });

  token
    .command('show <id>')
    .description('one token in full')
    .option('--json', 'print JSON only')
    .action((id: string, o: { json?: boolean }) => {
      withTokens(globals(), (tokens, db) => {
        const t = requireToken(tokens, id);
        const item = { ...tokenListJson(t, db), children: tokens.subtree(t.id).filter((c) => c.parentId === t.id).map((c) => c.id) };
        if (o.json) return printJson(item);
        printFields(item);
      });
    });

  token
    .command('revoke <id>')
    .description('revoke a token and every token below it (an upstream child key is revoked at SkillBoss)')
    .option('--upstream-url <url>', 'for an upstream child key: the SkillBoss API')
    .option('--json', 'print JSON only')
    .action(async (id: string, o: { json?: boolean; upstreamUrl?: string }) => {
      if (!id.startsWith('tok_') && (await revokeUpstreamChildCli(globals(), id, o.json, o.upstreamUrl))) return;
      const g = globals();
      withTokens(g, (tokens) => requireToken(tokens, id));
      const revoked = await write(
        g,
        async (d) => (await d.call<{ revoked: string[] }>('POST', `/tokens/${id}/revoke`, { reason: 'revoked from the CLI' })).revoked,
        () => withTokens(g, (tokens) => tokens.revoke(id, 'cli', 'revoked from the CLI')),
      );
      if (o.json) return printJson({ revoked });
      process.stdout.write(revoked.length ? `Revoked ${revoked.join(', ')}.\n` : `${id} was already revoked.\n`);
    });

  token
    .command('rotate <id>')
    .description('issue a new secret for the same token; the old one keeps working for the grace period')
    .option('--grace <duration>', 'how long the old secret keeps working (e.g. 7d, 12h, 0s)', '7d')
    .option('--write-env <path>', 'from now on, rewrite this .env file at every rotation (this one included)')
    .option('--json', 'print JSON only')
    .action(async (id: string, o: { grace: string; writeEnv?: string; json?: boolean }) => {
      let graceMs: number;
      try {
        graceMs = parseDuration(o.grace);
      } catch (err) {
        throw new CliError((err as Error).message);
      }
      const sink = o.writeEnv === undefined ? undefined : envSinkPath(o.writeEnv);
      const g = globals();
      withTokens(g, (tokens) => requireToken(tokens, id));
      // The sink first, so the rotation (here or in the daemon) rewrites it.
      if (sink) await writeDirect(g, () => withTokens(g, (tokens, db) => setEnvSink(cliLifecycle(g, db, tokens), id, sink, 'cli')));
      type Webhook = { delivered: boolean; attempts: number; detail: string | null } | null;
      const out = await write(
        g,
        async (d) => {
          const r = await d.call<{ secret: string; old_secret_expires_at: string; webhook?: Webhook }>('POST', `/tokens/${id}/rotate`, { grace_days: graceMs / DAY_MS, wait_for_webhook: true });
          const t = withTokens(g, (tokens) => requireToken(tokens, id));
          return { id, new_api_key: r.secret, old_key_expires_at: r.old_secret_expires_at, env_file: t.meta.envSink ?? null, webhook: r.webhook ?? null };
        },
        async () => {
          const db = openDb(g);
          try {
            const tokens = new TokenStore(db, systemClock);
            const ctx = cliLifecycle(g, db, tokens);
            // The env sink is rewritten and the webhook (if any) is sent, as for any rotation.
            const r = rotateToken(ctx, id, graceMs, 'cli', 'manual');
            const delivery = await r.delivery;
            return {
              id,
              new_api_key: r.secret,
              old_key_expires_at: new Date(r.oldSecretExpiresAt).toISOString(),
              env_file: r.token.meta.envSink ?? null,
              webhook: delivery === null ? null : { delivered: delivery.ok, attempts: delivery.attempts, detail: delivery.reason },
            };
          } finally {
            db.close();
          }
        },
      );
      if (o.json) return printJson(out);
      process.stdout.write(
        `New secret for ${id} (shown once):\n\n  ${out.new_api_key}\n\nThe old secret works until ${out.old_key_expires_at}.\n` +
          (out.env_file ? `Written to ${out.env_file}.\n` : '') +
          (out.webhook ? `Webhook: ${out.webhook.delivered ? 'delivered' : `NOT delivered (${out.webhook.detail})`}.\n` : ''),
      );
    });

  token
    .command('set-budget <id> <usd>')
    .description('change a token\'s budget (USD, or none), and with --period what it is per')
    .option('--period <period>', 'day | week | month | total')
    .option('--json', 'print JSON only')
    .action(async (id: string, usd: string, o: { period?: string; json?: boolean }) => {
      const g = globals();
      const budget = parseUsd(usd, 'the budget');
      const period = parsePeriodFlag(o.period);
      withTokens(g, (tokens) => requireToken(tokens, id));
      const t = await write(
        g,
        async (d) => {
          await d.call('PATCH', `/tokens/${id}`, { monthly_budget_usd: budget === null ? null : microsToUsd(budget), ...(period ? { budget_period: period } : {}) });
          return withTokens(g, (tokens) => requireToken(tokens, id));
        },
        () => withTokens(g, (tokens) => tokens.setBudget(id, budget, 'cli', period)),
      );
      if (o.json) return printJson(tokenListJson(t));
      process.stdout.write(`${t.id} now has a budget of ${formatUsd(t.budget)} per ${t.budgetPeriod}.\n`);
    });

  token
    .command('set-limits <id>')
    .description('change a token\'s rate limits')
    .option('--rpm <n>', 'requests per minute, or none')
    .option('--max-concurrent <n>', 'requests in flight, or none')
    .option('--json', 'print JSON only')
    .action(async (id: string, o: { rpm?: string; maxConcurrent?: string; json?: boolean }) => {
      const g = globals();
      const rpm = o.rpm === undefined ? undefined : parsePositiveInt(o.rpm, '--rpm');
      const maxConcurrent = o.maxConcurrent === undefined ? undefined : parsePositiveInt(o.maxConcurrent, '--max-concurrent');
      const cur = withTokens(g, (tokens) => requireToken(tokens, id));
      if (rpm === undefined && maxConcurrent === undefined) throw new CliError('give --rpm N|none and/or --max-concurrent N|none');
      const t = await write(
        g,
        async (d) => {
          await d.call('PATCH', `/tokens/${id}`, { ...(rpm === undefined ? {} : { rpm }), ...(maxConcurrent === undefined ? {} : { max_concurrent: maxConcurrent }) });
          return withTokens(g, (tokens) => requireToken(tokens, id));
        },
        () => withTokens(g, (tokens) => tokens.setLimits(id, { rpm: rpm === undefined ? cur.rpm : rpm, maxConcurrent: maxConcurrent === undefined ? cur.maxConcurrent : maxConcurrent }, 'cli')),
      );
      if (o.json) return printJson(tokenListJson(t));
      process.stdout.write(`${t.id}: rpm ${t.rpm ?? 'unlimited'}, max concurrent ${t.maxConcurrent ?? 'unlimited'}.\n`);
    });

  token
    .command('set-models <id>')
    .description('change the models a token may use (its children stay within it: every call is checked against the whole chain)')
    .requiredOption('--models <list>', MODELS_FLAG_HELP)
    .option('--json', 'print JSON only')
    .action(async (id: string, o: { models: string; json?: boolean }) => {
      const g = globals();
      const models = parseModelsFlag(o.models);
      withTokens(g, (tokens) => requireToken(tokens, id));
      const t = await write(
        g,
        async (d) => {
          await d.call('PATCH', `/tokens/${id}`, { models });
          return withTokens(g, (tokens) => requireToken(tokens, id));
        },
        () => withTokens(g, (tokens) => tokens.setModels(id, models, 'cli')),
      );
      if (o.json) return printJson(tokenListJson(t));
      process.stdout.write(`${t.id} may now use ${t.models === null ? 'every model' : `only ${t.models.join(', ')}`}.\n`);
    });

  token
    .command('tree')
    .description('the token hierarchy with spend this month')
    .option('--json', 'print JSON only')
    .action((o: { json?: boolean }) => {
      withTokens(globals(), (tokens, db) => {
        const all = tokens.list();
        type Node = ReturnType<typeof tokenListJson> & { children: Node[] };
        const nodes = new Map<string, Node>(all.map((t) => [t.id, { ...tokenListJson(t, db), children: [] }]));
        const roots: Node[] = [];
        for (const t of all) {
          const n = nodes.get(t.id)!;
          const parent = t.parentId ? nodes.get(t.parentId) : undefined;
          if (parent) parent.children.push(n);
          else roots.push(n);
        }
        if (o.json) return printJson({ tokens: roots });
        const walk = (n: Node, prefix: string, last: boolean, top: boolean) => {
          const budget = n.monthly_budget === null ? '' : ` / $${n.monthly_budget.toFixed(2)}`;
          process.stdout.write(`${top ? '' : prefix + (last ? '└─ ' : '├─ ')}${escapeUnprintable(n.name)} (${n.id}) $${n.spent_this_period!.toFixed(4)}${budget}${n.status === 'active' ? '' : ` [${n.status}]`}\n`);
          n.children.forEach((c, i) => walk(c, top ? '' : prefix + (last ? '   ' : '│  '), i === n.children.length - 1, false));
        };
        if (roots.length === 0) process.stdout.write('(no tokens)\n');
        for (const r of roots) walk(r, '', true, true);
      });
    });

  registerTokenAutoRotate(token, globals);
  registerTokenSpend(token, globals);
}

/** `key  value` lines; an object (the forecast, a hold) as indented `key  value` lines of its own, never "[object Object]". */
function printFields(item: Record<string, unknown>, indent = ''): void {
  for (const [k, v] of Object.entries(item)) {
    if (v !== null && typeof v === 'object' && !Array.isArray(v)) {
      process.stdout.write(`${indent}${k}\n`);
      printFields(v as Record<string, unknown>, `${indent}  `);
    } else {
      const text = Array.isArray(v) ? v.join(' ') || '-' : String(v ?? '-');
      process.stdout.write(`${indent}${k.padEnd(Math.max(1, 18 - indent.length))} ${escapeUnprintable(text)}\n`);
    }
  }
}

function requireToken(tokens: TokenStore, id: string): Token {
  const t = tokens.get(id);
  if (!t) throw new CliError(`no token with id ${id} (see skillboss-sidecar token list)`);
  return t;
}
