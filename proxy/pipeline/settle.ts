/**
 * Stage 11, settle: the ledger row and the spend it charges, written together.
 *
 * `LedgerWriter.write` writes the ledger row and the spend totals of the whole chain in
 * one SQLite transaction, then hands the reservation back to be released
 * (stage 7, budget.ts). Spend is kept per token for its own budget period
 * and, for every token, per month; this writer is the only one, so it also
 * keeps the committed spend in a cache the reservations read.
 *
 * With the ledger log (db/ledger-log.ts, the daemon's), a row is durable once
 * it is written there (one write(), in the page cache: a SIGKILL cannot lose
 * it), so the answer's last byte goes out then. Its SQLite commit follows
 * within COMMIT_WINDOW_MS, grouped with every row logged meanwhile: a commit
 * costs ~16 syscalls (WAL pages, locks) whatever it holds, so an agent calling
 * one request after another pays for one per window instead of one per call.
 * A logged row's spend counts from the moment it is durable (`logged`, read
 * with the committed spend by every budget check), its reservation is
 * released then, and every read of the ledger in the daemon commits what waits
 * first (ledger-store.ts `beforeRead`), so nothing the human or a budget sees
 * lags the answers. Rows a killed daemon had logged but not committed are
 * committed when the next one starts.
 */
import type { DB } from '../db/database.js';
import { LedgerLog, type LoggedRow } from '../db/ledger-log.js';
import { ledgerStore, type LedgerStore } from '../db/ledger-store.js';
import type { SidecarEvents } from '../core/events.js';
import { requestEvent, type LedgerRow } from '../core/ledger.js';
import type { Logger } from '../core/log.js';
import { formatUsd } from '../core/money.js';
import type { HoldGuard } from '../spend/guard.js';
import { periodAdjective, windowOf } from '../core/period.js';
import type { Token } from '../tokens/token.js';

/** What the writer needs of a reservation: what it held, to warn when the cost went past it. */
export interface Held {
  readonly micros: number;
}

interface Settlement<R extends Held> {
  r: R | null;
  chain: readonly Token[];
  row: LedgerRow;
  /** Logged (durable) before its commit: its spend is in `logged` until then, and its reservation, of `reserved`, is released. */
  logged?: true;
  reserved?: number;
  resolve?: () => void;
  reject?: (err: unknown) => void;
}

/**
 * How long logged rows wait for their commit, at most: long enough that a sequential agent's calls (a few
 * hundred µs apart) share one, short enough that no one would see it (a read in the daemon commits first).
 */
export const COMMIT_WINDOW_MS = 5;
/** A window commits at the end of its turn once this many rows wait (one transaction stays short). */
const COMMIT_WINDOW_ROWS = 512;

/** The daemon's ledger log: where it is, and how a logged row's chain of tokens is found again to replay it. */
export interface LedgerLogOptions {
  file: string;
  chainOf(tokenId: string): readonly Token[];
  /** How long logged rows wait for their commit (COMMIT_WINDOW_MS); 0: at the end of their turn, for readers of the database file. */
  commitWindowMs?: number;
}

/** What a write through the log returns: the row is durable, the last byte may go. */
const DURABLE = Promise.resolve();

/** What a commit wrote: the budget crossings to announce and the spend added per `period token`. */
interface Committed {
  crossings: Crossing[];
  delta: Map<string, number>;
}

interface Crossing {
  t: Token;
  kind: 'budget_80' | 'budget_100' | 'budget_overrun';
  after: number;
  period: string;
  ts: number;
  recorded?: boolean;
}

