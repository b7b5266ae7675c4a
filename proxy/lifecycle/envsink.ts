/**
 * The env sink: a `.env` file the human named for a token, rewritten at every
 * rotation, so an agent that re-reads its env file never notices a rotation.
 *
 * Written atomically — a temp file in the same directory, fsync, rename over
 * the old one, fsync the directory — so a reader sees the old file or the new
 * one, never half of either, and a crash never leaves it empty. Owner-only
 * (0600) from the first byte: the temp file is created with that mode.
 */
import { lstatSync, statSync } from 'node:fs';
import { dirname, isAbsolute, join, resolve } from 'node:path';
import { writeFileAtomic } from '../core/fs.js';

export interface EnvSinkContent {
  secret: string;
  /** The sidecar's agent base URL, ending in /v1. */
  baseUrl: string;
  tokenId: string;
  tokenName: string;
}

export class EnvSinkError extends Error {
  override name = 'EnvSinkError';
}

/** Resolves and checks a sink path when the human names it: its directory must exist and it must not be a directory. */
export function validateEnvSinkPath(input: string, cwd = process.cwd()): string {
  const trimmed = input.trim();
  if (!trimmed) throw new EnvSinkError('the env file path is empty');
  const path = isAbsolute(trimmed) ? resolve(trimmed) : resolve(cwd, trimmed);
  let dir;
  try {
    dir = statSync(dirname(path));
  } catch {
    throw new EnvSinkError(`the directory of ${path} does not exist; create it first`);
  }
  if (!dir.isDirectory()) throw new EnvSinkError(`${dirname(path)} is not a directory`);
  try {
    if (lstatSync(path).isDirectory()) throw new EnvSinkError(`${path} is a directory; name a file such as ${join(path, '.env')}`);
  } catch (err) {
    if (err instanceof EnvSinkError) throw err;
    /* does not exist yet: it is created at the first write */
  }
  return path;
}

export function renderEnv(c: EnvSinkContent): string {
  // Values are quote-free by construction (token alphabet, a loopback URL), so no escaping is needed.
  return (
    `# Written by skillboss-sidecar for ${c.tokenId} (${c.tokenName.replace(/[\r\n]/g, ' ')}).\n` +
    '# Rewritten at every rotation: re-read it rather than copying the key elsewhere.\n' +
    `OPENAI_API_KEY=${c.secret}\n` +
    `OPENAI_BASE_URL=${c.baseUrl}\n` +
    `SKILLBOSS_API_KEY=${c.secret}\n`
  );
}

export function writeEnvSink(path: string, c: EnvSinkContent): void {
  // Owner-only before any byte is written; durable once this returns.
  writeFileAtomic(path, renderEnv(c), 0o600);
}
