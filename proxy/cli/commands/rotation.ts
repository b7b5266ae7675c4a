/**
 * `token auto-rotate` and `rotation [show|key|webhook-hosts]`: schedules for
 * rotating tokens and the real key, and where rotation webhooks may go.
 */
import type { Command } from 'commander';
import { resolveUpstream } from '../../core/config.js';
import { silentLogger } from '../../core/log.js';
import { DAY_MS, parseDuration, systemClock } from '../../core/time.js';
import type { DB } from '../../db/database.js';
import { audit, bumpGeneration, getSetting, setSetting } from '../../db/records.js';
import { validateEnvSinkPath, EnvSinkError } from '../../lifecycle/envsink.js';
import { describeUrl, normalizeAllowedHost } from '../../lifecycle/outbound.js';
import { disableAutoRotation, setAutoRotation, setEnvSink, WEBHOOK_HOSTS_SETTING, type LifecycleContext } from '../../lifecycle/rotation.js';
import { vaultFor } from '../../keychain/vault.js';
import { SIGNATURE_HEADER, TIMESTAMP_HEADER } from '../../lifecycle/webhook.js';
import { SidecarError } from '../../core/errors.js';
import { TokenStore } from '../../tokens/store.js';
import { nextRotationAt, rotationDays, rotationState, ROTATION_DAYS_SETTING } from '../../upstream/rotate.js';
import { DEFAULT_BASE_PATH, localBaseUrl } from '../urls.js';
import { write, writeDirect } from '../daemon.js';
import { CliError, dataDirOf, iso, keyStoreFor, openDb, printJson, printTable, withTokens, type GlobalOptions } from '../context.js';

/** Webhook retries from the CLI are shorter than the daemon's: a human is waiting. */
const CLI_WEBHOOK = { attempts: 3, baseDelayMs: 500, maxDelayMs: 2000, timeoutMs: 5000 };

export function cliLifecycle(g: GlobalOptions, db: DB, tokens: TokenStore): LifecycleContext {
  return {
    actor: 'cli',
    db,
    tokens,
    clock: systemClock,
    vault: vaultFor(keyStoreFor(g).kind, dataDirOf(g)),
    agentBaseUrl: () => `${localBaseUrl(g)}${DEFAULT_BASE_PATH}`,
    webhook: CLI_WEBHOOK,
    log: silentLogger(),
  };
}

/** The SkillBoss API the CLI talks to: the flag, else the saved setting, else env/default. */
export function upstreamUrlOf(db: DB, flag?: string): string {
  try {
    return flag ? resolveUpstream(flag) : (getSetting<string>(db, 'upstream_url') ?? resolveUpstream());
  } catch (err) {
    throw new CliError((err as Error).message);
  }
}

export function envSinkPath(input: string): string {
  try {
    return validateEnvSinkPath(input);
  } catch (err) {
    if (err instanceof EnvSinkError) throw new CliError(`--write-env: ${err.message}`);
    throw err;
  }
}

function parseDays(s: string, flag: string, minDays: number): number {
  let ms: number;
  try {
    ms = /^\d+$/.test(s.trim()) ? Number(s) * DAY_MS : parseDuration(s);
  } catch (err) {
    throw new CliError(`${flag}: ${(err as Error).message}`);
  }
  const days = ms / DAY_MS;
  if (days < minDays || days > 3650) throw new CliError(`${flag} must be between ${minDays * 24}h and 3650d`);
  return days;
}

function cliError(err: unknown): never {
  if (err instanceof SidecarError) throw new CliError(err.message.replace(/^webhook_url refused: /, '--webhook refused: '));
  throw err;
}

export function registerTokenAutoRotate(token: Command, globals: () => GlobalOptions): void {
  token
    .command('auto-rotate <id>')
    .description('rotate a token on a schedule; each new secret reaches the agent by webhook and/or an env file')
    .option('--every <duration>', 'how often: 90d, 30d, 12h (at least 1h)')
    .option('--webhook <url>', 'POST {event, token_id, new_api_key, old_key_expires_at} here, signed (loopback only unless allowed: see `rotation webhook-hosts`)')
    .option('--write-env <path>', 'rewrite this .env file (OPENAI_API_KEY, OPENAI_BASE_URL, SKILLBOSS_API_KEY) at every rotation')
    .option('--off', 'stop rotating this token on a schedule')
    .option('--json', 'print JSON only')
    .action(async (id: string, o: { every?: string; webhook?: string; writeEnv?: string; off?: boolean; json?: boolean }) => {
      const g = globals();
      if (o.off && (o.every || o.webhook)) throw new CliError('--off cannot be combined with --every or --webhook');
      if (!o.off && !o.every) throw new CliError('give --every <duration> (e.g. 90d), or --off');
      const sink = o.writeEnv === undefined ? undefined : envSinkPath(o.writeEnv);
      // No admin route for schedules: written here, then the daemon applies it at once.
      await writeDirect(g, () => autoRotate(g, id, o, sink));
    });
}

