/**
 * Holds: a human in the loop before an agent runs away. Called by the budget
 * stage inside its one synchronous reservation step, so the decision is exact
 * under any concurrency: a reservation is admitted only while spend plus
 * everything in flight plus its own worst case stays within every threshold;
 * the first one that would cross trips the hold and is refused with it. No
 * settled request can therefore take spend past a threshold beyond what was
 * already in flight (and in-flight requests are inside it by construction).
 *
 * A trip is stored at once (it survives a restart) and remembered here with
 * its hold version, because the daemon's token snapshots reload a moment
 * later; stored state with a newer version (an approval from the CLI, say)
 * wins over the memory.
 */
import type { DB } from '../db/database.js';
import { ledgerStore } from '../db/ledger-store.js';
import { paymentRequired, type SidecarError } from '../core/errors.js';
import type { SidecarEvents } from '../core/events.js';
import type { Logger } from '../core/log.js';
import { formatUsd } from '../core/money.js';
import type { Token, TokenHold } from '../tokens/store.js';
import { tripHold, type HoldKind } from './holds.js';
import { HOUR_MS, windowOf } from '../core/period.js';

export { HOUR_MS };

interface Hour {
  version: number;
  /** Settled costs (ts, µ$) of the token and its descendants, oldest first. */
  entries: Array<[number, number]>;
}

export class HoldGuard {
  private readonly memo = new Map<string, { version: number; hold: TokenHold | null }>();
  private readonly hours = new Map<string, Hour>();

  constructor(
    private readonly db: DB,
    private readonly events: SidecarEvents,
    private readonly log: Logger,
  ) {}

  /** The hold in force on `t`: what this daemon tripped, unless the stored state is newer. */
  holdOf(t: Token): TokenHold | null {
    const m = this.memo.get(t.id);
    return m && m.version > t.holdVersion ? m.hold : t.hold;
  }

  /** Refuses with 402 `spend_approval_required` when the token or an ancestor is on hold. */
  refuseIfHeld(chain: readonly Token[]): void {
    for (const t of chain) {
      const h = this.holdOf(t);
      if (h) throw approvalRequired(t, h, chain[0]!);
    }
  }

  /** True when anything in the chain has a threshold (so reservations must be tracked for it). */
  static watches(t: Token): boolean {
    return t.holdAbove !== null || t.holdRate !== null;
  }

  /**
   * Trips a hold (and throws) when reserving `micros` more would take a token
   * in the chain past its threshold. `periodSpent` is the token's settled spend
   * in its budget period; `reserved` what is in flight against it.
   */
  check(chain: readonly Token[], micros: number, now: number, periodSpent: (t: Token) => number, reserved: (id: string) => number): void {
    for (const t of chain) {
      if (t.holdAbove !== null) {
        const w = windowOf(t.budgetPeriod, now);
        if (t.holdWaivedPeriod !== w.key) {
          const used = periodSpent(t) + reserved(t.id);
          if (crosses(used, micros, t.holdAbove)) {
            const per = t.budgetPeriod === 'total' ? 'in total' : `this ${t.budgetPeriod}`;
            this.trip(chain, t, 'above', `its spend ${per} would pass the approval threshold of ${formatUsd(t.holdAbove)} (${formatUsd(used)} spent or in flight, and this request may cost up to ${formatUsd(micros)})`, used, t.holdAbove, now);
          }
        }
      }
      if (t.holdRate !== null) {
        const used = this.rollingHour(t, now) + reserved(t.id);
        if (crosses(used, micros, t.holdRate)) {
          this.trip(chain, t, 'rate', `its spend in the last hour would pass the approval rate of ${formatUsd(t.holdRate)} per hour (${formatUsd(used)} spent or in flight, and this request may cost up to ${formatUsd(micros)})`, used, t.holdRate, now);
        }
      }
    }
  }

  /** A settled cost, counted in the rolling hour of every token in the chain that watches one. */
  recordSpend(chain: readonly Token[], micros: number, ts: number): void {
    if (micros <= 0) return;
    for (const t of chain) this.hours.get(t.id)?.entries.push([ts, micros]);
  }

  /** Settled spend of `t` and its descendants in the hour before `now`, since the last approval. */
  rollingHour(t: Token, now: number): number {
    let h = this.hours.get(t.id);
    if (!h || t.holdVersion > h.version) {
      h = { version: t.holdVersion, entries: h ? [] : this.load(t.id, now) };
      this.hours.set(t.id, h);
    }
    const from = now - HOUR_MS;
    let drop = 0;
    while (drop < h.entries.length && h.entries[drop]![0] <= from) drop++;
    if (drop > 0) h.entries.splice(0, drop);
    let sum = 0;
    for (const [, m] of h.entries) sum += m;
    return sum;
  }

  /** The hour's settled spend from the ledger (after a restart, or the first time the token is watched), from after the last approval. */
  private load(id: string, now: number): Array<[number, number]> {
    const approved = this.db.prepare("SELECT MAX(decided_at) FROM holds WHERE token_id = ? AND decision = 'approved'").pluck().get(id) as number | null;
    const from = Math.max(now - HOUR_MS, approved ?? 0);
    return ledgerStore(this.db).subtreeCostsAfter(id, from);
  }

  private trip(chain: readonly Token[], t: Token, kind: HoldKind, reason: string, used: number, threshold: number, now: number): never {
    const version = tripHold(this.db, t, kind, reason, used, threshold, now);
    const hold: TokenHold = { state: 'held', since: now, reason };
    this.memo.set(t.id, { version, hold });
    const h = this.hours.get(t.id);
    if (h) h.version = version;
    this.log.warn({ tokenId: t.id, kind, spent_micros: used, threshold_micros: threshold }, `token ${t.id} is on hold until a person approves it: ${reason}`);
    this.events.emit('hold', { kind: 'held', token_id: t.id, name: t.name, reason, ts: now });
    throw approvalRequired(t, hold, chain[0]!);
  }
}

/** Would reserving `micros` on top of `used` pass `threshold`? A request of unknown cost (0) needs room left. */
function crosses(used: number, micros: number, threshold: number): boolean {
  return micros > 0 ? used + micros > threshold : used >= threshold;
}

/** The 402 an agent can act on: wait and poll, or tell the human. */
export function approvalRequired(held: Token, hold: TokenHold, caller: Token): SidecarError {
  const whose = held.id === caller.id ? `This token (${held.id})` : `Its ancestor ${held.name} (${held.id})`;
  const approve = `\`skillboss-sidecar requests approve ${held.id}\` or the dashboard`;
  if (hold.state === 'denied') {
    return paymentRequired(
      'spend_approval_required',
      `${whose} is on hold and a person denied further spending (${hold.reason}). Do not retry; tell the human, who can still approve it with ${approve}.`,
    );
  }
  return paymentRequired(
    'spend_approval_required',
    `${whose} is on hold waiting for a person's approval since ${new Date(hold.since).toISOString()}: ${hold.reason}. ` +
      `Requests already running finish; new ones are refused until it is approved. Tell the human to approve it (${approve}), ` +
      'then poll GET /v1/balance until "held" is false and retry.',
  );
}
