/**
 * The lifecycle from the compiled CLI against a running daemon on the same
 * data dir: hierarchy refusals, `token auto-rotate` with a webhook and an env
 * file, `token rotate` delivering both, `rotation` settings and `audit`.
 */
import { readFileSync, rmSync, statSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DAY_MS } from '../../proxy/core/time.js';
import { getSetting } from '../../proxy/db/records.js';
import { keychainVault, VAULT } from '../../proxy/keychain/vault.js';
import { verifySignature } from '../../proxy/lifecycle/webhook.js';
import { TOKEN_PATTERN } from '../../proxy/tokens/format.js';
import { runCli } from '../helpers/cli.js';
import { startStack, tempDir, type Stack } from '../helpers/stack.js';
import { startReceiver, type Receiver } from './lifecycle-helpers.js';

let s: Stack;
let rx: Receiver;
let dir: string;
const printed: string[] = [];

beforeAll(async () => {
  rx = await startReceiver();
  dir = tempDir('sbs-lc-cli-');
  s = await startStack({ daemon: { lifecycle: { intervalMs: 0, webhook: { attempts: 3, baseDelayMs: 10, maxDelayMs: 50, timeoutMs: 2000 } } } });
});
afterAll(async () => {
  await s?.close();
  await rx?.close();
  rmSync(dir, { recursive: true, force: true });
});

async function cli(...args: string[]) {
  const r = await runCli([...args, '--data-dir', s.dataDir]);
  printed.push(r.stdout, r.stderr);
  return r;
}

const verifies = (secret: string, h: { headers: Record<string, unknown>; body: string }) =>
  verifySignature(secret, { signature: String(h.headers['x-skillboss-signature']), timestamp: String(h.headers['x-skillboss-timestamp']) }, h.body, Date.now());

describe('hierarchy rules from the CLI', () => {
  it('refuses each rule, naming it', async () => {
    const parent = s.token({ scopes: ['models:read', 'models:use', 'agents:create'], budgetUsd: 10, expires: '30d' }).token.id;
    const create = (...extra: string[]) => cli('token', 'create', '--name', 'kid', '--parent', parent, ...extra);
    const scope = await create('--scopes', 'models:read,billing:write', '--budget', '1', '--expires', '10d');
    expect(scope.code).toBe(1);
    expect(scope.stderr).toContain("a child's scopes must be a subset of its parent's; the parent lacks billing:write");
    const budget = await create('--scopes', 'models:read', '--budget', '11', '--expires', '10d');
    expect(budget.stderr).toContain("a child's budget (11 USD) may not exceed its parent's (10 USD");
    const expiry = await create('--scopes', 'models:read', '--budget', '1', '--expires', '60d');
    expect(expiry.stderr).toContain('a child may not outlive its parent');
    let deepest = s.token({ preset: 'admin' }).token.id;
    for (let i = 0; i < 5; i++) deepest = s.token({ preset: 'admin', parentId: deepest }).token.id;
    const depth = await cli('token', 'create', '--name', 'too-deep', '--parent', deepest, '--preset', 'read-only');
    expect(depth.code).toBe(1);
    expect(depth.stderr).toContain('at most 5 levels');
    expect(s.tokens.list().filter((t) => t.name === 'kid' || t.name === 'too-deep')).toHaveLength(0);
  }, 60_000);
});

