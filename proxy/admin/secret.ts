/**
 * The admin secret: created at the daemon's first start, kept in the data dir
 * with owner-only permissions. Scripts send it as a bearer token; the CLI
 * (same user) may read it. It is shaped like the other secrets (`sk-` prefix)
 * so the log scrubber and secret scanners recognise it, and it can never pass
 * as an agent token (those start with `sk-sbl-`).
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import { chmodSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { randomBase62 } from '../tokens/format.js';

export const ADMIN_SECRET_FILE = 'admin-secret';
export const ADMIN_SECRET_PREFIX = 'sk-sba-';
const SHAPE = /^sk-sba-[0-9A-Za-z]{43}$/;

export function adminSecretPath(dataDir: string): string {
  return join(dataDir, ADMIN_SECRET_FILE);
}

/** Reads the admin secret, creating it (mode 0600) when there is none yet. */
export function ensureAdminSecret(dataDir: string): string {
  const file = adminSecretPath(dataDir);
  try {
    // `wx` fails when the file exists, so two processes never write different secrets.
    writeFileSync(file, `${ADMIN_SECRET_PREFIX}${randomBase62(43)}\n`, { mode: 0o600, flag: 'wx' });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
  }
  if ((statSync(file).mode & 0o077) !== 0) chmodSync(file, 0o600);
  return readAdminSecret(dataDir);
}

export function readAdminSecret(dataDir: string): string {
  const s = readFileSync(adminSecretPath(dataDir), 'utf8').trim();
  if (!SHAPE.test(s)) throw new Error(`the admin secret in ${adminSecretPath(dataDir)} is damaged; delete the file and restart the daemon to make a new one`);
  return s;
}

export function sha256(s: string): Buffer {
  return createHash('sha256').update(s).digest();
}

/** Compares a presented secret with the real one in constant time (over their hashes, so lengths never leak). */
export function secretMatches(presented: string, real: string): boolean {
  return timingSafeEqual(sha256(presented), sha256(real));
}
