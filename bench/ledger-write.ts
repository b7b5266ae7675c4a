/**
 * Issue 27 item 1: how a settled request's ledger row is made durable, compared in one run.
 *
 *   node dist/bench/ledger-write.js [--rounds 3] [--rows 3000]
 *
 * Each variant runs in its own child process (clean RSS, one CPU reading per thread), interleaved over
 * rounds, against a fresh database made by the real migrations, with a budgeted parent and child (so every
 * row charges two tokens, as in the daemon):
 *
 *   noop  the harness alone (subtracted from the others)
 *   a     one synchronous transaction per row (the LedgerWriter's commit called at once)
 *   b     group commit on the main thread: rows of one turn in one transaction, released after it (the
 *         LedgerWriter as it was before issue 27)
 *   c     a writer thread with its own connection, committing in groups; the main thread posts the rows of a
 *         turn and releases each one when the thread acknowledges its commit
 *   d     an append log written with one write() per row (in the OS page cache, so it survives SIGKILL):
 *         released at once; the group commit to SQLite follows on the main thread in the same turn
 *   dw    the same log, committed by a writer thread
 *   w     the log as the daemon now writes it (proxy/db/ledger-log.ts through LedgerWriter), released at
 *         once, group commit in the same turn
 *
 * At 1 settle at a time (each followed by a turn of the event loop, as the next request would be) and 50
 * settles in one turn: CPU µs per row on the main thread (/proc/self/task/<pid>/schedstat) and of the whole
 * process (process.cpuUsage, every thread), what the release of the last byte waits (p50/p99 µs), RSS.
 */
import { fork } from 'node:child_process';
import { mkdtempSync, openSync, readFileSync, rmSync, writeSync } from 'node:fs';
import { tmpdir, loadavg } from 'node:os';
import { join } from 'node:path';
import { randomUUID } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { Worker, isMainThread, parentPort, workerData } from 'node:worker_threads';
import Database from 'better-sqlite3';
import { openDatabase, type DB } from '../proxy/db/database.js';
import { ledgerStore } from '../proxy/db/ledger-store.js';
import { SidecarEvents } from '../proxy/core/events.js';
import { silentLogger } from '../proxy/core/log.js';
import type { LedgerRow } from '../proxy/core/ledger.js';
import { windowOf } from '../proxy/core/period.js';
import { HoldGuard } from '../proxy/spend/guard.js';
import { LedgerWriter } from '../proxy/pipeline/settle.js';
import { TokenStore } from '../proxy/tokens/store.js';
import { scopesFromPreset } from '../proxy/tokens/scopes.js';
import type { Token } from '../proxy/tokens/token.js';

const VARIANTS = ['noop', 'a', 'b', 'c', 'd', 'dw', 'w'] as const;
type Variant = (typeof VARIANTS)[number];
type Write = (chain: readonly Token[], row: LedgerRow) => Promise<void>;

interface Result {
  variant: Variant;
  rssMB: number;
  rssBaseMB: number;
  c1: Phase;
  c50: Phase;
}
interface Phase {
  mainUs: number;
  procUs: number;
  p50: number;
  p99: number;
}

const args = process.argv.slice(2);
const opt = (name: string, dflt: number) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? Number(args[i + 1]) : dflt;
};

function mainThreadNs(): number {
  return Number(readFileSync(`/proc/self/task/${process.pid}/schedstat`, 'utf8').split(' ')[0]);
}
const procUs = () => {
  const u = process.cpuUsage();
  return u.user + u.system;
};
const immediate = () => new Promise<void>((r) => setImmediate(r));
const pct = (xs: number[], p: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))] ?? 0;
};

function rowFor(tokenId: string): LedgerRow {
  return {
    ts: Date.now(),
    request_id: randomUUID(),
    token_id: tokenId,
    method: 'POST',
    route: '/v1/chat/completions',
    model: 'gpt-4o-mini',
    prompt_tokens: 25,
    completion_tokens: 12,
    cached_tokens: 0,
    cache_write_tokens: 0,
    reasoning_tokens: 0,
    cost_micros: 11,
    status: 200,
    latency_ms: 3,
    streamed: 0,
    usage_source: 'upstream',
    cost_source: 'price',
    error_code: null,
    error_message: null,
  };
}

// ---- the writer thread of variants c and dw: its own connection, the same statements, one transaction per message

interface ThreadRows {
  seq: number;
  rows: Array<{ row: LedgerRow; spend: Array<[string, string]> }>;
}

