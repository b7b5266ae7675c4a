/**
 * Bounds on one upstream response (relay.ts): a time limit and a size limit,
 * whatever its kind.
 */
import type { UpstreamBody } from './upstream.js';
import type { Limits } from '../core/config.js';

/** Why a response was cut off by ResponseCap. */
class ResponseCutOff extends Error {
  constructor(readonly reason: 'time' | 'size') {
    super(reason === 'time' ? 'the upstream response ran past the time limit' : 'the upstream response ran past the size limit');
  }
}

/**
 * Bounds one upstream response in time and bytes, whatever its kind. The idle
 * timeout only catches silence; an upstream that keeps streaming (a loop, a
 * fault, a hostile endpoint) would otherwise hold the socket, the
 * reservation and the agent's concurrency slot forever.
 */
export class ResponseCap {
  reason: 'time' | 'size' | null = null;
  private bytes = 0;
  private readonly timer: NodeJS.Timeout;

  constructor(
    private readonly body: UpstreamBody,
    private readonly limits: Limits,
  ) {
    this.timer = setTimeout(() => this.cut('time'), limits.maxResponseMs);
  }

  count(n: number): void {
    this.bytes += n;
    if (this.bytes > this.limits.maxResponseBytes) this.cut('size');
  }

  done(): void {
    clearTimeout(this.timer);
  }

  get code(): string {
    return this.reason === 'time' ? 'upstream_response_too_long' : 'upstream_response_too_large';
  }

  get message(): string {
    return this.reason === 'time'
      ? `SkillBoss kept sending past the sidecar's limit of ${Math.round(this.limits.maxResponseMs / 1000)} s per response; it was cut off, and what was delivered is charged.`
      : `SkillBoss sent more than the sidecar's limit of ${this.limits.maxResponseBytes} bytes per response; it was cut off, and what was delivered is charged.`;
  }

  private cut(reason: 'time' | 'size'): void {
    if (this.reason) return;
    this.reason = reason;
    this.body.destroy(new ResponseCutOff(reason));
  }
}
