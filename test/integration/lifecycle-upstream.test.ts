/**
 * The real key's rotation (a failure at any step leaves a working key), the
 * daemon's scheduled rotation, `key rotate` and `status` from the compiled
 * CLI, and real SkillBoss child keys — against the simulator, with the real
 * OS keychain and the real daemon.
 */
import { spawnSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DAY_MS } from '../../proxy/core/time.js';
import { listAudit, setSetting } from '../../proxy/db/records.js';
import { KeyStoreUnavailable, type KeyStore } from '../../proxy/keychain/store.js';
import { keychainVault, VAULT, type SecretVault } from '../../proxy/keychain/vault.js';
import { KeyRotationError, rotateUpstreamKey, rotationState, type RotateStep } from '../../proxy/upstream/rotate.js';
import { runCli } from '../helpers/cli.js';
import { startStack, type Stack } from '../helpers/stack.js';

let s: Stack;
let vault: SecretVault;
let agent: string;

beforeAll(async () => {
  s = await startStack({ daemon: { lifecycle: { intervalMs: 0 } } });
  vault = keychainVault(s.dataDir);
  agent = s.token().secret;
});
afterAll(async () => {
  vault?.remove(VAULT.previousKey);
  vault?.remove(VAULT.pendingKey);
  await s?.close();
});

/** One agent call through the daemon; returns the key the simulator received for it. */
async function keyUsedUpstream(): Promise<string> {
  const res = await fetch(`${s.baseURL}/chat/completions`, {
    method: 'POST',
    headers: { authorization: `Bearer ${agent}`, 'content-type': 'application/json' },
    body: JSON.stringify({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'hi' }] }),
  });
  expect(res.status, await res.clone().text()).toBe(200);
  return String(s.sim.requests.at(-1)!.headers.authorization).replace(/^Bearer /, '');
}

/**
 * The files among `paths` that contain `needle`, read in another process: opening and closing
 * the database's files in this one would drop the daemon connection's POSIX locks (fcntl semantics).
 */
function filesContaining(paths: string[], needle: string): string[] {
  const script = "let n='';process.stdin.on('data',(d)=>(n+=d)).on('end',()=>process.stdout.write(JSON.stringify(process.argv.slice(1).filter((f)=>require('fs').readFileSync(f).includes(n)))))";
  const r = spawnSync(process.execPath, ['-e', script, ...paths], { input: needle, encoding: 'utf8' });
  expect(paths.length).toBeGreaterThan(0);
  return JSON.parse(r.stdout) as string[];
}

function rotate(opts: { faultAt?: RotateStep; primary?: KeyStore; vault?: SecretVault } = {}) {
  return rotateUpstreamKey({
    db: s.daemon.db,
    primary: opts.primary ?? s.keyStore,
    vault: opts.vault ?? vault,
    baseUrl: s.sim.url,
    clock: s.clock,
    actor: 'test',
    beforeStep: (step) => {
      if (step === opts.faultAt) s.sim.faults.failNext = { count: 1, status: step === 'verify' ? 503 : 500 };
    },
  });
}

