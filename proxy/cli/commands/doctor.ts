/**
 * `doctor`: each thing the sidecar needs, ok or what to do about it. With a
 * daemon running it checks that daemon (its key, its upstream, checked by it
 * now); only without one does it judge the local key store and upstream.
 */
import type { Command } from 'commander';
import { envSetting } from '../../core/env.js';
import { createServer } from 'node:net';
import { accessSync, constants } from 'node:fs';
import { DEFAULT_PORT, resolveUpstream } from '../../core/config.js';
import { getSetting } from '../../db/records.js';
import { maskKey } from '../../keychain/store.js';
import { checkKey } from './key.js';
import { upstreamJson } from '../../upstream/client.js';
import { readModelList } from '../../upstream/models.js';
import { CONTROL_PLANE_SETTING, controlPlaneOf, findBalance } from '../../upstream/balance.js';
import { capabilityLines, lastCapabilities } from '../../upstream/capabilities.js';
import { dataDirOf, keyStoreFor, openDb, printJson, type GlobalOptions } from '../context.js';
import { daemonAt, daemonStatus, describeDaemon } from '../daemon.js';

interface Check {
  name: string;
  ok: boolean;
  detail: string;
  /** Works, but the human should know (printed as "warn"). */
  warn?: boolean;
}

function portFree(port: number, host: string): Promise<boolean> {
  return new Promise((resolve) => {
    const s = createServer();
    s.once('error', () => resolve(false));
    s.listen(port, host, () => s.close(() => resolve(true)));
  });
}

/** What the sidecar can learn from this upstream: the model list's shape, the balance, and what it cannot do. */
async function upstreamChecks(upstreamUrl: string, key: string, g: GlobalOptions): Promise<Check[]> {
  const out: Check[] = [];
  try {
    const list = readModelList(await upstreamJson<unknown>(upstreamUrl, key, 'GET', '/models'));
    out.push(
      list.ok
        ? { name: 'models', ok: true, detail: `${list.models.length} models listed (${list.shape === 'data' ? 'the seed\'s {data:[…]} shape' : 'the real service\'s {models:[…]} shape, prices per model'})` }
        : { name: 'models', ok: false, detail: `${list.problem}: the sidecar cannot learn models or prices, so every call would be charged the fallback price. Check --upstream, or set prices with \`skillboss-sidecar price set\`.` },
    );
  } catch (err) {
    out.push({ name: 'models', ok: false, detail: (err as Error).message });
  }
  const db = openDb(g);
  try {
    const cp = envSetting('SKILLBOSS_CONTROL_PLANE_URL') || getSetting<string>(db, CONTROL_PLANE_SETTING) || controlPlaneOf(upstreamUrl);
    const b = await findBalance(upstreamUrl, cp, key, null);
    out.push(
      'reasons' in b
        ? { name: 'balance', ok: true, warn: true, detail: `not told anywhere the sidecar knows (${b.reasons.join('; ')}); check it in the SkillBoss console, or set --control-plane` }
        : { name: 'balance', ok: true, detail: `${b.usd !== null ? `$${b.usd.toFixed(2)}` : `${b.credits} credits (no USD figure)`} from ${b.source}` },
    );
    for (const line of capabilityLines(lastCapabilities(db))) out.push({ name: 'upstream', ok: true, warn: true, detail: line });
  } finally {
    db.close();
  }
  return out;
}

