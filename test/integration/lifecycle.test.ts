/**
 * The token lifecycle over real HTTP against the real daemon and simulator:
 * rotation and its grace period at the boundary, what a grace-period secret
 * may not do, the hierarchy rules, subtree revocation, and auto-rotation that
 * reaches the agent (signed webhook to a real local receiver, env sink).
 */
import { readFileSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DAY_MS } from '../../proxy/core/time.js';
import { listAudit, setSetting } from '../../proxy/db/records.js';
import { setEnvSink } from '../../proxy/lifecycle/rotation.js';
import { keychainVault, VAULT } from '../../proxy/keychain/vault.js';
import { startDaemon, type Daemon } from '../../proxy/server/daemon.js';
import { TokenStore } from '../../proxy/tokens/store.js';
import { verifySignature } from '../../proxy/lifecycle/webhook.js';
import { TOKEN_PATTERN } from '../../proxy/tokens/format.js';
import { errorOf, startStack, tempDir, type Stack } from '../helpers/stack.js';
import { startReceiver, type Receiver } from './lifecycle-helpers.js';

const FAST_WEBHOOKS = { attempts: 4, baseDelayMs: 10, maxDelayMs: 50, timeoutMs: 2000 };

let s: Stack;
let rx: Receiver;
let sinkDir: string;
const signingSecrets: string[] = [];

beforeAll(async () => {
  rx = await startReceiver();
  sinkDir = tempDir('sbs-sink-');
  s = await startStack({ daemon: { lifecycle: { intervalMs: 0, webhook: FAST_WEBHOOKS } } });
});
afterAll(async () => {
  await s?.close();
  await rx?.close();
  rmSync(sinkDir, { recursive: true, force: true });
});

