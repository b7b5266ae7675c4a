/**
 * Group G: webhooks and other outbound URLs. The rotation webhook carries a
 * fresh token secret, so where it may go is strict: loopback only by default,
 * and the known SSRF-filter bypasses (node `ip` CVE-2024-29415, OneUptime
 * GHSA-9g3w-r349-3vvw) refused at save and at send; no redirects; bounded in
 * time and size; the payload holds only what the agent needs.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { listAudit } from '../../proxy/db/records.js';
import { checkWebhookUrl } from '../../proxy/lifecycle/outbound.js';
import { deliverWebhook } from '../../proxy/lifecycle/webhook.js';
import { errorOf, startStack, type Stack } from '../helpers/stack.js';
import { startReceiver, type Receiver } from '../integration/lifecycle-helpers.js';
import { adminSecret, call, startTrap } from './kit.js';

const FAST = { attempts: 2, baseDelayMs: 10, maxDelayMs: 20, timeoutMs: 300 };

let s: Stack;
let rx: Receiver;
let trap: Awaited<ReturnType<typeof startTrap>>;

beforeAll(async () => {
  s = await startStack({ daemon: { lifecycle: { intervalMs: 0, webhook: FAST } } });
  rx = await startReceiver();
  trap = await startTrap();
});
afterAll(async () => {
  await s?.close();
  await rx?.close();
  await trap?.close();
});

function schedule(secret: string, webhookUrl: string): Promise<Response> {
  return call(s, secret, 'POST', '/v1/api-keys/auto-rotate', { rotation_interval_days: 30, webhook_url: webhookUrl });
}

async function serve(handler: Parameters<typeof createServer>[1]): Promise<{ server: Server; url: string; close(): Promise<void> }> {
  const server = createServer(handler);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    server,
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

describe('G. where a webhook may go', () => {
  const bypasses = (port: number) => [
    `http://127.1:${port}/h`,
    `http://0177.0.0.1:${port}/h`,
    `http://0x7f.0.0.1:${port}/h`,
    `http://0x7f000001:${port}/h`,
    `http://2130706433:${port}/h`,
    `http://[::ffff:127.0.0.1]:${port}/h`,
    `http://[::ffff:7f00:1]:${port}/h`,
    `http://[0:0:0:0:0:ffff:127.0.0.1]:${port}/h`,
    'http://169.254.169.254/latest/meta-data/',
    'http://[fe80::1]/h',
    'http://10.0.0.1/h',
    'http://172.16.0.1/h',
    'http://192.168.1.1/h',
    'http://100.64.0.1/h',
    'http://0.0.0.0/h',
    'http://[fc00::1]/h',
    `http://user:pw@127.0.0.1:${port}/h`,
    'file:///etc/passwd',
    'gopher://127.0.0.1:25/',
    'https://hooks.attacker.example/h',
  ];

  it.each(Array.from({ length: 20 }, (_, i) => i))('G1.%i node ip CVE-2024-29415 / GHSA-9g3w-r349-3vvw (SSRF filter bypass forms): refused at save, nothing stored, nothing sent', async (i) => {
    const url = bypasses(trap.port)[i]!;
    const { token, secret } = s.token();
    const e = await errorOf(await schedule(secret, url));
    expect(e, url).toMatchObject({ status: 400, code: 'webhook_url_refused' });
    expect(s.tokens.get(token.id)!.meta.autoRotate).toBeUndefined();
    expect(trap.connections).toBe(0);
  });

  it('G2 loopback in its plain forms is allowed by default (127.0.0.1, [::1], localhost)', async () => {
    for (const url of [`${rx.url}/h`, `http://localhost:${rx.port}/h`, `http://[::1]:${rx.port}/h`]) {
      const { token, secret } = s.token();
      expect((await schedule(secret, url)).status, url).toBe(200);
      expect(s.tokens.get(token.id)!.meta.autoRotate?.webhookUrl).toBe(url);
    }
  });

  it('G3 the human\'s host allowlist takes host names only: addresses and numeric forms are refused in settings', async () => {
    for (const host of ['127.1', '2130706433', '10.0.0.1', '[::1]', 'localhost', 'hooks.example.com:8443', 'http://hooks.example.com']) {
      const res = await fetch(`${s.daemon.url}/admin/api/settings`, {
        method: 'PATCH',
        headers: { authorization: `Bearer ${adminSecret(s)}`, 'content-type': 'application/json' },
        body: JSON.stringify({ webhook_allowed_hosts: [host] }),
      });
      expect(res.status, host).toBe(400);
    }
  });

  it('G4 DNS rebinding of an allowed host: a name that resolves to a private or loopback address is refused at save and again at send, without connecting', async () => {
    const policy = (answer: string) => ({ allowedHosts: ['hooks.example.com'], resolve: async () => [{ address: answer, family: answer.includes(':') ? (6 as const) : (4 as const) }] });
    await expect(checkWebhookUrl('https://hooks.example.com/h', policy('203.0.113.10'))).rejects.toThrow(/reserved/); // documentation range
    await expect(checkWebhookUrl('https://hooks.example.com/h', policy('93.184.215.14'))).resolves.toMatchObject({ address: { address: '93.184.215.14' } });
    for (const answer of ['127.0.0.1', '10.1.2.3', '169.254.169.254', '::ffff:127.0.0.1', 'fd00::1']) {
      await expect(checkWebhookUrl('https://hooks.example.com/h', policy(answer)), answer).rejects.toThrow(/webhook_url refused|resolves to/);
      const r = await deliverWebhook('https://hooks.example.com/h', 'whsec_x', { event: 'key.rotated', token_id: 'tok_x', new_api_key: 'sk-sbl-x', old_key_expires_at: '' }, policy(answer), FAST);
      expect(r.ok).toBe(false);
      expect(r.status).toBeNull();
    }
    // Plain http to an allowed public host is refused too (the body carries a secret).
    await expect(checkWebhookUrl('http://hooks.example.com/h', policy('93.184.215.14'))).rejects.toThrow(/https/);
    expect(trap.connections).toBe(0);
  });
});

describe('G. delivery', () => {
  it('G5 redirects are not followed: a 302 to another address ends the delivery, the other address gets nothing, and the failure is audited', async () => {
    const redirector = await serve((_req, res) => {
      res.writeHead(302, { location: `${trap.url}/stolen` });
      res.end();
    });
    try {
      const { token, secret } = s.token();
      expect((await schedule(secret, `${redirector.url}/h`)).status).toBe(200);
      expect((await call(s, secret, 'POST', '/v1/api-keys/rotate')).status).toBe(200);
      await s.daemon.lifecycle.idle();
      expect(trap.connections).toBe(0);
      const failed = listAudit(s.daemon.db, { tokenId: token.id }).find((r) => r.event === 'webhook.failed');
      expect(JSON.stringify(failed?.detail)).toContain('redirects are not followed');
    } finally {
      await redirector.close();
    }
  });

  it('G6 the payload holds only what the agent needs: event, its token id, the new key, the old key\'s end — signed, nothing else', async () => {
    rx.received.length = 0;
    const { token, secret } = s.token();
    const others = s.token();
    expect((await schedule(secret, `${rx.url}/h`)).status).toBe(200);
    const rot = (await (await call(s, secret, 'POST', '/v1/api-keys/rotate')).json()) as { new_api_key: string };
    const [hook] = await rx.waitFor(1);
    const body = JSON.parse(hook!.body) as Record<string, unknown>;
    expect(Object.keys(body).sort()).toEqual(['event', 'new_api_key', 'old_key_expires_at', 'token_id']);
    expect(body).toMatchObject({ event: 'key.rotated', token_id: token.id, new_api_key: rot.new_api_key });
    expect(hook!.body).not.toContain(s.simKey);
    expect(hook!.body).not.toContain(others.token.id);
    expect(hook!.body).not.toContain(secret);
    expect(String(hook!.headers['x-skillboss-signature'])).toMatch(/^sha256=[0-9a-f]{64}$/);
    expect(hook!.headers.authorization).toBeUndefined();
    expect(hook!.headers.cookie).toBeUndefined();
  });

  it('G7 a receiver that never answers costs a bounded time: each attempt times out, then the delivery gives up', async () => {
    const sink = await serve(() => undefined);
    try {
      const started = performance.now();
      const r = await deliverWebhook(`${sink.url}/h`, 'whsec_x', { event: 'key.rotated', token_id: 'tok_x', new_api_key: 'sk-sbl-x', old_key_expires_at: '' }, { allowedHosts: [] }, FAST);
      expect(r.ok).toBe(false);
      expect(r.attempts).toBe(FAST.attempts);
      expect(performance.now() - started).toBeLessThan(FAST.attempts * FAST.timeoutMs + 1500);
    } finally {
      await sink.close();
    }
  });

  it('G8 a receiver that answers with an endless body does not hold the daemon: the status is taken and the connection dropped', async () => {
    let closed = false;
    const hose = await serve((req, res) => {
      req.resume();
      res.writeHead(200, { 'content-type': 'application/octet-stream' });
      const t = setInterval(() => res.write(Buffer.alloc(64 * 1024, 120)), 5);
      res.on('close', () => {
        closed = true;
        clearInterval(t);
      });
    });
    try {
      const r = await deliverWebhook(`${hose.url}/h`, 'whsec_x', { event: 'key.rotated', token_id: 'tok_x', new_api_key: 'sk-sbl-x', old_key_expires_at: '' }, { allowedHosts: [] }, FAST);
      expect(r).toMatchObject({ ok: true, status: 200 });
      await new Promise<void>((resolve, reject) => {
        const started = Date.now();
        const check = () => (closed ? resolve() : Date.now() - started > 3000 ? reject(new Error('the receiver connection was never dropped')) : setTimeout(check, 10));
        check();
      });
    } finally {
      await hose.close();
    }
  });
});
