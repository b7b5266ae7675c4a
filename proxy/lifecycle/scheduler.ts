/**
 * The daemon's lifecycle duties, on a timer: scheduled token rotations, the
 * scheduled rotation of the real key, and tidying (the previous real key once
 * its grace is over, schedules of revoked tokens).
 *
 * Due times are persisted (token meta, settings) and compared with the clock
 * at every tick rather than held in in-memory timers (croner and the like):
 * a tick runs at start, so anything that fell due while the daemon was down
 * or the machine slept happens at the next start; and tests can move the
 * injected clock.
 */
import type { Logger } from 'pino';
import type { DB } from '../db/database.js';
import type { DaemonServices } from '../pipeline/context.js';
import { forgetExpiredPreviousKey, KeyRotationError, nextRotationAt, rotateUpstreamKey, rotationState, type RotateStep } from '../upstream/rotate.js';
import { capabilitiesAt, ROTATION_UNSUPPORTED } from '../upstream/capabilities.js';
import { deliverRotation, dropRevokedSchedules, runDueRotations, type LifecycleContext, type Rotated } from './rotation.js';
import { vaultFor, VAULT, type SecretVault } from '../keychain/vault.js';
import { DEFAULT_WEBHOOK_OPTIONS, type DeliveryResult, type WebhookOptions } from './webhook.js';
import type { Token } from '../tokens/token.js';

export interface LifecycleOptions {
  /** How often due rotations are looked for (ms); 0 runs only at start and on tick(). */
  intervalMs: number;
  webhook: WebhookOptions;
  /** Least time between two attempts at the real key's rotation after a failure (ms). */
  upstreamRetryMs: number;
  /** Test hook for the real key's rotation (fault injection per step). */
  beforeUpstreamStep?: (step: RotateStep) => void | Promise<void>;
}

export const DEFAULT_LIFECYCLE_OPTIONS: LifecycleOptions = {
  intervalMs: 60_000,
  webhook: DEFAULT_WEBHOOK_OPTIONS,
  upstreamRetryMs: 60 * 60_000,
};

export class Lifecycle {
  readonly ctx: LifecycleContext;
  readonly vault: SecretVault;
  private timer: NodeJS.Timeout | null = null;
  private readonly abort = new AbortController();
  private readonly inflight = new Set<Promise<unknown>>();
  private upstreamBusy = false;
  private lastUpstreamAttempt = 0;
  private readonly log: Logger;

  constructor(
    private readonly db: DB,
    private readonly deps: DaemonServices,
    dataDir: string,
    agentBaseUrl: string,
    private readonly opts: LifecycleOptions,
  ) {
    this.log = deps.log;
    this.vault = vaultFor(deps.key.store.kind, dataDir);
    this.ctx = {
      actor: 'daemon',
      db,
      tokens: deps.tokens,
      clock: deps.clock,
      vault: this.vault,
      agentBaseUrl: () => agentBaseUrl,
      webhook: opts.webhook,
      log: deps.log,
      events: deps.events,
      onTokensChanged: () => deps.principals.clear(),
      signal: this.abort.signal,
    };
  }

  /** Runs a tick now (synchronously as far as token rotations go), then on the interval. */
  start(): void {
    this.track(this.tick());
    if (this.opts.intervalMs > 0) {
      this.timer = setInterval(() => this.track(this.tick()), this.opts.intervalMs);
      this.timer.unref();
    }
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    this.abort.abort();
    await this.idle();
  }

  /** Resolves when every delivery and upstream rotation started so far has finished. */
  async idle(): Promise<void> {
    while (this.inflight.size > 0) await Promise.allSettled([...this.inflight]);
  }

  /** Delivers a rotation made elsewhere in the daemon (the agent's own POST /v1/api-keys/rotate, the admin API). */
  delivered(token: Token, secret: string, oldSecretExpiresAt: number): Promise<DeliveryResult | null> {
    return this.track(deliverRotation(this.ctx, token, secret, oldSecretExpiresAt));
  }

  /** One pass over everything that may be due. Token rotations happen before the first await. */
  async tick(): Promise<Rotated[]> {
    let rotated: Rotated[] = [];
    try {
      rotated = runDueRotations(this.ctx);
      for (const r of rotated) this.track(r.delivery);
      dropRevokedSchedules(this.ctx);
      forgetExpiredPreviousKey(this.db, this.vault, this.deps.clock(), 'daemon');
    } catch (err) {
      this.log.error({ reason: (err as Error).message }, 'lifecycle tick failed');
    }
    await this.maybeRotateUpstream();
    return rotated;
  }

  private async maybeRotateUpstream(): Promise<void> {
    if (this.upstreamBusy || this.abort.signal.aborted || this.deps.key.status().state !== 'set') return;
    const now = this.deps.clock();
    let due: boolean;
    try {
      const pending = rotationState(this.db).pending_since != null && this.vault.get(VAULT.pendingKey) !== null;
      const next = nextRotationAt(this.db, now);
      due = pending || (next !== null && next <= now);
    } catch (err) {
      this.log.warn({ reason: (err as Error).message }, 'could not read the key rotation schedule');
      return;
    }
    if (!due) {
      this.deps.upstreamState.clearNotices('capability:rotation');
      return;
    }
    const baseUrl = this.deps.upstream().baseUrl;
    if (capabilitiesAt(this.db, baseUrl).rotation === 'unsupported') {
      // No rotation API upstream: the schedule is a reminder for the human, and nothing is called.
      this.deps.upstreamState.notice({ key: 'capability:rotation', kind: 'capability', message: `${ROTATION_UNSUPPORTED} It is due now.` }, now);
      return;
    }
    if (this.lastUpstreamAttempt && now - this.lastUpstreamAttempt < this.opts.upstreamRetryMs) return;
    this.upstreamBusy = true;
    this.lastUpstreamAttempt = now;
    const run = rotateUpstreamKey({
      db: this.db,
      primary: this.deps.key.store,
      vault: this.vault,
      baseUrl: this.deps.upstream().baseUrl,
      clock: this.deps.clock,
      actor: 'daemon',
      ...(this.opts.beforeUpstreamStep ? { beforeStep: this.opts.beforeUpstreamStep } : {}),
    })
      .then((r) => {
        this.lastUpstreamAttempt = 0;
        this.deps.key.reload();
        this.deps.events.emit('rotation', { token_id: 'upstream', kind: 'upstream' });
        this.log.info({ key: r.key }, 'rotated the SkillBoss key');
      })
      .catch((err: unknown) => {
        if (err instanceof KeyRotationError && err.unsupported) {
          this.deps.upstreamState.notice({ key: 'capability:rotation', kind: 'capability', message: `${ROTATION_UNSUPPORTED} It is due now.` }, this.deps.clock());
          this.log.warn('the SkillBoss key cannot be rotated automatically: this upstream has no key-rotation API; the schedule stays as a reminder');
        } else this.log.error({ reason: (err as Error).message }, 'scheduled rotation of the SkillBoss key failed');
      })
      .finally(() => {
        this.upstreamBusy = false;
      });
    await this.track(run);
  }

  private track<T>(p: Promise<T>): Promise<T> {
    this.inflight.add(p);
    void p.finally(() => this.inflight.delete(p)).catch(() => undefined);
    return p;
  }
}
