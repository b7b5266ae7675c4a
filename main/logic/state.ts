/**
 * The one state the tray derives everything from (menu, icon, tooltip,
 * first-run window). It is read from the shared SQLite file on a connection
 * of the app's own, so it looks the same whether the daemon runs in this
 * process or is a headless one we attached to.
 */
import type { DB } from '../../proxy/db/database.js';
import { getSetting } from '../../proxy/db/records.js';
import { ledgerStore } from '../../proxy/db/ledger-store.js';
import { periodOf } from '../../proxy/core/time.js';
import type { UpstreamStatus } from '../../proxy/upstream/status.js';

export type Phase = 'starting' | 'running' | 'failed';

export interface AppState {
  phase: Phase;
  /** True when a headless daemon (`skillboss-sidecar serve`) owns the data dir and we only show it. */
  attached: boolean;
  /** The daemon's root URL (http://127.0.0.1:7373), null until it listens. */
  url: string | null;
  /** Why starting failed, in words for the human. */
  failure: string | null;
  /** Upstream key as last seen by the daemon's sync. */
  upstreamKey: UpstreamStatus['key'];
  credits: UpstreamStatus['credits'];
  reachable: boolean | null;
  balanceUsd: number | null;
  /** Spend of every token this calendar month (UTC), micro-dollars. */
  spendMicros: number;
  paused: boolean;
  /** Whether the app starts at login (the human's choice). */
  autostart: boolean;
}

export const INITIAL_STATE: AppState = {
  phase: 'starting',
  attached: false,
  url: null,
  failure: null,
  upstreamKey: 'unknown',
  credits: 'unknown',
  reachable: null,
  balanceUsd: null,
  spendMicros: 0,
  paused: false,
  autostart: false,
};

/** What the database says; the phase, URL and autostart come from the app itself. */
export type StoredState = Pick<AppState, 'upstreamKey' | 'credits' | 'reachable' | 'balanceUsd' | 'spendMicros' | 'paused'>;

/**
 * Reads the stored part of the state. Spend is charged to a token and all its
 * ancestors, so the month's total is the sum over root tokens only.
 */
export function readStoredState(db: DB, now: number): StoredState {
  const up = getSetting<Partial<UpstreamStatus>>(db, 'upstream_status') ?? {};
  const spendMicros = ledgerStore(db).rootsSpent(periodOf(now));
  return {
    upstreamKey: up.key ?? 'unknown',
    credits: up.credits ?? 'unknown',
    reachable: up.reachable ?? null,
    balanceUsd: up.balanceUsd ?? null,
    spendMicros,
    paused: getSetting<boolean>(db, 'paused') === true,
  };
}

/** Shallow equality, so listeners only hear about real changes. */
export function sameState(a: AppState, b: AppState): boolean {
  return (Object.keys(a) as Array<keyof AppState>).every((k) => a[k] === b[k]);
}