async function autoRotate(g: GlobalOptions, id: string, o: { every?: string; webhook?: string; off?: boolean; json?: boolean }, sink: string | undefined): Promise<void> {
  const db = openDb(g);
  try {
    const tokens = new TokenStore(db, systemClock);
    if (!tokens.get(id)) throw new CliError(`no token with id ${id} (see skillboss-sidecar token list)`);
    const ctx = cliLifecycle(g, db, tokens);
    if (sink !== undefined) setEnvSink(ctx, id, sink, 'cli');
    if (o.off) {
      disableAutoRotation(ctx, id, 'cli');
      if (o.json) return printJson({ id, enabled: false });
      process.stdout.write(`${id} no longer rotates on a schedule.\n`);
      return;
    }
    const days = parseDays(o.every!, '--every', 1 / 24);
    const r = await setAutoRotation(ctx, id, { intervalDays: days, webhookUrl: o.webhook ?? null }, 'cli').catch(cliError);
    const out = {
      id,
      enabled: true,
      rotation_interval_days: days,
      next_rotation_at: new Date(r.schedule.nextAt).toISOString(),
      webhook_url: r.schedule.webhookUrl,
      env_file: r.token.meta.envSink ?? null,
      ...(r.signingSecret ? { webhook_signing_secret: r.signingSecret } : {}),
    };
    if (o.json) return printJson(out);
    process.stdout.write(`${id} rotates every ${o.every}; next at ${out.next_rotation_at}. The daemon does it (a missed rotation happens at its next start).\n`);
    if (out.env_file) process.stdout.write(`Each new secret is written to ${out.env_file} (0600). Run \`skillboss-sidecar token rotate ${id}\` to write it now.\n`);
    if (r.signingSecret) {
      process.stdout.write(
        `Webhook: ${describeUrl(r.schedule.webhookUrl!)}. Its signing secret (shown once; give it to the agent):\n\n  ${r.signingSecret}\n\n` +
          `Verify each delivery: ${SIGNATURE_HEADER} = "sha256=" + hex HMAC-SHA256(secret, ${TIMESTAMP_HEADER} + "." + raw body).\n`,
      );
    }
    if (!out.env_file && !r.signingSecret) process.stdout.write('Warning: with neither --webhook nor --write-env the agent is not told the new secret.\n');
  } finally {
    db.close();
  }
}

function showRotation(g: GlobalOptions, json: boolean | undefined): void {
  withTokens(g, (tokens, db) => {
    const now = systemClock();
    const state = rotationState(db);
    const days = rotationDays(db);
    const next = nextRotationAt(db, now, false);
    const schedules = tokens
      .list()
      .filter((t) => t.revokedAt === null && t.meta.autoRotate)
      .map((t) => ({
        id: t.id,
        name: t.name,
        every_days: t.meta.autoRotate!.intervalDays,
        next_at: new Date(t.meta.autoRotate!.nextAt).toISOString(),
        webhook: t.meta.autoRotate!.webhookUrl ? describeUrl(t.meta.autoRotate!.webhookUrl) : null,
        env_file: t.meta.envSink ?? null,
      }));
    const out = {
      key: {
        every_days: days,
        last_rotated_at: state.rotated_at ? new Date(state.rotated_at).toISOString() : null,
        next_at: next === null ? null : new Date(next).toISOString(),
        previous_kept_until: state.previous_expires_at ? new Date(state.previous_expires_at).toISOString() : null,
        pending_since: state.pending_since ? new Date(state.pending_since).toISOString() : null,
        last_error: state.last_error ?? null,
      },
      tokens: schedules,
      webhook_allowed_hosts: getSetting<string[]>(db, WEBHOOK_HOSTS_SETTING) ?? [],
    };
    if (json) return printJson(out);
    process.stdout.write(
      `SkillBoss key: ${days ? `rotated every ${days}d by the daemon; next ${iso(next)}` : 'not rotated on a schedule'}` +
        `${state.rotated_at ? `; last rotated ${iso(state.rotated_at)}` : ''}\n` +
        (state.previous_expires_at ? `  previous key kept in the keychain until ${iso(state.previous_expires_at)}\n` : '') +
        (state.pending_since ? `  a new key is waiting to be checked (since ${iso(state.pending_since)}): run \`skillboss-sidecar key rotate\`\n` : '') +
        (state.last_error ? `  last failure at ${state.last_error.step}: ${state.last_error.reason}\n` : '') +
        `Webhook hosts allowed besides loopback: ${out.webhook_allowed_hosts.length ? out.webhook_allowed_hosts.join(', ') : '(none)'}\n\nTokens rotating on a schedule:\n`,
    );
    printTable(
      schedules.map((s) => ({ id: s.id, name: s.name, every: `${+s.every_days.toFixed(3)}d`, next: s.next_at, webhook: s.webhook ?? '', env_file: s.env_file ?? '' })),
      ['id', 'name', 'every', 'next', 'webhook', 'env_file'],
    );
  });
}

