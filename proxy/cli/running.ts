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
 * the entry are this user's, no symlink, and open to no one else.
 */
import { closeSync, constants, existsSync, lstatSync, mkdirSync, openSync, readdirSync, readFileSync, rmSync, writeSync } from 'node:fs';
import { tmpdir, userInfo } from 'node:os';
import { dirname, join, resolve } from 'node:path';
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

/**
 * The runtime directory, created owner-only if missing, or null when what is there is not ours alone: a
 * symlink (another user's, pointing into our ~/.ssh, made the daemon write and `token list` delete there
 * when fs.protected_symlinks is off), not a directory, another user's, or open to others (issue 25 item 10).
 * lstat, never stat: the link itself is judged, not what it points to.
 */
export function privateRuntimeDir(): string | null {
  const dir = runtimeDir();
  try {
    mkdirSync(dirname(dir), { recursive: true, mode: 0o700 });
    try {
      mkdirSync(dir, { mode: 0o700 });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
    return ownedPrivately(dir, true) ? dir : null;
  } catch {
    return null;
  }
}

/** Records a running daemon; the returned function removes the record (call it on stop). */
export function registerRunning(d: RunningDaemon): () => void {
  const dir = privateRuntimeDir();
  // Discovery is a convenience: a daemon that cannot register still serves.
  if (dir === null) return () => {};
  const file = join(dir, `${d.pid}.json`);
  try {
    const fd = openSync(file, constants.O_WRONLY | constants.O_CREAT | constants.O_TRUNC | constants.O_NOFOLLOW, 0o600);
    try {
      writeSync(fd, JSON.stringify({ ...d, dataDir: resolve(d.dataDir) }));
    } finally {
      closeSync(fd);
    }
  } catch {
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
function ownedPrivately(path: string, directory = false): boolean {
  const st = lstatSync(path);
  if (directory ? !st.isDirectory() : !st.isFile()) return false;
  if (typeof process.getuid !== 'function') return true;
  return st.uid === process.getuid() && (st.mode & 0o077) === 0;
}

/** The daemons running now, oldest first. */
export function listRunning(): RunningDaemon[] {
  const dir = runtimeDir();
  let names: string[];
  try {
    // Nothing is read from, or deleted in, a directory another user could control.
    if (!ownedPrivately(dir, true)) return [];
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
