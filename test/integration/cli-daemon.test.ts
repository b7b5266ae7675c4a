/**
 * The CLI talks to the running daemon (issue 26): `status` and `doctor`
 * describe the daemon the human started (a demo with its in-memory key, a
 * `serve --upstream <simulator>`), not the default key store and upstream;
 * a change made with the CLI is in force for the very next request; and the
 * outputs say what the commands did.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { randomBase62 } from '../../proxy/tokens/format.js';
import { claimSession } from '../helpers/session.js';
import { runCli, startCli, type Background } from '../helpers/cli.js';
import { tempDir } from '../helpers/stack.js';

const simKey = `sk-cli-daemon-${randomBase62(32)}`;
const home = tempDir('sbs-cli-daemon-home-');
/** A fresh home and runtime dir, and no keyring session: the demo needs none, and `status` must not look for one. */
const demoEnv = { HOME: home, XDG_DATA_HOME: join(home, 'data'), XDG_RUNTIME_DIR: '', SKILLBOSS_SIDECAR_RUNTIME_DIR: join(home, 'run'), DBUS_SESSION_BUS_ADDRESS: 'unix:path=/nonexistent' };
let demo: Background;
let sim: Background;
let serve: Background;
let simUrl: string;
let base: string;
let dataDir: string;

async function cli(args: string[]) {
  return runCli([...args, '--data-dir', dataDir]);
}

async function chat(key: string): Promise<number> {
  const res = await fetch(`${base}/chat/completions`, {
    method: 'POST',
    headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
    body: JSON.stringify({ model: 'gpt-4o-mini', max_tokens: 16, messages: [{ role: 'user', content: 'hi' }] }),
  });
  await res.arrayBuffer();
  return res.status;
}

async function create(args: string[]): Promise<{ id: string; api_key: string }> {
  const r = await cli(['token', 'create', '--preset', 'write', '--json', ...args]);
  expect(r.code, r.stderr).toBe(0);
  return JSON.parse(r.stdout) as { id: string; api_key: string };
}

beforeAll(async () => {
  demo = startCli(['demo', '--port', '0'], demoEnv);
  sim = startCli(['simulator', '--port', '0', '--api-key', simKey, '--balance', '50']);
  simUrl = (await sim.waitFor(/simulator (http:\S+)/))[1]!;
  dataDir = tempDir('sbs-cli-daemon-');
  const set = await runCli(['key', 'set', '--no-check', '--data-dir', dataDir], { input: simKey });
  expect(set.code, set.stderr).toBe(0);
  serve = startCli(['serve', '--port', '0', '--upstream', simUrl, '--data-dir', dataDir]);
  base = (await serve.waitFor(/listening (http:\S+)/))[1]!;
  await demo.waitFor(/Serving until Ctrl-C/, 60_000);
}, 90_000);

afterAll(async () => {
  await demo?.stop();
  await serve?.stop();
  await sim?.stop();
  await runCli(['key', 'remove', '--data-dir', dataDir]).catch(() => undefined);
  rmSync(dataDir, { recursive: true, force: true });
});