async function failsAt(p: Promise<unknown>, step: RotateStep): Promise<string> {
  const err = await p.then(
    () => null,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(KeyRotationError);
  expect((err as KeyRotationError).step).toBe(step);
  return (err as Error).message;
}

const denyWrite = (name: string): SecretVault => ({
  kind: vault.kind,
  get: (n) => vault.get(n),
  set: (n, v) => {
    if (n === name) throw new KeyStoreUnavailable('simulated: the keychain refused the write');
    vault.set(n, v);
  },
  remove: (n) => vault.remove(n),
});

describe('rotating the real key leaves a working key whichever step fails', () => {
  it('rotate step fails upstream (500): nothing changes', async () => {
    const before = s.keyStore.get()!;
    const msg = await failsAt(rotate({ faultAt: 'rotate' }), 'rotate');
    expect(msg).toContain('Nothing changed');
    expect(msg).not.toContain(before);
    expect(s.keyStore.get()).toBe(before);
    expect(s.sim.adminKey()).toBe(before);
    expect(await keyUsedUpstream()).toBe(before);
    expect(listAudit(s.daemon.db).find((r) => r.event === 'key.rotate.failed')!.detail).toMatchObject({ step: 'rotate' });
  });

  it('save-previous fails (keychain): SkillBoss is not even asked', async () => {
    const before = s.keyStore.get()!;
    s.sim.clearRequests();
    await failsAt(rotate({ vault: denyWrite(VAULT.previousKey) }), 'save-previous');
    expect(s.sim.requests.filter((r) => r.path.includes('/api-keys/rotate'))).toHaveLength(0);
    expect(s.keyStore.get()).toBe(before);
    expect(await keyUsedUpstream()).toBe(before);
  });

  it('verify fails (GET /v1/models 503): the old key stays, the new one waits, and the next attempt switches', async () => {
    const old = s.keyStore.get()!;
    const msg = await failsAt(rotate({ faultAt: 'verify' }), 'verify');
    const fresh = s.sim.adminKey();
    expect(fresh).not.toBe(old);
    expect(msg).toContain('is still the key');
    expect(s.keyStore.get()).toBe(old);
    expect(vault.get(VAULT.pendingKey)).toBe(fresh);
    expect(rotationState(s.daemon.db).pending_since).toBeTruthy();
    // The old key is in its grace period at SkillBoss: agents still work.
    expect(await keyUsedUpstream()).toBe(old);

    s.sim.clearRequests();
    const r = await rotate();
    expect(r.resumed).toBe(true);
    // Resuming does not rotate again (the old key could not): it checks the waiting key and switches.
    expect(s.sim.requests.filter((q) => q.path.includes('/api-keys/rotate'))).toHaveLength(0);
    expect(s.keyStore.get()).toBe(fresh);
    expect(vault.get(VAULT.pendingKey)).toBeNull();
    expect(vault.get(VAULT.previousKey)).toBe(old);
    expect(await keyUsedUpstream()).toBe(fresh);
  });

  it('promote fails (keychain write of the new key): the old key stays, and the next attempt switches', async () => {
    const old = s.keyStore.get()!;
    const stubborn: KeyStore = {
      kind: s.keyStore.kind,
      get: () => s.keyStore.get(),
      set: () => {
        throw new KeyStoreUnavailable('simulated: the keychain refused the write');
      },
      remove: () => s.keyStore.remove(),
    };
    await failsAt(rotate({ primary: stubborn }), 'promote');
    const fresh = s.sim.adminKey();
    expect(s.keyStore.get()).toBe(old);
    expect(vault.get(VAULT.pendingKey)).toBe(fresh);
    expect(await keyUsedUpstream()).toBe(old);
    expect((await rotate()).resumed).toBe(true);
    expect(s.keyStore.get()).toBe(fresh);
    expect(await keyUsedUpstream()).toBe(fresh);
  });

  it('store-pending fails (keychain): the old key keeps working through its grace and the human is told what to do', async () => {
    const old = s.keyStore.get()!;
    const msg = await failsAt(rotate({ vault: denyWrite(VAULT.pendingKey) }), 'store-pending');
    expect(s.sim.adminKey()).not.toBe(old);
    expect(msg).toContain('create a new key in the SkillBoss console');
    expect(msg).toMatch(/working until \d{4}-/);
    expect(s.keyStore.get()).toBe(old);
    expect(await keyUsedUpstream()).toBe(old);
    // What the human would do: put the new key in (here: the simulator's own copy of it).
    s.keyStore.set(s.sim.adminKey());
    s.daemon.deps.key.reload();
  });

  it('no key, secret or signing secret is in any audit row', () => {
    const dump = JSON.stringify(s.daemon.db.prepare('SELECT * FROM audit').all());
    expect(dump).toMatch(/sk-…/);
    expect(dump).not.toMatch(/sk-(test|sim)-/);
  });
});

describe('the daemon rotates the real key on schedule', () => {
  it('rotates when due, switches agents over, and forgets the previous key after its grace', async () => {
    const old = s.keyStore.get()!;
    setSetting(s.daemon.db, 'key_rotation_days', 1);
    await s.daemon.lifecycle.tick();
    expect(s.keyStore.get()).toBe(old);

    s.clock.now += 2 * DAY_MS;
    await s.daemon.lifecycle.tick();
    const fresh = s.keyStore.get()!;
    expect(fresh).not.toBe(old);
    expect(fresh).toBe(s.sim.adminKey());
    expect(await keyUsedUpstream()).toBe(fresh);
    expect(listAudit(s.daemon.db).find((r) => r.event === 'key.rotate')).toMatchObject({ actor: 'daemon' });
    expect(vault.get(VAULT.previousKey)).toBe(old);

    setSetting(s.daemon.db, 'key_rotation_days', null);
    s.clock.now += 8 * DAY_MS;
    await s.daemon.lifecycle.tick();
    expect(vault.get(VAULT.previousKey)).toBeNull();
    expect(s.keyStore.get()).toBe(fresh);
    expect(listAudit(s.daemon.db).some((r) => r.event === 'key.previous_removed')).toBe(true);
  });
});

describe('the CLI', () => {
  const cli = (...args: string[]) => runCli([...args, '--data-dir', s.dataDir], { env: { SKILLBOSS_UPSTREAM_URL: s.sim.url } });

  it('`key rotate` rotates, and the running daemon switches within moments', async () => {
    const old = s.keyStore.get()!;
    const r = await cli('key', 'rotate');
    expect(r.code, r.stderr).toBe(0);
    const fresh = s.sim.adminKey();
    expect(fresh).not.toBe(old);
    expect(r.stdout).toContain(`sk-…${old.slice(-4)} → sk-…${fresh.slice(-4)}`);
    expect(r.stdout + r.stderr).not.toContain(fresh);
    expect(s.keyStore.get()).toBe(fresh);
    // The daemon notices the CLI's change through SQLite (polled every 50 ms here).
    const until = Date.now() + 2000;
    let used = await keyUsedUpstream();
    while (used !== fresh && Date.now() < until) {
      await new Promise((res) => setImmediate(res));
      used = await keyUsedUpstream();
    }
    expect(used).toBe(fresh);
  });

  it('`key rotate` reports a failure at SkillBoss and leaves the key', async () => {
    const before = s.keyStore.get()!;
    // Aimed at the rotate call: the daemon's own syncs (it just saw the previous test's new key) must not take the fault.
    s.sim.faults.failNext = { count: 1, status: 502, path: '/v1/api-keys/rotate' };
    const r = await cli('key', 'rotate');
    expect(r.code, r.stdout + r.stderr).toBe(1);
    expect(r.stderr).toContain('key rotation failed at rotate');
    expect(r.stderr).toContain('Nothing changed');
    expect(r.stderr).not.toContain(before);
    expect(s.keyStore.get()).toBe(before);
  });

  it('`status` shows the sync with its age, and on an upstream 401 says the key is invalid and what to do', async () => {
    await s.daemon.sync();
    const ok = await cli('status');
    expect(ok.code, ok.stdout + ok.stderr).toBe(0);
    expect(ok.stdout).toMatch(/daemon\s+running/);
    expect(ok.stdout).toMatch(/key\s+sk-….{4} in the OS keychain: valid, checked just now/);
    expect(ok.stdout).toMatch(/models\s+\d+ with prices, synced just now/);
    expect(ok.stdout).toMatch(/credits\s+\$\d+\.\d\d, synced just now/);

    s.sim.faults.failNext = { count: 1, status: 401 };
    await s.daemon.sync();
    const bad = await cli('status');
    expect(bad.code).toBe(1);
    expect(bad.stdout).toContain('INVALID (SkillBoss answered 401)');
    expect(bad.stdout).toContain('run `skillboss-sidecar key set`');
    const j = JSON.parse((await cli('status', '--json')).stdout) as { ok: boolean; key: { valid: boolean | null }; daemon: { running: boolean }; spend: { usd: number } };
    expect(j).toMatchObject({ ok: false, key: { valid: false }, daemon: { running: true } });
    expect(j.spend.usd).toBeGreaterThan(0);
    await s.daemon.sync();
    expect(JSON.parse((await cli('status', '--json')).stdout)).toMatchObject({ ok: true, key: { valid: true } });
  }, 90_000);

  it('provisions a real SkillBoss child key, lists it, and revokes it upstream; its secret is kept nowhere', async () => {
    expect((await cli('token', 'create', '--upstream', '--name', 'remote', '--preset', 'read-only')).stderr).toContain('--upstream needs --budget');
    const c = await cli('token', 'create', '--upstream', '--name', 'remote-agent', '--scopes', 'models:read,models:use', '--budget', '5', '--expires', '30d', '--json');
    expect(c.code, c.stderr).toBe(0);
    const child = JSON.parse(c.stdout) as { id: string; api_key: string; kind: string; monthly_budget: number };
    expect(child).toMatchObject({ kind: 'upstream', monthly_budget: 5 });
    const sent = s.sim.requests.find((q) => q.path === '/v1/agents/create-child')!;
    expect(JSON.parse(sent.body)).toMatchObject({ child_name: 'remote-agent', child_budget: 5, scopes: ['models:read', 'models:use'], expiration_days: 30 });
    // It is a real key upstream.
    expect((await fetch(`${s.sim.url}/models`, { headers: { authorization: `Bearer ${child.api_key}` } })).status).toBe(200);
    // Not in SQLite (database and WAL), not in the keychain.
    expect(filesContaining(readdirSync(s.dataDir).filter((n) => n.startsWith('sidecar.db')).map((n) => join(s.dataDir, n)), child.api_key)).toEqual([]);
    expect(vault.get(`upstream-child:${child.id}`)).toBeNull();

    const list = JSON.parse((await cli('token', 'list', '--json')).stdout) as { upstream_keys: Array<{ id: string; status: string }> };
    expect(list.upstream_keys).toContainEqual(expect.objectContaining({ id: child.id, status: 'active' }));
    expect((await cli('token', 'list')).stdout).toMatch(new RegExp(`${child.id}\\s+remote-agent.*\\(SkillBoss\\)`));

    const rv = await cli('token', 'revoke', child.id);
    expect(rv.code, rv.stderr).toBe(0);
    expect(rv.stdout).toContain('at SkillBoss');
    expect((await fetch(`${s.sim.url}/models`, { headers: { authorization: `Bearer ${child.api_key}` } })).status).toBe(401);
    const after = JSON.parse((await cli('token', 'list', '--all', '--json')).stdout) as { upstream_keys: Array<{ id: string; status: string }> };
    expect(after.upstream_keys).toContainEqual(expect.objectContaining({ id: child.id, status: 'revoked' }));
    const events = listAudit(s.daemon.db, { tokenId: child.id }).map((r) => r.event);

    expect(events).toEqual(['upstream_child.revoke', 'upstream_child.create']);
  }, 120_000);
});
