/** Per-token requests per minute (a continuously refilled bucket) and requests in flight. */
import { describe, expect, it } from 'vitest';
import { RateLimiter } from '../../../proxy/pipeline/ratelimit.js';
import type { Token } from '../../../proxy/tokens/token.js';
import { refusal } from '../../helpers/refusal.js';
import { fakeToken } from '../../helpers/token.js';

const T0 = 1_900_000_000_000;

const tok = (rpm: number | null, maxConcurrent: number | null, id = 'tok_a'): Token => fakeToken(id, { rpm, maxConcurrent });

describe('RateLimiter', () => {
  it('allows rpm requests at once, then 429 with Retry-After until the bucket refills', () => {
    const rl = new RateLimiter();
    const t = tok(6, null);
    for (let i = 0; i < 6; i++) rl.acquire(t, T0)();
    const e = refusal(() => rl.acquire(t, T0));
    expect(e.status).toBe(429);
    expect(e.code).toBe('rate_limit_exceeded');
    expect(e.message).toBe('This token is limited to 6 requests per minute; retry after 10 s.');
    expect(e.headers['retry-after']).toBe('10');
    // One request refills every 10 s.
    expect(refusal(() => rl.acquire(t, T0 + 9_999)).headers['retry-after']).toBe('1');
    rl.acquire(t, T0 + 10_000)();
    expect(refusal(() => rl.acquire(t, T0 + 10_001)).status).toBe(429);
    // A long pause refills to rpm, not beyond.
    for (let i = 0; i < 6; i++) rl.acquire(t, T0 + 3_600_000)();
    expect(refusal(() => rl.acquire(t, T0 + 3_600_000)).status).toBe(429);
  });

  it('keeps tokens apart', () => {
    const rl = new RateLimiter();
    rl.acquire(tok(1, null, 'tok_a'), T0);
    expect(() => rl.acquire(tok(1, null, 'tok_b'), T0)).not.toThrow();
  });

  it('caps requests in flight and frees a slot when one ends (once, however often release is called)', () => {
    const rl = new RateLimiter();
    const t = tok(null, 2);
    const a = rl.acquire(t, T0);
    const b = rl.acquire(t, T0);
    const e = refusal(() => rl.acquire(t, T0));
    expect(e.status).toBe(429);
    expect(e.code).toBe('concurrency_limit');
    expect(e.message).toBe('This token may have at most 2 requests in flight; wait for one to finish.');
    expect(e.headers['retry-after']).toBe('1');
    a();
    a();
    expect(rl.inFlightFor(t.id)).toBe(1);
    const c = rl.acquire(t, T0);
    expect(refusal(() => rl.acquire(t, T0)).status).toBe(429);
    b();
    c();
    expect(rl.inFlightFor(t.id)).toBe(0);
  });

  it('does nothing for a token without limits', () => {
    const rl = new RateLimiter();
    const t = tok(null, null);
    for (let i = 0; i < 10_000; i++) rl.acquire(t, T0);
    expect(rl.inFlightFor(t.id)).toBe(0);
  });
});