function writerThread(): void {
  const db = new Database((workerData as { file: string }).file, { timeout: 5000 });
  db.pragma('synchronous = NORMAL');
  const store = ledgerStore(db);
  const commit = db.transaction((m: ThreadRows) => {
    for (const { row, spend } of m.rows) {
      store.insertUsage(row);
      for (const [id, period] of spend) store.addSpend(id, period, row.cost_micros);
    }
  });
  parentPort!.on('message', (m: ThreadRows | 'stop') => {
    if (m === 'stop') {
      db.close();
      parentPort!.close();
      return;
    }
    commit(m);
    parentPort!.postMessage(m.seq);
  });
}

/** Posts the rows of a turn to a writer thread; `ack` is called with each acknowledged message's rows. */
function threadPoster(file: string, onAck: (n: number) => void) {
  const worker = new Worker(fileURLToPath(import.meta.url), { workerData: { file } });
  let seq = 0;
  let turn: ThreadRows['rows'] = [];
  const waiting = new Map<number, number>();
  worker.on('message', (s: number) => {
    onAck(waiting.get(s)!);
    waiting.delete(s);
  });
  const spendOf = (chain: readonly Token[], row: LedgerRow): Array<[string, string]> => {
    const out: Array<[string, string]> = [];
    const month = windowOf('month', row.ts).key;
    for (const t of chain) {
      const own = windowOf(t.budgetPeriod, row.ts).key;
      if (own !== month) out.push([t.id, month]);
      out.push([t.id, own]);
    }
    return out;
  };
  return {
    post(chain: readonly Token[], row: LedgerRow) {
      turn.push({ row, spend: spendOf(chain, row) });
      if (turn.length === 1) {
        setImmediate(() => {
          const m = { seq: ++seq, rows: turn };
          turn = [];
          waiting.set(m.seq, m.rows.length);
          worker.postMessage(m);
        });
      }
    },
    idle: () => waiting.size === 0 && turn.length === 0,
    async stop() {
      worker.postMessage('stop');
      await new Promise((r) => worker.once('exit', r));
    },
  };
}

// ---- one variant in this process

async function child(variant: Variant, rows: number): Promise<Result> {
  const dir = mkdtempSync(join(tmpdir(), 'sbs-ledger-bench-'));
  const db: DB = openDatabase(dir);
  db.pragma('wal_autocheckpoint = 0'); // as in the daemon: checkpoints are the maintenance worker's
  const store = new TokenStore(db, Date.now);
  const parent = store.create({ name: 'fleet', scopes: scopesFromPreset('write'), budget: 1e15 }, 'bench').token;
  const kid = store.create({ name: 'agent', scopes: scopesFromPreset('write'), budget: 1e15, parentId: parent.id }, 'bench').token;
  const chain = store.chain(kid.id);
  const events = new SidecarEvents();
  events.on('request', () => {}); // the live feed is usually watched
  const log = silentLogger();
  const guard = new HoldGuard(db, events, log);
  const rssBase = process.memoryUsage().rss;
  const file = join(dir, 'sidecar.db');
  let stop: () => Promise<void> = async () => {};
  let drained: () => boolean = () => true;
  let write: Write;

  const appendLog = () => {
    const fd = openSync(join(dir, 'ledger.log'), 'w+', 0o600);
    const size = 4 * 1024 * 1024;
    writeSync(fd, Buffer.alloc(size), 0, size, 0);
    let pos = 0;
    return (chain: readonly Token[], row: LedgerRow) => {
      const b = Buffer.from(`${JSON.stringify({ c: chain.map((t) => t.id), r: row })}\n`);
      if (pos + b.length > size) pos = 0;
      writeSync(fd, b, 0, b.length, pos);
      pos += b.length;
    };
  };

  switch (variant) {
    case 'noop':
      write = () => Promise.resolve();
      break;
    case 'a': {
      const w = new LedgerWriter(db, events, log, guard, () => {}) as unknown as { commit(b: unknown[]): void };
      write = (chain, row) => {
        w.commit([{ r: null, chain, row }]);
        return Promise.resolve();
      };
      break;
    }
    case 'b': {
      const w = new LedgerWriter(db, events, log, guard, () => {});
      write = (chain, row) => w.write(null, chain, row);
      break;
    }
    case 'c': {
      const resolvers: Array<() => void> = [];
      const t = threadPoster(file, (n) => {
        for (const r of resolvers.splice(0, n)) {
          r();
        }
      });
      stop = t.stop;
      drained = t.idle;
      write = (chain, row) =>
        new Promise((resolve) => {
          resolvers.push(() => {
            guard.recordSpend(chain, row.cost_micros, row.ts);
            events.emit('request', row as never);
            resolve();
          });
          t.post(chain, row);
        });
      break;
    }
    case 'd': {
      const append = appendLog();
      const w = new LedgerWriter(db, events, log, guard, () => {});
      write = (chain, row) => {
        append(chain, row);
        void w.write(null, chain, row);
        return Promise.resolve();
      };
      break;
    }
    case 'dw': {
      const append = appendLog();
      const t = threadPoster(file, () => {});
      stop = t.stop;
      drained = t.idle;
      write = (chain, row) => {
        append(chain, row);
        t.post(chain, row);
        return Promise.resolve();
      };
      break;
    }
    case 'w': {
      const w = new LedgerWriter(db, events, log, guard, () => {}, { file: join(dir, 'ledger.log'), chainOf: (id) => store.chain(id) });
      write = (chain, row) => w.write(null, chain, row);
      stop = async () => w.close();
      break;
    }
  }

  const phase = async (conc: number, n: number): Promise<Phase> => {
    const lat: number[] = [];
    const m0 = mainThreadNs();
    const p0 = procUs();
    for (let i = 0; i < n / conc; i++) {
      const ps: Promise<void>[] = [];
      for (let j = 0; j < conc; j++) {
        const row = rowFor(kid.id);
        const s = performance.now();
        ps.push(write(chain, row).then(() => void lat.push((performance.now() - s) * 1000)));
      }
      await Promise.all(ps);
      // The next request arrives in a later turn: whatever the variant left for after the release runs first.
      await immediate();
      await immediate();
    }
    while (!drained()) await new Promise((r) => setTimeout(r, 1));
    return { mainUs: (mainThreadNs() - m0) / 1000 / n, procUs: (procUs() - p0) / n, p50: pct(lat, 50), p99: pct(lat, 99) };
  };

  await phase(1, 500); // warm-up
  const c1 = await phase(1, rows);
  const c50 = await phase(50, rows);
  const rss = process.memoryUsage().rss;
  await stop();
  const counted = db.prepare('SELECT count(*) FROM usage').pluck().get() as number;
  if (variant !== 'noop' && counted !== 500 + 2 * rows) throw new Error(`${variant}: ${counted} rows, expected ${500 + 2 * rows}`);
  db.close();
  rmSync(dir, { recursive: true, force: true });
  return { variant, rssMB: rss / 2 ** 20, rssBaseMB: rssBase / 2 ** 20, c1, c50 };
}