export class LedgerWriter<R extends Held> {
  /** The UTC day the cache belongs to: every period boundary is a day boundary. */
  private day = '';
  /** Committed spend by `period-key token-id`. */
  private spentCache = new Map<string, number>();
  /** Spend of logged rows not yet committed, by the same keys (counted by every budget check all the same). */
  private logged = new Map<string, number>();
  /**
   * Settlements whose write failed (disk full, read-only data dir): held with
   * their reservations (a logged row: its spend still counted in `logged`),
   * retried before any new request may reserve, so the
   * daemon fails closed (503) instead of forwarding requests it cannot meter,
   * and loses none of these rows once the disk recovers.
   */
  private unwritten: Settlement<R>[] = [];
  /** Settlements waiting for their group commit: this turn's, or the window's (logged rows). */
  private pending: Settlement<R>[] = [];
  /** Rows of `pending` whose answer waits for the commit (not logged): the commit is then this turn's. */
  private waiting = 0;
  /** A row came in this turn of the event loop: later ones of the same turn join its commit instead of the log. */
  private turnOpen = false;
  /** The window's commit, while only logged rows wait for it. */
  private due: NodeJS.Timeout | null = null;
  /** A commit is under way (a read it makes must not start another). */
  private flushing = false;
  private readonly windowMs: number;
  private readonly q;
  private readonly store: LedgerStore;
  /** Null without a data dir (tests of the budgets alone), or when the log could not be opened: every write then waits for its commit. */
  private journal: LedgerLog | null = null;
  /** The log's first refused write was reported (once: a failing disk would otherwise log every request). */
  private saidLogFailed = false;

  constructor(
    private readonly db: DB,
    private readonly events: SidecarEvents,
    private readonly log: Logger,
    private readonly guard: HoldGuard,
    /** Releases a reservation once its settlement is committed. */
    private readonly release: (r: R | null) => void,
    ledgerLog?: LedgerLogOptions,
  ) {
    this.windowMs = ledgerLog?.commitWindowMs ?? COMMIT_WINDOW_MS;
    this.store = ledgerStore(db);
    // A read of the ledger in the daemon sees every answered request: what waits for its window is committed first.
    // Never inside a transaction (a commit there would be a savepoint its rollback could take back, after the rows
    // were counted as committed): a transaction that reads spend commits what waits before it opens (spend/holds.ts).
    this.store.beforeRead(() => {
      if (this.pending.length > 0 && !this.flushing && !this.db.inTransaction) this.flush();
    });
    this.q = {
      event: db.prepare('INSERT OR IGNORE INTO events (ts, kind, token_id, period, detail) VALUES (?, ?, ?, ?, ?)'),
    };
    if (ledgerLog) this.openLog(ledgerLog);
  }

  /** Opens the ledger log and commits what a killed daemon left in it uncommitted; without it, answers wait for their commits. */
  private openLog(o: LedgerLogOptions): void {
    let found: LoggedRow[];
    try {
      ({ log: this.journal, found } = LedgerLog.open(o.file));
    } catch (err) {
      this.log.warn({ err }, 'the ledger log could not be opened; every answer waits for its ledger commit instead');
      return;
    }
    const missing = found.filter((f) => !this.store.hasRow(f.row));
    if (missing.length > 0) {
      const batch = missing.map((f) => ({ r: null, chain: o.chainOf(f.chain[0] ?? f.row.token_id), row: f.row }));
      try {
        this.settled(batch, this.commit(batch));
      } catch (err) {
        // Held like any unwritten row (new reservations get 503 until they are in); the log keeps them meanwhile.
        this.unwritten.push(...batch);
        this.log.error({ err, count: batch.length }, 'could not commit the answered requests the ledger log holds from before the restart; they are held until the disk accepts writes');
        return;
      }
      this.log.warn({ count: batch.length }, 'committed requests the last daemon had answered but not yet committed to the ledger (from the ledger log)');
    }
    this.journal!.reset();
  }

