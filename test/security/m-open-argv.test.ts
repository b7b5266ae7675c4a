/**
 * Issue 17 item 2: `skillboss-sidecar open` must hand the browser nothing
 * secret on a command line. A watcher process (any local user can do this)
 * polls /proc/<pid>/cmdline while `open` runs and tries to redeem whatever
 * login nonce it finds before the browser does. The launcher is the real
 * xdg-open with $BROWSER pointing at a stand-in that records its argument and
 * waits until the watcher has looked; then real Chromium opens what the
 * launcher was given and must end up signed in.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { startCli } from '../helpers/cli.js';
import { startStack, tempDir, type Stack } from '../helpers/stack.js';
import { launch, type Browser } from '../e2e/browser.js';

let s: Stack;
let browser: Browser;
let watcher: ChildProcess;
const seen = new Set<string>();
let scans = 0;

// Every distinct command line of every process, printed as it is first seen; a "scan" line after each full pass.
const WATCHER = `
const fs = require('node:fs');
const seen = new Set();
function pass() {
  for (const pid of fs.readdirSync('/proc')) {
    if (!/^\\d+$/.test(pid)) continue;
    let cmd;
    try { cmd = fs.readFileSync('/proc/' + pid + '/cmdline', 'latin1').split('\\0').join(' ').trim(); } catch { continue; }
    if (cmd && !seen.has(cmd)) { seen.add(cmd); process.stdout.write(JSON.stringify({ cmd }) + '\\n'); }
  }
  process.stdout.write('{"scan":1}\\n');
  setImmediate(pass);
}
pass();`;

beforeAll(async () => {
  s = await startStack();
  browser = await launch();
  watcher = spawn(process.execPath, ['-e', WATCHER], { stdio: ['ignore', 'pipe', 'inherit'] });
  let buf = '';
  watcher.stdout!.on('data', (d: Buffer) => {
    buf += d.toString('latin1');
    for (let nl = buf.indexOf('\n'); nl !== -1; nl = buf.indexOf('\n')) {
      const line = JSON.parse(buf.slice(0, nl)) as { cmd?: string; scan?: number };
      buf = buf.slice(nl + 1);
      if (line.cmd) seen.add(line.cmd);
      else scans++;
    }
  });
  await vi.waitFor(() => expect(scans).toBeGreaterThan(0), { timeout: 10_000, interval: 20 });
}, 60_000);
afterAll(async () => {
  watcher?.kill();
  await browser?.close();
  await s?.close();
});

describe('M. `open` and the process table (issue 17 item 2)', () => {
  it('M1 a /proc/*/cmdline watcher never sees a usable login secret, and the browser still signs in', async () => {
    const dir = tempDir('sbs-open-');
    const got = join(dir, 'got');
    const release = join(dir, 'release');
    const stub = join(dir, 'browser.sh');
    // The "browser": records what the launcher hands it, then stays in the process table until released.
    writeFileSync(stub, `#!/bin/sh\nprintf '%s' "$1" > '${got}'\nwhile [ ! -e '${release}' ]; do sleep 0.02; done\n`);
    chmodSync(stub, 0o755);
    const open = startCli(['--data-dir', s.dataDir, 'open'], { BROWSER: stub, XDG_CURRENT_DESKTOP: '', DISPLAY: '', WAYLAND_DISPLAY: '' });
    try {
      await vi.waitFor(() => expect(existsSync(got)).toBe(true), { timeout: 20_000, interval: 20 });
      // Two full passes of the watcher while the launcher is alive: it has read every command line there is.
      const after = scans;
      await vi.waitFor(() => expect(scans).toBeGreaterThan(after + 1), { timeout: 10_000, interval: 20 });
      const handed = readFileSync(got, 'utf8');
      expect([...seen].some((c) => c.includes(handed)), 'the watcher saw the launcher').toBe(true);

      // The attack: redeem anything nonce-shaped from any command line before the browser does.
      const candidates = new Set([...seen].flatMap((c) => c.match(/[0-9A-Za-z]{43}/g) ?? []));
      for (const nonce of candidates) {
        const r = await fetch(`${s.daemon.url}/admin/login?nonce=${nonce}`, { redirect: 'manual' });
        expect(r.status, 'a nonce from a command line signed the watcher in').toBe(401);
      }
      expect([...seen].filter((c) => c.includes('nonce='))).toEqual([]);
      writeFileSync(release, '');

      // What the browser was handed still signs it in.
      const page = await browser.context.newPage();
      await page.goto(handed);
      await page.getByRole('navigation', { name: 'Pages' }).waitFor();
      expect(page.url()).toBe(`${s.daemon.url}/`);
      await open.waitFor(/Opened the dashboard/, 20_000);
      expect(await open.stop()).toBe(0);
      // The redirect page is gone once used.
      expect(existsSync(fileURLToPath(handed))).toBe(false);
    } finally {
      writeFileSync(release, '');
      await open.stop();
    }
  }, 60_000);
});
