/**
 * Webhook delivery for `key.rotated`: a signed POST to the URL the agent
 * registered, retried with exponential backoff (bounded), never following a
 * redirect, connecting only to the address the URL check approved.
 *
 * Signature: `X-SkillBoss-Signature: sha256=<hex>` where the MAC is
 * HMAC-SHA256(signing secret, `${X-SkillBoss-Timestamp}.${raw body}`). The
 * timestamp is inside the MAC so a captured delivery cannot be replayed later
 * with a fresh timestamp; `X-SkillBoss-Delivery` is the same on every retry of
 * one delivery so a receiver can drop duplicates.
 */
import { createHmac, randomUUID, timingSafeEqual } from 'node:crypto';
import { request as httpRequest, type IncomingMessage } from 'node:http';
import type * as Https from 'node:https';
import { createRequire } from 'node:module';
import { randomBase62 } from '../tokens/format.js';
import { SidecarError } from '../core/errors.js';
import { checkWebhookUrl, type OutboundPolicy, type ResolvedAddress } from './outbound.js';

export const SIGNATURE_HEADER = 'x-skillboss-signature';
export const TIMESTAMP_HEADER = 'x-skillboss-timestamp';
export const DELIVERY_HEADER = 'x-skillboss-delivery';
export const EVENT_HEADER = 'x-skillboss-event';

export interface RotationPayload {
  event: 'key.rotated';
  token_id: string;
  new_api_key: string;
  old_key_expires_at: string;
}

export interface WebhookOptions {
  /** Total attempts, first included. */
  attempts: number;
  /** Delay before the second attempt; doubles each time. */
  baseDelayMs: number;
  maxDelayMs: number;
  /** Per attempt: connect, send, and receive the status. */
  timeoutMs: number;
}

export const DEFAULT_WEBHOOK_OPTIONS: WebhookOptions = { attempts: 6, baseDelayMs: 1000, maxDelayMs: 30_000, timeoutMs: 10_000 };

export interface DeliveryResult {
  ok: boolean;
  attempts: number;
  /** The last HTTP status received, if any. */
  status: number | null;
  reason: string;
  deliveryId: string;
}

export function newSigningSecret(): string {
  return `whsec_${randomBase62(40)}`;
}

export function signPayload(secret: string, timestamp: string, body: string): string {
  return `sha256=${createHmac('sha256', secret).update(`${timestamp}.${body}`).digest('hex')}`;
}

/** What a receiver does: recompute, compare in constant time, and refuse stale timestamps. */
export function verifySignature(secret: string, headers: { signature: string; timestamp: string }, body: string, nowMs: number, toleranceSec = 300): boolean {
  const ts = Number(headers.timestamp);
  if (!Number.isInteger(ts) || Math.abs(nowMs / 1000 - ts) > toleranceSec) return false;
  const want = Buffer.from(signPayload(secret, headers.timestamp, body));
  const got = Buffer.from(headers.signature);
  return want.length === got.length && timingSafeEqual(want, got);
}

type Attempt = { ok: true; status: number } | { ok: false; status: number | null; reason: string; retry: boolean };

function once(checked: { url: URL; address: ResolvedAddress }, headers: Record<string, string>, body: string, timeoutMs: number, signal: AbortSignal): Promise<Attempt> {
  const { url, address } = checked;
  // TLS (~20 ms to load) only for an https webhook, when one is delivered, not at every daemon start.
  const request = url.protocol === 'https:' ? ((createRequire(import.meta.url)('node:https') as typeof Https).request as unknown as typeof httpRequest) : httpRequest;
  return new Promise((resolve) => {
    let settled = false;
    const done = (a: Attempt) => {
      if (settled) return;
      settled = true;
      resolve(a);
    };
    const req = request(
      {
        method: 'POST',
        hostname: url.hostname.startsWith('[') ? url.hostname.slice(1, -1) : url.hostname,
        port: url.port || undefined,
        path: `${url.pathname}${url.search}`,
        headers: { ...headers, 'content-length': String(Buffer.byteLength(body)) },
        agent: false,
        signal,
        // Connect to the address that was checked, whatever DNS says now.
        lookup: ((_host: string, opts: { all?: boolean }, cb: (...a: unknown[]) => void) =>
          opts.all ? cb(null, [{ address: address.address, family: address.family }]) : cb(null, address.address, address.family)) as never,
      },
      (res: IncomingMessage) => {
        const status = res.statusCode ?? 0;
        // The body is not needed; read a little and drop the connection.
        let seen = 0;
        res.on('data', (c: Buffer) => {
          seen += c.length;
          if (seen > 64 * 1024) res.destroy();
        });
        res.on('error', () => undefined);
        res.resume();
        if (status >= 200 && status < 300) return done({ ok: true, status });
        if (status >= 300 && status < 400) return done({ ok: false, status, reason: `answered ${status} (redirects are not followed)`, retry: false });
        const retry = status >= 500 || status === 408 || status === 429;
        done({ ok: false, status, reason: `answered ${status}`, retry });
      },
    );
    req.setTimeout(timeoutMs, () => req.destroy(new Error('timed out')));
    req.on('error', (err: NodeJS.ErrnoException) => done({ ok: false, status: null, reason: signal.aborted ? 'cancelled' : (err.code ?? err.message), retry: !signal.aborted }));
    req.end(body);
  });
}

function wait(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const t = setTimeout(() => {
      signal.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(t);
      resolve();
    };
    signal.addEventListener('abort', onAbort, { once: true });
  });
}

/**
 * Delivers one payload. The URL is re-checked before every attempt (the
 * allow-list or DNS may have changed since it was saved). Never throws.
 */
export async function deliverWebhook(
  rawUrl: string,
  signingSecret: string,
  payload: RotationPayload,
  policy: OutboundPolicy,
  opts: WebhookOptions,
  signal: AbortSignal = new AbortController().signal,
): Promise<DeliveryResult> {
  const body = JSON.stringify(payload);
  const deliveryId = randomUUID();
  let last: DeliveryResult = { ok: false, attempts: 0, status: null, reason: 'not attempted', deliveryId };
  for (let n = 1; n <= opts.attempts; n++) {
    if (signal.aborted) return { ...last, reason: `${last.reason}; the daemon stopped before the next attempt` };
    let checked;
    try {
      checked = await checkWebhookUrl(rawUrl, policy);
    } catch (err) {
      const reason = err instanceof SidecarError ? err.message : String(err);
      return { ok: false, attempts: n, status: null, reason, deliveryId };
    }
    const timestamp = String(Math.floor(Date.now() / 1000));
    const headers = {
      'content-type': 'application/json',
      'user-agent': 'skillboss-sidecar-webhook',
      [EVENT_HEADER]: payload.event,
      [DELIVERY_HEADER]: deliveryId,
      [TIMESTAMP_HEADER]: timestamp,
      [SIGNATURE_HEADER]: signPayload(signingSecret, timestamp, body),
    };
    const a = await once(checked, headers, body, opts.timeoutMs, signal);
    if (a.ok) return { ok: true, attempts: n, status: a.status, reason: `delivered (${a.status})`, deliveryId };
    last = { ok: false, attempts: n, status: a.status, reason: a.reason, deliveryId };
    if (!a.retry) return last;
    if (n < opts.attempts) await wait(Math.min(opts.maxDelayMs, opts.baseDelayMs * 2 ** (n - 1)), signal);
  }
  return { ...last, reason: `${last.reason}; gave up after ${opts.attempts} attempts` };
}
