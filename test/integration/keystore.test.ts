/**
 * Where no OS keychain exists: the daemon still starts, refuses agents with a
 * clear 503 and never falls back to plaintext; the encrypted-file store works
 * end to end when, and only when, the human opts in.
 */
import { rmSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { randomBase62 } from '../../proxy/tokens/format.js';
import { runCli, startCli, type Background } from '../helpers/cli.js';
import { tempDir } from '../helpers/stack.js';

const simKey = `sk-nokeychain-${randomBase62(24)}`;
// No session bus: the Secret Service cannot be reached, as on a bare headless box.
const noKeychain = { DBUS_SESSION_BUS_ADDRESS: 'unix:path=/nonexistent/bus' };
let sim: Background;
let simUrl: string;
const dirs: string[] = [];

beforeAll(async () => {
  sim = startCli(['simulator', '--port', '0', '--api-key', simKey]);
  simUrl = (await sim.waitFor(/simulator (http:\S+)/))[1]!;
});
afterAll(async () => {
  await sim?.stop();
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

function newDir() {
  const d = tempDir('sbs-ks-');
  dirs.push(d);
  return d;
}

describe('without an OS keychain', () => {
  it('key set says what to do, and writes nothing', async () => {
    const d = newDir();
    const r = await runCli(['key', 'set', '--no-check', '--data-dir', d], { input: simKey, env: noKeychain });
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain('OS keychain is unavailable');
    expect(r.stderr).toContain('gnome-keyring');
    expect(r.stderr).toContain('SKILLBOSS_SIDECAR_KEY_STORE=encrypted-file');
    const status = await runCli(['key', 'status', '--json', '--no-check', '--data-dir', d], { env: noKeychain });
    expect(JSON.parse(status.stdout)).toMatchObject({ store: 'os-keychain', set: false });
  });

  it('the daemon starts and refuses agents with 503 keychain_unavailable', async () => {
    const d = newDir();
    const token = JSON.parse((await runCli(['token', 'create', '--name', 'a', '--preset', 'read-only', '--json', '--data-dir', d])).stdout) as { api_key: string };
    const serve = startCli(['serve', '--port', '0', '--upstream', simUrl, '--data-dir', d], noKeychain);
    try {
      const base = (await serve.waitFor(/listening (http:\S+)/))[1]!;
      const res = await fetch(`${base}/models`, { headers: { authorization: `Bearer ${token.api_key}` } });
      expect(res.status).toBe(503);
      const body = (await res.json()) as { error: { code: string; message: string } };
      expect(body.error.code).toBe('keychain_unavailable');
      expect(body.error.message).toContain('doctor');
    } finally {
      await serve.stop();
    }
  });

  it('with the encrypted-file opt-in, key set + serve work end to end', async () => {
    const d = newDir();
    const env = { ...noKeychain, SKILLBOSS_SIDECAR_KEY_STORE: 'encrypted-file', SKILLBOSS_SIDECAR_KEY_PASSPHRASE: `pass-${randomBase62(12)}` };
    const set = await runCli(['key', 'set', '--no-check', '--data-dir', d], { input: simKey, env });
    expect(set.code, set.stderr).toBe(0);
    const status = JSON.parse((await runCli(['key', 'status', '--json', '--upstream', simUrl, '--data-dir', d], { env })).stdout) as Record<string, unknown>;
    expect(status).toMatchObject({ store: 'encrypted-file', set: true, valid: true, key: `sk-…${simKey.slice(-4)}` });
    const token = JSON.parse((await runCli(['token', 'create', '--name', 'b', '--preset', 'read-only', '--json', '--data-dir', d])).stdout) as { api_key: string };
    const serve = startCli(['serve', '--port', '0', '--upstream', simUrl, '--data-dir', d], env);
    try {
      const base = (await serve.waitFor(/listening (http:\S+)/))[1]!;
      const res = await fetch(`${base}/models`, { headers: { authorization: `Bearer ${token.api_key}` } });
      expect(res.status).toBe(200);
    } finally {
      await serve.stop();
    }
    // The wrong passphrase is refused, never worked around.
    const wrong = await runCli(['key', 'status', '--json', '--no-check', '--data-dir', d], { env: { ...env, SKILLBOSS_SIDECAR_KEY_PASSPHRASE: 'nope' } });
    expect(JSON.parse(wrong.stdout)).toMatchObject({ set: false });
    expect(wrong.code).not.toBe(0);
  });
});
