/**
 * "Check for problems": the doctor's checks (see `skillboss-sidecar doctor`)
 * from the app's side — the daemon answers, the data dir is writable, the
 * keychain holds a key, SkillBoss accepts it, credits remain, agents are not
 * paused — each with what to do about it. SkillBoss is checked by the
 * daemon itself (a fresh sync), so it is asked with the daemon's own
 * upstream URL and key, exactly as agents' calls are.
 */
import { accessSync, constants } from 'node:fs';
import type { DB } from '../../proxy/db/database.js';
import { getSetting } from '../../proxy/db/records.js';
import { maskKey, type KeyStore } from '../../proxy/keychain/store.js';
import type { UpstreamStatus } from '../../proxy/upstream/status.js';
import { probeDaemon } from './lifecycle.js';
import { readStoredState } from './state.js';

export interface Check {
  name: string;
  ok: boolean;
  detail: string;
}

export interface CheckDeps {
  url: string | null;
  dataDir: string;
  db: DB;
  keyStore: KeyStore;
  now: number;
  /** Has the daemon sync with SkillBoss now; resolves false when it did not (e.g. not running). */
  resync(): Promise<boolean>;
}

export async function runChecks(d: CheckDeps): Promise<Check[]> {
  const checks: Check[] = [];
  checks.push(
    d.url && (await probeDaemon(d.url))
      ? { name: 'daemon', ok: true, detail: `answering at ${d.url}` }
      : { name: 'daemon', ok: false, detail: d.url ? `not answering at ${d.url}; quit and reopen the app` : 'not running; quit and reopen the app' },
  );
  try {
    accessSync(d.dataDir, constants.W_OK);
    checks.push({ name: 'data dir', ok: true, detail: `${d.dataDir} is writable` });
  } catch (err) {
    checks.push({ name: 'data dir', ok: false, detail: `${(err as Error).message}; fix its permissions` });
  }

  let key: string | null = null;
  try {
    key = d.keyStore.get();
    const where = d.keyStore.kind === 'encrypted-file' ? 'the encrypted key file' : d.keyStore.kind === 'memory' ? 'memory' : 'the OS keychain';
    checks.push(key ? { name: 'key', ok: true, detail: `${maskKey(key)} is in ${where}` } : { name: 'key', ok: false, detail: 'no SkillBoss key is set: paste it in the dashboard (Set the SkillBoss key…)' });
  } catch (err) {
    checks.push({ name: 'keychain', ok: false, detail: (err as Error).message });
  }

  if (key && (await d.resync())) {
    const up = getSetting<Partial<UpstreamStatus>>(d.db, 'upstream_status') ?? {};
    if (up.reachable === false) checks.push({ name: 'SkillBoss', ok: false, detail: `not reachable (${up.lastError ?? 'no answer'}); check the network or the upstream URL in Settings` });
    else if (up.key === 'invalid') checks.push({ name: 'SkillBoss', ok: false, detail: 'SkillBoss rejected the key (401): set a valid key in the dashboard' });
    else if (up.key === 'valid') checks.push({ name: 'SkillBoss', ok: true, detail: 'SkillBoss accepts the key' });
    else checks.push({ name: 'SkillBoss', ok: false, detail: `the key could not be checked (${up.lastError ?? up.key ?? 'unknown'})` });
  } else if (key) {
    checks.push({ name: 'SkillBoss', ok: false, detail: 'the daemon did not re-check SkillBoss; quit and reopen the app' });
  }

  const s = readStoredState(d.db, d.now);
  if (s.credits === 'out') checks.push({ name: 'credits', ok: false, detail: 'the SkillBoss account has no credits left; top it up' });
  if (s.paused) checks.push({ name: 'agents', ok: false, detail: 'all agents are paused: choose “Resume all agents” in the menu' });
  return checks;
}

export function summarize(checks: readonly Check[]): { ok: boolean; title: string; detail: string } {
  const failed = checks.filter((c) => !c.ok);
  return {
    ok: failed.length === 0,
    title: failed.length === 0 ? 'No problems found' : failed.length === 1 ? '1 problem found' : `${failed.length} problems found`,
    detail: checks.map((c) => `${c.ok ? '✓' : '✗'} ${c.name}: ${c.detail}`).join('\n'),
  };
}
