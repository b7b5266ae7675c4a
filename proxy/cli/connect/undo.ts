/**
 * `connect --undo AGENT`: put back the configuration `connect` replaced (its
 * newest backup beside the file), and the record of what `connect` wrote
 * while a demo ran, so the demo can list those configurations when it stops
 * (they point at a sidecar that is about to disappear; issue 26).
 */
import { appendFileSync, mkdirSync, readdirSync, readFileSync, realpathSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { readIfExists } from './files.js';

export interface Connected {
  agent: string;
  path: string;
  /** Null when `connect` created the file. */
  backup: string | null;
}

const RECORD = 'connected.jsonl';

/** Notes that `connect` wrote `path` for a sidecar of this data dir (one JSON line each). */
export function recordConnected(dataDir: string, c: Connected): void {
  const dir = join(dataDir, 'agents');
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  appendFileSync(join(dir, RECORD), `${JSON.stringify(c)}\n`, { mode: 0o600 });
}

/** What `connect` wrote for this data dir, one entry per file (the latest). */
export function readConnected(dataDir: string): Connected[] {
  const text = readIfExists(join(dataDir, 'agents', RECORD)) ?? '';
  const byPath = new Map<string, Connected>();
  for (const line of text.split('\n')) {
    if (!line.trim()) continue;
    try {
      const c = JSON.parse(line) as Connected;
      // The first backup is the configuration from before the demo; later runs only backed up ours.
      const first = byPath.get(c.path);
      byPath.set(c.path, first ? { ...c, backup: first.backup } : c);
    } catch {
      // A torn line is skipped: the list is a courtesy.
    }
  }
  return [...byPath.values()];
}

/** The newest `FILE.bak-…` beside the file (connect/files.ts `backupPath`), or null. */
export function newestBackup(path: string): string | null {
  const dir = dirname(path);
  const prefix = `${basename(path)}.bak-`;
  let names: string[];
  try {
    names = readdirSync(dir).filter((n) => n.startsWith(prefix) && !n.endsWith('.tmp'));
  } catch {
    return null;
  }
  // FILE.bak-20261204T164000Z, then -2, -3 … within the same second: newest last.
  const key = (n: string) => {
    const m = /\.bak-(\d{8}T\d{6}Z)(?:-(\d+))?$/.exec(n);
    return m ? `${m[1]}-${(m[2] ?? '1').padStart(6, '0')}` : '';
  };
  names.sort((a, b) => key(a).localeCompare(key(b)));
  return names.length ? join(dir, names.at(-1)!) : null;
}

export interface Undone {
  path: string;
  restored: string | null;
  before: string | null;
  after: string | null;
}

/**
 * Restores the newest backup of `linkPath` (through a symlink, like connect writes) and removes that
 * backup, so a second undo goes one step further back. Null `restored`: there was no backup.
 */
export function undoConnect(linkPath: string): Undone {
  const before = readIfExists(linkPath);
  const path = before === null ? linkPath : realpathSync(linkPath);
  const backup = newestBackup(path);
  if (!backup) return { path: linkPath, restored: null, before, after: before };
  const after = readFileSync(backup, 'utf8');
  const tmp = `${path}.${process.pid}.tmp`;
  try {
    writeFileSync(tmp, after, { mode: statSync(backup).mode & 0o777, flag: 'wx' });
    renameSync(tmp, path);
  } catch (err) {
    rmSync(tmp, { force: true });
    throw err;
  }
  rmSync(backup, { force: true });
  return { path: linkPath, restored: backup, before, after };
}
