/** `key set|status|rotate|remove`: the real SkillBoss key, in the OS keychain and nowhere else. */
import type { Command } from 'commander';
import { resolveUpstream } from '../../core/config.js';
import { audit, bumpGeneration, getSetting } from '../../db/records.js';
import { maskKey, validateUpstreamKey } from '../../keychain/store.js';
import { UpstreamCallError, upstreamJson } from '../../upstream/client.js';
import { CliError, dataDirOf, iso, keyStoreFor, openDb, printJson, readSecret, type GlobalOptions } from '../context.js';
import { vaultFor } from '../../keychain/vault.js';
import { KeyRotationError, rotateUpstreamKey } from '../../upstream/rotate.js';
import { envSetting } from '../../core/env.js';
import { daemonFor, daemonStatus } from '../daemon.js';

function signalDaemon(opts: GlobalOptions, event: string, detail: Record<string, unknown>): void {
  const db = openDb(opts);
  try {
    db.transaction(() => {
      audit(db, Date.now(), { actor: 'cli', event, detail });
      bumpGeneration(db, 'key');
    })();
  } finally {
    db.close();
  }
}

export async function checkKey(upstreamUrl: string, key: string): Promise<{ valid: boolean | null; reason: string }> {
  try {
    await upstreamJson(upstreamUrl, key, 'GET', '/models');
    return { valid: true, reason: 'SkillBoss accepted the key' };
  } catch (err) {
    if (err instanceof UpstreamCallError && err.status === 401) return { valid: false, reason: 'SkillBoss rejected the key (401)' };
    return { valid: null, reason: `could not check the key: ${(err as Error).message}` };
  }
}

/**
 * The SkillBoss API to check a key against: --upstream, else SKILLBOSS_UPSTREAM_URL, else the upstream of
 * the daemon serving this data dir (a `serve --upstream …` saves no setting), else the saved setting, else
 * the default.
 */
async function upstreamFor(opts: GlobalOptions & { upstream?: string }): Promise<string> {
  if (opts.upstream || envSetting('SKILLBOSS_UPSTREAM_URL')) return resolveUpstream(opts.upstream);
  const d = daemonFor(opts);
  if (d) {
    const url = await daemonStatus(d).then((s) => s.upstream.url, () => null);
    if (url) return url;
  }
  const db = openDb(opts);
  try {
    return getSetting<string>(db, 'upstream_url') ?? resolveUpstream();
  } finally {
    db.close();
  }
}

export function registerKey(program: Command, globals: () => GlobalOptions): void {
  const key = program.command('key').description('the real SkillBoss API key (kept in the OS keychain)');

  key
    .command('set')
    .description('store the SkillBoss key: piped on stdin, typed at a hidden prompt, or --from-env VAR (never as an argument)')
    .option('--from-env <var>', 'read the key from this environment variable')
    .option('--no-check', 'do not check the key against SkillBoss')
    .option('--upstream <url>', 'the SkillBoss API to check against')
    .action(async (o: { fromEnv?: string; check: boolean; upstream?: string }) => {
      let raw: string;
      if (o.fromEnv) {
        const v = envSetting(o.fromEnv);
        if (!v) throw new CliError(`the environment variable ${o.fromEnv} is not set or empty`);
        raw = v;
      } else {
        raw = await readSecret('Paste your SkillBoss API key (input hidden): ');
      }
      let k: string;
      try {
        k = validateUpstreamKey(raw);
      } catch (err) {
        throw new CliError((err as Error).message);
      }
      const g = globals();
      const store = keyStoreFor(g);
      store.set(k);
      signalDaemon(g, 'key.set', { key: maskKey(k) });
      process.stdout.write(`Stored ${maskKey(k)} in ${store.kind === 'encrypted-file' ? 'the encrypted key file' : 'the OS keychain'}. A running daemon picks it up within a second.\n`);
      if (o.check) {
        const r = await checkKey(await upstreamFor({ ...g, ...(o.upstream ? { upstream: o.upstream } : {}) }), k);
        process.stdout.write(`${r.valid === false ? 'Warning: ' : ''}${r.reason}.\n`);
        if (r.valid === false) process.exitCode = 2;
      }
    });

  key
    .command('status')
    .description('whether a key is set, which store holds it, and whether SkillBoss accepts it')
    .option('--no-check', 'do not ask SkillBoss')
    .option('--upstream <url>', 'the SkillBoss API to check against')
    .option('--json', 'print JSON only')
    .action(async (o: { check: boolean; upstream?: string; json?: boolean }) => {
      const g = globals();
      const store = keyStoreFor(g);
      let k: string | null = null;
      let problem: string | null = null;
      try {
        k = store.get();
      } catch (err) {
        problem = (err as Error).message;
      }
      const check = k && o.check ? await checkKey(await upstreamFor({ ...g, ...(o.upstream ? { upstream: o.upstream } : {}) }), k) : null;
      const out = {
        store: store.kind,
        set: k !== null,
        key: k ? maskKey(k) : null,
        valid: check?.valid ?? null,
        detail: problem ?? check?.reason ?? (k ? 'not checked' : 'no key set; run `skillboss-sidecar key set`'),
      };
      if (problem) process.exitCode = 1;
      if (o.json) return printJson(out);
      process.stdout.write(`store:  ${out.store}\nkey:    ${out.key ?? '(not set)'}\nvalid:  ${out.valid === null ? 'unknown' : out.valid ? 'yes' : 'NO'}\n${out.detail}\n`);
    });

  key
    .command('remove')
    .description('delete the key from the keychain; agents get 503 until a new one is set')
    .action(() => {
      const g = globals();
      const removed = keyStoreFor(g).remove();
      signalDaemon(g, 'key.remove', { removed });
      process.stdout.write(removed ? 'Removed the SkillBoss key from the OS keychain.\n' : 'No key was set.\n');
    });

  key
    .command('rotate')
    .description('rotate the key at SkillBoss, check the new one, and switch to it; the old one is kept until its grace ends')
    .option('--upstream <url>', 'the SkillBoss API')
    .option('--json', 'print JSON only')
    .action(async (o: { upstream?: string; json?: boolean }) => {
      const g = globals();
      const primary = keyStoreFor(g);
      const db = openDb(g);
      try {
        const baseUrl = await upstreamFor({ ...g, ...(o.upstream ? { upstream: o.upstream } : {}) });
        const r = await rotateUpstreamKey({ db, primary, vault: vaultFor(primary.kind, dataDirOf(g)), baseUrl, clock: Date.now, actor: 'cli' }).catch((err: unknown) => {
          throw err instanceof KeyRotationError ? new CliError(err.message) : err;
        });
        if (o.json) return printJson({ key: r.key, previous: r.previous, previous_kept_until: r.oldKeyExpiresAt === null ? null : new Date(r.oldKeyExpiresAt).toISOString(), resumed: r.resumed });
        process.stdout.write(
          `${r.resumed ? 'Checked the new key from the earlier attempt and switched' : 'Rotated the SkillBoss key'}: ${r.previous} → ${r.key}. ` +
            `The previous key stays in the keychain until ${iso(r.oldKeyExpiresAt)}. A running daemon switches within a second; agents notice nothing.\n`,
        );
      } finally {
        db.close();
      }
    });
}
