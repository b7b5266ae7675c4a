/**
 * What the sidecar knows about its upstream: reachable, key valid, credits,
 * last sync. Kept in memory and mirrored to settings so the CLI can show it.
 */
import type { DB } from '../db/database.js';
import { getSetting, setSetting } from '../db/records.js';
import type { SidecarEvents } from '../core/events.js';
import type { CreditsState, UpstreamKeyState } from '../../wire/admin.js';

export interface UpstreamStatus {
  key: UpstreamKeyState;
  credits: CreditsState;
  reachable: boolean | null;
  balanceUsd: number | null;
  balanceSyncedAt: number | null;
  modelsSyncedAt: number | null;
  modelCount: number;
  lastError: string | null;
  checkedAt: number | null;
}

const INITIAL: UpstreamStatus = {
  key: 'unknown',
  credits: 'unknown',
  reachable: null,
  balanceUsd: null,
  balanceSyncedAt: null,
  modelsSyncedAt: null,
  modelCount: 0,
  lastError: null,
  checkedAt: null,
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
