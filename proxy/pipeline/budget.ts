/**
 * Stage 7, reserve: budgets that cannot be overspent.
 *
 * `reserve` is one synchronous check-and-reserve against the token and every
 * ancestor with a budget or a hold threshold (Node runs it without
 * interleaving, so concurrent requests cannot both take the last dollar, and
 * a hold trips exactly: see spend/guard.ts). Each budget is per its own period
 * (day, week, month, or total: prepaid, never reset). Stage 11, settle
 * (settle.ts), writes the ledger row and the spend, and only then releases
 * the reservation. Reservations live in memory only, so none can outlive its
 * request or the daemon.
 */
import { paymentRequired } from '../core/errors.js';
import type { LedgerRow } from '../core/ledger.js';
import { formatUsd } from '../core/money.js';
import { HoldGuard } from '../spend/guard.js';
import { periodAdjective, resetSentence, windowOf, type BudgetPeriod } from '../core/period.js';
import type { Token, TokenHold } from '../tokens/token.js';
import type { LedgerWriter } from './settle.js';

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

export class Budgets {
  private reserved = new Map<string, number>();

  /** Both are built by whoever assembles the daemon (server/deps.ts `createBudgets`); the writer releases through `release`. */
  constructor(
    private readonly guard: HoldGuard,
    private readonly ledger: LedgerWriter<Reservation>,
  ) {}

  /** Spend of a token in the `period` window containing `now`, the month by default (cached; only this process writes spend). */
  spent(tokenId: string, now: number, period: BudgetPeriod = 'month'): number {
    this.ledger.roll(now);
    return this.ledger.spentIn(tokenId, windowOf(period, now).key);
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
      if (t.budget === null) continue;
      const left = t.budget - this.periodSpent(t, now) - this.reservedFor(t.id);
      if (best.remainingMicros === null || left < best.remainingMicros) {
        best = { tokenId: t.id, remainingMicros: left, budgetMicros: t.budget, period: t.budgetPeriod, resetsAt: windowOf(t.budgetPeriod, now).end };
      }
    }
    return best;
  }

  /**
   * The most one more reservation may hold now without a refusal: the tightest of every budget and every
   * hold threshold in the chain, less what is spent and in flight; null when nothing in the chain limits it.
   * Read in the same synchronous step as the `reserve` it sizes (estimate.ts), so nothing can come between.
   */
  room(chain: readonly Token[], now: number): number | null {
    this.ledger.roll(now);
    let room: number | null = null;
    const take = (left: number) => (room = room === null ? left : Math.min(room, left));
    for (const t of chain) {
      // Spend first: a first read of an hour may commit rows waiting for their window (settle.ts), which moves
      // their cost out of `reserved`; read after it, the two never count a row twice.
      const spent = t.budget !== null || t.holdAbove !== null ? this.periodSpent(t, now) : 0;
      const hour = t.holdRate !== null ? this.guard.rollingHour(t, now) : 0;
      const reserved = this.reservedFor(t.id);
      if (t.budget !== null) take(t.budget - spent - reserved);
      if (t.holdAbove !== null && t.holdWaivedPeriod !== windowOf(t.budgetPeriod, now).key) take(t.holdAbove - spent - reserved);
      if (t.holdRate !== null) take(t.holdRate - hour - reserved);
    }
    return room === null ? null : Math.max(0, room);
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
    this.ledger.writeHeldRows();
    this.ledger.roll(now);
    this.guard.refuseIfHeld(chain);
    for (const t of chain) {
      if (t.budget === null) continue;
      const used = this.periodSpent(t, now) + this.reservedFor(t.id);
      const fits = micros > 0 ? used + micros <= t.budget : used < t.budget;
      if (!fits) {
        const adj = periodAdjective(t.budgetPeriod);
        const whose = t.id === chain[0]!.id ? `this token's ${adj} budget (${t.id})` : `the ${adj} budget of its ancestor ${t.name} (${t.id})`;
        const left = Math.max(0, t.budget - used);
        const raise = t.budgetPeriod === 'total' ? 'ask the human to top it up' : 'ask the human to raise the budget';
        throw paymentRequired(
          'budget_exhausted',
          `Budget exhausted: ${whose} is ${formatUsd(t.budget)} with ${formatUsd(left)} left, and this request may cost up to ${formatUsd(micros)}. ` +
            `${resetSentence(t.budgetPeriod, now, t.id)} ${cheaper ? `${cheaper}, or ${raise}` : `Nothing in the request can make it cheaper: ${raise}`}.`,
        );
      }
    }
    this.guard.check(chain, micros, now, (t) => this.periodSpent(t, now), (id) => this.reservedFor(id));
    const tracked = chain.filter((t) => t.budget !== null || HoldGuard.watches(t));
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

  /** Stage 11: records the ledger row and charges its spend, then releases `r` (settle.ts; group commit); resolves once the row is durable. */
  record(r: Reservation | null, chain: readonly Token[], row: LedgerRow): Promise<void> {
    return this.ledger.write(r, chain, row);
  }

  /** Commits what is pending and closes the ledger log (the daemon's shutdown). */
  close(): void {
    this.ledger.close();
  }
}
