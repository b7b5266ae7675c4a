/** What every CLI command shares: resolving the data dir, opening the database, printing. */
import { existsSync } from 'node:fs';
import { isLocked } from '../server/lock.js';
import { listRunning } from './running.js';
import { defaultDataDir, resolveDataDir } from '../core/config.js';
import { openDatabase, type DB } from '../db/database.js';
import type { KeyStore } from '../keychain/store.js';
import { selectKeyStore } from '../keychain/select.js';
import { TokenStore } from '../tokens/store.js';
import { systemClock } from '../core/time.js';
import { escapeUnprintable } from '../core/text.js';
import { envSetting } from '../core/env.js';

export interface GlobalOptions {
  dataDir?: string;
}

export class CliError extends Error {
  override name = 'CliError';
  constructor(
    message: string,
    readonly exitCode = 1,
  ) {
    super(message);
  }
}

/** Set by main() for the commands that act on a running daemon's data (see `dataDirOf`). */
let discover = false;
let discovered: string | undefined;

export function discoverRunningDaemon(on: boolean): void {
  discover = on;
  discovered = undefined;
}

/**
 * The data dir: --data-dir, else SKILLBOSS_SIDECAR_DATA_DIR, else the default.
 * For commands that act on a daemon's data (tokens, env, connect, open, …),
 * when neither is given and no daemon serves the default data dir, the one
 * running sidecar (`demo`, or `serve --data-dir`) is used instead, with a
 * note on stderr; with several running, the human must choose.
 */
export function dataDirOf(opts: GlobalOptions): string {
  if (!discover || opts.dataDir !== undefined || envSetting('SKILLBOSS_SIDECAR_DATA_DIR')) return resolveDataDir(opts.dataDir);
  return (discovered ??= discoverDataDir());
}

function discoverDataDir(): string {
  const def = resolveDataDir();
  if (existsSync(def) && isLocked(def)) return def;
  const running = listRunning().filter((d) => d.dataDir !== def);
  if (running.length === 0) return def;
  if (running.length > 1) {
    const list = running.map((d) => `  ${d.kind} pid ${d.pid} at ${d.url}: --data-dir ${d.dataDir}`).join('\n');
    throw new CliError(`no daemon serves the default data dir (${defaultDataDir()}) and several sidecars are running; choose one with --data-dir or SKILLBOSS_SIDECAR_DATA_DIR:\n${list}`);
  }
  const d = running[0]!;
  process.stderr.write(`# Using the running ${d.kind === 'demo' ? 'demo' : 'daemon'}'s data dir ${d.dataDir} (pid ${d.pid}, ${d.url}); pass --data-dir to choose another.\n`);
  return d.dataDir;
}

export function openDb(opts: GlobalOptions): DB {
  return openDatabase(dataDirOf(opts));
}

export function withTokens<T>(opts: GlobalOptions, fn: (tokens: TokenStore, db: DB) => T): T {
  const db = openDb(opts);
  try {
    return fn(new TokenStore(db, systemClock), db);
  } finally {
    db.close();
  }
}

export function keyStoreFor(opts: GlobalOptions): KeyStore {
  return selectKeyStore(dataDirOf(opts));
}

export function printJson(value: unknown): void {
  process.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
}

/** A plain aligned table for terminals; cells are escaped, so a name cannot carry terminal control sequences. */
export function printTable(rows: Array<Record<string, string>>, columns: string[]): void {
  if (rows.length === 0) {
    process.stdout.write('(none)\n');
    return;
  }
  rows = rows.map((r) => Object.fromEntries(Object.entries(r).map(([k, v]) => [k, escapeUnprintable(v)])));
  const widths = columns.map((c) => Math.max(c.length, ...rows.map((r) => (r[c] ?? '').length)));
  const line = (cells: string[]) => cells.map((c, i) => c.padEnd(widths[i]!)).join('  ').trimEnd();
  process.stdout.write(`${line(columns.map((c) => c.toUpperCase()))}\n`);
  for (const r of rows) process.stdout.write(`${line(columns.map((c) => r[c] ?? ''))}\n`);
}

export function iso(ms: number | null | undefined): string {
  return ms === null || ms === undefined ? 'never' : new Date(ms).toISOString().replace('.000Z', 'Z');
}

/** Reads a secret from stdin (never argv): piped, or typed at a prompt that does not echo. */
export async function readSecret(prompt: string): Promise<string> {
  if (process.stdin.isTTY) return promptHidden(prompt);
  const chunks: Buffer[] = [];
  for await (const c of process.stdin) chunks.push(c as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

function promptHidden(prompt: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const stdin = process.stdin;
    process.stderr.write(prompt);
    let value = '';
    stdin.setRawMode(true);
    stdin.resume();
    const done = (err?: Error) => {
      stdin.setRawMode(false);
      stdin.pause();
      stdin.off('data', onData);
      process.stderr.write('\n');
      if (err) reject(err);
      else resolve(value);
    };
    const onData = (buf: Buffer) => {
      for (const ch of buf.toString('utf8')) {
        if (ch === '\r' || ch === '\n') return done();
        if (ch === '\u0003') return done(new CliError('cancelled', 130));
        if (ch === '\u007f' || ch === '\b') value = value.slice(0, -1);
        else value += ch;
      }
    };
    stdin.on('data', onData);
  });
}
