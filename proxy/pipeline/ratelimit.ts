/**
 * Stage 5, rate limit: per-token requests per minute (a token bucket refilled
 * continuously) and concurrent requests in flight. Both optional per token.
 */
import { rateLimited } from '../core/errors.js';
import type { Token } from '../tokens/token.js';

interface Bucket {
  tokens: number;
  updatedAt: number;
}

export class RateLimiter {
  private buckets = new Map<string, Bucket>();
  private inFlight = new Map<string, number>();

  /** Takes a slot for the request or throws 429; call the returned function when the request ends. */
  acquire(token: Token, now: number): () => void {
    if (token.rpm !== null) this.takeRpm(token.id, token.rpm, now);
    if (token.maxConcurrent === null) return noop;
    const current = this.inFlight.get(token.id) ?? 0;
    if (current >= token.maxConcurrent) {
      throw rateLimited('concurrency_limit', `This token may have at most ${token.maxConcurrent} requests in flight; wait for one to finish.`, 1);
    }
    this.inFlight.set(token.id, current + 1);
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const n = (this.inFlight.get(token.id) ?? 1) - 1;
      if (n <= 0) this.inFlight.delete(token.id);
      else this.inFlight.set(token.id, n);
    };
  }

  inFlightFor(tokenId: string): number {
    return this.inFlight.get(tokenId) ?? 0;
  }

  private takeRpm(id: string, rpm: number, now: number): void {
    const perMs = rpm / 60_000;
    const b = this.buckets.get(id) ?? { tokens: rpm, updatedAt: now };
    b.tokens = Math.min(rpm, b.tokens + Math.max(0, now - b.updatedAt) * perMs);
    b.updatedAt = now;
    // The tolerance keeps float drift from refusing a client that waited exactly as long as Retry-After said.
    if (b.tokens < 1 - 1e-9) {
      this.buckets.set(id, b);
      const waitMs = (1 - b.tokens) / perMs;
      throw rateLimited('rate_limit_exceeded', `This token is limited to ${rpm} requests per minute; retry after ${Math.ceil(waitMs / 1000)} s.`, waitMs / 1000);
    }
    b.tokens = Math.max(0, b.tokens - 1);
    this.buckets.set(id, b);
  }
}

function noop(): void {}
