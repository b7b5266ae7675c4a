/**
 * Webhook delivery against a real local HTTP receiver: signature, retries
 * with backoff, no redirects, no retry on a client error.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { deliverWebhook, signPayload, verifySignature, type RotationPayload } from '../../../proxy/lifecycle/webhook.js';
import { startReceiver, type Receiver } from '../../integration/lifecycle-helpers.js';

const fast = { attempts: 4, baseDelayMs: 10, maxDelayMs: 50, timeoutMs: 2000 };
const policy = { allowedHosts: [] };
const secret = 'whsec_test_secret_0123456789';
const payload: RotationPayload = { event: 'key.rotated', token_id: 'tok_x', new_api_key: 'sk-sbl-new', old_key_expires_at: '2030-01-01T00:00:00.000Z' };

let rx: Receiver;
beforeAll(async () => {
  rx = await startReceiver();
});
afterAll(async () => {
  await rx.close();
});
beforeEach(() => {
  rx.received.length = 0;
  rx.script = [];
});

describe('webhook delivery', () => {
  it('POSTs the payload signed over timestamp + raw body; the receiver can verify it', async () => {
    const r = await deliverWebhook(`${rx.url}/hook?a=1`, secret, payload, policy, fast);
    expect(r).toMatchObject({ ok: true, attempts: 1, status: 200 });
    const [got] = rx.received;
    expect(got!.method).toBe('POST');
    expect(got!.path).toBe('/hook?a=1');
    expect(JSON.parse(got!.body)).toEqual(payload);
    const sig = got!.headers['x-skillboss-signature'] as string;
    const ts = got!.headers['x-skillboss-timestamp'] as string;
    expect(sig).toMatch(/^sha256=[0-9a-f]{64}$/);
    expect(verifySignature(secret, { signature: sig, timestamp: ts }, got!.body, Date.now())).toBe(true);
    // A tampered body, another secret, a replay with a fresh timestamp, or a stale one: all fail.
    expect(verifySignature(secret, { signature: sig, timestamp: ts }, got!.body.replace('sk-sbl-new', 'sk-sbl-bad'), Date.now())).toBe(false);
    expect(verifySignature('whsec_other', { signature: sig, timestamp: ts }, got!.body, Date.now())).toBe(false);
    expect(verifySignature(secret, { signature: sig, timestamp: String(Number(ts) + 60) }, got!.body, Date.now())).toBe(false);
    expect(verifySignature(secret, { signature: signPayload(secret, ts, got!.body), timestamp: ts }, got!.body, Date.now() + 3_600_000)).toBe(false);
    expect(got!.headers['x-skillboss-event']).toBe('key.rotated');
  });

  it('retries 5xx and 429 with backoff, keeping one delivery id, and stops at the first success', async () => {
    rx.script = [500, 429, 503];
    const r = await deliverWebhook(`${rx.url}/h`, secret, payload, policy, fast);
    expect(r).toMatchObject({ ok: true, attempts: 4, status: 200 });
    expect(rx.received).toHaveLength(4);
    expect(new Set(rx.received.map((x) => x.headers['x-skillboss-delivery'])).size).toBe(1);
    for (const x of rx.received) {
      expect(verifySignature(secret, { signature: x.headers['x-skillboss-signature'] as string, timestamp: x.headers['x-skillboss-timestamp'] as string }, x.body, Date.now())).toBe(true);
    }
  });

  it('gives up after the bounded number of attempts', async () => {
    rx.script = [500, 500, 500, 500, 500];
    const r = await deliverWebhook(`${rx.url}/h`, secret, payload, policy, fast);
    expect(r.ok).toBe(false);
    expect(r.attempts).toBe(4);
    expect(r.reason).toContain('gave up after 4 attempts');
    expect(rx.received).toHaveLength(4);
  });

  it('does not follow a redirect, and does not retry it', async () => {
    rx.script = [302];
    const r = await deliverWebhook(`${rx.url}/h`, secret, payload, policy, fast);
    expect(r).toMatchObject({ ok: false, attempts: 1, status: 302 });
    expect(r.reason).toContain('redirects are not followed');
    expect(rx.received).toHaveLength(1);
  });

  it('does not retry a client error such as 400 or 401', async () => {
    rx.script = [401];
    const r = await deliverWebhook(`${rx.url}/h`, secret, payload, policy, fast);
    expect(r).toMatchObject({ ok: false, attempts: 1, status: 401 });
  });

  it('retries a connection failure, then reports it', async () => {
    const closed = await startReceiver();
    const url = closed.url;
    await closed.close();
    const r = await deliverWebhook(`${url}/h`, secret, payload, policy, { ...fast, attempts: 2 });
    expect(r).toMatchObject({ ok: false, attempts: 2, status: null });
    expect(r.reason).toContain('ECONNREFUSED');
  });

  it('re-checks the URL at send time and sends nothing to a refused one', async () => {
    const r = await deliverWebhook('http://169.254.169.254/latest', secret, payload, policy, fast);
    expect(r.ok).toBe(false);
    expect(r.reason).toContain('private, link-local or reserved');
  });
});
