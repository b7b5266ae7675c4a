/**
 * Runs in a worker thread with its own SQLite connection, so that the two
 * slow things a database needs never block the daemon's event loop: the
 * integrity check of a large file at start, and WAL checkpoints (each one an
 * fsync that took 0.2–73 ms on the request path in the benchmark). It ends by
 * itself once the WAL is checkpointed and `idleRounds` rounds brought no new
 * write (maintenance.ts starts it again when writes come).
 */
import Database from 'better-sqlite3';
import { parentPort, workerData } from 'node:worker_threads';

export interface MaintenanceData {
  file: string;
  check: boolean;
  checkpointMs: number;
  idleRounds: number;
}

export type MaintenanceMessage = { type: 'integrity'; ok: boolean; detail: string } | { type: 'error'; detail: string };

const { file, check, checkpointMs, idleRounds } = workerData as MaintenanceData;
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

interface Checkpoint {
  busy: number;
  log: number;
  checkpointed: number;
}

/** PASSIVE never waits for readers or writers; what it cannot copy now, the next round does. */
function checkpoint(): Checkpoint | null {
  try {
    return (db.pragma('wal_checkpoint(PASSIVE)') as Checkpoint[])[0] ?? null;
  } catch {
    return null; // busy or briefly locked: the next round tries again
  }
}

function end(): void {
  clearInterval(timer);
  checkpoint();
  db.close();
  port.close();
}

let lastLog = -1;
let quiet = 0;
const timer = setInterval(() => {
  const r = checkpoint();
  // Quiet: everything in the WAL is in the database and nothing was written since the last round.
  if (r && r.busy === 0 && r.log === r.checkpointed && r.log === lastLog) quiet++;
  else quiet = 0;
  lastLog = r ? r.log : -1;
  if (quiet >= idleRounds) end();
}, checkpointMs);

port.on('message', (m: unknown) => {
  if (m === 'stop') end();
});