describe('status and doctor describe the running daemon', () => {
  it('against the demo (no keychain at all): exit 0, no FAIL, and they name the demo', async () => {
    const status = await runCli(['status'], { env: demoEnv });
    expect(status.code, status.stdout + status.stderr).toBe(0);
    expect(status.stdout).toMatch(new RegExp(`Describes the demo \\(pid ${demo.child.pid}\\) at http://127\\.0\\.0\\.1:\\d+`));
    expect(status.stdout).not.toMatch(/UNAVAILABLE|NOT set|No SkillBoss key/);
    expect(status.stdout).toMatch(/upstream {2}http:\/\/127\.0\.0\.1:\d+\/v1: reachable/);
    expect(status.stdout).toContain("in the daemon's memory only");
    const json = JSON.parse((await runCli(['status', '--json'], { env: demoEnv })).stdout) as { ok: boolean; daemon: { kind: string; pid: number }; key: { state: string } };
    expect(json).toMatchObject({ ok: true, daemon: { kind: 'demo', pid: demo.child.pid }, key: { state: 'set' } });

    const doctor = await runCli(['doctor'], { env: demoEnv });
    expect(doctor.code, doctor.stdout + doctor.stderr).toBe(0);
    expect(doctor.stdout).not.toContain('FAIL');
    expect(doctor.stdout).toContain(`Checking the demo (pid ${demo.child.pid})`);
    expect(doctor.stdout).toMatch(/ok {4}key valid +http:\/\/127\.0\.0\.1:\d+\/v1 accepted the key/);
  });

  it('against `serve --upstream <simulator>`: its upstream, not the default one', async () => {
    const status = await cli(['status']);
    expect(status.code, status.stdout + status.stderr).toBe(0);
    expect(status.stdout).toContain(`Describes the daemon (\`serve\`) (pid ${serve.child.pid})`);
    expect(status.stdout).toContain(`upstream  ${simUrl}: reachable`);
    const doctor = await cli(['doctor']);
    expect(doctor.code, doctor.stdout + doctor.stderr).toBe(0);
    expect(doctor.stdout).not.toContain('FAIL');
    expect(doctor.stdout).toContain(`${simUrl} accepted the key`);
    expect(doctor.stdout).not.toContain('api.skillboss.co');
  });

  it('`key status` checks the key against the daemon\'s upstream, and says so without a daemon', async () => {
    const k = await cli(['key', 'status']);
    expect(k.stdout, k.stderr).toContain('SkillBoss accepted the key');
    const none = await runCli(['status', '--data-dir', tempDir('sbs-no-daemon-')], { env: { SKILLBOSS_UPSTREAM_URL: simUrl } });
    expect(none.stdout).toContain('Describes no running daemon');
    expect(none.stdout).toContain(`upstream  ${simUrl}`);

    // Headless, no daemon: key set and doctor check against SKILLBOSS_UPSTREAM_URL, not api.skillboss.co.
    const headless = { SKILLBOSS_UPSTREAM_URL: simUrl, SKILLBOSS_SIDECAR_KEY_STORE: 'encrypted-file', SKILLBOSS_SIDECAR_KEY_PASSPHRASE: 'a long test passphrase' };
    const dir = tempDir('sbs-headless-');
    const set = await runCli(['key', 'set', '--data-dir', dir], { input: simKey, env: headless });
    expect(set.stdout, set.stderr).toContain('SkillBoss accepted the key');
    const doctor = await runCli(['doctor', '--data-dir', dir, '--port', '0'], { env: headless });
    expect(doctor.stdout).toContain(`Checking no running daemon: the local key store and ${simUrl}`);
    expect(doctor.stdout).toMatch(new RegExp(`ok {4}upstream +${simUrl.replace(/[.]/g, '\\.')} is reachable`));
    expect(doctor.stdout).toMatch(/ok {4}key valid/);
  });
});

describe('CLI changes are in force when the command returns', () => {
  it('a budget raised with set-budget: no 402 in 20 requests in a row', async () => {
    const t = await create(['--name', 'tight', '--budget', '0.000001']);
    expect(await chat(t.api_key)).toBe(402);
    const r = await cli(['token', 'set-budget', t.id, '5']);
    expect(r.code, r.stderr).toBe(0);
    const statuses: number[] = [];
    for (let i = 0; i < 20; i++) statuses.push(await chat(t.api_key));
    expect(statuses).toEqual(Array(20).fill(200));
  });

  it('a prepaid budget topped up: the next request is served', async () => {
    const t = await create(['--name', 'prepaid', '--period', 'total', '--budget', '0.000001']);
    expect(await chat(t.api_key)).toBe(402);
    const r = await cli(['token', 'topup', t.id, '5']);
    expect(r.code, r.stderr).toBe(0);
    expect(await chat(t.api_key)).toBe(200);
  });

  it('a revoked token is refused at once', async () => {
    const t = await create(['--name', 'revoked-now']);
    expect(await chat(t.api_key)).toBe(200);
    expect((await cli(['token', 'revoke', t.id])).code).toBe(0);
    expect(await chat(t.api_key)).toBe(401);
  });

  it('a hold approved: the message says the threshold is waived, and the next request is served', async () => {
    const t = await create(['--name', 'held', '--hold-above', '0.000001']);
    expect(await chat(t.api_key)).toBe(402);
    const approve = await cli(['requests', 'approve', t.id]);
    expect(approve.code, approve.stderr).toBe(0);
    expect(approve.stdout).toContain('threshold is waived for the rest of this month');
    expect(approve.stdout).not.toContain('held again');
    expect(await chat(t.api_key)).toBe(200);
  });
});