async function parentRun(): Promise<void> {
  const rounds = opt('rounds', 3);
  const rows = opt('rows', 3000);
  const only = args.includes('--only') ? (args[args.indexOf('--only') + 1]!.split(',') as Variant[]) : [...VARIANTS];
  const all = new Map<Variant, Result[]>();
  const load0 = loadavg()[0]!;
  for (let r = 0; r < rounds; r++) {
    for (const v of only) {
      const res = await new Promise<Result>((resolve, reject) => {
        const c = fork(fileURLToPath(import.meta.url), ['--child', v, '--rows', String(rows)], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
        c.once('message', (m) => resolve(m as Result));
        c.once('exit', (code) => code !== 0 && reject(new Error(`${v} exited with ${code}`)));
      });
      all.set(v, [...(all.get(v) ?? []), res]);
    }
  }
  const med = (xs: number[]) => pct(xs, 50);
  const base = all.get('noop');
  const net = (v: Variant, f: (r: Result) => number) => med(all.get(v)!.map(f)) - (base && v !== 'noop' ? med(base.map(f)) : 0);
  console.log(`rounds ${rounds}, ${rows} rows per phase; load average ${load0.toFixed(1)} at start, ${loadavg()[0]!.toFixed(1)} at end`);
  console.log('variant | main µs/row @1 | process µs/row @1 | release wait p50/p99 µs @1 | main µs/row @50 | process µs/row @50 | release wait p50 µs @50 | RSS MB (+ over the db alone)');
  if (args.includes('--raw')) for (const v of only) console.log(v, JSON.stringify(all.get(v)!.map((r) => [r.c1.mainUs, r.c1.procUs, r.c50.mainUs].map((x) => Math.round(x)))));
  for (const v of only) {
    const rs = all.get(v)!;
    console.log(
      [
        v,
        net(v, (r) => r.c1.mainUs).toFixed(1),
        net(v, (r) => r.c1.procUs).toFixed(1),
        `${med(rs.map((r) => r.c1.p50)).toFixed(0)} / ${med(rs.map((r) => r.c1.p99)).toFixed(0)}`,
        net(v, (r) => r.c50.mainUs).toFixed(1),
        net(v, (r) => r.c50.procUs).toFixed(1),
        med(rs.map((r) => r.c50.p50)).toFixed(0),
        `${med(rs.map((r) => r.rssMB)).toFixed(1)} (+${med(rs.map((r) => r.rssMB - r.rssBaseMB)).toFixed(1)})`,
      ].join(' | '),
    );
  }
}

if (!isMainThread) writerThread();
else if (args[0] === '--child') {
  const res = await child(args[1] as Variant, opt('rows', 3000));
  process.send!(res);
  process.disconnect();
} else await parentRun();
