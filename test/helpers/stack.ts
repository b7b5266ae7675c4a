/**
 * The real pieces, wired for a test: the SkillBoss simulator on an ephemeral
 * loopback port, the daemon on another, a real SQLite file in a temp dir, and
 * the real OS keychain holding the simulator's key under the temp dir's own
 * account (removed again on close).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startSimulator, type SimDialect, type Simulator, type SimulatorOptions } from '../../proxy/simulator/index.js';

/** Both upstream dialects, for suites that run against each (`describe.each(DIALECTS)`). */
export const DIALECTS: readonly SimDialect[] = ['seed', 'real'];

/** The dialect a stack starts with when a test does not name one (each test file has its own module state). */
let suiteDialect: SimDialect = 'seed';

/**
 * Runs a whole suite file against another dialect: `x.real.test.ts` calls this,
 * then imports `x.test.ts`, whose stacks then answer as the real service.
 */
export function runSuiteAgainst(dialect: SimDialect): void {
  suiteDialect = dialect;
}

/** The dialect stacks in this file start with by default. */
export function currentSuiteDialect(): SimDialect {
  return suiteDialect;
}
import { startDaemon, type Daemon, type DaemonOptions } from '../../proxy/server/daemon.js';
import { osKeychain, type KeyStore } from '../../proxy/keychain/store.js';
import { randomBase62 } from '../../proxy/tokens/format.js';
import { scopesFromPreset, type Scope } from '../../proxy/tokens/scopes.js';
import { parseExpiry, TokenStore, type Created } from '../../proxy/tokens/store.js';
import { usdToMicros } from '../../proxy/core/money.js';

export interface TestClock {
  now: number;
  (): number;
}

/** A clock tests can move: `clock.now += 8 * DAY_MS`. */
export function testClock(start = Date.now()): TestClock {
  const c = (() => c.now) as TestClock;
  c.now = start;
  return c;
}

export function tempDir(prefix = 'sbs-test-'): string {
  return mkdtempSync(join(tmpdir(), prefix));
}

export interface TokenSpec {
  name?: string;
  scopes?: Scope[];
  preset?: 'read-only' | 'write' | 'admin';
  budgetUsd?: number | null;
  budgetMicros?: number | null;
  expires?: string;
  parentId?: string | null;
  rpm?: number | null;
  maxConcurrent?: number | null;
  models?: string[] | null;
}

export interface Stack {
  sim: Simulator;
  daemon: Daemon;
  dataDir: string;
  simKey: string;
  keyStore: KeyStore;
  /** Base URL agents use: http://127.0.0.1:PORT/v1 */
  baseURL: string;
  clock: TestClock;
  tokens: TokenStore;
  token(spec?: TokenSpec): Created;
  close(): Promise<void>;
}

export interface StackOptions {
  /** Which SkillBoss the simulator answers as (default seed); the real dialect's key has the sk_live_ form. */
  dialect?: SimDialect;
  sim?: Partial<SimulatorOptions>;
  daemon?: Partial<DaemonOptions>;
  /** Put the simulator key in the OS keychain (default true). */
  setKey?: boolean;
}

export async function startStack(opts: StackOptions = {}): Promise<Stack> {
  const clock = testClock();
  const dialect = opts.dialect ?? opts.sim?.dialect ?? suiteDialect;
  const simKey = dialect === 'real' ? `sk_live_${randomBase62(32)}` : `sk-test-${randomBase62(32)}`;
  const sim = await startSimulator({ apiKey: simKey, balanceUsd: 1000, ...opts.sim, dialect });
  const dataDir = tempDir();
  const keyStore = opts.daemon?.keyStore ?? osKeychain(dataDir);
  if (opts.setKey !== false) keyStore.set(simKey);
  const daemon = await startDaemon({
    dataDir,
    port: 0,
    upstreamUrl: sim.url,
    keyStore,
    clock,
    syncIntervalMs: 0,
    watchIntervalMs: 50,
    // Tests read the database file right after an answer: its rows are committed at the end of the turn, not the window.
    ledgerCommitWindowMs: 0,
    ...opts.daemon,
  });
  await daemon.sync();
  const tokens = new TokenStore(daemon.db, clock);
  let n = 0;
  return {
    sim,
    daemon,
    dataDir,
    simKey,
    keyStore,
    baseURL: `${daemon.url}/v1`,
    clock,
    tokens,
    token(spec: TokenSpec = {}) {
      const created = tokens.create(
        {
          name: spec.name ?? `agent-${++n}`,
          scopes: spec.scopes ?? scopesFromPreset(spec.preset ?? 'write'),
          budget: spec.budgetMicros ?? (spec.budgetUsd === undefined || spec.budgetUsd === null ? null : usdToMicros(spec.budgetUsd)),
          expiresAt: parseExpiry(spec.expires, clock.now),
          parentId: spec.parentId ?? null,
          rpm: spec.rpm ?? null,
          maxConcurrent: spec.maxConcurrent ?? null,
          models: spec.models ?? null,
        },
        'test',
      );
      daemon.deps.principals.clear();
      return created;
    },
    async close() {
      await daemon.close();
      await sim.close();
      try {
        keyStore.remove();
      } catch {
        /* the keychain may be what the test broke */
      }
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

/** Parses a fetch Response's OpenAI error body. */
export async function errorOf(res: Response): Promise<{ status: number; code: string; message: string; type: string }> {
  const body = (await res.json()) as { error: { code: string; message: string; type: string } };
  return { status: res.status, ...body.error };
}