describe('outputs and refusals', () => {
  it('token show prints the forecast and hold readably', async () => {
    const t = await create(['--name', 'shown', '--budget', '2']);
    const r = await cli(['token', 'show', t.id]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).not.toContain('[object Object]');
    expect(r.stdout).toMatch(/^forecast\n {2}spend_rate_usd_per_hour +0$/m);
  });

  it('options that do not apply to the kind of id are refused', async () => {
    const t = await create(['--name', 'kinds']);
    const a = await cli(['requests', 'approve', t.id, '--budget', '1', '--scopes', 'models:read']);
    expect(a.code).not.toBe(0);
    expect(a.stderr).toContain('--budget, --scopes do not apply to a held token (tok_…)');
    const b = await cli(['requests', 'approve', 'WDJB-MJHT', '--hold-above', '1']);
    expect(b.code).not.toBe(0);
    expect(b.stderr).toContain('--hold-above does not apply to an access request');
    const c = await cli(['requests', 'deny', t.id, '--reason', 'no']);
    expect(c.code).not.toBe(0);
    expect(c.stderr).toContain('--reason does not apply to a held token');
  });

  it('a bad top-up amount is named once; requests list has no stray "(none)"', async () => {
    const t = await create(['--name', 'topup-msg', '--period', 'total', '--budget', '1']);
    const r = await cli(['token', 'topup', t.id, '1e3']);
    expect(r.code).not.toBe(0);
    expect(r.stderr.match(/"1e3"/g)).toHaveLength(1);
    const list = await cli(['requests', 'list']);
    expect(list.code, list.stderr).toBe(0);
    expect(list.stdout).not.toContain('(none)');
  });
});

describe('connect during the demo', () => {
  it('says the configuration is throwaway, --undo restores the backup, and the demo lists what it wrote when it stops', async () => {
    const dir = tempDir('sbs-claude-config-');
    const path = join(dir, 'settings.json');
    const mine = '{\n  "theme": "dark"\n}\n';
    writeFileSync(path, mine);
    const r = await runCli(['connect', 'claude', '--config', path], { env: demoEnv });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain('This points claude at the demo, a throwaway sidecar');
    expect(r.stdout).toContain('connect --undo claude');
    const helper = (JSON.parse(readFileSync(path, 'utf8')) as { apiKeyHelper: string }).apiKeyHelper;
    expect(execFileSync('/bin/sh', ['-c', helper], { encoding: 'utf8' }).trim()).toMatch(/^sk-sbl-/);

    const undo = await runCli(['connect', '--undo', 'claude', '--config', path], { env: demoEnv });
    expect(undo.code, undo.stderr).toBe(0);
    expect(undo.stdout).toContain(`Restored ${path}`);
    expect(readFileSync(path, 'utf8')).toBe(mine);
    const again = await runCli(['connect', '--undo', 'claude', '--config', path], { env: demoEnv });
    expect(again.code).not.toBe(0);
    expect(again.stderr).toContain(`no backup of ${path}`);

    // Connected once more, then the demo stops: it names the file, and the helper fails at once, in one line.
    expect((await runCli(['connect', 'claude', '--config', path], { env: demoEnv })).code).toBe(0);
    await demo.stop();
    // As the demo names itself (`npx skillboss-sidecar` when run through npm).
    const cli = /`((?:npx )?skillboss-sidecar) connect AGENT`/.exec(demo.output())?.[1] ?? 'skillboss-sidecar';
    expect(demo.output()).toContain('These agent configurations pointed at it and no longer work');
    expect(demo.output()).toContain(`claude: ${path}; put the previous one back with \`${cli} connect --undo claude\``);
    const gone = spawnSync('/bin/sh', ['-c', helper], { encoding: 'utf8' });
    expect(gone.status).toBe(1);
    expect(gone.stdout).toBe('');
    expect(gone.stderr.trim().split('\n')).toHaveLength(1);
    expect(gone.stderr).toContain('is gone (a demo that stopped?)');
  });
});

