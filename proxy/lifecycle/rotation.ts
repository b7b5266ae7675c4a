/**
 * Token rotation with delivery, and the auto-rotation schedule. Shared by the
 * daemon (HTTP routes, the scheduler) and the CLI, so a rotation reaches the
 * agent the same way whoever starts it: the env sink is rewritten and the
 * webhook (if one is registered) is sent. The new secret is only delivered,
 * never stored; the signing secret lives in the vault (the OS keychain).
 */
import type { Logger } from 'pino';
import { badRequest, forbidden, unavailable } from '../core/errors.js';
import type { SidecarEvents } from '../core/events.js';
import { DAY_MS, type Clock } from '../core/time.js';
import type { DB } from '../db/database.js';
import { audit, getSetting } from '../db/records.js';
import { KeyStoreUnavailable } from '../keychain/store.js';
import { DEFAULT_GRACE_MS, type Token, type TokenMeta, type TokenStore } from '../tokens/store.js';
import { writeEnvSink } from './envsink.js';
import { checkWebhookUrl, describeUrl, type OutboundPolicy } from './outbound.js';
import { VAULT, type SecretVault } from '../keychain/vault.js';
import { deliverWebhook, newSigningSecret, type DeliveryResult, type WebhookOptions } from './webhook.js';

export interface LifecycleContext {
  /** Who acts when nobody else does (audit rows of deliveries): 'daemon' or 'cli'. */
  actor: string;
  db: DB;
  tokens: TokenStore;
  clock: Clock;
  vault: SecretVault;
  /** The agent base URL written to env sinks (…/v1). */
  agentBaseUrl: () => string;
  webhook: WebhookOptions;
  log: Logger;
  events?: SidecarEvents;
  /** Called after a token change this process made (the daemon drops its principal cache). */
  onTokensChanged?: () => void;
  /** Cancels webhook retries when the daemon stops. */
  signal?: AbortSignal;
}

export type AutoRotate = NonNullable<TokenMeta['autoRotate']>;

export const WEBHOOK_HOSTS_SETTING = 'webhook_allowed_hosts';

export function webhookPolicy(db: DB): OutboundPolicy {
  return { allowedHosts: getSetting<string[]>(db, WEBHOOK_HOSTS_SETTING) ?? [] };
}

/** Auto-rotation keeps the old secret for 7 days, or one interval when that is shorter. */
export function autoGraceMs(intervalDays: number): number {
  return Math.min(DEFAULT_GRACE_MS, Math.round(intervalDays * DAY_MS));
}

export interface Rotated {
  token: Token;
  secret: string;
  oldSecretExpiresAt: number;
  /** Settles when the webhook was delivered or given up on (null: no webhook). */
  delivery: Promise<DeliveryResult | null>;
}

/** Rotates a token and delivers the new secret to its env sink and webhook. */
export function rotateToken(ctx: LifecycleContext, id: string, graceMs: number, actor: string, trigger: 'manual' | 'auto'): Rotated {
  return announce(ctx, ctx.tokens.rotate(id, graceMs, actor), trigger);
}

function announce(ctx: LifecycleContext, r: Omit<Rotated, 'delivery'>, trigger: 'manual' | 'auto'): Rotated {
  const id = r.token.id;
  ctx.onTokensChanged?.();
  ctx.events?.emit('rotation', { token_id: id, kind: trigger });
  const delivery = deliverRotation(ctx, r.token, r.secret, r.oldSecretExpiresAt);
  return { ...r, delivery };
}

/**
 * After a rotation: rewrite the env sink now (synchronously, so it is done when
 * the rotation returns) and send the webhook in the background.
 */
