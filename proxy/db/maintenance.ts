/**
 * Starts the maintenance worker for the daemon's database: WAL checkpoints
 * on a timer off the event loop (the daemon's own connection stops
 * checkpointing), and the integrity check of a file too large to check
 * before serving. If the worker cannot run, the daemon's connection goes back
 * to checkpointing by itself, so the WAL never grows without bound.
 */
import { Worker } from 'node:worker_threads';
import type { DB } from './database.js';
import type { MaintenanceData, MaintenanceMessage } from './maintenance-worker.js';

export interface Maintenance {
  stop(): Promise<void>;
}

export interface MaintenanceOptions {
  file: string;
  /** Run quick_check in the worker (the file was too large to check before serving). */
  check: boolean;
  checkpointMs?: number;
  onIntegrity(ok: boolean, detail: string): void;
  onProblem(detail: string): void;
}

/** The compiled worker; when this module runs from source (vitest), the build's copy of it. */
function workerUrl(): URL {
  const here = new URL(import.meta.url);
  return here.pathname.endsWith('.ts') ? new URL('../../dist/proxy/db/maintenance-worker.js', here) : new URL('./maintenance-worker.js', here);
}

export function startMaintenance(db: DB, opts: MaintenanceOptions): Maintenance {
  const data: MaintenanceData = { file: opts.file, check: opts.check, checkpointMs: opts.checkpointMs ?? 1000 };
  const worker = new Worker(workerUrl(), { workerData: data });
  worker.unref();
  db.pragma('wal_autocheckpoint = 0');
  let stopping = false;
  const fallBack = (detail: string) => {
    if (stopping) return;
    db.pragma('wal_autocheckpoint = 1000');
    opts.onProblem(detail);
  };
  worker.on('message', (m: MaintenanceMessage) => {
    if (m.type === 'integrity') opts.onIntegrity(m.ok, m.detail);
    else fallBack(m.detail);
  });
  worker.on('error', (err) => fallBack(err.message));
  worker.on('exit', (code) => {
    if (code !== 0) fallBack(`the database maintenance worker exited with code ${code}`);
  });
  return {
    async stop() {
      stopping = true;
      // Referenced while stopping: with nothing else left in the event loop, an unreferenced worker and timer
      // would let Node exit mid-shutdown (exit code 13, a pending top-level await in the CLI).
      worker.ref();
      const exited = new Promise<void>((resolve) => worker.once('exit', () => resolve()));
      worker.postMessage('stop');
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([exited, new Promise<void>((r) => (timer = setTimeout(r, 2000)))]);
      clearTimeout(timer);
      await worker.terminate();
      try {
        db.pragma('wal_autocheckpoint = 1000');
      } catch {
        /* already closed */
      }
    },
  };
}
