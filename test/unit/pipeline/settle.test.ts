/**
 * The ledger writer with the daemon's ledger log (settle.ts over
 * db/ledger-log.ts), on a real SQLite file: a settled row is durable, and the
 * last byte may go, before its commit; the commit follows in the same turn,
 * grouped; the reservation is released only after it; and the files as a
 * SIGKILL would leave them before that commit give, at the next start, every
 * row exactly once with its spend.
 */
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { SidecarEvents } from '../../../proxy/core/events.js';
import type { LedgerRow } from '../../../proxy/core/ledger.js';
import { silentLogger } from '../../../proxy/core/log.js';
import { windowOf } from '../../../proxy/core/period.js';
import { DB_FILE, openDatabase, type DB } from '../../../proxy/db/database.js';
import { LEDGER_LOG_FILE, LedgerLog } from '../../../proxy/db/ledger-log.js';
import { ledgerStore } from '../../../proxy/db/ledger-store.js';
import type { Budgets } from '../../../proxy/pipeline/budget.js';
import { createBudgets } from '../../../proxy/server/deps.js';
import { scopesFromPreset } from '../../../proxy/tokens/scopes.js';
import { TokenStore, type Token } from '../../../proxy/tokens/store.js';

const NOW = Date.UTC(2031, 4, 10, 12);
const MONTH = windowOf('month', NOW).key;

let dirs: string[];
let db: DB;
let dir: string;
let tokens: TokenStore;
let parent: Token;
let kid: Token;
let opened: Array<{ db: DB; budgets: Budgets }>;