export function deliverRotation(ctx: LifecycleContext, token: Token, secret: string, oldSecretExpiresAt: number): Promise<DeliveryResult | null> {
  const now = ctx.clock();
  const sink = token.meta.envSink;
  if (sink) {
    try {
      writeEnvSink(sink, { secret, baseUrl: ctx.agentBaseUrl(), tokenId: token.id, tokenName: token.name });
      audit(ctx.db, now, { actor: ctx.actor, event: 'token.env_sink', tokenId: token.id, detail: { path: sink } });
    } catch (err) {
      const reason = (err as NodeJS.ErrnoException).code ?? (err as Error).message;
      ctx.log.error({ tokenId: token.id, path: sink, reason }, 'could not write the env sink after a rotation');
      audit(ctx.db, now, { actor: ctx.actor, event: 'token.env_sink.failed', tokenId: token.id, detail: { path: sink, reason } });
    }
  }
  const hook = token.meta.autoRotate?.webhookUrl;
  if (!hook) return Promise.resolve(null);
  let signingSecret: string | null = null;
  try {
    signingSecret = ctx.vault.get(token.meta.autoRotate?.signingSecretRef ?? VAULT.webhookSecret(token.id));
  } catch (err) {
    ctx.log.error({ tokenId: token.id, reason: (err as Error).message }, 'cannot read the webhook signing secret');
  }
  const url = describeUrl(hook);
  if (!signingSecret) {
    const reason = 'the signing secret is missing from the keychain; set auto-rotation again to get a new one';
    audit(ctx.db, now, { actor: ctx.actor, event: 'webhook.failed', tokenId: token.id, detail: { url, attempts: 0, reason } });
    return Promise.resolve({ ok: false, attempts: 0, status: null, reason, deliveryId: '' });
  }
  const payload = { event: 'key.rotated' as const, token_id: token.id, new_api_key: secret, old_key_expires_at: new Date(oldSecretExpiresAt).toISOString() };
  return deliverWebhook(hook, signingSecret, payload, webhookPolicy(ctx.db), ctx.webhook, ctx.signal).then((res) => {
    const detail = { url, attempts: res.attempts, status: res.status, delivery_id: res.deliveryId, ...(res.ok ? {} : { reason: res.reason }) };
    try {
      audit(ctx.db, ctx.clock(), { actor: ctx.actor, event: res.ok ? 'webhook.delivered' : 'webhook.failed', tokenId: token.id, detail });
    } catch {
      /* the database closed while the delivery was in flight (the daemon is stopping) */
    }
    if (!res.ok) ctx.log.warn({ tokenId: token.id, url, reason: res.reason }, 'webhook delivery failed');
    return res;
  });
}

export interface AutoRotateInput {
  intervalDays: number;
  webhookUrl: string | null;
}

export interface AutoRotateResult {
  token: Token;
  schedule: AutoRotate;
  /** Returned once, when a webhook is registered. */
  signingSecret: string | null;
}

/** Sets (or replaces) a token's rotation schedule. A webhook gets a new signing secret each time. */
export async function setAutoRotation(ctx: LifecycleContext, id: string, input: AutoRotateInput, actor: string): Promise<AutoRotateResult> {
  if (!(input.intervalDays > 0) || input.intervalDays > 3650) throw badRequest('invalid_interval', 'the rotation interval must be more than 0 and at most 3650 days', { rotation_interval_days: 'out of range' });
  const before = ctx.tokens.require(id);
  if (before.revokedAt !== null) throw forbidden('token_revoked', `token ${id} is revoked`);
  // Checked before anything is stored: a refused URL leaves the schedule as it was.
  if (input.webhookUrl) await checkWebhookUrl(input.webhookUrl, webhookPolicy(ctx.db));
  const ref = VAULT.webhookSecret(id);
  const signingSecret = input.webhookUrl ? newSigningSecret() : null;
  try {
    if (signingSecret) ctx.vault.set(ref, signingSecret);
    else ctx.vault.remove(ref);
  } catch (err) {
    // Never fall back to storing the signing secret anywhere weaker.
    if (err instanceof KeyStoreUnavailable) throw unavailable('keychain_unavailable', 'Automatic rotation needs the OS keychain for the webhook signing secret, and it is unavailable. The human running the sidecar must fix it (skillboss-sidecar doctor).', 30);
    throw err;
  }
  const now = ctx.clock();
  const schedule: AutoRotate = {
    intervalDays: input.intervalDays,
    webhookUrl: input.webhookUrl,
    nextAt: now + Math.round(input.intervalDays * DAY_MS),
    ...(signingSecret ? { signingSecretRef: ref } : {}),
  };
  const token = ctx.db
    .transaction(() => {
      const t = ctx.tokens.require(id);
      ctx.tokens.setMeta(id, { ...t.meta, autoRotate: schedule });
      audit(ctx.db, now, {
        actor,
        event: 'token.auto_rotate',
        tokenId: id,
        detail: { enabled: true, interval_days: input.intervalDays, next_at: schedule.nextAt, webhook: input.webhookUrl ? describeUrl(input.webhookUrl) : null, env_sink: t.meta.envSink ?? null },
      });
      return ctx.tokens.require(id);
    })
    .immediate();
  ctx.onTokensChanged?.();
  return { token, schedule, signingSecret };
}