  /**
   * Writes the ledger row and charges the token and every ancestor; resolves
   * once the row is durable: written to the ledger log (the first row of a
   * turn), or committed (a row joining its turn's group commit, or without a
   * log). The reservation is released only once it is committed (so the
   * in-memory spend never runs ahead of the database). Settlements arriving in
   * the same turn of the event loop share one transaction (group commit): one
   * WAL write for a burst instead of one per request. The caller sends the
   * end of the response only after this resolves, so an acknowledged request
   * is always in the ledger, or in the log that the next start commits.
   *
   * The actual cost is charged even when it exceeds the reservation (an
   * upstream-reported cost, a prompt the tokenizer under-counted): hiding real
   * spend would be worse. Such a settlement is logged, and since spend then
   * stands at or past the budget, every later reservation against it is refused.
   */
  write(r: R | null, chain: readonly Token[], row: LedgerRow): Promise<void> {
    // A row that finds a row of this same turn before it joins that turn's group commit and waits for it: one
    // transaction for a burst costs less than a write() per row (a syscall is ~20 µs on a VM, the bench's biggest
    // cost at 50 connections). The first row of a turn goes to the log, so a lone request's last byte never waits
    // for a commit, and its commit waits for the window's; so does every row while the database refuses them.
    const joining = this.turnOpen && this.unwritten.length === 0;
    if (this.journal && !joining && this.logRow(chain, row)) {
      // Durable: its spend counts now (in `logged`, then committed), so its reservation is done with.
      this.addLogged(chain, row, 1);
      this.guard.recordSpend(chain, row.cost_micros, row.ts);
      this.pending.push(r ? { r: null, chain, row, logged: true, reserved: r.micros } : { r: null, chain, row, logged: true });
      if (r) this.release(r);
      this.openTurn();
      return DURABLE;
    }
    return new Promise((resolve, reject) => {
      this.pending.push({ r, chain, row, resolve, reject });
      this.waiting++;
      this.openTurn();
    });
  }

  /** At the end of the turn: rows waiting for their commit get it now; logged rows only the window's. */
  private openTurn(): void {
    if (this.turnOpen) return;
    this.turnOpen = true;
    setImmediate(() => {
      this.turnOpen = false;
      if (this.waiting > 0 || this.windowMs === 0 || this.pending.length >= COMMIT_WINDOW_ROWS) this.flush();
      else if (this.pending.length > 0 && !this.due) {
        this.due = setTimeout(() => this.flush(), this.windowMs);
        this.due.unref();
      }
    });
  }

  /** A logged row's spend, by the keys its commit will add it to (`sign` -1 once it is committed). */
  private addLogged(chain: readonly Token[], row: LedgerRow, sign: 1 | -1): void {
    if (row.cost_micros <= 0) return;
    for (const t of chain) {
      const { month, own } = spendWindows(t, row.ts);
      this.moveLogged(`${month} ${t.id}`, sign * row.cost_micros);
      if (own !== month) this.moveLogged(`${own} ${t.id}`, sign * row.cost_micros);
    }
  }

  private moveLogged(k: string, micros: number): void {
    const v = (this.logged.get(k) ?? 0) + micros;
    if (v === 0) this.logged.delete(k);
    else this.logged.set(k, v);
  }

  /**
   * One write() of the row to the ledger log; when the log is full, what it holds is committed now and it
   * starts again. False when it cannot take the row (a write error, or rows still uncommitted): the caller
   * then waits for the commit, as without a log.
   */
  private logRow(chain: readonly Token[], row: LedgerRow): boolean {
    const ids = chain.map((t) => t.id);
    const log = this.journal!;
    if (log.append(ids, row)) return true;
    if (log.writeError !== null && !this.saidLogFailed) {
      this.saidLogFailed = true;
      this.log.warn({ err: log.writeError }, 'the ledger log refused a write; answers now wait for their ledger commit instead (slower, as safe)');
    }
    if (!log.used) return false;
    this.flush();
    // Rows the database will not take yet (locked, full): this one is made durable past the log's pre-allocated end.
    if (this.pending.length > 0 || this.unwritten.length > 0) return log.append(ids, row, true);
    try {
      log.reset();
    } catch {
      return false;
    }
    return log.append(ids, row);
  }

  /** Commits what is pending and closes the log; a log whose rows are all committed starts empty next time. */
  close(): void {
    this.flush();
    const log = this.journal;
    if (!log) return;
    this.journal = null;
    try {
      if (this.pending.length === 0 && this.unwritten.length === 0) log.reset();
      else this.log.warn({ count: this.unwritten.length }, 'stopping with ledger rows the disk has not taken; the ledger log keeps them for the next start');
    } finally {
      log.close();
    }
  }

  /** Writes the held settlements, if any, in order; throws (the storage error, a 503 to the agent) while the disk still refuses. */
  writeHeldRows(): void {
    if (this.unwritten.length === 0) return;
    const batch = this.unwritten.map((u) => ({ ...u }));
    const committed = this.commit(batch);
    this.unwritten = [];
    this.settled(batch, committed);
    this.log.info('the ledger is writable again; held requests were recorded');
  }