function call(secret: string, method: string, path: string, body?: unknown): Promise<Response> {
  return fetch(`${s.baseURL}${path}`, {
    method,
    headers: { authorization: `Bearer ${secret}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
}

async function json<T = Record<string, unknown>>(res: Response, status = 200): Promise<T> {
  const text = await res.text();
  expect(res.status, text).toBe(status);
  return JSON.parse(text) as T;
}

/** Runs `fn` with the daemon's clock at `at`, then puts it back. */
async function at<T>(ms: number, fn: () => Promise<T>): Promise<T> {
  const before = s.clock.now;
  s.clock.now = ms;
  try {
    return await fn();
  } finally {
    s.clock.now = before;
  }
}

describe('rotation with a grace period', () => {
  it('keeps identity, children and spend; the old secret works at grace_until − 1 ms and gets 401 token_rotated at grace_until', async () => {
    const { token, secret: old } = s.token({ preset: 'admin', budgetUsd: 10 });
    await json(await call(old, 'POST', '/chat/completions', { model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'spend a little' }] }));
    const child = await json<{ id: string; api_key: string }>(await call(old, 'POST', '/agents/create-child', { child_name: 'kid', child_budget: 1, scopes: ['models:read'] }));
    const spentBefore = (await json<{ spent: number }>(await call(old, 'GET', '/balance'))).spent;
    expect(spentBefore).toBeGreaterThan(0);

    const r = await json<{ id: string; new_api_key: string; old_key_expires_at: string }>(await call(old, 'POST', '/api-keys/rotate'));
    expect(r.id).toBe(token.id);
    const graceUntil = Date.parse(r.old_key_expires_at);
    expect(graceUntil).toBe(s.clock.now + 7 * DAY_MS);
    const fresh = r.new_api_key;
    expect(fresh).toMatch(/^sk-sbl-/);
    expect(fresh).not.toBe(old);

    const bal = await json<{ token_id: string; spent: number; monthly_budget: number }>(await call(fresh, 'GET', '/balance'));
    expect(bal).toMatchObject({ token_id: token.id, monthly_budget: 10 });
    expect(bal.spent).toBe(spentBefore);
    expect((await call(child.api_key, 'GET', '/models')).status).toBe(200);
    expect(s.tokens.chain(child.id).map((t) => t.id)).toEqual([child.id, token.id]);

    await at(graceUntil - 1, async () => {
      expect((await call(old, 'GET', '/models')).status).toBe(200);
    });
    await at(graceUntil, async () => {
      const e = await errorOf(await call(old, 'GET', '/models'));
      expect(e).toMatchObject({ status: 401, code: 'token_rotated' });
      expect(e.message).toContain('rotated');
      expect((await call(fresh, 'GET', '/models')).status).toBe(200);
    });
  });

  it('a grace-period secret may make ordinary calls but not rotate, mint, revoke or schedule (403)', async () => {
    const { secret: old } = s.token({ preset: 'admin' });
    const kid = await json<{ id: string }>(await call(old, 'POST', '/agents/create-child', { child_name: 'k', child_budget: 1, scopes: ['models:read'] }));
    await json(await call(old, 'POST', '/api-keys/rotate', { grace_days: 1 }));
    expect((await call(old, 'GET', '/models')).status).toBe(200);
    const refusals = [
      await call(old, 'POST', '/api-keys/rotate'),
      await call(old, 'POST', '/agents/create-child', { child_name: 'x', child_budget: 1, scopes: ['models:read'] }),
      await call(old, 'POST', '/api-keys', { name: 'x', scopes: ['models:read'], monthly_budget: 1 }),
      await call(old, 'DELETE', `/agents/${kid.id}/revoke`),
      await call(old, 'POST', '/api-keys/auto-rotate', { rotation_interval_days: 30 }),
    ];
    for (const res of refusals) expect(await errorOf(res)).toMatchObject({ status: 403, code: 'secret_in_grace_period' });
    expect(s.tokens.get(kid.id)!.revokedAt).toBeNull();
  });
});

describe('the hierarchy', () => {
  it('refuses every rule with a 403 that names it', async () => {
    const { secret: parent } = s.token({ scopes: ['models:read', 'models:use', 'agents:create'], budgetUsd: 10, expires: '30d' });
    const mint = (body: Record<string, unknown>) => call(parent, 'POST', '/agents/create-child', { child_name: 'c', scopes: ['models:read'], ...body });

    const scope = await errorOf(await mint({ child_budget: 1, scopes: ['models:read', 'billing:write'] }));
    expect(scope).toMatchObject({ status: 403, code: 'scope_exceeds_parent' });
    expect(scope.message).toContain('subset of its parent');
    expect(scope.message).toContain('billing:write');

    const budget = await errorOf(await mint({ child_budget: 10.01 }));
    expect(budget).toMatchObject({ status: 403, code: 'budget_exceeds_parent' });
    expect(budget.message).toContain('may not exceed');
    // POST /v1/api-keys obeys the same rules.
    expect(await errorOf(await call(parent, 'POST', '/api-keys', { name: 'n', scopes: ['models:read'], monthly_budget: 11 }))).toMatchObject({ status: 403, code: 'budget_exceeds_parent' });

    const expiry = await errorOf(await mint({ child_budget: 1, expiration_days: 31 }));
    expect(expiry).toMatchObject({ status: 403, code: 'expiry_exceeds_parent' });
    expect(expiry.message).toContain('may not outlive its parent');

    // Budget ≤ the tightest ancestor, not just the parent: a $2 child's child may not get $5.
    const mid = await json<{ api_key: string }>(await mint({ child_budget: 2, scopes: ['models:read', 'agents:create'] }));
    expect(await errorOf(await call(mid.api_key, 'POST', '/agents/create-child', { child_name: 'g', child_budget: 5, scopes: ['models:read'] }))).toMatchObject({
      status: 403,
      code: 'budget_exceeds_parent',
    });

    // Depth: a root at depth 0 can have descendants down to depth 5, not 6.
    let key = s.token({ preset: 'admin' }).secret;
    for (let depth = 1; depth <= 5; depth++) {
      key = (await json<{ api_key: string }>(await call(key, 'POST', '/agents/create-child', { child_name: `d${depth}`, child_budget: 1, scopes: ['models:read', 'agents:create'] }))).api_key;
    }
    const deep = await errorOf(await call(key, 'POST', '/agents/create-child', { child_name: 'd6', child_budget: 1, scopes: ['models:read'] }));
    expect(deep).toMatchObject({ status: 403, code: 'depth_limit' });
    expect(deep.message).toContain('at most 5 levels');
  });

  it('revoking a subtree never touches an ancestor or a sibling\'s tree', async () => {
    const root = s.token({ preset: 'admin' });
    const mk = async (parent: string, name: string) =>
      json<{ id: string; api_key: string }>(await call(parent, 'POST', '/agents/create-child', { child_name: name, child_budget: 5, scopes: ['models:read', 'agents:create'] }));
    const a = await mk(root.secret, 'A');
    const b = await mk(root.secret, 'B');
    const a1 = await mk(a.api_key, 'A1');
    const a1a = await mk(a1.api_key, 'A1a');
    const a2 = await mk(a.api_key, 'A2');
    const b1 = await mk(b.api_key, 'B1');
    const works = async (k: string) => (await call(k, 'GET', '/models')).status === 200;

    // By key, as the reference document does; the whole A1 subtree goes, nothing else.
    expect(await json<{ revoked_ids: string[] }>(await call(a.api_key, 'DELETE', `/agents/${a1.api_key}/revoke`))).toMatchObject({ revoked_ids: [a1.id, a1a.id] });
    expect(await errorOf(await call(a1.api_key, 'GET', '/models'))).toMatchObject({ status: 401, code: 'token_revoked' });
    expect(await errorOf(await call(a1a.api_key, 'GET', '/models'))).toMatchObject({ status: 401, code: 'token_revoked' });
    for (const k of [root.secret, a.api_key, a2.api_key, b.api_key, b1.api_key]) expect(await works(k)).toBe(true);

    // Not a sibling, not a sibling's child, not an ancestor (404: their existence is not confirmed), not itself (403).
    for (const target of [b.id, b1.api_key, root.token.id]) expect(await errorOf(await call(a.api_key, 'DELETE', `/agents/${target}/revoke`))).toMatchObject({ status: 404 });
    expect(await errorOf(await call(a.api_key, 'DELETE', `/agents/${a.id}/revoke`))).toMatchObject({ status: 403, code: 'cannot_revoke_self' });

    // The root revokes A by id: A and A2 go; B's tree and the root stay.
    expect(await json<{ revoked_ids: string[] }>(await call(root.secret, 'DELETE', `/agents/${a.id}/revoke`))).toMatchObject({ revoked_ids: [a.id, a2.id] });
    for (const k of [root.secret, b.api_key, b1.api_key]) expect(await works(k)).toBe(true);
    expect(await works(a2.api_key)).toBe(false);
  });
});

describe('auto-rotation', () => {
  it('refuses a non-loopback webhook by default (400 naming why), and the loopback bypass forms, storing nothing', async () => {
    const { token, secret } = s.token();
    const e = await errorOf(await call(secret, 'POST', '/api-keys/auto-rotate', { rotation_interval_days: 90, webhook_url: 'https://your-agent.com/key-rotated' }));
    expect(e).toMatchObject({ status: 400, code: 'webhook_url_refused' });
    expect(e.message).toContain('your-agent.com is not loopback');
    for (const url of [
      `http://127.1:${rx.port}/h`,
      `http://0x7f.0.0.1:${rx.port}/h`,
      `http://2130706433:${rx.port}/h`,
      `http://0177.0.0.1:${rx.port}/h`,
      `http://[::ffff:127.0.0.1]:${rx.port}/h`,
      'http://169.254.169.254/latest/meta-data/',
      'http://0xa9fea9fe/',
      'http://[::ffff:a9fe:a9fe]/',
      'http://10.1/',
      'http://192.168.0.1/',
    ]) {
      expect(await errorOf(await call(secret, 'POST', '/api-keys/auto-rotate', { rotation_interval_days: 90, webhook_url: url })), url).toMatchObject({ status: 400, code: 'webhook_url_refused' });
    }
    // An allowed host still needs https, and nothing was stored by any refusal.
    setSetting(s.daemon.db, 'webhook_allowed_hosts', ['your-agent.com']);
    expect((await errorOf(await call(secret, 'POST', '/api-keys/auto-rotate', { rotation_interval_days: 90, webhook_url: 'http://your-agent.com/x' }))).message).toContain('must use https');
    setSetting(s.daemon.db, 'webhook_allowed_hosts', []);
    expect(s.tokens.get(token.id)!.meta.autoRotate).toBeUndefined();
    expect(rx.received).toHaveLength(0);
  });

  it('rotates on schedule; the agent gets a signed webhook and a rewritten 0600 env file', async () => {
    const { token, secret } = s.token();
    const envPath = join(sinkDir, 'agent.env');
    setEnvSink(s.daemon.lifecycle.ctx, token.id, envPath, 'test');
    const set = await json<{ enabled: boolean; next_rotation_at: string; webhook_signing_secret: string }>(
      await call(secret, 'POST', '/api-keys/auto-rotate', { rotation_interval_days: 1, webhook_url: `${rx.url}/key-rotated` }),
    );
    expect(set.enabled).toBe(true);
    expect(Date.parse(set.next_rotation_at)).toBe(s.clock.now + DAY_MS);
    const signing = set.webhook_signing_secret;
    expect(signing).toMatch(/^whsec_\w{40}$/);
    signingSecrets.push(signing);
    // The signing secret is in the OS keychain, under this data dir's account, and nowhere in SQLite.
    expect(keychainVault(s.dataDir).get(VAULT.webhookSecret(token.id))).toBe(signing);
    expect(JSON.stringify(s.daemon.db.prepare('SELECT * FROM tokens').all())).not.toContain(signing);

    // Not due yet: nothing happens.
    expect(await s.daemon.lifecycle.tick()).toHaveLength(0);
    expect(rx.received).toHaveLength(0);

    s.clock.now += DAY_MS;
    const [rot] = await s.daemon.lifecycle.tick();
    expect(rot!.token.id).toBe(token.id);
    const [hook] = await rx.waitFor(1);
    expect(hook!.path).toBe('/key-rotated');
    const body = JSON.parse(hook!.body) as { event: string; token_id: string; new_api_key: string; old_key_expires_at: string };
    expect(Object.keys(body).sort()).toEqual(['event', 'new_api_key', 'old_key_expires_at', 'token_id']);
    expect(body).toMatchObject({ event: 'key.rotated', token_id: token.id });
    expect(verifySignature(signing, { signature: hook!.headers['x-skillboss-signature'] as string, timestamp: hook!.headers['x-skillboss-timestamp'] as string }, hook!.body, Date.now())).toBe(true);
    // Auto-rotation keeps the old secret for one interval when that is shorter than 7 days.
    expect(Date.parse(body.old_key_expires_at)).toBe(s.clock.now + DAY_MS);
    expect((await call(body.new_api_key, 'GET', '/models')).status).toBe(200);
    expect((await call(secret, 'GET', '/models')).status).toBe(200);

    const env = readFileSync(envPath, 'utf8');
    expect(env).toContain(`OPENAI_API_KEY=${body.new_api_key}\n`);
    expect(env).toContain(`SKILLBOSS_API_KEY=${body.new_api_key}\n`);
    expect(env).toContain(`OPENAI_BASE_URL=${s.baseURL}\n`);
    expect(statSync(envPath).mode & 0o777).toBe(0o600);
    expect(s.tokens.get(token.id)!.meta.autoRotate!.nextAt).toBe(s.clock.now + DAY_MS);

    // A rotation the agent asks for itself reaches the env file and the webhook too.
    const manual = await json<{ new_api_key: string }>(await call(body.new_api_key, 'POST', '/api-keys/rotate'));
    expect(readFileSync(envPath, 'utf8')).toContain(`OPENAI_API_KEY=${manual.new_api_key}\n`);
    const hooks = await rx.waitFor(2);
    expect(JSON.parse(hooks[1]!.body).new_api_key).toBe(manual.new_api_key);

    // Retries with backoff: two 500s, then delivered on the third attempt.
    rx.script = [500, 500];
    s.clock.now += DAY_MS;
    await s.daemon.lifecycle.tick();
    await s.daemon.lifecycle.idle();
    expect(rx.received).toHaveLength(5);
    const delivered = listAudit(s.daemon.db, { tokenId: token.id }).find((r) => r.event === 'webhook.delivered');
    expect(delivered!.detail).toMatchObject({ attempts: 3, status: 200, url: `${rx.url}/key-rotated` });

    // Bounded: after 4 attempts it gives up and the failure is audited.
    rx.script = [503, 503, 503, 503, 503];
    s.clock.now += DAY_MS;
    await s.daemon.lifecycle.tick();
    await s.daemon.lifecycle.idle();
    expect(rx.received).toHaveLength(9);
    rx.script = [];
    const failed = listAudit(s.daemon.db, { tokenId: token.id }).find((r) => r.event === 'webhook.failed');
    expect(failed!.detail).toMatchObject({ attempts: 4, status: 503 });

    // Turned off: no schedule, no signing secret, nothing at the next due time.
    const newest = readFileSync(envPath, 'utf8').match(/OPENAI_API_KEY=(\S+)/)![1]!;
    expect(await json(await call(newest, 'POST', '/api-keys/auto-rotate', { enabled: false }))).toMatchObject({ enabled: false });
    expect(s.tokens.get(token.id)!.meta.autoRotate).toBeUndefined();
    expect(keychainVault(s.dataDir).get(VAULT.webhookSecret(token.id))).toBeNull();
    s.clock.now += 2 * DAY_MS;
    expect(await s.daemon.lifecycle.tick()).toHaveLength(0);
    rx.received.length = 0;
  });

  it('writes every lifecycle event to the audit log, with no secret in it', async () => {
    const events = new Set(listAudit(s.daemon.db, { limit: 100_000 }).map((r) => r.event));
    for (const e of ['token.create', 'token.rotate', 'token.revoke', 'token.auto_rotate', 'token.auto_rotated', 'token.env_sink', 'webhook.delivered', 'webhook.failed']) {
      expect(events, e).toContain(e);
    }
    const dump = JSON.stringify(s.daemon.db.prepare('SELECT * FROM audit').all());
    expect(dump.match(TOKEN_PATTERN)).toBeNull();
    expect(dump).not.toContain(s.simKey);
    for (const sec of signingSecrets) expect(dump).not.toContain(sec);
    expect(dump).not.toContain('whsec_');
  });
});

