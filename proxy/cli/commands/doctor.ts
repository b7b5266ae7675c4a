/** `doctor`: each thing the sidecar needs, ok or what to do about it. */
import type { Command } from 'commander';
import { createServer } from 'node:net';
import { accessSync, constants } from 'node:fs';
import { DEFAULT_PORT, resolveUpstream } from '../../core/config.js';
import { getSetting } from '../../db/records.js';
import { maskKey } from '../../keychain/store.js';
import { isLocked, readRuntime } from '../../server/lock.js';
import { checkKey } from './key.js';
import { upstreamJson } from '../../upstream/client.js';
import { readModelList } from '../../upstream/models.js';
import { CONTROL_PLANE_SETTING, controlPlaneOf, findBalance } from '../../upstream/balance.js';
import { capabilityLines, lastCapabilities } from '../../upstream/capabilities.js';
import { dataDirOf, keyStoreFor, openDb, printJson, type GlobalOptions } from '../context.js';

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
    const cp = process.env.SKILLBOSS_CONTROL_PLANE_URL || getSetting<string>(db, CONTROL_PLANE_SETTING) || controlPlaneOf(upstreamUrl);
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
      let upstreamUrl = o.upstream ? resolveUpstream(o.upstream) : resolveUpstream();

      try {
        const db = openDb(g);
        upstreamUrl = o.upstream ? upstreamUrl : (getSetting<string>(db, 'upstream_url') ?? upstreamUrl);
        db.close();
        accessSync(dataDir, constants.W_OK);
        checks.push({ name: 'data dir', ok: true, detail: `${dataDir} is writable and the database is healthy` });
      } catch (err) {
        checks.push({ name: 'data dir', ok: false, detail: `${(err as Error).message}. Fix the permissions or pass --data-dir.` });
      }

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
      const runtime = readRuntime(dataDir);
      if (runtime && isLocked(dataDir)) {
        checks.push({ name: 'port', ok: true, detail: `a sidecar daemon for this data dir is running (pid ${runtime.pid}) at ${runtime.url}` });
      } else if (await portFree(port, '127.0.0.1')) {
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

      const ok = checks.every((c) => c.ok);
      if (o.json) printJson({ ok, checks });
      else for (const c of checks) process.stdout.write(`${c.ok ? (c.warn ? 'warn' : 'ok  ') : 'FAIL'}  ${c.name.padEnd(10)} ${c.detail}\n`);
      if (!ok) process.exitCode = 1;
    });
}