  /** Spend of a token in the window `key`: committed (cached until the day changes), and logged rows waiting for their commit. */
  spentIn(tokenId: string, key: string): number {
    const k = `${key} ${tokenId}`;
    return this.committedIn(tokenId, key, k) + (this.logged.get(k) ?? 0);
  }

  /** Spend of a token in the window `key` as committed (cached until the day changes). */
  private committedIn(tokenId: string, key: string, k: string): number {
    let v = this.spentCache.get(k);
    if (v === undefined) {
      v = this.store.committedSpendOf(tokenId, key).spentMicros;
      this.spentCache.set(k, v);
    }
    return v;
  }

  /** A new day starts with an empty cache (the database keeps every period; `total` rows are simply read again). */
  roll(now: number): void {
    const d = windowOf('day', now).key;
    if (d !== this.day) {
      this.day = d;
      this.spentCache.clear();
    }
  }

  private flush(): void {
    const batch = this.pending;
    this.pending = [];
    this.waiting = 0;
    if (this.due) {
      clearTimeout(this.due);
      this.due = null;
    }
    if (batch.length === 0) return;
    let committed: Committed;
    try {
      committed = this.commit(batch);
    } catch (err) {
      // Hold what cost or reserved something (with its reservation) until the disk takes it; refusals that cost nothing are dropped.
      let answered = 0;
      for (const u of batch) {
        // (A logged row's spend stays counted in `logged` meanwhile; its reservation was released when it was logged.)
        if ((u.logged || u.r !== null || u.row.cost_micros > 0) && this.unwritten.length < 100_000) this.unwritten.push(held(u));
        // A row that waited for this commit is made durable in the log instead (past its end if need be), so its
        // answer can still go out with the row safe; only without a usable log is the caller told it failed.
        if (u.reject && !this.journal?.append(u.chain.map((t) => t.id), u.row, true)) {
          u.reject(err);
          continue;
        }
        u.resolve?.();
        answered++;
      }
      // Rows of the ledger log were answered already: nobody waits to be told, so it is said here.
      if (answered > 0) this.log.error({ err, count: answered }, 'could not commit answered requests to the ledger; they and their reservations are held (and kept in the ledger log) until the disk accepts writes again');
      return;
    }
    this.settled(batch, committed);
    for (const u of batch) u.resolve?.();
  }

  /**
   * What follows a commit. Only the transaction decides whether a row is held: a failure after it must never send
   * a committed batch back to be written (and charged) again, so it is logged here and goes no further.
   */
  private settled(batch: readonly Settlement<R>[], committed: Committed): void {
    try {
      this.afterCommit(batch, committed);
    } catch (err) {
      this.log.error({ err, count: batch.length }, 'committed ledger rows, but what follows a commit (caches, reservations, events) failed');
    }
  }

  /** One transaction for all of `batch`. Throws if the write fails. */
  private commit(batch: readonly Settlement<R>[]): Committed {
    const crossings: Crossing[] = [];
    const delta = new Map<string, number>();
    // No read it makes may start another commit (every path in: the window's, a held batch's, a replay's).
    const outer = this.flushing;
    this.flushing = true;
    try {
      this.db.transaction(() => {
        for (const { chain, row } of batch) {
          // ledgerRow() sets every column, so the row binds as it is (no copy per settlement).
          this.store.insertUsage(row);
          if (row.cost_micros <= 0) continue;
          for (const t of chain) {
            const { month, own: period } = spendWindows(t, row.ts);
            if (period !== month) this.addSpend(t.id, month, row.cost_micros, delta);
            const { before, after } = this.addSpend(t.id, period, row.cost_micros, delta);
            const budget = t.budget;
            if (budget !== null && budget > 0) {
              // after / budget >= 80%, in integers: 0.8 × budget is not exact in floating point.
              if (before * 5 < budget * 4 && after * 5 >= budget * 4) crossings.push({ t, kind: 'budget_80', after, period, ts: row.ts });
              if (before < budget && after >= budget) crossings.push({ t, kind: 'budget_100', after, period, ts: row.ts });
              if (before <= budget && after > budget) crossings.push({ t, kind: 'budget_overrun', after, period, ts: row.ts });
            }
          }
        }
        // One event per kind, token and period (UNIQUE): only a row really inserted is announced.
        for (const c of crossings) {
          c.recorded = this.q.event.run(c.ts, c.kind, c.t.id, c.period, JSON.stringify({ spent_micros: c.after, budget_micros: c.t.budget })).changes === 1;
        }
      })();
    } finally {
      this.flushing = outer;
    }
    return { crossings, delta };
  }

