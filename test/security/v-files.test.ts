/**
 * Issue 25 item 10: files are this user's alone. `connect claude` kept a
 * world-readable `settings.json.bak-<ts>` holding the Anthropic key it had
 * just removed from settings.json; the backup is owner-only and the removed
 * key is masked in it. After a SIGKILL, `mcp` trusted the daemon.json left
 * in the data dir and sent its token to whoever listened on the freed port:
 * it now sends it only while the data dir's lock is held.
 */
import { chmodSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { resolveClientConfig, SidecarClient } from '../../proxy/mcp/client.js';
import { acquireLock } from '../../proxy/server/lock.js';
import { runtimeOf } from '../../proxy/cli/commands/mcp.js';
import { runCli } from '../helpers/cli.js';
import { startStack, tempDir, type Stack } from '../helpers/stack.js';

let s: Stack;

beforeAll(async () => {
  s = await startStack();
});
afterAll(async () => {
  await s?.close();
});

describe('V. files another local user could read or use (issue 25 item 10)', () => {
  it('V1 connect claude: the backup of a world-readable settings.json is 0600 and does not hold the key it removed', async () => {
    const home = tempDir('sbs-v-home-');
    const dir = join(home, '.claude');
    mkdirSync(dir, { recursive: true });
    const key = 'sk-ant-api03-abcdefghijklmnopqrstuvwxyz0123456789';
    const file = join(dir, 'settings.json');
    writeFileSync(file, JSON.stringify({ env: { ANTHROPIC_API_KEY: key, FOO: 'bar' } }, null, 2));
    chmodSync(file, 0o644);
    const r = await runCli(['--data-dir', s.dataDir, 'connect', 'claude'], { env: { HOME: home, XDG_CONFIG_HOME: '', CODEX_HOME: '', CLAUDE_CONFIG_DIR: '', SHELL: '/bin/bash' } });
    expect(r.code, r.stderr + r.stdout).toBe(0);
    expect(readFileSync(file, 'utf8')).not.toContain(key);
    const backups = readdirSync(dir).filter((f) => f.startsWith('settings.json.bak-'));
    expect(backups).toHaveLength(1);
    const backup = join(dir, backups[0]!);
    expect(statSync(backup).mode & 0o777).toBe(0o600);
    const kept = readFileSync(backup, 'utf8');
    expect(kept).not.toContain(key);
    expect(kept).toContain('ANTHROPIC_API_KEY');
    expect(JSON.parse(kept).env.FOO).toBe('bar');
  });

  it('V2 mcp: a daemon.json left by a killed daemon sends no token to the listener now on that port; a live daemon is reached', async () => {
    const seen: string[] = [];
    const squatter = createServer((req, res) => {
      seen.push(req.headers.authorization ?? '');
      res.writeHead(200, { 'content-type': 'application/json' }).end('{"data":[]}');
    });
    await new Promise<void>((r) => squatter.listen(0, '127.0.0.1', r));
    try {
      const dataDir = tempDir('sbs-v-mcp-');
      const url = `http://127.0.0.1:${(squatter.address() as AddressInfo).port}`;
      // What a SIGKILLed daemon leaves: its runtime file, and no lock held.
      const lock = acquireLock(dataDir);
      lock.writeRuntime({ pid: 999_999, url, host: '127.0.0.1', port: 0, started_at: new Date().toISOString(), version: 'test' } as never);
      const token = s.token({ preset: 'read-only' }).secret;
      const config = resolveClientConfig({ ...runtimeOf(dataDir), env: { SKILLBOSS_API_KEY: token } });
      expect(config.baseUrl).toBe(`${url}/v1`);
      // While the lock is held (a live daemon), the token goes.
      await new SidecarClient(config).call('GET', '/models');
      expect(seen).toEqual([`Bearer ${token}`]);
      lock.release();
      // A SIGKILL releases the lock but runs no cleanup: the runtime file stays.
      writeFileSync(join(dataDir, 'daemon.json'), JSON.stringify({ pid: 999_999, url, host: '127.0.0.1', port: 0 }));
      const orphaned = resolveClientConfig({ ...runtimeOf(dataDir), env: { SKILLBOSS_API_KEY: token } });
      expect(orphaned.baseUrl, 'the premise: daemon.json outlived the lock').toBe(`${url}/v1`);
      await expect(new SidecarClient(orphaned).call('GET', '/models')).rejects.toMatchObject({ code: 'unreachable' });
      expect(seen).toHaveLength(1);
    } finally {
      await new Promise((r) => squatter.close(r));
    }
  });
});
