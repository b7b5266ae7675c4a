/**
 * Keys, scopes, budgets and the one account balance (integer micro-dollars).
 * The admin key (the key the simulator was started with) holds every scope;
 * child keys form a tree under it and all spend from the same balance.
 */
import { randomBytes } from 'node:crypto';
import { SCOPES } from '../../wire/scopes.js';
import { SimError } from './http.js';

/** The upstream's scopes are the ones the sidecar grants: one list (wire/scopes.ts), so the two cannot drift. */
export const ALL_SCOPES = SCOPES;

export const GRACE_MS = 7 * 24 * 60 * 60 * 1000;
export const DAY_MS = 24 * 60 * 60 * 1000;

export interface KeyRecord {
  readonly id: string;
  readonly name: string;
  readonly scopes: readonly string[];
  readonly scopeSet: ReadonlySet<string>;
  /** Monthly budget in micro-dollars; null = unlimited (the account balance still applies). */
  readonly budgetMicros: number | null;
  spentMicros: number;
  /** Calendar month (UTC, "YYYY-MM") that spentMicros belongs to. */
  period: string;
  readonly parent: KeyRecord | null;
  readonly children: KeyRecord[];
  readonly expiresAt: number | null;
  readonly createdAt: number;
  revoked: boolean;
  /** The newest secret. */
  secret: string;
  autoRotate?: { intervalDays: number; webhookUrl: string | null; nextAt: number };
}

interface SecretEntry {
  readonly key: KeyRecord;
  /** undefined while this is the key's newest secret; set when rotated away. */
  graceEndsAt?: number;
}

export interface Caller {
  readonly key: KeyRecord;
  /** False when authenticated with a rotated secret still in its grace period. */
  readonly current: boolean;
}

export interface NewKeyInput {
  name: string;
  scopes: readonly string[];
  budgetMicros: number | null;
  expirationDays?: number;
}

const unauthorized = (message: string) => new SimError(401, 'authentication_error', 'invalid_api_key', message);

function monthOf(ms: number): string {
  const d = new Date(ms);
  return `${d.getUTCFullYear()}-${d.getUTCMonth() + 1}`;
}

export function newSecret(prefix = 'sk-sim-'): string {
  return `${prefix}${randomBytes(24).toString('base64url')}`;
}

export class SimState {
  balanceMicros: number;
  readonly admin: KeyRecord;
  private readonly secrets = new Map<string, SecretEntry>();
  private readonly byId = new Map<string, KeyRecord>();

  constructor(
    apiKey: string,
    balanceUsd: number,
    private readonly clock: () => number,
    /** The seed's rule that keys start with `sk-`; the real service issues other forms too (sk_live_…, sk_skillboss_…). */
    private readonly skPrefixOnly = true,
  ) {
    this.balanceMicros = Math.round(balanceUsd * 1_000_000);
    const now = clock();
    this.admin = {
      id: 'key_admin',
      name: 'admin',
      scopes: [...ALL_SCOPES],
      scopeSet: new Set(ALL_SCOPES),
      budgetMicros: null,
      spentMicros: 0,
      period: monthOf(now),
      parent: null,
      children: [],
      expiresAt: null,
      createdAt: now,
      revoked: false,
      secret: apiKey,
    };
    this.byId.set(this.admin.id, this.admin);
    this.secrets.set(apiKey, { key: this.admin });
  }

  /** Authenticates an Authorization header value; throws a 401 SimError. */
  authenticate(header: string | undefined): Caller {
    if (!header) throw unauthorized('Missing API key. Send "Authorization: Bearer sk-..."');
    const m = /^Bearer\s+(\S+)\s*$/i.exec(header);
    const secret = m?.[1];
    if (!secret || (this.skPrefixOnly && !secret.startsWith('sk-'))) throw unauthorized('Malformed API key: SkillBoss keys start with "sk-"');
    const entry = this.secrets.get(secret);
    if (!entry) throw unauthorized('Invalid API key');
    const now = this.clock();
    if (entry.graceEndsAt !== undefined && now >= entry.graceEndsAt) {
      throw unauthorized('This API key was rotated and its 7-day grace period has ended; use the new key');
    }
    const key = entry.key;
    if (key.revoked) throw unauthorized('This API key has been revoked');
    if (key.expiresAt !== null && now >= key.expiresAt) throw unauthorized('This API key has expired');
    return { key, current: entry.graceEndsAt === undefined };
  }

