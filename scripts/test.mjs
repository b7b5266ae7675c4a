#!/usr/bin/env node
/**
 * `npm test`: build, then run vitest with a working OS keychain.
 *
 * The integration tests use the real OS keychain. On Linux without a running
 * Secret Service (CI, containers, SSH sessions) this re-runs itself inside a
 * private D-Bus session with an unlocked gnome-keyring, so nothing touches the
 * user's own keyring and no test is skipped for want of one.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const args = process.argv.slice(2);

function run(cmd, argv, env = process.env) {
  const r = spawnSync(cmd, argv, { stdio: 'inherit', env });
  if (r.error) throw r.error;
  return r.status ?? 1;
}

function which(bin) {
  return spawnSync('sh', ['-c', `command -v ${bin}`], { encoding: 'utf8' }).stdout.trim();
}

if (process.platform === 'linux' && !process.env.SKILLBOSS_TEST_KEYRING) {
  const missing = ['dbus-run-session', 'gnome-keyring-daemon'].filter((b) => !which(b));
  if (missing.length) {
    console.error(
      `npm test needs a Secret Service for the keychain tests: ${missing.join(' and ')} not found.\n` +
        'Install them with: sudo apt-get install -y gnome-keyring dbus   (Fedora: dnf install gnome-keyring dbus-daemon)',
    );
    process.exit(1);
  }
  // A fresh, private session bus and keyring (in a temp dir) for this run, whatever the user's desktop has.
  const keyrings = mkdtempSync(join(tmpdir(), 'sbs-keyring-'));
  const inner =
    `echo -n skillboss-test | XDG_DATA_HOME='${keyrings}' gnome-keyring-daemon --unlock --components=secrets >/dev/null && exec "$0" "$@"`;
  const code = run('dbus-run-session', ['--', 'sh', '-c', inner, process.execPath, new URL(import.meta.url).pathname, ...args], {
      ...process.env,
      SKILLBOSS_TEST_KEYRING: 'private',
    });
  rmSync(keyrings, { recursive: true, force: true });
  process.exit(code);
}

if (!existsSync(new URL('../node_modules/.bin/vitest', import.meta.url))) {
  console.error('Dependencies are missing: run `npm ci` first.');
  process.exit(1);
}
// A private registry of running daemons (proxy/cli/running.ts): the suite's `serve`s and demos never
// register where the developer's CLI looks, and a demo the developer runs is never found by a test.
process.env.SKILLBOSS_SIDECAR_RUNTIME_DIR ??= mkdtempSync(join(tmpdir(), 'sbs-runtime-'));
// The CLI's code cache (proxy/core/code-cache.ts) goes to a directory of the run's own, not the user's ~/.cache.
process.env.SKILLBOSS_SIDECAR_CACHE_DIR ??= mkdtempSync(join(tmpdir(), 'sbs-code-cache-'));
if (run('npm', ['run', '--silent', 'build']) !== 0) process.exit(1);
process.exit(run('npx', ['vitest', 'run', ...args]));
