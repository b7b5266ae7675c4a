/**
 * `status`: one screen that says whether things work — the daemon, the key,
 * what the last sync with SkillBoss found (with its age), tokens, spend this
 * month, rotation — and, for anything wrong, what to do about it. It reads
 * what the daemon recorded; it does not call SkillBoss itself (`doctor` does).
 */
import type { Command } from 'commander';
import { microsToUsd } from '../../core/money.js';
import { DAY_MS, periodOf } from '../../core/time.js';
import { getSetting } from '../../db/records.js';
import { ledgerStore } from '../../db/ledger-store.js';
import { maskKey } from '../../keychain/store.js';
import { resolveUpstream } from '../../core/config.js';
import { nextRotationAt, rotationState } from '../../upstream/rotate.js';
import { capabilityLines, lastCapabilities } from '../../upstream/capabilities.js';
import { fallbackChargedSince, unpricedModels } from '../../pricing/fallback.js';
import type { UpstreamStatus } from '../../upstream/status.js';
import { dataDirOf, keyStoreFor, openDb, printJson, type GlobalOptions } from '../context.js';
import { daemonAt, daemonStatus, describeDaemon } from '../daemon.js';
import type { Status } from '../../../wire/admin.js';
import { forecastLine, spendForecasts } from './token-spend.js';

export function age(ms: number | null | undefined, now = Date.now()): string {
  if (ms === null || ms === undefined) return 'never';
  const d = Math.max(0, now - ms);
  if (d < 60_000) return 'just now';
  if (d < 3_600_000) return `${Math.floor(d / 60_000)} min ago`;
  if (d < DAY_MS) return `${Math.floor(d / 3_600_000)} h ago`;
  return `${Math.floor(d / DAY_MS)} d ago`;
}

const when = (ms: number | null | undefined) => (ms === null || ms === undefined ? null : new Date(ms).toISOString());

const STORE_NAMES: Record<string, string> = { 'os-keychain': 'the OS keychain', 'encrypted-file': 'the encrypted key file', memory: "the daemon's memory only (the demo's simulator key)" };

/** The daemon's upstream state in the shape the database keeps it. */
function upstreamOf(s: Status): Partial<UpstreamStatus> {
  const ms = (iso: string | null) => (iso === null ? null : Date.parse(iso));
  return {
    key: s.upstream.key,
    credits: s.upstream.credits,
    reachable: s.upstream.reachable,
    balanceUsd: s.upstream.balance_usd,
    balanceSyncedAt: ms(s.upstream.balance_synced_at),
    lastError: s.upstream.last_error,
    checkedAt: ms(s.upstream.checked_at),
    balanceSource: s.upstream.balance_source ?? null,
    balanceCredits: s.upstream.balance_credits ?? null,
  } as Partial<UpstreamStatus>;
}

