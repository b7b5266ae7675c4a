/**
 * Stages 7 and 11, reserve and settle: budgets that cannot be overspent.
 *
 * `reserve` is one synchronous check-and-reserve against the token and every
 * ancestor with a budget or a hold threshold (Node runs it without
 * interleaving, so concurrent requests cannot both take the last dollar, and
 * a hold trips exactly: see spend/guard.ts). Each budget is per its own period
 * (day, week, month, or total: prepaid, never reset); spend is kept per
 * token for its period and, for every token, per month. `settle` writes the ledger row
 * and the spend totals of the whole chain in one SQLite transaction, then
 * releases the reservation. Reservations live in memory only, so none can
 * outlive its request or the daemon.
 */
import type { DB } from '../db/database.js';
import { paymentRequired } from '../core/errors.js';
import type { SidecarEvents } from '../core/events.js';
import { requestEvent, type LedgerRow } from '../core/ledger.js';
import { silentLogger, type Logger } from '../core/log.js';
import { formatUsd } from '../core/money.js';
import { HoldGuard } from '../spend/guard.js';
import { periodAdjective, resetSentence, windowOf, type BudgetPeriod } from '../spend/period.js';
import type { Token, TokenHold } from '../tokens/token.js';

export interface Reservation {
  readonly chain: readonly Token[];
  readonly micros: number;
  readonly period: string;
  released: boolean;
}

export interface Remaining {
  /** The tightest limit in the chain, or null when nothing in it has a budget. */
  tokenId: string | null;
  remainingMicros: number | null;
  budgetMicros: number | null;
  /** The tightest budget's period and when it resets (null for `total`, or without a budget). */
  period: BudgetPeriod | null;
  resetsAt: number | null;
}

interface Settlement {
  r: Reservation | null;
  chain: readonly Token[];
  row: LedgerRow;
  resolve?: () => void;
  reject?: (err: unknown) => void;
}

interface Crossing {
  t: Token;
  kind: 'budget_80' | 'budget_100' | 'budget_overrun';
  after: number;
  recorded?: boolean;
}

export class Budgets {
  /** The UTC day the cache belongs to: every period boundary is a day boundary. */
  private day = '';
  /** Committed spend by `period-key token-id`. */
  private spentCache = new Map<string, number>();
  private readonly guard: HoldGuard;
  private reserved = new Map<string, number>();
  /**
   * Settlements whose write failed (disk full, read-only data dir): held with
   * their reservations, retried before any new request may reserve, so the
   * daemon fails closed (503) instead of forwarding requests it cannot meter,
   * and loses none of these rows once the disk recovers.
   */
  private unwritten: Settlement[] = [];
  /** Settlements waiting for this turn's group commit. */
  private pending: Settlement[] = [];
  private readonly q;

  constructor(
    private readonly db: DB,
    private readonly events: SidecarEvents,
    private readonly log: Logger = silentLogger(),
  ) {
    this.guard = new HoldGuard(db, events, log);
    this.q = {
      spent: db.prepare('SELECT spent_micros FROM spend WHERE token_id = ? AND period = ?').pluck(),
      insertUsage: db.prepare(`INSERT INTO usage (ts, request_id, token_id, method, route, model, prompt_tokens, completion_tokens, cached_tokens, cache_write_tokens, reasoning_tokens,
          cost_micros, status, latency_ms, streamed, usage_source, cost_source, error_code, error_message)
        VALUES (@ts, @request_id, @token_id, @method, @route, @model, @prompt_tokens, @completion_tokens, @cached_tokens, @cache_write_tokens, @reasoning_tokens,
          @cost_micros, @status, @latency_ms, @streamed, @usage_source, @cost_source, @error_code, @error_message)`),
      addSpend: db.prepare(`INSERT INTO spend (token_id, period, spent_micros, requests) VALUES (?, ?, ?, 1)
        ON CONFLICT(token_id, period) DO UPDATE SET spent_micros = spent_micros + excluded.spent_micros, requests = requests + 1`),
      event: db.prepare('INSERT OR IGNORE INTO events (ts, kind, token_id, period, detail) VALUES (?, ?, ?, ?, ?)'),
    };
  }

  /** Spend of a token in the `period` window containing `now`, the month by default (cached; only this process writes spend). */
  spent(tokenId: string, now: number, period: BudgetPeriod = 'month'): number {
    this.roll(now);
    return this.spentIn(tokenId, windowOf(period, now).key);
  }

  /** Spend of a token in its own budget period. */
  periodSpent(t: Token, now: number): number {
    return this.spent(t.id, now, t.budgetPeriod);
  }

  /** The hold in force on a token (as this daemon knows it, ahead of its stored snapshot). */
  holdOf(t: Token): TokenHold | null {
    return this.guard.holdOf(t);
  }

  reservedFor(tokenId: string): number {
    return this.reserved.get(tokenId) ?? 0;
  }

