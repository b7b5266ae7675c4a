/** `requests list|approve|deny`: the human's side of agents' access requests (proxy/access). */
import type { Command } from 'commander';
import { formatUsd, microsToUsd } from '../../core/money.js';
import { write } from '../daemon.js';
import { systemClock } from '../../core/time.js';
import { accessRequestJson, type AccessRequest, type Approval } from '../../access/model.js';
import { AccessRequests } from '../../access/requests.js';
import { parseScopes } from '../../tokens/scopes.js';
import { TokenStore } from '../../tokens/store.js';
import type { DB } from '../../db/database.js';
import { CliError, openDb, printJson, printTable, type GlobalOptions } from '../context.js';
import { decideHoldCli, heldJson, isHoldRef, printHeld } from './holds.js';
import { parseUsdFlag } from '../parse.js';
import { parseModelsFlag } from '../token-options.js';
import { clearPending } from '../../access/flood.js';
import { escapeUnprintable } from '../../core/text.js';

function withAccess<T>(opts: GlobalOptions, fn: (access: AccessRequests, db: DB) => T): T {
  const db = openDb(opts);
  try {
    return fn(new AccessRequests(db, new TokenStore(db, systemClock), systemClock), db);
  } finally {
    db.close();
  }
}

function age(ms: number): string {
  const s = Math.max(0, Math.floor(ms / 1000));
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m`;
  if (s < 86_400) return `${Math.floor(s / 3600)}h`;
  return `${Math.floor(s / 86_400)}d`;
}

function parseApproval(o: { budget?: string; scopes?: string; expires?: string; models?: string }): Approval {
  const approval: Approval = {};
  if (o.models !== undefined) {
    const models = parseModelsFlag(o.models);
    if (models === null) throw new CliError('--models narrows what the agent asked for; leave it out to grant that');
    approval.models = models;
  }
  if (o.budget !== undefined) {
    // The approve route's rule: more than 0 USD.
    approval.budget = parseUsdFlag(o.budget, '--budget', { none: false })!;
  }
  if (o.scopes !== undefined) {
    try {
      approval.scopes = parseScopes(o.scopes);
    } catch (err) {
      throw new CliError((err as Error).message);
    }
  }
  if (o.expires !== undefined) {
    const m = /^(\d+)d?$/.exec(o.expires.trim());
    if (!m || Number(m[1]) < 1) throw new CliError(`--expires takes a number of days (e.g. 30d), not ${JSON.stringify(o.expires)}`);
    approval.expirationDays = Number(m[1]);
  }
  return approval;
}

const FLAG_NAMES: Record<string, string> = { budget: '--budget', scopes: '--scopes', expires: '--expires', holdAbove: '--hold-above', reason: '--reason' };

/** Options that do not apply to this kind of id are an error, not silently ignored. */
function refuse(o: Record<string, unknown>, keys: string[], kind: string): void {
  const given = keys.filter((k) => o[k] !== undefined).map((k) => FLAG_NAMES[k] ?? k);
  if (given.length) throw new CliError(`${given.join(', ')} ${given.length === 1 ? 'does' : 'do'} not apply to ${kind}`);
}

function describe(r: AccessRequest): string {
  const g = r.approved ?? r.requested;
  return `scopes ${g.scopes.join(' ')}; budget ${formatUsd(g.budget)}/month; ${g.models ? `models ${g.models.join(' ')}` : 'every model'}; expires ${g.expirationDays} days after collection`;
}

export function registerRequests(program: Command, globals: () => GlobalOptions): void {
  const requests = program.command('requests').description('access requests from agents without a token, and tokens on hold for your approval: list, approve, deny');

  requests
    .command('list')
    .description('requests waiting for you; compare each CODE with the one the agent shows')
    .option('--all', 'include answered and expired requests')
    .option('--json', 'print JSON only')
    .action((o: { all?: boolean; json?: boolean }) => {
      const now = systemClock();
      const items = withAccess(globals(), (access) => (o.all ? access.list() : access.listPending()));
      const held = heldJson(globals());
      if (o.json) return printJson({ requests: items.map((r) => accessRequestJson(r, now)), holds: held });
      printHeld(held);
      // With tokens on hold listed above, an empty table of access requests is no news.
      if (items.length === 0) {
        if (held.length === 0) process.stdout.write(o.all ? 'No access requests.\n' : 'No access requests are waiting.\n');
        return;
      }
      printTable(
        items.map((r) => ({
          code: r.userCode,
          name: r.name,
          scopes: r.requested.scopes.join(','),
          budget: `${formatUsd(r.requested.budget)}/mo`,
          expires: `${r.requested.expirationDays}d`,
          reason: r.reason ?? '',
          age: age(now - r.createdAt),
          status: r.status,
          id: r.id,
        })),
        o.all ? ['code', 'name', 'scopes', 'budget', 'expires', 'reason', 'age', 'status', 'id'] : ['code', 'name', 'scopes', 'budget', 'expires', 'reason', 'age', 'id'],
      );
    });

  requests
    .command('approve <id-or-code>')
    .description('approve a request by its code (WDJB-MJHT) or id, granting less with the options, never more; or a held token (tok_…), letting it spend again')
    .option('--budget <usd>', 'a smaller monthly budget in USD')
    .option('--scopes <list>', 'fewer scopes, comma-separated (a subset of those asked for)')
    .option('--expires <days>', 'a shorter lifetime, e.g. 30d')
    .option('--models <list>', 'fewer models, comma-separated patterns (within those asked for; any list when it asked for every model)')
    .option('--hold-above <usd>', 'for a held token: the new threshold per period (above its spend so far); without it, this period\'s threshold is waived')
    .option('--json', 'print JSON only')
    .action(async (ref: string, o: { budget?: string; scopes?: string; expires?: string; models?: string; holdAbove?: string; json?: boolean }) => {
      const g = globals();
      if (isHoldRef(ref)) {
        refuse(o, ['budget', 'scopes', 'expires', 'models'], 'a held token (tok_…), which takes only --hold-above');
        return decideHoldCli(g, ref, 'approved', o);
      }
      refuse(o, ['holdAbove'], 'an access request, which takes --budget, --scopes and --expires (--hold-above is for a held token, tok_…)');
      const approval = parseApproval(o);
      const r = await write(
        g,
        async (d) => {
          const body = {
            ...(approval.budget !== undefined ? { monthly_budget: microsToUsd(approval.budget) } : {}),
            ...(approval.scopes ? { scopes: approval.scopes } : {}),
            ...(approval.expirationDays !== undefined ? { expiration_days: approval.expirationDays } : {}),
            ...(approval.models ? { models: approval.models } : {}),
          };
          const v = await d.call<{ id: string }>('POST', `/access-requests/${encodeURIComponent(ref)}/approve`, body);
          return withAccess(g, (access) => access.find(v.id));
        },
        () => withAccess(g, (access) => access.approve(ref, approval, 'cli')),
      );
      if (o.json) return printJson(accessRequestJson(r, systemClock()));
      process.stdout.write(
        `Approved ${r.id} (${r.userCode}) for ${escapeUnprintable(r.name)}: ${describe(r)}.\n` +
          `The agent receives its key on its next poll (until ${new Date(r.expiresAt).toISOString()}); it then appears in \`skillboss-sidecar token list\`.\n`,
      );
    });

  requests
    .command('deny <id-or-code>')
    .description('deny a request by its code or id, or a held token (tok_…)')
    .option('--reason <text>', 'told to the agent (access requests only)')
    .option('--json', 'print JSON only')
    .action(async (ref: string, o: { reason?: string; json?: boolean }) => {
      const g = globals();
      if (isHoldRef(ref)) {
        refuse(o, ['reason'], 'a held token (tok_…): only access requests are told a reason');
        return decideHoldCli(g, ref, 'denied', o);
      }
      const r = await write(
        g,
        async (d) => {
          const v = await d.call<{ id: string }>('POST', `/access-requests/${encodeURIComponent(ref)}/deny`, o.reason === undefined ? {} : { reason: o.reason });
          return withAccess(g, (access) => access.find(v.id));
        },
        () => withAccess(g, (access) => access.deny(ref, { reason: o.reason ?? null }, 'cli')),
      );
      if (o.json) return printJson(accessRequestJson(r, systemClock()));
      process.stdout.write(`Denied ${r.id} (${r.userCode}) for ${escapeUnprintable(r.name)}.\n`);
    });

  requests
    .command('clear')
    .description('deny every waiting request at once (a flood of requests you do not recognise)')
    .option('--json', 'print JSON only')
    .action(async (o: { json?: boolean }) => {
      const g = globals();
      const n = await write(
        g,
        async (d) => (await d.call<{ cleared: number }>('POST', '/access-requests/clear')).cleared,
        () => withAccess(g, (access) => clearPending(access, 'cli')),
      );
      if (o.json) return printJson({ cleared: n });
      process.stdout.write(n ? `Denied all ${n} waiting access request${n === 1 ? '' : 's'}; agents can ask again.\n` : 'No access requests were waiting.\n');
    });
}