describe('the audit log names the CLI for what it changes through the daemon', () => {
  type AuditRow = { actor: string; event: string; token_id: string | null };
  const adminGet = async (path: string, headers: Record<string, string> = {}) =>
    fetch(`${base.replace(/\/v1$/, '')}${path}`, { headers: { authorization: `Bearer ${readFileSync(join(dataDir, 'admin-secret'), 'utf8').trim()}`, ...headers } });
  /** What the dashboard's Audit view shows for a token. */
  const auditOf = async (tokenId: string): Promise<AuditRow[]> =>
    ((await (await adminGet(`/admin/api/audit?token=${tokenId}&limit=100`)).json()) as { data: AuditRow[] }).data;

  it('token create, set-budget and revoke with a daemon running: actor cli, not admin; a script with the admin secret stays admin', async () => {
    const { id } = await create(['--name', 'audited-by-cli']);
    expect((await cli(['token', 'set-budget', id, '3'])).code).toBe(0);
    const script = await fetch(`${base.replace(/\/v1$/, '')}/admin/api/tokens/${id}`, {
      method: 'PATCH',
      headers: { authorization: `Bearer ${readFileSync(join(dataDir, 'admin-secret'), 'utf8').trim()}`, 'content-type': 'application/json' },
      body: JSON.stringify({ name: 'renamed-by-a-script' }),
    });
    expect(script.status).toBe(200);
    expect((await cli(['token', 'revoke', id])).code).toBe(0);
    const rows = await auditOf(id);
    // Through the daemon (it runs), so these are the admin API's rows, not the CLI's direct database writes.
    expect(rows.map((r) => [r.event, r.actor]).reverse()).toEqual([
      ['token.create', 'cli'],
      ['token.budget', 'cli'],
      ['token.rename', 'admin'],
      ['token.revoke', 'cli'],
    ]);
    const shown = await cli(['audit', '--token', id]);
    expect(shown.stdout).toMatch(/token\.create.*\bcli\b|\bcli\b.*token\.create/);
  });

  it('the CLI label is only for admin-secret requests: a dashboard session that claims it is refused, a value other than cli too', async () => {
    const link = (await (await fetch(`${base.replace(/\/v1$/, '')}/admin/api/login-links`, {
      method: 'POST',
      headers: { authorization: `Bearer ${readFileSync(join(dataDir, 'admin-secret'), 'utf8').trim()}` },
    })).json()) as { url: string };
    const signIn = await fetch(link.url, { redirect: 'manual' });
    const cookie = String(signIn.headers.get('set-cookie')).split(';')[0]!;
    const origin = new URL(link.url).origin;
    // The page trades the fragment's one-time claim for the session's key (issue 25).
    const claim = /#sbs-claim=([\w-]+)$/.exec(String(signIn.headers.get('location')))![1]!;
    const session = { cookie, 'x-sidecar-session': await claimSession(origin, cookie, claim) };
    const asDashboard = (client?: string) =>
      fetch(`${origin}/admin/api/access-requests/clear`, { method: 'POST', headers: { ...session, origin, ...(client === undefined ? {} : { 'x-sidecar-client': client }) } });
    expect((await asDashboard()).status).toBe(200);
    const claimed = await asDashboard('cli');
    expect(claimed.status).toBe(400);
    expect(((await claimed.json()) as { error: { code: string } }).error.code).toBe('client_not_allowed');
    const odd = await adminGet('/admin/api/status', { 'x-sidecar-client': 'tray' });
    expect(odd.status).toBe(400);
  });
});