export function disableAutoRotation(ctx: LifecycleContext, id: string, actor: string): Token {
  ctx.tokens.require(id);
  try {
    ctx.vault.remove(VAULT.webhookSecret(id));
  } catch (err) {
    ctx.log.warn({ tokenId: id, reason: (err as Error).message }, 'could not remove the webhook signing secret');
  }
  const token = ctx.db
    .transaction(() => {
      const { autoRotate: _, ...rest } = ctx.tokens.require(id).meta;
      ctx.tokens.setMeta(id, rest);
      audit(ctx.db, ctx.clock(), { actor, event: 'token.auto_rotate', tokenId: id, detail: { enabled: false } });
      return ctx.tokens.require(id);
    })
    .immediate();
  ctx.onTokensChanged?.();
  return token;
}

/** Names (or with null, removes) the .env file rewritten at every rotation of the token. */
export function setEnvSink(ctx: LifecycleContext, id: string, path: string | null, actor: string): Token {
  const token = ctx.db
    .transaction(() => {
      const t = ctx.tokens.require(id);
      const { envSink: _, ...rest } = t.meta;
      ctx.tokens.setMeta(id, path ? { ...rest, envSink: path } : rest);
      audit(ctx.db, ctx.clock(), { actor, event: 'token.env_sink.set', tokenId: id, detail: { path } });
      return ctx.tokens.require(id);
    })
    .immediate();
  ctx.onTokensChanged?.();
  return token;
}

/**
 * Runs every rotation that is due (missed ones included: a machine that slept
 * through a rotation does it at the next start). Returns the rotations done.
 */
export function runDueRotations(ctx: LifecycleContext): Rotated[] {
  const now = ctx.clock();
  const due = ctx.db
    .prepare(
      `SELECT id FROM tokens WHERE revoked_at IS NULL AND (expires_at IS NULL OR expires_at > ?)
         AND json_extract(meta, '$.autoRotate.nextAt') <= ? ORDER BY json_extract(meta, '$.autoRotate.nextAt')`,
    )
    .all(now, now) as Array<{ id: string }>;
  const done: Rotated[] = [];
  for (const { id } of due) {
    try {
      const t = ctx.tokens.require(id);
      const schedule = t.meta.autoRotate;
      if (!schedule) continue;
      const nextAt = now + Math.round(schedule.intervalDays * DAY_MS);
      // The rotation and the next due time commit together: a crash neither skips nor repeats a run.
      const r = ctx.db
        .transaction(() => {
          ctx.tokens.setMeta(id, { ...t.meta, autoRotate: { ...schedule, nextAt } });
          audit(ctx.db, now, { actor: ctx.actor, event: 'token.auto_rotated', tokenId: id, detail: { due_at: schedule.nextAt, next_at: nextAt } });
          return ctx.tokens.rotate(id, autoGraceMs(schedule.intervalDays), ctx.actor);
        })
        .immediate();
      done.push(announce(ctx, r, 'auto'));
    } catch (err) {
      ctx.log.error({ tokenId: id, reason: (err as Error).message }, 'scheduled rotation failed');
    }
  }
  return done;
}

/** Forgets the schedules (and signing secrets) of tokens that were revoked. */
export function dropRevokedSchedules(ctx: LifecycleContext): void {
  const rows = ctx.db
    .prepare("SELECT id FROM tokens WHERE revoked_at IS NOT NULL AND json_extract(meta, '$.autoRotate') IS NOT NULL")
    .all() as Array<{ id: string }>;
  for (const { id } of rows) {
    try {
      disableAutoRotation(ctx, id, ctx.actor);
    } catch (err) {
      ctx.log.warn({ tokenId: id, reason: (err as Error).message }, 'could not drop the schedule of a revoked token');
    }
  }
}
