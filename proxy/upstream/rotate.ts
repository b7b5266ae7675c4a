/**
 * Rotating the real SkillBoss key, so that a failure at any step leaves a
 * working key in place:
 *
 *   1 save-previous  the current key is copied to its own keychain entry
 *                    (this also proves the keychain is writable before
 *                    anything irreversible happens upstream)
 *   2 rotate         POST /v1/api-keys/rotate with the current key
 *   3 store-pending  the new key goes to a "pending" keychain entry
 *   4 verify         GET /v1/models with the new key
 *   5 promote        the new key becomes the key; the pending entry goes
 *
 * Until step 5 the current key stays the key (upstream keeps it working for
 * its grace period, 7 days). A failure at 4 or 5 leaves the new key pending
 * and the next attempt resumes at 4 — it does not rotate again, which the old
 * key could no longer do. The previous key is kept until its grace ends.
 */
import type { Clock } from '../core/time.js';
import { DAY_MS } from '../core/time.js';
import type { DB } from '../db/database.js';
import { audit, bumpGeneration, getSetting, setSetting } from '../db/records.js';
import { maskKey, validateUpstreamKey, type KeyStore } from '../keychain/store.js';
import { VAULT, type SecretVault } from '../keychain/vault.js';
import { capabilitiesAt, isMissingApi, recordCapability, ROTATION_UNSUPPORTED } from './capabilities.js';
import { upstreamJson } from './client.js';

export type RotateStep = 'save-previous' | 'rotate' | 'store-pending' | 'verify' | 'promote';

export const ROTATION_STATE = 'upstream_key_rotation';
/** Days between scheduled rotations of the real key; null turns them off (shared with the dashboard's settings). */
export const ROTATION_DAYS_SETTING = 'key_rotation_days';
export const DEFAULT_ROTATION_DAYS = 90;

export interface RotationState {
  /** When the key last changed (rotation, or first seen); the schedule counts from here. */
  since?: number;
  rotated_at?: number | null;
  /** The previous key is deleted from the keychain after this. */
  previous_expires_at?: number | null;
  /** A new key waiting to be checked and made current. */
  pending_since?: number | null;
  pending_old_expires_at?: number | null;
  in_progress_since?: number | null;
  last_error?: { step: RotateStep; reason: string; at: number } | null;
}

export interface UpstreamRotateDeps {
  db: DB;
  primary: KeyStore;
  vault: SecretVault;
  baseUrl: string;
  clock: Clock;
  actor: string;
  /** Runs before each step; tests use it to inject a fault at that step. */
  beforeStep?: (step: RotateStep) => void | Promise<void>;
}

export interface UpstreamRotation {
  key: string;
  previous: string;
  oldKeyExpiresAt: number | null;
  resumed: boolean;
}

export class KeyRotationError extends Error {
  override name = 'KeyRotationError';
  constructor(
    message: string,
    readonly step: RotateStep | 'start',
    /** The upstream has no rotation API (404/405/501): nothing failed, there is nothing to call. */
    readonly unsupported = false,
  ) {
    super(message);
  }
}

export function rotationState(db: DB): RotationState {
  return getSetting<RotationState>(db, ROTATION_STATE) ?? {};
}

function patchState(db: DB, patch: Partial<RotationState>): void {
  setSetting(db, ROTATION_STATE, { ...rotationState(db), ...patch });
}

export function rotationDays(db: DB): number | null {
  const v = getSetting<number | null>(db, ROTATION_DAYS_SETTING);
  return v === undefined ? DEFAULT_ROTATION_DAYS : v;
}

/** When the next scheduled rotation is due, or null when scheduling is off. Records a baseline the first time unless `record` is false. */
export function nextRotationAt(db: DB, now: number, record = true): number | null {
  const days = rotationDays(db);
  if (!days) return null;
  // Counted from the last rotation or the last time the human set a key, whichever is later.
  const row = db.prepare("SELECT max(ts) AS ts FROM audit WHERE event IN ('key.set', 'key.rotate')").get() as { ts: number | null };
  let since = Math.max(rotationState(db).since ?? 0, row.ts ?? 0);
  if (since === 0) {
    since = now;
    if (record) patchState(db, { since });
  }
  return since + days * DAY_MS;
}

const MASKED = (k: string | null) => (k ? maskKey(k) : '(none)');