  /** What is left for a principal: the tightest of itself and its ancestors. */
  remaining(chain: readonly Token[], now: number): Remaining {
    let best: Remaining = { tokenId: null, remainingMicros: null, budgetMicros: null, period: null, resetsAt: null };
    for (const t of chain) {
      if (t.monthlyBudget === null) continue;
      const left = t.monthlyBudget - this.periodSpent(t, now) - this.reservedFor(t.id);
      if (best.remainingMicros === null || left < best.remainingMicros) {
        best = { tokenId: t.id, remainingMicros: left, budgetMicros: t.monthlyBudget, period: t.budgetPeriod, resetsAt: windowOf(t.budgetPeriod, now).end };
      }
    }
    return best;
  }

  /**
   * Reserves `micros` against every budget in the chain, or throws 402 naming
   * the budget that cannot take it (and when it resets), or 402
   * `spend_approval_required` when a token in the chain is on hold or this
   * reservation would take it past a hold threshold (which puts it on hold).
   * A request whose worst case is unknown (0) still needs something left.
   * `cheaper` is what the agent can change to make the request cheaper (estimate.ts's `cheaperHint`), null when nothing can.
   */
  reserve(chain: readonly Token[], micros: number, now: number, cheaper: string | null = 'Lower max_tokens'): Reservation {
    if (this.unwritten.length > 0) this.writeHeldRows();
    this.roll(now);
    this.guard.refuseIfHeld(chain);
    for (const t of chain) {
      if (t.monthlyBudget === null) continue;
      const used = this.periodSpent(t, now) + this.reservedFor(t.id);
      const fits = micros > 0 ? used + micros <= t.monthlyBudget : used < t.monthlyBudget;
      if (!fits) {
        const adj = periodAdjective(t.budgetPeriod);
        const whose = t.id === chain[0]!.id ? `this token's ${adj} budget (${t.id})` : `the ${adj} budget of its ancestor ${t.name} (${t.id})`;
        const left = Math.max(0, t.monthlyBudget - used);
        const raise = t.budgetPeriod === 'total' ? 'ask the human to top it up' : 'ask the human to raise the budget';
        throw paymentRequired(
          'budget_exhausted',
          `Budget exhausted: ${whose} is ${formatUsd(t.monthlyBudget)} with ${formatUsd(left)} left, and this request may cost up to ${formatUsd(micros)}. ` +
            `${resetSentence(t.budgetPeriod, now, t.id)} ${cheaper ? `${cheaper}, or ${raise}` : `Nothing in the request can make it cheaper: ${raise}`}.`,
        );
      }
    }
    this.guard.check(chain, micros, now, (t) => this.periodSpent(t, now), (id) => this.reservedFor(id));
    const tracked = chain.filter((t) => t.monthlyBudget !== null || HoldGuard.watches(t));
    for (const t of tracked) this.reserved.set(t.id, this.reservedFor(t.id) + micros);
    return { chain: tracked, micros, period: windowOf('month', now).key, released: false };
  }

  /** Lowers a held reservation to `micros` (an exact count replacing an upper bound); never raises one. */
  shrink(r: Reservation, micros: number): void {
    if (r.released || micros >= r.micros) return;
    for (const t of r.chain) this.reserved.set(t.id, this.reservedFor(t.id) - r.micros + micros);
    (r as { micros: number }).micros = micros;
  }

  release(r: Reservation | null): void {
    if (!r || r.released) return;
    r.released = true;
    for (const t of r.chain) {
      const left = this.reservedFor(t.id) - r.micros;
      if (left <= 0) this.reserved.delete(t.id);
      else this.reserved.set(t.id, left);
    }
  }

  /**
   * Writes the ledger row and charges the token and every ancestor; resolves
   * once that is committed, and only then is the reservation released (so the
   * in-memory spend never runs ahead of the database). Settlements arriving in
   * the same turn of the event loop share one transaction (group commit): one
   * WAL write for a burst instead of one per request. The caller sends the
   * end of the response only after this resolves, so an acknowledged request
   * is always in the ledger.
   *
   * The actual cost is charged even when it exceeds the reservation (an
   * upstream-reported cost, a prompt the tokenizer under-counted): hiding real
   * spend would be worse. Such a settlement is logged, and since spend then
   * stands at or past the budget, every later reservation against it is refused.
   */
  settle(r: Reservation | null, chain: readonly Token[], row: LedgerRow): Promise<void> {
    return new Promise((resolve, reject) => {
      this.pending.push({ r, chain, row, resolve, reject });
      if (this.pending.length === 1) setImmediate(() => this.flush());
    });
  }