describe('a rotation due while the daemon was down', () => {
  it('happens at the next start', async () => {
    const s2 = await startStack({ daemon: { lifecycle: { intervalMs: 0, webhook: FAST_WEBHOOKS } } });
    const rx2 = await startReceiver();
    let again: Daemon | undefined;
    try {
      const { token, secret } = s2.token();
      const envPath = join(sinkDir, 'restart.env');
      setEnvSink(s2.daemon.lifecycle.ctx, token.id, envPath, 'test');
      const set = await fetch(`${s2.baseURL}/api-keys/auto-rotate`, {
        method: 'POST',
        headers: { authorization: `Bearer ${secret}`, 'content-type': 'application/json' },
        body: JSON.stringify({ rotation_interval_days: 1, webhook_url: `${rx2.url}/hook` }),
      });
      const { webhook_signing_secret: signing } = (await set.json()) as { webhook_signing_secret: string };
      await s2.daemon.close();

      // The machine sleeps through the due time.
      s2.clock.now += 3 * DAY_MS;
      again = await startDaemon({ dataDir: s2.dataDir, port: 0, upstreamUrl: s2.sim.url, keyStore: s2.keyStore, clock: s2.clock, syncIntervalMs: 0, watchIntervalMs: 50, lifecycle: { intervalMs: 0, webhook: FAST_WEBHOOKS } });

      // Done by the time the daemon is up: the env file holds a new secret that works.
      const fresh = readFileSync(envPath, 'utf8').match(/OPENAI_API_KEY=(\S+)/)![1]!;
      expect(fresh).not.toBe(secret);
      const ok = await fetch(`${again.url}/v1/models`, { headers: { authorization: `Bearer ${fresh}` } });
      expect(ok.status).toBe(200);
      const [hook] = await rx2.waitFor(1);
      expect(JSON.parse(hook!.body)).toMatchObject({ event: 'key.rotated', token_id: token.id, new_api_key: fresh });
      expect(verifySignature(signing, { signature: hook!.headers['x-skillboss-signature'] as string, timestamp: hook!.headers['x-skillboss-timestamp'] as string }, hook!.body, Date.now())).toBe(true);
      const next = new TokenStore(again.db, s2.clock).get(token.id)!.meta.autoRotate!.nextAt;
      expect(next).toBe(s2.clock.now + DAY_MS);
      expect(listAudit(again.db, { tokenId: token.id }).filter((r) => r.event === 'token.auto_rotated')).toHaveLength(1);
      keychainVault(s2.dataDir).remove(VAULT.webhookSecret(token.id));
    } finally {
      await again?.close();
      await rx2.close();
      await s2.close();
    }
  });
});
