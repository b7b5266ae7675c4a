/**
 * Issue 28: an empty (or blank) environment variable means "not set", never
 * the working directory. `serve`, `env`, `token create` and `demo` run in an
 * empty temp cwd with every variable the sidecar reads set to '' (and, in a
 * second pass, to a blank), and the cwd stays empty: the data dir is the
 * platform default under the test's HOME. An explicitly empty `--data-dir`
 * is refused with a clear error, and `--data-dir .` still means the cwd.
 */
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { CLI, runProcess, startCli } from '../helpers/cli.js';

/** Every variable the sidecar reads for a path, a URL, a key store or a level (core/env.ts's callers). */
const VARIABLES = [
  'SKILLBOSS_SIDECAR_DATA_DIR',
  'SKILLBOSS_SIDECAR_RUNTIME_DIR',
  'SKILLBOSS_UPSTREAM_URL',
  'SKILLBOSS_SIDECAR_KEY_STORE',
  'SKILLBOSS_SIDECAR_KEY_PASSPHRASE',
  'SKILLBOSS_SIDECAR_LOG_LEVEL',
  'XDG_DATA_HOME',
  'XDG_RUNTIME_DIR',
  'XDG_CONFIG_HOME',
  'APPDATA',
];

let root: string;
let cwd: string;
let home: string;

beforeEach(() => {
  root = mkdtempSync(join(tmpdir(), 'sbs-empty-env-'));
  cwd = mkdtempSync(join(root, 'cwd-'));
  home = mkdtempSync(join(root, 'home-'));
});
afterEach(() => rmSync(root, { recursive: true, force: true }));

/** The environment of a run: the test's own (keyring session, PATH), a private HOME and temp dir (the runtime dir's last fallback), and every variable set to `value`. */
function envWith(value: string): NodeJS.ProcessEnv {
  return { ...process.env, HOME: home, TMPDIR: home, ...Object.fromEntries(VARIABLES.map((v) => [v, value])) };
}

const run = (args: string[], env: NodeJS.ProcessEnv) => runProcess(process.execPath, [CLI, ...args], { env, cwd, input: '', timeoutMs: 30_000, what: args.join(' ') });

describe.each([
  ['empty', ''],
  ['blank', '  '],
])('with every variable %s', (_name, value) => {
  it('`token create` and `env` write nothing to the working directory, and use the default data dir', async () => {
    const env = envWith(value);
    const created = await run(['token', 'create', '--name', 'empty-env', '--preset', 'read-only', '--json'], env);
    expect(created.code, created.stderr).toBe(0);
    const printed = await run(['env', '--name', 'empty-env-2'], env);
    expect(printed.code, printed.stderr).toBe(0);
    expect(printed.stdout).toContain('sk-sbl-');
    expect(readdirSync(cwd)).toEqual([]);
    expect(readdirSync(join(home, '.local', 'share', 'skillboss-sidecar'))).toContain('sidecar.db');
  });

  it('`serve` and `demo` write nothing to the working directory', async () => {
    const env = envWith(value);
    const serve = startCli(['serve', '--port', '0', '--no-log-file'], env, { cwd });
    try {
      await serve.waitFor(/listening http:\/\/127\.0\.0\.1:\d+\/v1/, 20_000);
    } finally {
      // Not its exit code: a SIGTERM right after "listening" can land before serve installs its handler (a race of its own).
      await serve.stop();
    }
    const demo = await run(['demo', '--port', '0', '--exit'], env);
    expect(demo.code, demo.stderr).toBe(0);
    expect(readdirSync(cwd)).toEqual([]);
    expect(readdirSync(join(home, '.local', 'share', 'skillboss-sidecar'))).toContain('sidecar.db');
  }, 60_000);
});

describe('an explicitly empty flag', () => {
  it.each([[''], ['  ']])('`--data-dir %j` is refused, naming the flag; `--data-dir .` is the working directory', async (dir) => {
    const env = envWith('');
    for (const args of [['--data-dir', dir, 'token', 'create', '--name', 'x', '--preset', 'read-only'], ['--data-dir', dir, 'env', '--name', 'x'], ['--data-dir', dir, 'serve', '--port', '0']]) {
      const r = await run(args, env);
      expect(r.code, args.join(' ')).toBe(1);
      expect(r.stderr).toContain('--data-dir was given an empty value');
      expect(r.stderr).toContain('--data-dir .');
    }
    expect(readdirSync(cwd)).toEqual([]);
    const here = await run(['--data-dir', '.', 'token', 'create', '--name', 'here', '--preset', 'read-only'], env);
    expect(here.code, here.stderr).toBe(0);
    expect(readdirSync(cwd)).toContain('sidecar.db');
  });

  it('`serve --upstream ""` is refused the same way', async () => {
    const r = await run(['serve', '--port', '0', '--upstream', ''], envWith(''));
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('--upstream was given an empty value');
    expect(readdirSync(cwd)).toEqual([]);
  });
});
