/**
 * When the queue of access requests is full, new agents are turned away
 * (429). A flood of made-up requests can keep it full, so the human must see
 * that agents are being turned away, and be able to clear the queue at once
 * (`requests clear`, POST /admin/api/access-requests/clear). The tally lives
 * in the settings table so the dashboard and the tray see it whichever
 * process turned the agents away; it is written at most every few seconds,
 * so a flood of refusals does not become a flood of writes.
 */
import { rateLimited, SidecarError } from '../core/errors.js';
import type { DB } from '../db/database.js';
import { getSetting, setSetting } from '../db/records.js';
import type { AccessOptions } from './model.js';
import type { AccessQueries } from './queries.js';

export const TURNED_AWAY_SETTING = 'access_turned_away';
/** A tally older than this is history, not a flood. */
export const FLOOD_WINDOW_MS = 10 * 60_000;
const WRITE_EVERY_MS = 5_000;
/** Longest Retry-After given while the queue is full. */
const FULL_RETRY_S = 30;

export interface TurnedAway {
  count: number;
  first_at: number;
  last_at: number;
}

export class TurnedAwayLog {
  private lastWrite = -Infinity;
  private unsaved = 0;

  constructor(
    private readonly db: DB,
    private readonly monotonic: () => number,
  ) {}

  /** One agent turned away because the queue was full. */
  note(now: number): void {
    this.unsaved++;
    const t = this.monotonic();
    if (t - this.lastWrite < WRITE_EVERY_MS) return;
    this.lastWrite = t;
    const prev = recentTurnedAway(this.db, now);
    setSetting(this.db, TURNED_AWAY_SETTING, { count: (prev?.count ?? 0) + this.unsaved, first_at: prev?.first_at ?? now, last_at: now } satisfies TurnedAway);
    this.unsaved = 0;
  }

  reset(): void {
    this.unsaved = 0;
    this.db.prepare('DELETE FROM settings WHERE key = ?').run(TURNED_AWAY_SETTING);
  }
}

/**
 * The flood bounds, read from the database (so they hold across restarts and
 * for every loopback client alike): 429 when `maxPerMinute` new requests, or
 * `maxPending` open ones, or `maxPendingPerName` for this agent name, are
 * already there. Called inside the creating transaction.
 */
export function refuseIfFull(q: AccessQueries, now: number, name: string, o: AccessOptions): void {
  const recent = q.recent.all(now - 60_000) as Array<{ created_at: number }>;
  if (recent.length >= o.maxPerMinute) {
    throw rateLimited('too_many_access_requests', `At most ${o.maxPerMinute} access requests a minute reach the human; try again later.`, (recent[0]!.created_at + 60_000 - now) / 1000);
  }
  const pending = q.pendingAll.all(now) as Array<{ expires_at: number }>;
  if (pending.length >= o.maxPending) {
    // Retry soon, not at the first expiry (up to ten minutes away): the human may clear a flood any moment.
    throw rateLimited('too_many_pending_requests', `${pending.length} access requests are already waiting for the human; try again shortly (the human has been told agents are being turned away).`, Math.min(FULL_RETRY_S, (pending[0]!.expires_at - now) / 1000));
  }
  const mine = q.pendingName.all(now, name) as Array<{ expires_at: number }>;
  if (mine.length >= o.maxPendingPerName) {
    throw rateLimited('too_many_pending_for_name', `${mine.length} access requests named ${JSON.stringify(name)} are already waiting; poll the one you have instead of asking again.`, (mine[0]!.expires_at - now) / 1000);
  }
}

/** Paces an agent's polls of a pending request: 429 `slow_down` when it polls faster than `pollIntervalS`. */
export class PollPacer {
  /** Monotonic time of each request's last poll that found it pending. */
  private readonly last = new Map<string, number>();

  constructor(
    private readonly monotonic: () => number,
    private readonly pollIntervalS: number,
  ) {}

  pace(id: string): void {
    const t = this.monotonic();
    const last = this.last.get(id);
    const intervalMs = this.pollIntervalS * 1000;
    // A little slack: a client that sleeps `interval` seconds between polls must never be told to slow down.
    if (last !== undefined && t - last < intervalMs * 0.8) {
      throw rateLimited('slow_down', `Poll at most every ${this.pollIntervalS} seconds; the human has not answered yet.`, (last + intervalMs - t) / 1000);
    }
    this.last.set(id, t);
  }

  /** The request left `pending`: its pace no longer matters. */
  delete(id: string): void {
    this.last.delete(id);
  }
}

/** The tally of agents turned away within the last ten minutes, if any. */
export function recentTurnedAway(db: DB, now: number): TurnedAway | null {
  const v = getSetting<TurnedAway>(db, TURNED_AWAY_SETTING);
  return v && typeof v.last_at === 'number' && now - v.last_at < FLOOD_WINDOW_MS ? v : null;
}

/** What these helpers need of the access-request service (structural, so this module imports nothing above it). */
interface Queue<I, R> {
  readonly turnedAway: TurnedAwayLog;
  create(input: I): R;
  listPending(): Array<{ id: string }>;
  deny(ref: string, opts: { reason?: string | null }, actor: string): unknown;
}

/** `create`, noting for the human when the queue was full and the agent was turned away. */
export function createOrNote<I, R>(access: Queue<I, R>, input: I, now: number): R {
  try {
    return access.create(input);
  } catch (err) {
    if (err instanceof SidecarError && err.code === 'too_many_pending_requests') access.turnedAway.note(now);
    throw err;
  }
}

/** Denies every waiting request (a flood the human does not recognise), each audited; returns how many. */
export function clearPending<I, R>(access: Queue<I, R>, actor: string): number {
  let n = 0;
  for (const r of access.listPending()) {
    try {
      access.deny(r.id, { reason: 'cleared by the human' }, actor);
      n++;
    } catch (err) {
      // Answered or expired meanwhile: nothing left to clear there.
      if (!(err instanceof SidecarError) || err.status >= 500) throw err;
    }
  }
  access.turnedAway.reset();
  return n;
}
