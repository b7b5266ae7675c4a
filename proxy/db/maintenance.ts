/**
 * Database maintenance for the daemon: WAL checkpoints off the event loop
 * (the daemon's own connection stops checkpointing), and the integrity check
 * of a file too large to check before serving. Both run in a worker thread
 * that exists only while there is work for it (a second V8 isolate is ~15 MB
 * of RSS): the daemon's thread looks at the WAL file once a second, starts
 * the worker when the WAL has taken writes for a while or grown large, and
 * the worker ends itself once everything is checkpointed and no write came
 * for half a minute. If the worker cannot run, the daemon's connection goes
 * back to checkpointing by itself, so the WAL never grows without bound.
 */
import { statSync } from 'node:fs';
import type { Worker } from 'node:worker_threads';
import { threadHeapDefaults } from '../core/threads.js';
import type { DB } from './database.js';
import type { MaintenanceData, MaintenanceMessage } from './maintenance-worker.js';

export interface Maintenance {
  /** Whether the worker is running now (for the tests and the status). */
  running(): boolean;
  stop(): Promise<void>;
}

export interface MaintenanceOptions {
  file: string;
  /** Run quick_check in the worker (the file was too large to check before serving). */
  check: boolean;
  /** How often the worker checkpoints while it runs (ms). */
  checkpointMs?: number;
  /** How often the daemon's thread looks at the WAL file (ms). */
  pollMs?: number;
  /** Written-to WAL starts the worker after this long (ms)… */
  startAfterMs?: number;
  /** …or at once when it is this large (bytes). */
  startAtBytes?: number;
  /** Rounds with nothing to checkpoint after which the worker ends (default 30: bursts of writes a few seconds apart keep one worker, not one each). */
  idleRounds?: number;
  onIntegrity(ok: boolean, detail: string): void;
  onProblem(detail: string): void;
}

/** The compiled worker; when this module runs from source (vitest), the build's copy of it. */
function workerUrl(): URL {
  const here = new URL(import.meta.url);
  return here.pathname.endsWith('.ts') ? new URL('../../dist/proxy/db/maintenance-worker.js', here) : new URL('./maintenance-worker.js', here);
}

/** The WAL file's size and modification time, or null when there is none. */
function walState(file: string): { size: number; mtimeMs: number } | null {
  try {
    const s = statSync(`${file}-wal`);
    return { size: s.size, mtimeMs: s.mtimeMs };
  } catch {
    return null;
  }
}

export function startMaintenance(db: DB, opts: MaintenanceOptions): Maintenance {
  const checkpointMs = opts.checkpointMs ?? 1000;
  const startAfterMs = opts.startAfterMs ?? 10_000;
  const startAtBytes = opts.startAtBytes ?? 16 * 1024 * 1024;
  db.pragma('wal_autocheckpoint = 0');
  let worker: Worker | null = null;
  let exited: Promise<void> = Promise.resolve();
  let stopping = false;
  let failed = false;
  // The WAL as the last worker left it (everything in it checkpointed; none yet: what is in it at start is not), and
  // when a write after that was first seen.
  let settled: { size: number; mtimeMs: number } | null = null;
  let dirtySince: number | null = null;

  const fallBack = (detail: string) => {
    if (stopping || failed) return;
    failed = true;
    clearInterval(poll);
    db.pragma('wal_autocheckpoint = 1000');
    opts.onProblem(detail);
  };

  const spawn = (check: boolean) => {
    const data: MaintenanceData = { file: opts.file, check, checkpointMs, idleRounds: opts.idleRounds ?? 30 };
    let w: Worker;
    try {
      // One SQLite connection and a timer: V8's default heap, not the daemon's flags (core/threads.ts); node:worker_threads
      // loads with the first worker, not at every start (issue 27 item 4).
      threadHeapDefaults();
      w = new (process.getBuiltinModule('node:worker_threads').Worker)(workerUrl(), { workerData: data, resourceLimits: { maxYoungGenerationSizeMb: 3 } });
    } catch (err) {
      fallBack((err as Error).message);
      return;
    }
    worker = w;
    w.unref();
    dirtySince = null;
    w.on('message', (m: MaintenanceMessage) => {
      if (m.type === 'integrity') opts.onIntegrity(m.ok, m.detail);
      else if (m.type === 'error') fallBack(m.detail);
    });
    w.on('error', (err) => fallBack(err.message));
    exited = new Promise<void>((resolve) =>
      w.once('exit', (code) => {
        if (worker === w) worker = null;
        // It ended by itself with the WAL checkpointed: writes after this point start the next one.
        settled = walState(opts.file);
        if (code !== 0) fallBack(`the database maintenance worker exited with code ${code}`);
        resolve();
      }),
    );
  };

  const poll = setInterval(() => {
    if (worker || stopping || failed) return;
    const now = walState(opts.file);
    if (!now || now.size === 0 || (settled && now.size === settled.size && now.mtimeMs === settled.mtimeMs)) return;
    const t = Date.now();
    dirtySince ??= t;
    if (now.size >= startAtBytes || t - dirtySince >= startAfterMs) spawn(false);
  }, opts.pollMs ?? 1000);
  poll.unref();

  if (opts.check) spawn(true);

  return {
    running: () => worker !== null,
    async stop() {
      stopping = true;
      clearInterval(poll);
      const w = worker;
      if (w) {
        // Referenced while stopping: with nothing else left in the event loop, an unreferenced worker and timer
        // would let Node exit mid-shutdown (exit code 13, a pending top-level await in the CLI).
        w.ref();
        w.postMessage('stop');
        let timer: NodeJS.Timeout | undefined;
        await Promise.race([exited, new Promise<void>((r) => (timer = setTimeout(r, 2000)))]);
        clearTimeout(timer);
        await w.terminate();
      }
      try {
        db.pragma('wal_autocheckpoint = 1000');
      } catch {
        /* already closed */
      }
    },
  };
}