export async function rotateUpstreamKey(d: UpstreamRotateDeps): Promise<UpstreamRotation> {
  const started = d.clock();
  // One rotation at a time, across processes (daemon schedule, CLI): a claim in settings, stale after 5 minutes.
  d.db
    .transaction(() => {
      const s = rotationState(d.db);
      if (s.in_progress_since && started - s.in_progress_since < 5 * 60_000) {
        throw new KeyRotationError('another rotation of the SkillBoss key is in progress; try again in a few minutes', 'start');
      }
      patchState(d.db, { in_progress_since: started });
    })
    .immediate();

  let step: RotateStep | 'start' = 'start';
  let current: string | null = null;
  let oldKeyExpiresAt: number | null = null;
  let pending: string | null = null;
  let unsupported = false;
  const at = async (s: RotateStep) => {
    step = s;
    await d.beforeStep?.(s);
  };
  try {
    current = d.primary.get();
    if (!current) throw new KeyRotationError('no SkillBoss key is set; run `skillboss-sidecar key set` first', 'start');
    pending = d.vault.get(VAULT.pendingKey);
    if (pending === current) {
      // A crash after promoting: the pending entry is stale.
      d.vault.remove(VAULT.pendingKey);
      pending = null;
    }
    const resumed = pending !== null;
    if (pending) {
      oldKeyExpiresAt = rotationState(d.db).pending_old_expires_at ?? null;
    } else {
      await at('save-previous');
      d.vault.set(VAULT.previousKey, current);
      await at('rotate');
      let r: { new_api_key?: unknown; old_key_expires_at?: unknown };
      try {
        r = await upstreamJson<{ new_api_key?: unknown; old_key_expires_at?: unknown }>(d.baseUrl, current, 'POST', '/api-keys/rotate', {});
      } catch (err) {
        if (!isMissingApi(err)) throw err;
        unsupported = true;
        throw err;
      }
      recordCapability(d.db, d.baseUrl, 'rotation', 'supported', d.clock());
      if (typeof r.new_api_key !== 'string') throw new Error('SkillBoss answered the rotation without a new_api_key');
      const fresh = validateUpstreamKey(r.new_api_key);
      const exp = typeof r.old_key_expires_at === 'string' ? Date.parse(r.old_key_expires_at) : Number.NaN;
      oldKeyExpiresAt = Number.isNaN(exp) ? null : exp;
      await at('store-pending');
      d.vault.set(VAULT.pendingKey, fresh);
      pending = fresh;
      patchState(d.db, { pending_since: d.clock(), pending_old_expires_at: oldKeyExpiresAt });
    }
    await at('verify');
    await upstreamJson(d.baseUrl, pending, 'GET', '/models');
    await at('promote');
    d.primary.set(pending);
    d.vault.remove(VAULT.pendingKey);
    const now = d.clock();
    d.db.transaction(() => {
      patchState(d.db, { since: now, rotated_at: now, previous_expires_at: oldKeyExpiresAt, pending_since: null, pending_old_expires_at: null, last_error: null });
      audit(d.db, now, {
        actor: d.actor,
        event: 'key.rotate',
        detail: { from: maskKey(current!), to: maskKey(pending!), old_key_expires_at: oldKeyExpiresAt, resumed },
      });
      bumpGeneration(d.db, 'key');
    })();
    return { key: maskKey(pending), previous: maskKey(current), oldKeyExpiresAt, resumed };
  } catch (err) {
    const reason = (err as Error).message;
    const now = d.clock();
    if (unsupported) {
      // Not a failure: the upstream has no such API. Said once; the schedule stays as a reminder.
      try {
        d.vault.remove(VAULT.previousKey);
        d.db.transaction(() => {
          const first = capabilitiesAt(d.db, d.baseUrl).rotation !== 'unsupported';
          recordCapability(d.db, d.baseUrl, 'rotation', 'unsupported', now);
          if (first) audit(d.db, now, { actor: d.actor, event: 'key.rotate.unsupported', detail: { reason } });
        })();
      } catch {
        /* still reported to the caller */
      }
      throw new KeyRotationError(ROTATION_UNSUPPORTED, 'rotate', true);
    }
    try {
      d.db.transaction(() => {
        patchState(d.db, { last_error: { step: step === 'start' ? 'save-previous' : step, reason, at: now } });
        audit(d.db, now, { actor: d.actor, event: 'key.rotate.failed', detail: { step, reason } });
      })();
    } catch {
      /* the failure is still reported to the caller */
    }
    throw new KeyRotationError(explain(step, reason, current, pending, oldKeyExpiresAt), step);
  } finally {
    try {
      patchState(d.db, { in_progress_since: null });
    } catch {
      /* stale after 5 minutes anyway */
    }
  }
}

function explain(step: RotateStep | 'start', reason: string, current: string | null, pending: string | null, oldExpires: number | null): string {
  const until = oldExpires ? ` (SkillBoss keeps it working until ${new Date(oldExpires).toISOString()})` : '';
  switch (step) {
    case 'start':
      return reason;
    case 'save-previous':
    case 'rotate':
      return `key rotation failed at ${step}: ${reason}. Nothing changed: ${MASKED(current)} is still the key.`;
    case 'store-pending':
      return (
        `key rotation failed at ${step}: SkillBoss issued a new key but the keychain could not store it (${reason}). ` +
        `${MASKED(current)} is still the key${until}; before then create a new key in the SkillBoss console and run \`skillboss-sidecar key set\`.`
      );
    case 'verify':
    case 'promote':
      return (
        `key rotation failed at ${step}: ${reason}. ${MASKED(current)} is still the key${until}. ` +
        `The new key ${MASKED(pending)} is kept in the keychain; run \`skillboss-sidecar key rotate\` again (the daemon also retries) to check it and switch.`
      );
  }
}

/** Deletes the previous key from the keychain once its grace period is over. */
export function forgetExpiredPreviousKey(db: DB, vault: SecretVault, now: number, actor: string): boolean {
  const s = rotationState(db);
  if (!s.previous_expires_at || s.previous_expires_at > now) return false;
  vault.remove(VAULT.previousKey);
  db.transaction(() => {
    patchState(db, { previous_expires_at: null });
    audit(db, now, { actor, event: 'key.previous_removed', detail: { grace_ended_at: s.previous_expires_at } });
  })();
  return true;
}