export function registerDoctor(program: Command, globals: () => GlobalOptions): void {
  program
    .command('doctor')
    .description('check the keychain, data dir, port, upstream and key; say what to fix')
    .option('--port <port>', 'the port the daemon should use', String(DEFAULT_PORT))
    .option('--upstream <url>', 'SkillBoss API base URL')
    .option('--json', 'print JSON only')
    .action(async (o: { port: string; upstream?: string; json?: boolean }) => {
      const g = globals();
      const dataDir = dataDirOf(g);
      const checks: Check[] = [];
      const warnings: string[] = [];
      // --upstream, else SKILLBOSS_UPSTREAM_URL, else the saved setting, else the default.
      let upstreamUrl = resolveUpstream(o.upstream);
      const explicitUpstream = o.upstream !== undefined || envSetting('SKILLBOSS_UPSTREAM_URL') !== undefined;

      try {
        const db = openDb(g);
        if (!explicitUpstream) upstreamUrl = getSetting<string>(db, 'upstream_url') ?? upstreamUrl;
        db.close();
        accessSync(dataDir, constants.W_OK);
        checks.push({ name: 'data dir', ok: true, detail: `${dataDir} is writable and the database is healthy` });
      } catch (err) {
        checks.push({ name: 'data dir', ok: false, detail: `${(err as Error).message}. Fix the permissions or pass --data-dir.` });
      }

      const daemon = daemonAt(dataDir);
      let describes: string;
      if (daemon) {
        // The daemon holds the key (the demo's is in memory only) and its own upstream: ask it, and have it check now.
        const st = await daemonStatus(daemon);
        const demo = st.daemon?.demo ?? daemon.kind === 'demo';
        describes = describeDaemon(daemon, demo);
        checks.push({ name: 'port', ok: true, detail: `a sidecar daemon for this data dir is running (pid ${daemon.runtime.pid}) at ${daemon.runtime.url}${demo ? ': the demo, with a simulated upstream and an in-memory key' : ''}` });
        const k = st.key;
        if (k.state === 'unavailable') checks.push({ name: 'keychain', ok: false, detail: `the daemon cannot read its key store (${k.store}): ${k.reason ?? 'unavailable'}` });
        else {
          checks.push({ name: 'keychain', ok: true, detail: k.store === 'memory' ? 'the daemon keeps its key in memory (no keychain needed)' : `the daemon reads its key store (${k.store})` });
          checks.push(k.state === 'set' ? { name: 'key', ok: true, detail: `the daemon holds ${k.masked}` } : { name: 'key', ok: false, detail: 'the daemon has no SkillBoss key: run `skillboss-sidecar key set`' });
        }
        if (o.upstream && resolveUpstream(o.upstream) !== st.upstream.url) warnings.push(`the daemon uses ${st.upstream.url}, not the --upstream ${resolveUpstream(o.upstream)} given here; restart it with \`serve --upstream …\` to change that`);
        const up = k.state === 'set' ? await daemon.call<{ url: string; key: string; reachable: boolean | null; last_error: string | null }>('POST', '/sync') : null;
        if (up) {
          checks.push({ name: 'upstream', ok: up.reachable !== false, detail: up.reachable === false ? `${up.url}: ${up.last_error ?? 'no answer'}; check the network or the daemon's --upstream` : `${up.url} is reachable (checked by the daemon just now)` });
          if (up.reachable !== false) checks.push({ name: 'key valid', ok: up.key !== 'invalid', detail: up.key === 'invalid' ? `${up.url} rejected the key (401): run \`skillboss-sidecar key set\` with a valid key` : up.key === 'valid' ? `${up.url} accepted the key` : 'not known yet' });
        } else {
          checks.push({ name: 'upstream', ok: false, detail: `${st.upstream.url}: not checked without a key` });
        }
        // What the daemon could not learn from SkillBoss (issue 23): an unrecognised model list fails, as without a daemon.
        const after = up ? await daemonStatus(daemon) : st;
        const shape = after.alerts.find((a) => a.kind === 'upstream_notice' && a.severity === 'error');
        if (shape) checks.push({ name: 'models', ok: false, detail: shape.message });
        warnings.push(...(st.warnings ?? []));
      } else {
        describes = `no running daemon: the local key store and ${upstreamUrl}`;
        let key: string | null = null;
        try {
          const store = keyStoreFor(g);
          key = store.get();
          checks.push({ name: 'keychain', ok: true, detail: store.kind === 'encrypted-file' ? 'the key is in the encrypted key file (opted in), which decrypts' : 'the OS keychain is reachable' });
          checks.push(key ? { name: 'key', ok: true, detail: `${maskKey(key)} is set` } : { name: 'key', ok: false, detail: 'no SkillBoss key is set: run `skillboss-sidecar key set`' });
        } catch (err) {
          checks.push({ name: 'keychain', ok: false, detail: (err as Error).message });
        }

        const port = Number(o.port);
        if (await portFree(port, '127.0.0.1')) {
          checks.push({ name: 'port', ok: true, detail: `port ${port} is free` });
        } else {
          checks.push({ name: 'port', ok: false, detail: `port ${port} is taken by another program: stop it, or run \`skillboss-sidecar serve --port <other>\`` });
        }

        if (key) {
          const r = await checkKey(upstreamUrl, key);
          checks.push({ name: 'upstream', ok: r.valid !== null, detail: r.valid === null ? `${upstreamUrl}: ${r.reason}; check the network or --upstream` : `${upstreamUrl} is reachable` });
          if (r.valid !== null) checks.push({ name: 'key valid', ok: r.valid, detail: r.valid ? r.reason : `${r.reason}: run \`skillboss-sidecar key set\` with a valid key` });
          if (r.valid) checks.push(...(await upstreamChecks(upstreamUrl, key, g)));
        } else {
          checks.push({ name: 'upstream', ok: false, detail: `${upstreamUrl}: not checked without a key` });
        }
      }

      const ok = checks.every((c) => c.ok);
      if (o.json) printJson({ ok, describes, checks, warnings });
      else {
        process.stdout.write(`Checking ${describes}.\n`);
        for (const c of checks) process.stdout.write(`${c.ok ? (c.warn ? 'warn' : 'ok  ') : 'FAIL'}  ${c.name.padEnd(10)} ${c.detail}\n`);
        for (const w of warnings) process.stdout.write(`warn  ${w}\n`);
      }
      if (!ok) process.exitCode = 1;
    });
}
