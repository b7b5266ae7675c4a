/**
 * Issue 17 item 7 (keychain): a locked OS keychain, at start and mid-run,
 * gives a clear error and loses nothing. The real gnome-keyring, locked over
 * D-Bus (org.freedesktop.Secret.Service.Lock) and unlocked again with its
 * passphrase — on a private session bus of this test's own, so locking it
 * cannot disturb other test files sharing the runner's keyring.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { readAdminSecret } from '../../proxy/admin/index.js';
import { startSimulator, type Simulator } from '../../proxy/simulator/index.js';
import { randomBase62 } from '../../proxy/tokens/format.js';
import { runCli, startCli, type Background } from '../helpers/cli.js';
import { tempDir } from '../helpers/stack.js';

const run = promisify(execFile);
const PASSPHRASE = 'q-keychain-test';

let bus: ChildProcess;
let env: NodeJS.ProcessEnv;
let sim: Simulator;
let dataDir: string;
let serve: Background | null = null;
let url = '';
let agent = '';
const simKey = `sk-test-${randomBase62(32)}`;

/** Starts (or, with --replace, restarts) the keyring daemon on our bus, unlocked with the passphrase. */
function keyringUp(replace: boolean): Promise<void> {
  return new Promise((resolve, reject) => {
    const p = spawn('gnome-keyring-daemon', [...(replace ? ['--replace'] : []), '--unlock', '--components=secrets'], { env, stdio: ['pipe', 'ignore', 'ignore'] });
    p.on('error', reject);
    p.on('exit', (code) => (code === 0 ? resolve() : reject(new Error(`gnome-keyring-daemon exited ${code}`))));
    p.stdin!.end(PASSPHRASE);
  });
}

async function lockKeyring(): Promise<void> {
  const secrets = ['--session', '--dest', 'org.freedesktop.secrets', '--object-path'];
  await run('gdbus', ['call', ...secrets, '/org/freedesktop/secrets', '--method', 'org.freedesktop.Secret.Service.Lock', "['/org/freedesktop/secrets/collection/login']"], { env });
  const { stdout } = await run('gdbus', ['call', ...secrets, '/org/freedesktop/secrets/collection/login', '--method', 'org.freedesktop.DBus.Properties.Get', 'org.freedesktop.Secret.Collection', 'Locked'], { env });
  // The premise of every test below: it really is locked.
  expect(stdout).toContain('true');
}

async function startServe(): Promise<void> {
  serve = startCli(['--data-dir', dataDir, 'serve', '--port', '0', '--upstream', sim.url, '--no-log-file'], env);
  url = (await serve.waitFor(/(http:\/\/127\.0\.0\.1:\d+)/, 30_000))[1]!;
}

const chat = () =>
  fetch(`${url}/v1/chat/completions`, { method: 'POST', headers: { authorization: `Bearer ${agent}`, 'content-type': 'application/json' }, body: JSON.stringify({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'hi' }], max_tokens: 8 }) });
const admin = (method: string, path: string, body?: unknown) =>
  fetch(`${url}/admin/api${path}`, { method, headers: { authorization: `Bearer ${readAdminSecret(dataDir)}`, 'content-type': 'application/json' }, ...(body === undefined ? {} : { body: JSON.stringify(body) }) });
/** The ledger's answered requests (a refused one adds a row of its own). */
const servedRows = async () => ((await (await admin('GET', '/requests')).json()) as { data: Array<{ status: number }> }).data.filter((r) => r.status === 200).length;

beforeAll(async () => {
  bus = spawn('dbus-daemon', ['--session', '--nofork', '--print-address=1'], { stdio: ['ignore', 'pipe', 'ignore'] });
  const address = await new Promise<string>((resolve) => bus.stdout!.once('data', (d: Buffer) => resolve(d.toString().trim())));
  env = { DBUS_SESSION_BUS_ADDRESS: address, XDG_DATA_HOME: tempDir('sbs-keyring-'), DISPLAY: '', WAYLAND_DISPLAY: '' };
  await keyringUp(false);
  sim = await startSimulator({ apiKey: simKey, balanceUsd: 100 });
  dataDir = tempDir();
  const set = await runCli(['--data-dir', dataDir, 'key', 'set', '--no-check'], { input: simKey, env });
  expect(set.code, set.stderr).toBe(0);
  const t = await runCli(['--data-dir', dataDir, 'token', 'create', '--name', 'kc-agent', '--preset', 'write', '--json'], { env });
  agent = (JSON.parse(t.stdout) as { api_key: string }).api_key;
  await startServe();
}, 60_000);
afterAll(async () => {
  await serve?.stop();
  await sim?.close();
  bus?.kill();
});

describe('Q. a locked keychain (issue 17 item 7)', () => {
  it('Q1 locked mid-run: agents keep working on the key in memory; saving a new key says the keychain is locked and changes nothing', async () => {
    expect((await chat()).status).toBe(200);
    await lockKeyring();
    expect((await chat()).status).toBe(200);

    const put = await admin('PUT', '/key', { key: `sk-test-${randomBase62(32)}` });
    expect(put.status).toBe(503);
    expect(((await put.json()) as { error: { code: string; message: string } }).error).toMatchObject({ code: 'keychain_unavailable', message: expect.stringContaining('locked') });
    const cli = await runCli(['--data-dir', dataDir, 'key', 'set', '--no-check'], { input: `sk-test-${randomBase62(32)}`, env });
    expect(cli.code).toBe(1);
    expect(cli.stderr).toContain('keychain is locked');
    expect(cli.stderr).toContain('--unlock');
    // The daemon noticed nothing it should act on: the old key still works.
    expect((await chat()).status).toBe(200);
  });

  it('Q2 locked at start: the daemon starts, agents get a clear 503 that says the keychain is locked, and nothing recorded is lost', async () => {
    const before = await servedRows();
    expect(before).toBeGreaterThan(0);
    await serve!.stop();
    await startServe();
    const res = await chat();
    expect(res.status).toBe(503);
    expect(Number(res.headers.get('retry-after'))).toBeGreaterThan(0);
    const e = ((await res.json()) as { error: { code: string; message: string } }).error;
    expect(e.code).toBe('keychain_unavailable');
    expect(e.message).toContain('locked');
    const status = (await (await admin('GET', '/status')).json()) as { key: { state: string; reason: string } };
    expect(status.key.state).toBe('unavailable');
    expect(status.key.reason).toContain('--unlock');
    expect(await servedRows()).toBe(before);
  }, 60_000);

  it('Q3 unlocking is enough: the same daemon picks the key up again and agents are served, the old key and tokens intact', async () => {
    await keyringUp(true);
    await vi.waitFor(async () => expect((await chat()).status).toBe(200), { timeout: 30_000, interval: 500 });
    const status = (await (await admin('GET', '/status')).json()) as { key: { state: string } };
    expect(status.key.state).toBe('set');
  }, 60_000);
});
