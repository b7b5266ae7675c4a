/**
 * Which sidecar daemons are running for this user, so that CLI commands find
 * the one the human started (`demo` with its throwaway data dir, or `serve`
 * with `--data-dir`) instead of quietly writing to the default data dir, where
 * a token would be unknown to the daemon the agent calls (401).
 *
 * `serve` and `demo` leave `<pid>.json` in a per-user runtime directory
 * (`$XDG_RUNTIME_DIR/skillboss-sidecar`, else `<tmpdir>/skillboss-sidecar-<uid>`;
 * `SKILLBOSS_SIDECAR_RUNTIME_DIR` overrides) and remove it when they stop. An
 * entry counts only while its data dir's lock is held, so one left behind by
 * a killed process is ignored (and removed), and only when the directory and
 * the entry are this user's and writable by no one else.
 */
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir, userInfo } from 'node:os';
import { join, resolve } from 'node:path';
import { APP_NAME } from '../core/config.js';
import { isLocked } from '../server/lock.js';
import { envSetting } from '../core/env.js';

export interface RunningDaemon {
  pid: number;
  kind: 'demo' | 'serve';
  dataDir: string;
  url: string;
}

export function runtimeDir(env: NodeJS.ProcessEnv = process.env): string {
  const own = envSetting('SKILLBOSS_SIDECAR_RUNTIME_DIR', env);
  if (own) return resolve(own);
  const xdg = envSetting('XDG_RUNTIME_DIR', env);
  if (xdg) return join(xdg, APP_NAME);
  let uid: number | string;
  try {
    uid = userInfo().uid;
  } catch {
    uid = 'user';
  }
  return join(tmpdir(), `${APP_NAME}-${uid}`);
}

/** Records a running daemon; the returned function removes the record (call it on stop). */
export function registerRunning(d: RunningDaemon): () => void {
  const dir = runtimeDir();
  const file = join(dir, `${d.pid}.json`);
  try {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    writeFileSync(file, JSON.stringify({ ...d, dataDir: resolve(d.dataDir) }), { mode: 0o600 });
  } catch {
    // Discovery is a convenience: a daemon that cannot register still serves.
    return () => {};
  }
  return () => rmSync(file, { force: true });
}

function live(d: RunningDaemon): boolean {
  try {
    return existsSync(d.dataDir) && isLocked(d.dataDir);
  } catch {
    return false;
  }
}

/** Ours alone: another local user must not be able to plant an entry that sends our tokens to their daemon. */
function ownedPrivately(path: string): boolean {
  if (typeof process.getuid !== 'function') return true;
  const st = statSync(path);
  return st.uid === process.getuid() && (st.mode & 0o022) === 0;
}

/** The daemons running now, oldest first. */
export function listRunning(): RunningDaemon[] {
  const dir = runtimeDir();
  let names: string[];
  try {
    if (!ownedPrivately(dir)) return [];
    names = readdirSync(dir).filter((n) => /^\d+\.json$/.test(n));
  } catch {
    return [];
  }
  const out: RunningDaemon[] = [];
  for (const n of names) {
    const file = join(dir, n);
    try {
      if (!ownedPrivately(file)) continue;
      const d = JSON.parse(readFileSync(file, 'utf8')) as RunningDaemon;
      if (typeof d.dataDir === 'string' && live(d)) out.push(d);
      else rmSync(file, { force: true });
    } catch {
      rmSync(file, { force: true });
    }
  }
  return out.sort((a, b) => a.pid - b.pid);
}