describe('rotation from the CLI', () => {
  it('token create --write-env writes the secret to an owner-only .env file', async () => {
    const path = join(dir, 'created.env');
    const r = await cli('token', 'create', '--name', 'env-agent', '--preset', 'write', '--write-env', path, '--json');
    expect(r.code, r.stderr).toBe(0);
    const { id, api_key } = JSON.parse(r.stdout) as { id: string; api_key: string };
    expect(readFileSync(path, 'utf8')).toContain(`OPENAI_API_KEY=${api_key}\n`);
    expect(statSync(path).mode & 0o777).toBe(0o600);
    expect(s.tokens.get(id)!.meta.envSink).toBe(path);
  });

  it('token auto-rotate --every --webhook --write-env; token rotate and the daemon both deliver to the agent', async () => {
    const { token } = s.token();
    const envPath = join(dir, 'auto.env');
    const set = await cli('token', 'auto-rotate', token.id, '--every', '1d', '--webhook', `${rx.url}/rotated`, '--write-env', envPath, '--json');
    expect(set.code, set.stderr).toBe(0);
    const conf = JSON.parse(set.stdout) as { webhook_signing_secret: string; env_file: string; rotation_interval_days: number };
    expect(conf).toMatchObject({ env_file: envPath, rotation_interval_days: 1 });
    expect(existsSync(envPath)).toBe(false);

    const rot = await cli('token', 'rotate', token.id, '--json');
    expect(rot.code, rot.stderr).toBe(0);
    const out = JSON.parse(rot.stdout) as { new_api_key: string; webhook: { delivered: boolean } };
    expect(out.webhook.delivered).toBe(true);
    expect(readFileSync(envPath, 'utf8')).toContain(`OPENAI_API_KEY=${out.new_api_key}\n`);
    const [first] = await rx.waitFor(1);
    expect(JSON.parse(first!.body)).toMatchObject({ event: 'key.rotated', token_id: token.id, new_api_key: out.new_api_key });
    expect(verifies(conf.webhook_signing_secret, first!)).toBe(true);

    // The daemon's schedule, with the signing secret it reads from the keychain (the CLI counted the day on the wall clock).
    s.clock.now = Date.now() + DAY_MS + 60_000;
    await s.daemon.lifecycle.tick();
    await s.daemon.lifecycle.idle();
    const second = rx.received[1]!;
    const { new_api_key } = JSON.parse(second.body) as { new_api_key: string };
    expect(verifies(conf.webhook_signing_secret, second)).toBe(true);
    expect(readFileSync(envPath, 'utf8')).toContain(`SKILLBOSS_API_KEY=${new_api_key}\n`);
    expect((await fetch(`${s.baseURL}/models`, { headers: { authorization: `Bearer ${new_api_key}` } })).status).toBe(200);

    const refused = await cli('token', 'auto-rotate', token.id, '--every', '1d', '--webhook', 'https://your-agent.com/x');
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain('your-agent.com is not loopback');
    expect(refused.stderr).toContain('rotation webhook-hosts --add your-agent.com');

    const off = await cli('token', 'auto-rotate', token.id, '--off');
    expect(off.code, off.stderr).toBe(0);
    expect(s.tokens.get(token.id)!.meta.autoRotate).toBeUndefined();
    expect(keychainVault(s.dataDir).get(VAULT.webhookSecret(token.id))).toBeNull();
  }, 60_000);

  it('rotation settings: the key schedule and allowed webhook hosts', async () => {
    const bad = await cli('rotation', 'webhook-hosts', '--add', '2130706433');
    expect(bad.code).toBe(1);
    expect(bad.stderr).toContain('is an address');
    const ok = await cli('rotation', 'webhook-hosts', '--add', 'Hooks.Example.com', '--json');
    expect(JSON.parse(ok.stdout)).toEqual({ webhook_allowed_hosts: ['hooks.example.com'] });
    expect((await cli('rotation', 'key', '--every', '30d')).code).toBe(0);
    expect(getSetting(s.daemon.db, 'key_rotation_days')).toBe(30);
    const show = JSON.parse((await cli('rotation', '--json')).stdout) as { key: { every_days: number; next_at: string }; webhook_allowed_hosts: string[] };
    expect(show.key.every_days).toBe(30);
    expect(show.webhook_allowed_hosts).toEqual(['hooks.example.com']);
  }, 60_000);

  it('audit lists the lifecycle events, by token, with no secret anywhere in the output', async () => {
    const rows = JSON.parse((await cli('audit', '--limit', '1000', '--json')).stdout) as { events: Array<{ event: string; actor: string; token_id: string | null }> };
    const events = new Set(rows.events.map((e) => e.event));
    for (const e of ['token.create', 'token.auto_rotate', 'token.auto_rotated', 'token.rotate', 'token.env_sink', 'token.env_sink.set', 'webhook.delivered', 'settings.change']) expect(events, e).toContain(e);
    const one = rows.events.find((e) => e.event === 'token.auto_rotate')!.token_id!;
    const mine = JSON.parse((await cli('audit', '--token', one, '--json')).stdout) as { events: Array<{ token_id: string }> };
    expect(mine.events.length).toBeGreaterThan(2);
    expect(mine.events.every((e) => e.token_id === one)).toBe(true);
    const table = await cli('audit', '--limit', '3');
    expect(table.stdout).toMatch(/^TIME\s+ACTOR\s+EVENT\s+TOKEN\s+DETAIL/);
    expect(table.stdout.trim().split('\n')).toHaveLength(4);
    // Secrets were printed where they must be (create, rotate), never by audit.
    const auditOut = printed.slice(-6).join('\n');
    expect(auditOut.match(TOKEN_PATTERN)).toBeNull();
    expect(auditOut).not.toContain('whsec_');
  }, 60_000);
});