beforeEach(() => {
  dirs = [];
  opened = [];
  dir = newDir();
  db = openDatabase(dir);
  tokens = new TokenStore(db, () => NOW);
  parent = tokens.create({ name: 'fleet', scopes: scopesFromPreset('write'), budget: 10_000_000 }, 'test').token;
  kid = tokens.create({ name: 'agent', scopes: scopesFromPreset('write'), budget: 5_000_000, parentId: parent.id }, 'test').token;
});
afterEach(() => {
  for (const o of opened) {
    o.budgets.close();
    o.db.close();
  }
  db.close();
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

function newDir(): string {
  const d = mkdtempSync(join(tmpdir(), 'sbs-settle-'));
  dirs.push(d);
  return d;
}

/** The daemon's budgets over `d`'s database, with its ledger log (as server/deps.ts builds them). */
/** The daemon's budgets on `d`; its logged rows commit at the end of their turn unless `windowMs` says otherwise. */
function daemonBudgets(d: string, onDb?: DB, windowMs = 0): { db: DB; budgets: Budgets; events: SidecarEvents } {
  const conn = onDb ?? openDatabase(d);
  const store = onDb ? tokens : new TokenStore(conn, () => NOW);
  const events = new SidecarEvents();
  const budgets = createBudgets(conn, events, silentLogger(), { file: join(d, LEDGER_LOG_FILE), chainOf: (id) => store.chain(id), commitWindowMs: windowMs });
  if (!onDb) opened.push({ db: conn, budgets });
  return { db: conn, budgets, events };
}

let seq = 0;
function row(cost: number): LedgerRow {
  return {
    ts: NOW,
    request_id: `req-${++seq}`,
    token_id: kid.id,
    method: 'POST',
    route: '/v1/chat/completions',
    model: 'gpt-4o-mini',
    prompt_tokens: 10,
    completion_tokens: 5,
    cached_tokens: 0,
    cache_write_tokens: 0,
    reasoning_tokens: 0,
    cost_micros: cost,
    status: 200,
    latency_ms: 3,
    streamed: 0,
    usage_source: 'upstream',
    cost_source: 'price',
    error_code: null,
    error_message: null,
  };
}

const rowsIn = (conn: DB) => conn.prepare('SELECT request_id, cost_micros FROM usage ORDER BY id').all() as Array<{ request_id: string; cost_micros: number }>;
const spentIn = (conn: DB, id: string) => (conn.prepare('SELECT spent_micros FROM spend WHERE token_id = ? AND period = ?').pluck().get(id, MONTH) as number | undefined) ?? 0;
const turn = () => new Promise<void>((r) => setImmediate(r));

/** The data dir's files as they are this instant: what a SIGKILL now would leave (the page cache is the file). */
function snapshot(from: string): string {
  const to = newDir();
  mkdirSync(to, { recursive: true });
  for (const f of [DB_FILE, `${DB_FILE}-wal`, LEDGER_LOG_FILE]) if (existsSync(join(from, f))) copyFileSync(join(from, f), join(to, f));
  return to;
}

describe('the ledger writer with the ledger log', () => {
  it('resolves the first row of a turn before the commit (its spend counted, its reservation done), commits the turn together after it (the rest joining it), and releases their reservations only then', async () => {
    const { budgets, events } = daemonBudgets(dir, db);
    const committed: string[] = [];
    events.on('request', (e) => committed.push(e.request_id));
    const chain = tokens.chain(kid.id);
    const rs = [budgets.reserve(chain, 1000, NOW), budgets.reserve(chain, 1000, NOW), budgets.reserve(chain, 1000, NOW)];
    const [first, ...rest] = rs.map((r, i) => budgets.record(r, chain, row(100 * (i + 1))));
    let restDone = false;
    void Promise.all(rest).then(() => (restDone = true));
    await first;
    // The first is durable in the log, answered: not yet in SQLite, but its cost counts and its reservation is done
    // with. The others wait for the commit, reserved.
    expect(rowsIn(db)).toHaveLength(0);
    expect(committed).toEqual([]);
    expect(budgets.reservedFor(kid.id)).toBe(2000);
    expect(budgets.spent(kid.id, NOW)).toBe(100);
    expect(budgets.spent(parent.id, NOW)).toBe(100);
    expect(restDone).toBe(false);
    await Promise.all(rest);
    expect(rowsIn(db).map((r) => r.cost_micros)).toEqual([100, 200, 300]);
    // Only the first went to the log: one write() for the turn, not one per row.
    const peek = LedgerLog.open(join(dir, LEDGER_LOG_FILE));
    expect(peek.found).toHaveLength(1);
    peek.log.close();
    expect(committed).toHaveLength(3);
    expect(budgets.reservedFor(kid.id)).toBe(0);
    expect(budgets.spent(kid.id, NOW)).toBe(600);
    expect(spentIn(db, parent.id)).toBe(600);
    budgets.close();
  });

  it('killed before the commit: the next start commits every answered row exactly once, with its spend up the chain', async () => {
    const { budgets } = daemonBudgets(dir, db);
    const chain = tokens.chain(kid.id);
    await budgets.record(null, chain, row(1000));
    await turn(); // committed, still in the log's current generation
    const answered = row(10);
    await budgets.record(null, chain, answered);
    const killed = snapshot(dir);
    expect(rowsIn(db)).toHaveLength(1); // the kill came before the turn's commit

    const restarted = daemonBudgets(killed);
    const ids = rowsIn(restarted.db).map((r) => r.request_id);
    expect(ids).toHaveLength(2);
    expect(new Set(ids).size).toBe(2);
    expect(ids).toContain(answered.request_id);
    expect(spentIn(restarted.db, kid.id)).toBe(1010);
    expect(spentIn(restarted.db, parent.id)).toBe(1010);
    expect(restarted.budgets.spent(parent.id, NOW)).toBe(1010);

    // Started again (and once more after a kill right at start): nothing is committed twice.
    const again = daemonBudgets(snapshot(killed));
    expect(rowsIn(again.db)).toHaveLength(2);
    expect(spentIn(again.db, parent.id)).toBe(1010);
    budgets.close();
  });

  it('when the log is full, commits what it holds and starts it again; a later kill replays only the rows after', async () => {
    const { budgets } = daemonBudgets(dir, db);
    const chain = tokens.chain(kid.id);
    // More rows than the 1 MiB log holds, one a turn (each the first of its turn, so each logged).
    for (let i = 0; i < 4000; i++) {
      await budgets.record(null, chain, row(1));
      await turn();
    }
    expect(rowsIn(db)).toHaveLength(4000);
    await budgets.record(null, chain, row(7));
    expect(rowsIn(db)).toHaveLength(4000); // answered from the log, started again, not yet committed
    const restarted = daemonBudgets(snapshot(dir));
    expect(rowsIn(restarted.db)).toHaveLength(4001);
    expect(spentIn(restarted.db, kid.id)).toBe(4007);
    budgets.close();
  });

  it('a disk that refuses the commit: the answered rows are held, their spend still counted, new reservations are refused, and they are written once it accepts', async () => {
    const { budgets } = daemonBudgets(dir, db);
    const chain = tokens.chain(kid.id);
    const r = budgets.reserve(chain, 500, NOW);
    const free = budgets.reserve(chain, 50, NOW);
    db.pragma(`max_page_count = ${db.pragma('page_count', { simple: true }) as number}`);
    const filler = db.prepare("INSERT INTO usage (ts, request_id, token_id, method, route, status, latency_ms) VALUES (0, '', 'tok_filler000000000000', 'POST', ?, 200, 0)");
    for (const size of [2000, 200, 20, 0]) {
      try {
        for (;;) filler.run('x'.repeat(size));
      } catch {
        /* full */
      }
    }
    await budgets.record(r, chain, row(400)); // durable in the log: the answer goes
    await turn();
    await budgets.record(free, chain, row(0)); // an answered request that cost nothing (an upstream 5xx) is held too
    await turn();
    // Its reservation is done with (it was logged); its cost stays counted until the disk takes the row.
    expect(budgets.reservedFor(kid.id)).toBe(0);
    expect(budgets.spent(kid.id, NOW)).toBe(400);
    expect(() => budgets.reserve(chain, 1, NOW)).toThrow(/disk/);
    db.prepare("DELETE FROM usage WHERE token_id = 'tok_filler000000000000'").run();
    db.pragma('max_page_count = 1073741823');
    budgets.reserve(chain, 1, NOW);
    expect(rowsIn(db).map((x) => x.cost_micros)).toEqual([400, 0]);
    expect(budgets.reservedFor(kid.id)).toBe(1);
    expect(budgets.spent(kid.id, NOW)).toBe(400);
    expect(spentIn(db, kid.id)).toBe(400);
    budgets.close();
  });

  it('a shutdown commits what is pending and leaves an empty log: the next start replays nothing', async () => {
    const d = newDir();
    const first = daemonBudgets(d);
    const store = new TokenStore(first.db, () => NOW);
    const p = store.create({ name: 'p', scopes: scopesFromPreset('write'), budget: 1_000_000 }, 'test').token;
    const rowOf = (cost: number) => ({ ...row(cost), token_id: p.id });
    await first.budgets.record(null, [p], rowOf(3));
    const joined = first.budgets.record(null, [p], rowOf(4));
    first.budgets.close(); // before the turn's commit
    await joined;
    expect(rowsIn(first.db)).toHaveLength(2);
    const peek = LedgerLog.open(join(d, LEDGER_LOG_FILE));
    expect(peek.found).toEqual([]);
    peek.log.close();
    const next = daemonBudgets(snapshot(d));
    expect(rowsIn(next.db)).toHaveLength(2);
    expect(spentIn(next.db, p.id)).toBe(7);
  });

  it('with a commit window, rows logged one a turn wait for one commit, counted all the while; a read of the ledger commits them first', async () => {
    const { budgets, events } = daemonBudgets(dir, db, 60_000);
    const committed: string[] = [];
    events.on('request', (e) => committed.push(e.request_id));
    const chain = tokens.chain(kid.id);
    for (const cost of [100, 200, 300]) {
      const r = budgets.reserve(chain, 1000, NOW);
      await budgets.record(r, chain, row(cost));
      await turn();
    }
    // Three answers, no commit yet: every budget check sees them all the same, and nothing is reserved.
    expect(rowsIn(db)).toHaveLength(0);
    expect(committed).toEqual([]);
    expect(budgets.spent(kid.id, NOW)).toBe(600);
    expect(budgets.spent(parent.id, NOW)).toBe(600);
    expect(budgets.reservedFor(kid.id)).toBe(0);
    expect(() => budgets.reserve(chain, 5_000_000 - 600 + 1, NOW)).toThrow(/Budget exhausted/);
    budgets.release(budgets.reserve(chain, 5_000_000 - 600, NOW));
    // A read through the ledger store (the admin API's, the views') commits what waits first, in one transaction.
    expect(ledgerStore(db).totalsSince(0)).toEqual({ micros: 600, requests: 3 });
    expect(rowsIn(db).map((x) => x.cost_micros)).toEqual([100, 200, 300]);
    expect(committed).toHaveLength(3);
    expect(spentIn(db, parent.id)).toBe(600);
    expect(budgets.spent(parent.id, NOW)).toBe(600);
    budgets.close();
  });

  it('with a commit window, the window\'s end commits the rows nobody read; a kill before it loses none', async () => {
    const { budgets } = daemonBudgets(dir, db, 20);
    const chain = tokens.chain(kid.id);
    await budgets.record(null, chain, row(10));
    await turn();
    await budgets.record(null, chain, row(20));
    const killed = snapshot(dir);
    expect(rowsIn(db)).toHaveLength(0);
    await vi.waitFor(() => expect(rowsIn(db).map((x) => x.cost_micros)).toEqual([10, 20]), { interval: 5 });
    expect(spentIn(db, kid.id)).toBe(30);
    // Killed inside the window: the next start commits both from the log.
    const restarted = daemonBudgets(killed);
    expect(rowsIn(restarted.db).map((x) => x.cost_micros)).toEqual([10, 20]);
    expect(spentIn(restarted.db, parent.id)).toBe(30);
    budgets.close();
  });

  it('with a commit window, a read inside another transaction commits nothing (its rollback cannot take back counted rows)', async () => {
    const { budgets } = daemonBudgets(dir, db, 60_000);
    const chain = tokens.chain(kid.id);
    await budgets.record(null, chain, row(70));
    await turn();
    expect(() =>
      db.transaction(() => {
        ledgerStore(db).totalsSince(0);
        throw new Error('rolled back');
      })(),
    ).toThrow('rolled back');
    // Still waiting, still counted; the next read outside a transaction commits it.
    expect(budgets.spent(kid.id, NOW)).toBe(70);
    expect(ledgerStore(db).totalsSince(0)).toEqual({ micros: 70, requests: 1 });
    expect(rowsIn(db).map((x) => x.cost_micros)).toEqual([70]);
    expect(spentIn(db, kid.id)).toBe(70);
    budgets.close();
  });

  it('without a usable log, every write waits for its commit, as before', async () => {
    mkdirSync(join(dir, LEDGER_LOG_FILE)); // a directory where the file should be
    const { budgets } = daemonBudgets(dir, db);
    const chain = tokens.chain(kid.id);
    await budgets.record(null, chain, row(5));
    expect(rowsIn(db)).toHaveLength(1);
    budgets.close();
  });
});
