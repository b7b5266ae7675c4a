/**
 * A newcomer's first steps, as the README has them: `demo` in one shell, CLI
 * commands in another without any flags. The demo prints a signed-in
 * dashboard link and the export line; commands find the demo's data dir (a
 * token minted elsewhere would get 401 from the demo); every request shows
 * on the demo's console; `key set` with the encrypted-file store works on a
 * data dir that does not exist yet.
 */
import { existsSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli, startCli, type Background } from '../helpers/cli.js';
import { tempDir } from '../helpers/stack.js';

const home = tempDir('sbs-first-home-');
/** Nothing from the developer's own setup: a fresh home, data dir default and runtime dir. */
const env = { HOME: home, XDG_DATA_HOME: join(home, 'data'), XDG_RUNTIME_DIR: '', SKILLBOSS_SIDECAR_RUNTIME_DIR: join(home, 'run') };
let demo: Background;
let dataDir: string;
let base: string;

beforeAll(async () => {
  demo = startCli(['demo', '--port', '0'], env);
  await demo.waitFor(/Serving until Ctrl-C/, 60_000);
  dataDir = /export SKILLBOSS_SIDECAR_DATA_DIR=(\S+)/.exec(demo.output())![1]!;
  base = /sidecar\s+(http:\/\/127\.0\.0\.1:\d+\/v1)/.exec(demo.output())![1]!;
}, 90_000);
afterAll(async () => {
  await demo?.stop();
});

function exportsOf(stdout: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const m of stdout.matchAll(/^export ([A-Z_]+)='([^']*)'$/gm)) out[m[1]!] = m[2]!;
  return out;
}

describe('first steps with the demo', () => {
  it('prints the data dir export line and a dashboard link that signs in', async () => {
    expect(existsSync(join(dataDir, 'sidecar.db'))).toBe(true);
    const link = /(http:\/\/127\.0\.0\.1:\d+\/admin\/login\?nonce=\S+)/.exec(demo.output())![1]!;
    const res = await fetch(link, { redirect: 'manual' });
    expect(res.status).toBe(303);
    expect(res.headers.get('set-cookie')).toMatch(/HttpOnly/i);
  });

  it('env --name without flags mints the token in the demo\'s data dir, and the demo logs the request', async () => {
    const r = await runCli(['env', '--name', 'probe', '--shell', 'bash'], { env });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toContain(`Using the running demo's data dir ${dataDir}`);
    const vars = exportsOf(r.stdout);
    expect(vars.OPENAI_BASE_URL).toBe(base);
    const res = await fetch(`${base}/chat/completions`, {
      method: 'POST',
      headers: { authorization: `Bearer ${vars.OPENAI_API_KEY}`, 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'first steps' }] }),
    });
    expect(res.status).toBe(200);
    const list = await runCli(['token', 'list', '--json'], { env });
    const probe = (JSON.parse(list.stdout) as { tokens: Array<{ id: string; name: string }> }).tokens.find((t) => t.name === 'probe');
    expect(probe).toBeDefined();
    await demo.waitFor(new RegExp(`/v1/chat/completions {2}200 {2}gpt-4o-mini .*${probe!.id}`));
  });

  it('a request without a valid token shows on the demo\'s console too', async () => {
    const res = await fetch(`${base}/chat/completions`, {
      method: 'POST',
      headers: { authorization: 'Bearer sk-sbl-from-another-data-dir', 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'x' }] }),
    });
    expect(res.status).toBe(401);
    const code = ((await res.json()) as { error: { code: string } }).error.code;
    await demo.waitFor(new RegExp(`POST /v1/chat/completions {2}401 ${code} {2}no valid token`));
  });

  it('with two sidecars running, commands ask which one instead of guessing', async () => {
    const other = tempDir('sbs-first-other-');
    const serve = startCli(['--data-dir', other, 'serve', '--port', '0', '--upstream', 'http://127.0.0.1:9/v1'], env);
    try {
      await serve.waitFor(/listening http/, 30_000);
      const r = await runCli(['token', 'list'], { env });
      expect(r.code).toBe(1);
      expect(r.stderr).toContain('several sidecars are running');
      expect(r.stderr).toContain(`--data-dir ${dataDir}`);
      expect(r.stderr).toContain(`--data-dir ${other}`);
      const explicit = await runCli(['token', 'list', '--json'], { env: { ...env, SKILLBOSS_SIDECAR_DATA_DIR: dataDir } });
      expect(explicit.code, explicit.stderr).toBe(0);
    } finally {
      await serve.stop();
    }
  });
});

describe('the encrypted-file key store', () => {
  it('key set works on a data dir that does not exist yet', async () => {
    const dir = join(tempDir('sbs-first-keys-'), 'not-yet');
    const r = await runCli(['--data-dir', dir, 'key', 'set', '--no-check'], {
      input: 'sk-live-0123456789abcdefghij\n',
      env: { ...env, SKILLBOSS_SIDECAR_KEY_STORE: 'encrypted-file', SKILLBOSS_SIDECAR_KEY_PASSPHRASE: 'correct horse' },
    });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain('encrypted key file');
    expect(statSync(dir).mode & 0o777).toBe(0o700);
    const status = await runCli(['--data-dir', dir, 'key', 'status', '--no-check', '--json'], {
      env: { ...env, SKILLBOSS_SIDECAR_KEY_STORE: 'encrypted-file', SKILLBOSS_SIDECAR_KEY_PASSPHRASE: 'correct horse' },
    });
    expect(JSON.parse(status.stdout)).toMatchObject({ store: 'encrypted-file', set: true, key: 'sk-…ghij' });
  });
});
