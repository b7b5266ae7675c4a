/**
 * Changing a file the human owns: show the diff, keep a backup of what was
 * there, then replace it atomically (temp file + rename) with its mode kept.
 */
import { mkdirSync, readFileSync, realpathSync, statSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { createTwoFilesPatch } from 'diff';
import { writeFileAtomic } from '../../core/fs.js';

export function readIfExists(path: string): string | null {
  try {
    return readFileSync(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw err;
  }
}

/** A setting that holds a credential (`ANTHROPIC_API_KEY`, `apiKey`, `auth_token`, …), in JSON, TOML or YAML, and its value. */
const CREDENTIAL = /^(\s*["']?[\w.-]*(?:api[_-]?key|auth[_-]?token|secret|password)["']?\s*[:=]\s*)(["']?)([^"'\s,]+)(\2)/gim;
/** Values that name where a credential comes from rather than being one: `SKILLBOSS_API_KEY`, `{env:VAR}`, `$VAR`. */
const REFERENCE = /^(?:[A-Z_][A-Z0-9_]*|\{env:[^}]*\}|\$\{?\w+\}?)$/;

/** The text with credential values shown as `…hidden…` (a diff is printed to a terminal, and may be in a log). */
export function hideCredentials(text: string): string {
  return text.replace(CREDENTIAL, (all, lead: string, q: string, value: string) => (REFERENCE.test(value) ? all : `${lead}${q}…hidden…${q}`));
}

/** The change as a unified diff, credentials hidden: a key the file held (and `connect` removes) is never printed. */
export function unifiedDiff(path: string, before: string | null, after: string): string {
  return createTwoFilesPatch(before === null ? '/dev/null' : path, path, hideCredentials(before ?? ''), hideCredentials(after), before === null ? '' : 'current', 'new');
}

/** A backup path beside the file that does not exist yet: FILE.bak-20261204T164000Z (-2, -3, … if taken). */
export function backupPath(path: string, now = new Date()): string {
  const stamp = now.toISOString().replace(/[-:]/g, '').replace(/\.\d+Z$/, 'Z');
  for (let i = 1; ; i++) {
    const p = `${path}.bak-${stamp}${i > 1 ? `-${i}` : ''}`;
    if (readIfExists(p) === null) return p;
  }
}

/**
 * The backup is owner-only whatever the file's mode, and a credential the new
 * version no longer holds (the key `connect` removes) is masked in it: a
 * backup must not be where a removed key lives on (issue 25 item 10).
 */
function writeBackup(backup: string, before: string, after: string): void {
  const masked = before.replace(CREDENTIAL, (all, lead: string, q: string, value: string) => (REFERENCE.test(value) || after.includes(value) ? all : `${lead}${q}…removed by skillboss-sidecar connect…${q}`));
  writeFileSync(backup, masked, { mode: 0o600, flag: 'wx' });
}

export interface Written {
  /** Null when the file did not exist before. */
  backup: string | null;
}

/**
 * Writes `after` to `path`, first copying the current file (if any) to a
 * backup. A symlinked config (dotfiles kept elsewhere) is written through:
 * the link stays and its target changes.
 */
export function replaceFile(linkPath: string, before: string | null, after: string): Written {
  const path = before === null ? linkPath : realpathSync(linkPath);
  let mode = 0o600;
  let backup: string | null = null;
  if (before !== null) {
    mode = statSync(path).mode & 0o777;
    backup = backupPath(path);
    writeBackup(backup, before, after);
  } else {
    mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
  }
  writeFileAtomic(path, after, mode);
  return { backup };
}