export function registerStatus(program: Command, globals: () => GlobalOptions): void {
  program
    .command('status')
    .description('daemon, key, SkillBoss sync (with ages), tokens, spend this month, rotation; and what to fix')
    .option('--json', 'print JSON only')
    .action(async (o: { json?: boolean }) => {
      const g = globals();
      const dataDir = dataDirOf(g);
      const now = Date.now();
      const daemon = daemonAt(dataDir);
      const running = daemon !== null;
      const runtime = daemon?.runtime ?? null;
      // A running daemon says what it runs with; only without one are the local key store and saved state judged.
      const live = daemon ? await daemonStatus(daemon) : null;
      const demo = live?.daemon?.demo ?? daemon?.kind === 'demo';
      const describes = daemon ? describeDaemon(daemon, demo) : `no running daemon: the local key store and what the last run of ${dataDir} recorded`;

      let key: { state: 'set' | 'missing' | 'unavailable'; masked: string | null; detail: string | null; store: string };
      if (live) key = { state: live.key.state, masked: live.key.masked, detail: live.key.reason, store: live.key.store };
      else {
        const store = keyStoreFor(g);
        try {
          const k = store.get();
          key = k ? { state: 'set', masked: maskKey(k), detail: null, store: store.kind } : { state: 'missing', masked: null, detail: null, store: store.kind };
        } catch (err) {
          key = { state: 'unavailable', masked: null, detail: (err as Error).message, store: store.kind };
        }
      }

      const db = openDb(g);
      let out;
      try {
        // The daemon's own answer wins; what it records in the database (the notices of what SkillBoss did not say) fills in the rest.
        const stored = getSetting<Partial<UpstreamStatus>>(db, 'upstream_status') ?? {};
        const up: Partial<UpstreamStatus> = live ? { ...stored, ...upstreamOf(live) } : stored;
        const upstreamUrl = live?.upstream.url ?? getSetting<string>(db, 'upstream_url') ?? resolveUpstream();
        const models = db.prepare('SELECT count(*) AS n, max(synced_at) AS at FROM models WHERE synced_at IS NOT NULL').get() as { n: number; at: number | null };
        const tokens = db.prepare('SELECT count(*) AS total, sum(revoked_at IS NULL AND (expires_at IS NULL OR expires_at > ?)) AS active FROM tokens').get(now) as { total: number; active: number | null };
        const children = db.prepare('SELECT count(*) AS n FROM upstream_children WHERE revoked_at IS NULL AND (expires_at IS NULL OR expires_at > ?)').get(now) as { n: number };
        const d = new Date(now);
        const spend = ledgerStore(db).totalsSince(Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), 1));
        const rot = rotationState(db);
        const nextKey = nextRotationAt(db, now, false);
        const schedules = db.prepare("SELECT count(*) AS n FROM tokens WHERE revoked_at IS NULL AND json_extract(meta, '$.autoRotate') IS NOT NULL").get() as { n: number };
        const forecasts = spendForecasts(db, now);
        const held = forecasts.filter((f) => f.hold);
        const failedHooks = db.prepare("SELECT count(*) AS n FROM audit WHERE event = 'webhook.failed' AND ts >= ?").get(now - 7 * DAY_MS) as { n: number };
        // What the sidecar could not learn from SkillBoss (issue 23): never a silent zero.
        const caps = lastCapabilities(db);
        const unpriced = unpricedModels(db);
        const charged = fallbackChargedSince(db, Date.UTC(new Date(now).getUTCFullYear(), new Date(now).getUTCMonth(), 1));
        const notices = up.notices ?? [];

        const todo: string[] = [];
        if (!running) todo.push('The daemon is not running: start it with `skillboss-sidecar serve` (or the tray app). What follows is from its last run.');
        if (key.state === 'missing') todo.push(running ? 'The daemon has no SkillBoss key: run `skillboss-sidecar key set` (it picks it up within a second).' : 'No SkillBoss key is set: run `skillboss-sidecar key set`.');
        if (key.state === 'unavailable') todo.push(`The ${running ? "daemon's " : ''}key store cannot be read: ${key.detail} Then run \`skillboss-sidecar doctor\`.`);
        if (key.state === 'set' && up.key === 'invalid') {
          todo.push('SkillBoss rejected the key (401): it is invalid, revoked or expired. Create a new key at https://skillboss.co/console (API Keys) and run `skillboss-sidecar key set`; agents keep their tokens.');
        }
        if (up.credits === 'out') todo.push('The SkillBoss account is out of credits: agents get 402. Add credits (or enable auto-recharge) at https://skillboss.co/console.');
        if (up.reachable === false) todo.push(`SkillBoss was unreachable at the last sync (${up.lastError ?? 'no answer'}): check the network or the upstream URL.`);
        if (rot.pending_since) todo.push('A rotated SkillBoss key is waiting to be checked: run `skillboss-sidecar key rotate` to finish.');
        if (rot.last_error) todo.push(`The last rotation of the SkillBoss key failed at ${rot.last_error.step}: ${rot.last_error.reason}`);
        if (failedHooks.n > 0) todo.push(`${failedHooks.n} rotation webhook deliver${failedHooks.n === 1 ? 'y' : 'ies'} failed in the last 7 days: see \`skillboss-sidecar audit\`.`);
        for (const n of notices) todo.push(n.message);
        for (const line of capabilityLines(caps)) if (!notices.some((n) => n.message.startsWith(line))) todo.push(line);
        const fallbackModels = [...new Set([...unpriced, ...charged.models])];
        if (fallbackModels.length > 0) {
          todo.push(
            `${fallbackModels.length} model${fallbackModels.length === 1 ? ' is' : 's are'} charged at the fallback (${fallbackModels.slice(0, 5).join(', ')}${fallbackModels.length > 5 ? ', …' : ''}): set a price with \`skillboss-sidecar price set\` or wait for the sync.`,
          );
        }
        for (const h of held) todo.push(`${h.name} (${h.id}) is on hold for your approval: ${h.hold!.reason}. Run \`skillboss-sidecar requests approve ${h.id}\` (or deny).`);

        out = {
          ok: running && key.state === 'set' && up.key !== 'invalid' && up.credits !== 'out' && up.reachable !== false && !notices.some((n) => n.kind === 'models_shape'),
          daemon: { running, kind: daemon ? (demo ? 'demo' : daemon.kind) : null, pid: running ? runtime!.pid : null, url: running ? runtime!.url : null, started_at: running ? runtime!.started_at : null, data_dir: dataDir },
          describes,
          key: { store: key.store, state: key.state, key: key.masked, valid: up.key === 'valid' ? true : up.key === 'invalid' ? false : null, checked_at: when(up.checkedAt) },
          upstream: {
            url: upstreamUrl,
            reachable: up.reachable ?? null,
            credits: up.credits ?? 'unknown',
            balance_usd: up.balanceUsd ?? null,
            balance_credits: up.balanceCredits ?? null,
            balance_source: up.balanceSource ?? null,
            balance_synced_at: when(up.balanceSyncedAt),
            notices: notices.map((n) => ({ kind: n.kind, message: n.message, at: when(n.at) })),
            capabilities: { rotation: caps.rotation, child_keys: caps.childKeys, sub_wallets: caps.subWallets },
            last_error: up.lastError ?? null,
            checked_at: when(up.checkedAt),
          },
          models: {
            count: models.n,
            priced: up.pricedCount ?? models.n - unpriced.length,
            shape: up.modelsShape ?? null,
            synced_at: when(models.at),
            fallback: { models: fallbackModels, unpriced, requests_this_period: charged.requests },
          },
          tokens: { active: tokens.active ?? 0, total: tokens.total, upstream_child_keys: children.n, auto_rotating: schedules.n },
          spend: { period: periodOf(now), usd: microsToUsd(spend.micros), requests: spend.requests },
          budgets: forecasts,
          key_rotation: { supported: caps.rotation, next_at: when(nextKey), last_rotated_at: when(rot.rotated_at), previous_kept_until: when(rot.previous_expires_at), pending: Boolean(rot.pending_since) },
          todo,
          // Warnings the daemon adds to its status (sync shapes, balance, capabilities), shown as they come.
          warnings: live?.warnings ?? [],
          ages: { checked: age(up.checkedAt, now), balance: age(up.balanceSyncedAt, now), models: age(models.at, now) },
        };
      } finally {
        db.close();
      }
      if (!out.ok) process.exitCode = 1;
      if (o.json) return printJson(out);
      const validity = out.key.valid === true ? 'valid' : out.key.valid === false ? 'INVALID (SkillBoss answered 401)' : 'not checked yet';
      const lines = [
        `Describes ${describes}.`,
        `daemon    ${running ? `${demo ? 'demo ' : ''}running (pid ${out.daemon.pid}) at ${out.daemon.url}${demo ? ': simulated upstream, in-memory key, throwaway data dir' : ''}` : 'NOT running'}`,
        `key       ${key.state === 'set' ? `${key.masked} in ${STORE_NAMES[key.store] ?? `the ${key.store}`}: ${validity}, checked ${out.ages.checked}` : key.state === 'missing' ? 'NOT set' : 'UNAVAILABLE'}`,
        `upstream  ${out.upstream.url}: ${out.upstream.reachable === null ? 'not contacted yet' : out.upstream.reachable ? 'reachable' : 'UNREACHABLE'}, checked ${out.ages.checked}`,
        `credits   ${out.upstream.balance_usd !== null ? `$${out.upstream.balance_usd.toFixed(2)}` : out.upstream.balance_credits !== null ? `${out.upstream.balance_credits} credits (no USD figure)` : 'unknown'}${out.upstream.credits === 'out' ? ' (OUT)' : ''}, synced ${out.ages.balance}${out.upstream.balance_source ? ` from ${out.upstream.balance_source}` : ''}`,
        `models    ${out.models.priced} with prices, synced ${out.ages.models} (${out.models.count} listed by SkillBoss${out.models.fallback.models.length ? `; ${out.models.fallback.models.length} charged at the fallback` : ''})`,
        `tokens    ${out.tokens.active} active of ${out.tokens.total}; ${out.tokens.auto_rotating} rotating on a schedule; ${out.tokens.upstream_child_keys} SkillBoss child key(s)`,
        `spend     $${out.spend.usd.toFixed(4)} in ${out.spend.period} (${out.spend.requests} requests)`,
        `rotation  SkillBoss key ${out.key_rotation.supported === 'unsupported' ? `not supported by this upstream: a reminder ${out.key_rotation.next_at ? `on ${out.key_rotation.next_at}` : 'is off'} to rotate it in the console` : out.key_rotation.next_at ? `next rotated ${out.key_rotation.next_at}` : 'not rotated on a schedule'}`,
      ];
      if (out.budgets.length) lines.push('budgets   spend this period, rate and forecast:', ...out.budgets.map(forecastLine));
      process.stdout.write(`${lines.join('\n')}\n`);
      if (out.warnings.length) process.stdout.write(`\nWarnings:\n${out.warnings.map((w) => `  - ${w}`).join('\n')}\n`);
      if (out.todo.length) process.stdout.write(`\nTo do:\n${out.todo.map((t) => `  - ${t}`).join('\n')}\n`);
    });
}