/** The admin API's names for the settings this command changes. */
const SETTINGS_FIELD: Record<string, string> = { [ROTATION_DAYS_SETTING]: 'key_rotation_days', [WEBHOOK_HOSTS_SETTING]: 'webhook_allowed_hosts' };

async function changeSettings(g: GlobalOptions, key: string, value: unknown): Promise<void> {
  await write(g, (d) => d.call('PATCH', '/settings', { [SETTINGS_FIELD[key]!]: value }), () => changeSettingsInDb(g, key, value));
}

function changeSettingsInDb(g: GlobalOptions, key: string, value: unknown): void {
  const db = openDb(g);
  try {
    db.transaction(() => {
      setSetting(db, key, value);
      audit(db, Date.now(), { actor: 'cli', event: 'settings.change', detail: { [key]: value } });
      bumpGeneration(db, 'settings');
    })();
  } finally {
    db.close();
  }
}

export function registerRotation(program: Command, globals: () => GlobalOptions): void {
  const rotation = program.command('rotation').description('rotation schedules (tokens and the SkillBoss key) and where webhooks may go');

  rotation
    .command('show', { isDefault: true })
    .description('the real key\'s schedule, every token schedule, and the allowed webhook hosts')
    .option('--json', 'print JSON only')
    .action((o: { json?: boolean }) => showRotation(globals(), o.json));

  rotation
    .command('key')
    .description('how often the daemon rotates the real SkillBoss key (default 90d)')
    .option('--every <duration>', 'e.g. 90d, 30d (whole days)')
    .option('--off', 'do not rotate it on a schedule')
    .action(async (o: { every?: string; off?: boolean }) => {
      if (Boolean(o.every) === Boolean(o.off)) throw new CliError('give either --every <duration> or --off');
      const days = o.off ? null : parseDays(o.every!, '--every', 1);
      if (days !== null && !Number.isInteger(days)) throw new CliError('--every takes whole days for the SkillBoss key (e.g. 90d)');
      await changeSettings(globals(), ROTATION_DAYS_SETTING, days);
      process.stdout.write(days === null ? 'The SkillBoss key is no longer rotated on a schedule.\n' : `The daemon rotates the SkillBoss key every ${days} days.\n`);
    });

  rotation
    .command('webhook-hosts')
    .description('hosts (besides loopback) that rotation webhooks may be sent to; https only, never private addresses')
    .option('--add <host>', 'allow a host name (repeatable)', (v: string, acc: string[]) => [...acc, v], [] as string[])
    .option('--remove <host>', 'stop allowing a host (repeatable)', (v: string, acc: string[]) => [...acc, v], [] as string[])
    .option('--json', 'print JSON only')
    .action(async (o: { add: string[]; remove: string[]; json?: boolean }) => {
      const g = globals();
      let add: string[];
      try {
        add = o.add.map(normalizeAllowedHost);
      } catch (err) {
        throw new CliError(`--add: ${(err as Error).message}`);
      }
      const db = openDb(g);
      let hosts: string[];
      try {
        hosts = getSetting<string[]>(db, WEBHOOK_HOSTS_SETTING) ?? [];
      } finally {
        db.close();
      }
      const remove = new Set(o.remove.map((h) => h.trim().toLowerCase()));
      const next = [...new Set([...hosts.filter((h) => !remove.has(h)), ...add])];
      if (add.length || remove.size) await changeSettings(g, WEBHOOK_HOSTS_SETTING, next);
      if (o.json) return printJson({ webhook_allowed_hosts: next });
      process.stdout.write(`Webhooks may go to loopback${next.length ? ` and ${next.join(', ')}` : ' only'}.\n`);
    });
}
