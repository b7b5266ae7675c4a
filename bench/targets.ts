/**
 * Starting the processes under test: the fake upstream, the reference
 * pass-through proxies, and the sidecar on a data dir that already holds a
 * bench token (budget that never runs out, rpm and concurrency limits that
 * never trigger, so every stage runs and none refuses).
 */
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { usdToMicros } from '../proxy/core/money.js';
import { DB_FILE, openDatabase } from '../proxy/db/database.js';
import { scopesFromPreset } from '../proxy/tokens/scopes.js';
import { TokenStore } from '../proxy/tokens/store.js';
import { REPO_ROOT, startChild, type Child } from './common.js';

/** Not a secret: the fake upstream accepts anything. */
const UPSTREAM_KEY = 'sk-bench-upstream-key-0000000000';

export interface StreamShape {
  chunks: number;
  chunkDelayMs: number;
}

export function startUpstream(shape: StreamShape): Promise<Child> {
  return startChild('upstream', 'upstream.js', { args: ['--chunks', String(shape.chunks), '--chunk-delay', String(shape.chunkDelayMs)] });
}

export type PassMode = 'bare' | 'http-proxy' | 'undici';

export function startPassthrough(mode: PassMode, upstream: Child, execArgv: string[] = []): Promise<Child> {
  return startChild(mode, 'passthrough.js', { execArgv, ipc: true, args: ['--mode', mode, '--upstream', upstream.url] });
}

export function tempDataDir(): string {
  return mkdtempSync(join(tmpdir(), 'sbs-bench-'));
}

/**
 * Adds a bench token to the data dir (creating the database if needed) the
 * way `skillboss-sidecar token create` would, and returns its secret. The
 * secret lives only in this process's memory.
 */
export function addBenchToken(dataDir: string): { tokenId: string; secret: string } {
  const db = openDatabase(dataDir);
  try {
    const store = new TokenStore(db, Date.now);
    const { token, secret } = store.create(
      {
        name: `bench-${Date.now()}`,
        scopes: scopesFromPreset('write'),
        budget: usdToMicros(1_000_000),
        rpm: 1_000_000_000,
        maxConcurrent: 100_000,
      },
      'cli',
    );
    return { tokenId: token.id, secret };
  } finally {
    db.close();
  }
}

/** The `#!/usr/bin/env -S [NAME=value …] node …` line of `skillboss-sidecar`: its environment and its Node flags. */
function cliStartLine(): { env: Record<string, string>; flags: string[] } {
  const first = readFileSync(join(REPO_ROOT, 'bin', 'skillboss-sidecar.js'), 'utf8').split('\n', 1)[0]!;
  const m = /^#!\/usr\/bin\/env -S ((?:[A-Z_][A-Z0-9_]*=\S* )*)node( .*)?$/.exec(first);
  const env = Object.fromEntries((m?.[1] ?? '').split(' ').filter(Boolean).map((a) => [a.slice(0, a.indexOf('=')), a.slice(a.indexOf('=') + 1)]));
  return { env, flags: m?.[2]?.split(' ').filter(Boolean) ?? [] };
}

/** The Node flags `skillboss-sidecar` runs with (from its `#!` line), so the bench measures what `serve` runs. */
export function cliNodeFlags(): string[] {
  return cliStartLine().flags;
}

/** The environment the `#!` line sets (MALLOC_ARENA_MAX), unless BENCH_SIDECAR_NODE_OPTIONS is set (then none, to compare). */
export function cliNodeEnv(): Record<string, string> {
  return process.env.BENCH_SIDECAR_NODE_OPTIONS === undefined ? cliStartLine().env : {};
}

/** The daemon's Node flags: the CLI's own, or BENCH_SIDECAR_NODE_OPTIONS (space-separated) instead when it is set ("" = none, to compare). */
export function sidecarNodeFlags(): string[] {
  const env = process.env.BENCH_SIDECAR_NODE_OPTIONS;
  return env === undefined ? cliNodeFlags() : env.split(' ').filter(Boolean);
}

export interface SidecarStart {
  /** More Node flags for the daemon, after sidecarNodeFlags(). */
  execArgv?: string[];
  readyTimeoutMs?: number;
  name?: string;
}

export function startSidecar(dataDir: string, upstream: Child, opts: SidecarStart = {}): Promise<Child> {
  return startChild(opts.name ?? 'sidecar', 'sidecar.js', {
    execArgv: [...sidecarNodeFlags(), ...(opts.execArgv ?? [])],
    readyTimeoutMs: opts.readyTimeoutMs ?? 30_000,
    ipc: true,
    env: { ...cliNodeEnv(), BENCH_DATA_DIR: dataDir, BENCH_UPSTREAM_URL: `${upstream.url}/v1`, BENCH_UPSTREAM_KEY: UPSTREAM_KEY },
  });
}

/** Ledger rows the sidecar wrote for one token (read-only; safe while the daemon runs, WAL). */
export function ledgerRows(dataDir: string, tokenId: string): { rows: number; ok: number; costMicros: number } {
  const db = new Database(join(dataDir, DB_FILE), { readonly: true });
  try {
    const r = db
      .prepare('SELECT count(*) AS rows, sum(status = 200) AS ok, coalesce(sum(cost_micros), 0) AS cost FROM usage WHERE token_id = ?')
      .get(tokenId) as { rows: number; ok: number | null; cost: number };
    return { rows: r.rows, ok: r.ok ?? 0, costMicros: r.cost };
  } finally {
    db.close();
  }
}