  /** Committed: now the cache, then the rolling hours of hold rates, then the reservations, logs and events. */
  private afterCommit(batch: readonly Settlement<R>[], { crossings, delta }: Committed): void {
    for (const [k, d] of delta) {
      const [period, id] = k.split(' ') as [string, string];
      this.spentCache.set(k, this.committedIn(id, period, k) + d);
    }
    for (const { chain, row, logged } of batch) {
      // A logged row's spend moves from `logged` to the committed cache; its hour's spend was recorded when it was logged.
      if (logged) this.addLogged(chain, row, -1);
      else this.guard.recordSpend(chain, row.cost_micros, row.ts);
    }
    const emitRequests = this.events.listenerCount('request') > 0;
    for (const { r, row, reserved } of batch) {
      const was = reserved ?? r?.micros ?? 0;
      if (was > 0 && row.cost_micros > was) {
        this.log.warn(
          { requestId: row.request_id, tokenId: row.token_id, reservedMicros: was, costMicros: row.cost_micros, model: row.model },
          'a request cost more than its reservation; the actual cost was charged',
        );
      }
      // None for rows replayed at start (reservations do not outlive a daemon), before the budgets exist.
      if (r) this.release(r);
      if (emitRequests) {
        this.events.emit('request', requestEvent(row));
      }
    }
    for (const c of crossings) this.announce(c);
  }

  /** A budget crossing really recorded: logged, and (but for an overrun, which refusals already show) published. */
  private announce(c: Crossing): void {
    if (!c.recorded) return;
    const fields = { tokenId: c.t.id, period: c.period, spentMicros: c.after, budgetMicros: c.t.budget };
    if (c.kind === 'budget_overrun') {
      this.log.warn(fields, `spend of ${c.t.id} passed its ${periodAdjective(c.t.budgetPeriod)} budget (${formatUsd(c.after)} of ${formatUsd(c.t.budget)}); further requests are refused`);
      return;
    }
    this.log.warn(fields, `token ${c.t.id} reached ${c.kind === 'budget_80' ? '80%' : '100%'} of its ${periodAdjective(c.t.budgetPeriod)} budget (${formatUsd(c.after)} of ${formatUsd(c.t.budget)})`);
    this.events.emit('budget', { kind: c.kind, token_id: c.t.id, period: c.period, spent_micros: c.after, budget_micros: c.t.budget! });
  }

  /** Adds to a spend row inside the commit's transaction; `delta` carries what is not yet in the cache. */
  private addSpend(tokenId: string, key: string, micros: number, delta: Map<string, number>): { before: number; after: number } {
    const k = `${key} ${tokenId}`;
    const before = this.committedIn(tokenId, key, k) + (delta.get(k) ?? 0);
    delta.set(k, (delta.get(k) ?? 0) + micros);
    this.store.addSpend(tokenId, key, micros);
    return { before, after: before + micros };
  }
}

/** A settlement as it is held while the disk refuses it (without whoever waited to be told). */
function held<R extends Held>(u: Settlement<R>): Settlement<R> {
  const { resolve: _told, reject: _failed, ...h } = u;
  return h;
}

/**
 * The spend windows a row's cost goes to for token `t`: every token's month (what the views of the month read),
 * and its own budget period's, when that differs. A commit and the logged spend use the same ones.
 */
function spendWindows(t: Token, ts: number): { month: string; own: string } {
  return { month: windowOf('month', ts).key, own: windowOf(t.budgetPeriod, ts).key };
}