  private flush(): void {
    const batch = this.pending;
    this.pending = [];
    if (batch.length === 0) return;
    try {
      this.commit(batch);
    } catch (err) {
      // Hold what cost or reserved something (with its reservation) until the disk takes it; refusals that cost nothing are dropped.
      for (const u of batch) {
        if ((u.r !== null || u.row.cost_micros > 0) && this.unwritten.length < 100_000) this.unwritten.push({ r: u.r, chain: u.chain, row: u.row });
        u.reject?.(err);
      }
      return;
    }
    for (const u of batch) u.resolve?.();
  }

  /** One transaction for all of `batch`; after the commit, caches, reservations, logs and events follow. Throws if the write fails. */
  private commit(batch: readonly Settlement[]): void {
    const crossings: Array<Crossing & { period: string; ts: number }> = [];
    const delta = new Map<string, number>();
    this.db.transaction(() => {
      for (const { chain, row } of batch) {
        this.q.insertUsage.run({ ...row, error_message: row.error_message ?? null });
        if (row.cost_micros <= 0) continue;
        const month = windowOf('month', row.ts).key;
        for (const t of chain) {
          // Every token's month (what the views of the month read), and the token's own period when that differs.
          const own = windowOf(t.budgetPeriod, row.ts).key;
          if (own !== month) this.addSpend(t.id, month, row.cost_micros, delta);
          const period = own;
          const { before, after } = this.addSpend(t.id, own, row.cost_micros, delta);
          const budget = t.monthlyBudget;
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
        c.recorded = this.q.event.run(c.ts, c.kind, c.t.id, c.period, JSON.stringify({ spent_micros: c.after, budget_micros: c.t.monthlyBudget })).changes === 1;
      }
    })();
    // Committed: now the cache, then the rolling hours of hold rates, then the reservations.
    for (const [k, d] of delta) {
      const [period, id] = k.split(' ') as [string, string];
      this.spentCache.set(k, this.spentIn(id, period) + d);
    }
    for (const { chain, row } of batch) this.guard.recordSpend(chain, row.cost_micros, row.ts);
    const emitRequests = this.events.listenerCount('request') > 0;
    for (const { r, row } of batch) {
      if (r && r.micros > 0 && row.cost_micros > r.micros) {
        this.log.warn(
          { requestId: row.request_id, tokenId: row.token_id, reservedMicros: r.micros, costMicros: row.cost_micros, model: row.model },
          'a request cost more than its reservation; the actual cost was charged',
        );
      }
      this.release(r);
      if (emitRequests) {
        this.events.emit('request', requestEvent(row));
      }
    }
    for (const c of crossings) {
      if (!c.recorded) continue;
      const fields = { tokenId: c.t.id, period: c.period, spentMicros: c.after, budgetMicros: c.t.monthlyBudget };
      if (c.kind === 'budget_overrun') {
        this.log.warn(fields, `spend of ${c.t.id} passed its ${periodAdjective(c.t.budgetPeriod)} budget (${formatUsd(c.after)} of ${formatUsd(c.t.monthlyBudget)}); further requests are refused`);
        continue;
      }
      this.log.warn(fields, `token ${c.t.id} reached ${c.kind === 'budget_80' ? '80%' : '100%'} of its ${periodAdjective(c.t.budgetPeriod)} budget (${formatUsd(c.after)} of ${formatUsd(c.t.monthlyBudget)})`);
      this.events.emit('budget', { kind: c.kind, token_id: c.t.id, period: c.period, spent_micros: c.after, budget_micros: c.t.monthlyBudget! });
    }
  }

  /** Adds to a spend row inside the commit's transaction; `delta` carries what is not yet in the cache. */
  private addSpend(tokenId: string, key: string, micros: number, delta: Map<string, number>): { before: number; after: number } {
    const k = `${key} ${tokenId}`;
    const before = this.spentIn(tokenId, key) + (delta.get(k) ?? 0);
    delta.set(k, (delta.get(k) ?? 0) + micros);
    this.q.addSpend.run(tokenId, key, micros);
    return { before, after: before + micros };
  }

  /** Spend of a token in the window `key` as committed (cached until the day changes). */
  private spentIn(tokenId: string, key: string): number {
    const k = `${key} ${tokenId}`;
    let v = this.spentCache.get(k);
    if (v === undefined) {
      v = (this.q.spent.get(tokenId, key) as number | undefined) ?? 0;
      this.spentCache.set(k, v);
    }
    return v;
  }

  /** Writes the held settlements in order; throws (the storage error, a 503 to the agent) while the disk still refuses. */
  private writeHeldRows(): void {
    this.commit(this.unwritten.map((u) => ({ ...u })));
    this.unwritten = [];
    this.log.info('the ledger is writable again; held requests were recorded');
  }

  /** A new day starts with an empty cache (the database keeps every period; `total` rows are simply read again). */
  private roll(now: number): void {
    const d = windowOf('day', now).key;
    if (d !== this.day) {
      this.day = d;
      this.spentCache.clear();
    }
  }
}
