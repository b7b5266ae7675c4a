/**
 * When the queue of access requests is full, new agents are turned away
 * (429). A flood of made-up requests can keep it full, so the human must see
 * that agents are being turned away, and be able to clear the queue at once
 * (`requests clear`, POST /admin/api/access-requests/clear). The tally lives
 * in the settings table so the dashboard and the tray see it whichever
 * process turned the agents away; it is written at most every few seconds,
 * so a flood of refusals does not become a flood of writes.
 */
import { SidecarError } from '../core/errors.js';
import type { DB } from '../db/database.js';
import { getSetting, setSetting } from '../db/records.js';

export const TURNED_AWAY_SETTING = 'access_turned_away';
/** A tally older than this is history, not a flood. */
export const FLOOD_WINDOW_MS = 10 * 60_000;
const WRITE_EVERY_MS = 5_000;

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
