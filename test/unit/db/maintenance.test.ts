/**
 * The maintenance worker exists only while there is work for it (issue 27,
 * footprint): an idle database starts none, writes start one that
 * checkpoints them into the database file and then ends by itself, a large
 * file's integrity check runs in one that ends after it, and stopping the
 * daemon with one running ends it.
 */
import { rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { DB_FILE, openDatabase, type DB } from '../../../proxy/db/database.js';
import { startMaintenance, type Maintenance, type MaintenanceOptions } from '../../../proxy/db/maintenance.js';
import { tempDir } from '../../helpers/stack.js';

let dir: string;
let db: DB;
let m: Maintenance | null = null;
const integrity: Array<[boolean, string]> = [];
const problems: string[] = [];

function start(o: Partial<MaintenanceOptions> = {}): Maintenance {
  dir = tempDir('sbs-maint-');
  db = openDatabase(dir);
  m = startMaintenance(db, {
    file: join(dir, DB_FILE),
    check: false,
    checkpointMs: 20,
    pollMs: 20,
    startAfterMs: 100,
    idleRounds: 3,
    onIntegrity: (ok, detail) => integrity.push([ok, detail]),
    onProblem: (d) => problems.push(d),
    ...o,
  });
  return m;
}

afterEach(async () => {
  await m?.stop();
  m = null;
  db.close();
  rmSync(dir, { recursive: true, force: true });
  integrity.length = 0;
  problems.length = 0;
});

const waitFor = (cond: () => boolean) => vi.waitFor(() => expect(cond()).toBe(true), { timeout: 10_000, interval: 10 });

describe('database maintenance', () => {
  it('starts no worker for an idle database; writes start one, which checkpoints them and then ends by itself', async () => {
    const maint = start();
    // Settled: the writes of opening it are checkpointed by the first worker, after which nothing is written.
    await waitFor(() => maint.running());
    await waitFor(() => !maint.running());
    const before = statSync(join(dir, DB_FILE)).size;
    // Nothing written: no worker comes back (twenty polls).
    await new Promise((r) => setTimeout(r, 400));
    expect(maint.running()).toBe(false);

    db.exec('CREATE TABLE filler (x BLOB)');
    const insert = db.prepare('INSERT INTO filler VALUES (randomblob(4096))');
    for (let i = 0; i < 200; i++) insert.run();
    await waitFor(() => maint.running());
    await waitFor(() => !maint.running());
    // The rows reached the database file itself, copied there by the worker (the daemon's connection does not checkpoint).
    expect(statSync(join(dir, DB_FILE)).size).toBeGreaterThan(before + 200 * 4096);
    expect(problems).toEqual([]);
  });

  it('starts at once when the WAL is large, without waiting for the delay', async () => {
    const maint = start({ startAfterMs: 60_000, startAtBytes: 256 * 1024 });
    db.exec('CREATE TABLE filler (x BLOB)');
    const insert = db.prepare('INSERT INTO filler VALUES (randomblob(4096))');
    for (let i = 0; i < 100; i++) insert.run();
    await waitFor(() => maint.running());
  });

  it('runs the integrity check of a large file in a worker that ends after it', async () => {
    const maint = start({ check: true, startAfterMs: 60_000 });
    expect(maint.running()).toBe(true);
    await waitFor(() => integrity.length === 1);
    expect(integrity[0]).toEqual([true, 'ok']);
    await waitFor(() => !maint.running());
  });

  it('stops a running worker with the daemon', async () => {
    const maint = start({ check: true, idleRounds: 1_000 });
    expect(maint.running()).toBe(true);
    await maint.stop();
    expect(maint.running()).toBe(false);
  });
});