  /** Throws 402 unless the balance is positive and `micros` fits every budget on the key's chain. */
  checkSpend(key: KeyRecord, micros: number): void {
    if (this.balanceMicros <= 0) {
      throw new SimError(402, 'insufficient_quota', 'insufficient_credits', 'Insufficient credits: add credits or enable auto-recharge');
    }
    const period = monthOf(this.clock());
    for (let k: KeyRecord | null = key; k; k = k.parent) {
      if (k.budgetMicros === null) continue;
      this.roll(k, period);
      if (k.spentMicros + micros > k.budgetMicros) {
        throw new SimError(
          402,
          'insufficient_quota',
          'budget_exceeded',
          `Monthly budget of key ${k.id} ($${(k.budgetMicros / 1e6).toFixed(2)}) would be exceeded`,
        );
      }
    }
  }

  /** Takes `micros` from the balance and adds it to the spend of the key and every ancestor. */
  charge(key: KeyRecord, micros: number): void {
    if (micros <= 0) return;
    this.balanceMicros -= micros;
    const period = monthOf(this.clock());
    for (let k: KeyRecord | null = key; k; k = k.parent) {
      this.roll(k, period);
      k.spentMicros += micros;
    }
  }

  /** This period's spend of `key`. */
  spent(key: KeyRecord): number {
    this.roll(key, monthOf(this.clock()));
    return key.spentMicros;
  }

  private roll(k: KeyRecord, period: string): void {
    if (k.period !== period) {
      k.period = period;
      k.spentMicros = 0;
    }
  }

  /** Creates a child of `parent`; throws 403 when it would exceed the parent's scopes or budget. */
  createChild(parent: KeyRecord, input: NewKeyInput, prefix?: string): KeyRecord {
    const extra = input.scopes.filter((s) => !parent.scopeSet.has(s));
    if (extra.length > 0) {
      throw new SimError(403, 'permission_error', 'insufficient_scope', `Cannot grant scope ${extra.join(', ')}: the calling key does not have it`);
    }
    if (parent.budgetMicros !== null && (input.budgetMicros === null || input.budgetMicros > parent.budgetMicros)) {
      throw new SimError(403, 'permission_error', 'budget_exceeds_parent', "A child key's budget cannot exceed its parent's monthly budget");
    }
    const now = this.clock();
    let expiresAt = input.expirationDays !== undefined ? now + input.expirationDays * DAY_MS : null;
    if (parent.expiresAt !== null && (expiresAt === null || expiresAt > parent.expiresAt)) expiresAt = parent.expiresAt;
    const scopes = ALL_SCOPES.filter((s) => input.scopes.includes(s));
    const key: KeyRecord = {
      id: `key_${randomBytes(8).toString('hex')}`,
      name: input.name,
      scopes,
      scopeSet: new Set(scopes),
      budgetMicros: input.budgetMicros,
      spentMicros: 0,
      period: monthOf(now),
      parent,
      children: [],
      expiresAt,
      createdAt: now,
      revoked: false,
      secret: newSecret(prefix),
    };
    parent.children.push(key);
    this.byId.set(key.id, key);
    this.secrets.set(key.secret, { key });
    return key;
  }

  /** A key by public id or by any of its secrets (including rotated ones). */
  find(idOrSecret: string): KeyRecord | undefined {
    return this.byId.get(idOrSecret) ?? this.secrets.get(idOrSecret)?.key;
  }

  /** Revokes `target` and its subtree if it is a strict descendant of `caller`. */
  revoke(caller: KeyRecord, target: KeyRecord): void {
    let k = target.parent;
    while (k && k !== caller) k = k.parent;
    if (!k) throw new SimError(403, 'permission_error', 'not_a_descendant', 'Only keys created under the calling key can be revoked by it');
    const stack = [target];
    for (let t = stack.pop(); t; t = stack.pop()) {
      t.revoked = true;
      stack.push(...t.children);
    }
  }

  /** Gives `key` a new secret; the previous one keeps working for GRACE_MS. */
  rotate(key: KeyRecord): { secret: string; oldExpiresAt: number } {
    const now = this.clock();
    const old = this.secrets.get(key.secret);
    const oldExpiresAt = now + GRACE_MS;
    if (old) old.graceEndsAt = oldExpiresAt;
    key.secret = newSecret();
    this.secrets.set(key.secret, { key });
    return { secret: key.secret, oldExpiresAt };
  }
}
