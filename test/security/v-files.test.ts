/**
 * Issue 25 item 10: files are this user's alone. `connect claude` kept a
 * world-readable `settings.json.bak-<ts>` holding the Anthropic key it had
 * just removed from settings.json; the backup is owner-only and the removed
 * key is masked in it.
 */
import { chmodSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
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
});
