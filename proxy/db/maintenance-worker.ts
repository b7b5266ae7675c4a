/**
 * Runs in a worker thread with its own SQLite connection, so that the two
 * slow things a database needs never block the daemon's event loop: the
 * integrity check of a large file at start, and WAL checkpoints (each one an
 * fsync that took 0.2–73 ms on the request path in the benchmark).
 */
import Database from 'better-sqlite3';
import { parentPort, workerData } from 'node:worker_threads';

export interface MaintenanceData {
  file: string;
  check: boolean;
  checkpointMs: number;
}

export type MaintenanceMessage = { type: 'integrity'; ok: boolean; detail: string } | { type: 'error'; detail: string };

const { file, check, checkpointMs } = workerData as MaintenanceData;
const port = parentPort!;
let db: Database.Database;
try {
  db = new Database(file, { timeout: 5000 });
} catch (err) {
  port.postMessage({ type: 'error', detail: (err as Error).message } satisfies MaintenanceMessage);
  process.exit(1);
}

if (check) {
  let detail: string;
  try {
    detail = String(db.pragma('quick_check', { simple: true }));
  } catch (err) {
    detail = (err as Error).message;
  }
  port.postMessage({ type: 'integrity', ok: detail === 'ok', detail } satisfies MaintenanceMessage);
}

const timer = setInterval(() => {
  try {
    // PASSIVE never waits for readers or writers; what it cannot copy now, the next round does.
    db.pragma('wal_checkpoint(PASSIVE)');
  } catch {
    /* busy or briefly locked: the next round tries again */
  }
}, checkpointMs);

port.on('message', (m: unknown) => {
  if (m === 'stop') {
    clearInterval(timer);
    try {
      db.pragma('wal_checkpoint(PASSIVE)');
    } finally {
      db.close();
      port.close();
    }
  }
});
