/**
 * What the sidecar knows about its upstream: reachable, key valid, credits,
 * last sync. Kept in memory and mirrored to settings so the CLI can show it.
 */
import type { DB } from '../db/database.js';
import { getSetting, setSetting } from '../db/records.js';
import type { SidecarEvents } from '../core/events.js';
import type { CreditsState, UpstreamKeyState } from '../../wire/admin.js';

/**
 * Something about the upstream the human should know and the sidecar could
 * not fix: an unrecognised answer, a missing capability, SkillBoss's own
 * balance warning. Each has a stable `key` so the tray shows it once.
 */
export interface UpstreamNotice {
  key: string;
  kind: 'models_shape' | 'capability' | 'balance_warning' | 'balance_unknown';
  message: string;
  at: number;
}

export interface UpstreamStatus {
  key: UpstreamKeyState;
  credits: CreditsState;
  reachable: boolean | null;
  balanceUsd: number | null;
  balanceSyncedAt: number | null;
  /** Where the balance came from (an endpoint, or `wallet_balance_after_usd` of a call). */
  balanceSource: string | null;
  /** Credits as SkillBoss reported them, never converted (the sources disagree on the rate). */
  balanceCredits: number | null;
  modelsSyncedAt: number | null;
  modelCount: number;
  /** Of those, how many have a token price from SkillBoss. */
  pricedCount: number;
  /** Which shape the model list came in ('data' = the seed, 'models' = the real service). */
  modelsShape: 'data' | 'models' | null;
  lastError: string | null;
  checkedAt: number | null;
  notices: UpstreamNotice[];
}

const INITIAL: UpstreamStatus = {
  key: 'unknown',
  credits: 'unknown',
  reachable: null,
  balanceUsd: null,
  balanceSyncedAt: null,
  balanceSource: null,
  balanceCredits: null,
  modelsSyncedAt: null,
  modelCount: 0,
  pricedCount: 0,
  modelsShape: null,
  lastError: null,
  checkedAt: null,
  notices: [],
};

export class UpstreamState {
  private s: UpstreamStatus;

  constructor(
    private readonly db: DB,
    private readonly events: SidecarEvents,
  ) {
    this.s = { ...INITIAL, ...(getSetting<Partial<UpstreamStatus>>(db, 'upstream_status') ?? {}) };
  }

  get(): UpstreamStatus {
    return this.s;
  }

  /** Adds (or refreshes the message of) a notice; the same key is one notice. */
  notice(n: Omit<UpstreamNotice, 'at'>, at: number): void {
    const old = this.s.notices.find((x) => x.key === n.key);
    if (old && old.message === n.message) return;
    this.update({ notices: [...this.s.notices.filter((x) => x.key !== n.key), { ...n, at }] });
  }

  /** Drops the notices whose key starts with `prefix` (the problem cleared). */
  clearNotices(prefix: string): void {
    if (!this.s.notices.some((x) => x.key.startsWith(prefix))) return;
    this.update({ notices: this.s.notices.filter((x) => !x.key.startsWith(prefix)) });
  }

  update(patch: Partial<UpstreamStatus>): void {
    const before = this.s;
    if ((Object.keys(patch) as Array<keyof UpstreamStatus>).every((k) => before[k] === patch[k])) return;
    this.s = { ...this.s, ...patch };
    if (patch.key === 'invalid' && before.key !== 'invalid') this.events.emit('upstream', { kind: 'key_invalid' });
    if (patch.credits === 'out' && before.credits !== 'out') this.events.emit('upstream', { kind: 'credits_out' });
    if (patch.reachable === false && before.reachable !== false) this.events.emit('upstream', { kind: 'unreachable', detail: patch.lastError ?? undefined });
    if ((patch.key === 'valid' && before.key !== 'valid') || (patch.credits === 'ok' && before.credits === 'out')) this.events.emit('upstream', { kind: 'ok' });
    try {
      setSetting(this.db, 'upstream_status', this.s);
    } catch {
      /* status is advisory; a busy database must not fail a request */
    }
  }
}
