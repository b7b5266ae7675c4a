/**
 * A stop asked for while `serve` starts is an orderly stop: the real CLI,
 * signalled at moments of its start-up (as soon as it is spawned, when the
 * database appears, when `daemon.json` appears, once it listens), exits 0 and
 * leaves no `daemon.json`, no runtime entry and no lock held. Before, a
 * SIGTERM before the handler `serve` installed after start-up ended the
 * process by the signal, leaving `daemon.json` behind.
 *
 * Each moment is observed, never waited for (the data dir is watched). No
 * outside observer can tell when Node starts running the bin shim's first
 * line (Node catches SIGTERM itself from its first instant, to reset the
 * terminal before dying by it, so /proc's SigCgt says nothing), so the
 * shim's hand-off to the CLI is checked by running `main` with what a shim
 * caught while it loaded: `serve` stops in order, another command dies by
 * the signal as if nothing had caught it.
 */
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, readdirSync, rmSync, watch } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LOCK_FILE, RUNTIME_FILE, isLocked } from '../../proxy/server/lock.js';
import { DB_FILE } from '../../proxy/db/database.js';
import { startSimulator, type Simulator } from '../../proxy/simulator/index.js';
import { randomBase62 } from '../../proxy/tokens/format.js';
import { CLI } from '../helpers/cli.js';
import { tempDir } from '../helpers/stack.js';

let sim: Simulator;
const runDir = tempDir('sbs-serve-signals-run-');
const dirs: string[] = [runDir];

beforeAll(async () => {
  sim = await startSimulator({ apiKey: `sk-test-${randomBase62(32)}` });
});
afterAll(async () => {
  await sim?.close();
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

type Moment = 'spawned' | 'database' | 'runtime file' | 'listening';

interface Outcome {
  code: number | null;
  signal: NodeJS.Signals | null;
  output: string;
  dataDir: string;
  pid: number;
  /** Whether the moment came before the process exited (else the signal was sent to an exited process). */
  inTime: boolean;
}

/** Starts `serve`, sends SIGTERM at `moment` (or SIGINT), and waits for it to end. */
function signalAt(moment: Moment, signal: NodeJS.Signals = 'SIGTERM'): Promise<Outcome> {
  const dataDir = tempDir('sbs-serve-signals-');
  dirs.push(dataDir);
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CLI, '--data-dir', dataDir, 'serve', '--port', '0', '--upstream', sim.url], {
      env: { ...process.env, SKILLBOSS_SIDECAR_RUNTIME_DIR: runDir },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const pid = child.pid!;
    let output = '';
    let sent = false;
    let exited = false;
    const send = () => {
      if (sent || exited) return;
      sent = true;
      child.kill(signal);
    };
    const onData = (d: Buffer) => {
      output += d.toString();
      if (moment === 'listening' && /listening http/.test(output)) send();
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', onData);
    const watcher = moment === 'database' || moment === 'runtime file'
      ? watch(dataDir, (_event, name) => {
          if (name === (moment === 'database' ? DB_FILE : RUNTIME_FILE) && existsSync(join(dataDir, name))) send();
        })
      : null;
    if (moment === 'spawned') send();
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`serve signalled at "${moment}" did not end:\n${output}`));
    }, 30_000);
    child.on('error', reject);
    child.on('close', (code, sig) => {
      exited = true;
      clearTimeout(timer);
      watcher?.close();
      resolve({ code, signal: sig, output, dataDir, pid, inTime: sent });
    });
  });
}

/** What an orderly stop leaves: nothing that says a daemon runs. */
function expectTidy(o: Outcome, what: string): void {
  expect(existsSync(join(o.dataDir, RUNTIME_FILE)), `${what}: daemon.json left behind`).toBe(false);
  expect(readdirSync(runDir).filter((n) => n === `${o.pid}.json`), `${what}: runtime entry left behind`).toEqual([]);
  if (existsSync(join(o.dataDir, LOCK_FILE))) expect(isLocked(o.dataDir), `${what}: lock still held`).toBe(false);
}

describe.skipIf(process.platform !== 'linux')('serve stopped while it starts', () => {
  it.each(['database', 'runtime file', 'listening'] as const)('a SIGTERM when %s: exit 0, no runtime files', { timeout: 120_000 }, async (moment) => {
    for (let round = 0; round < 3; round++) {
      const o = await signalAt(moment);
      const what = `${moment}, round ${round + 1}`;
      expect(o.inTime, `${what}: the moment came before the process ended\n${o.output}`).toBe(true);
      expect({ code: o.code, signal: o.signal }, `${what}\n${o.output}`).toEqual({ code: 0, signal: null });
      expect(o.output, what).not.toMatch(/error|Error/);
      expectTidy(o, what);
    }
  });

  it('a SIGINT while the database opens: the same orderly stop', { timeout: 60_000 }, async () => {
    const o = await signalAt('database', 'SIGINT');
    expect({ code: o.code, signal: o.signal }, o.output).toEqual({ code: 0, signal: null });
    expectTidy(o, 'SIGINT');
  });

  it('a SIGTERM right after spawn: ended before Node ran a line (by the signal, nothing written), or an orderly stop', { timeout: 120_000 }, async () => {
    for (let round = 0; round < 5; round++) {
      const o = await signalAt('spawned');
      if (o.signal === 'SIGTERM') expect(readdirSync(o.dataDir), 'killed before it ran: nothing in the data dir').toEqual([]);
      else expect(o.code, o.output).toBe(0);
      expectTidy(o, `spawned, round ${round + 1}`);
    }
  });

  /** Runs the built CLI's `main` (as the bin shim does) in a child, with a shim that caught `caught` while the CLI loaded. */
  function mainWithShim(args: string[], caught: 'SIGTERM' | 'SIGINT') {
    const shimUrl = pathToFileURL(CLI).href;
    const script = `
      import { existsSync } from 'node:fs';
      const bundle = new URL('../dist/bundle/cli.js', ${JSON.stringify(shimUrl)});
      const { main } = await import(existsSync(bundle) ? bundle.href : new URL('../dist/proxy/cli/main.js', ${JSON.stringify(shimUrl)}).href);
      await main(['node', 'cli', ...${JSON.stringify(args)}], { release: () => ${JSON.stringify(caught)} });
    `;
    return spawnSync(process.execPath, ['--input-type=module', '-e', script], { env: { ...process.env, SKILLBOSS_SIDECAR_RUNTIME_DIR: runDir }, encoding: 'utf8', timeout: 30_000 });
  }

  it.each(['SIGTERM', 'SIGINT'] as const)('a %s caught by the bin shim while the CLI loaded: serve stops before starting anything, exit 0', (caught) => {
    const dataDir = tempDir('sbs-serve-signals-');
    dirs.push(dataDir);
    const r = mainWithShim(['--data-dir', dataDir, 'serve', '--port', '0', '--upstream', sim.url], caught);
    expect({ status: r.status, signal: r.signal }, r.stderr).toEqual({ status: 0, signal: null });
    expect(r.stdout).not.toContain('listening');
    expect(readdirSync(dataDir), 'nothing started, nothing written').toEqual([]);
  });

  it('a SIGTERM caught by the shim while another command loaded is raised again: it ends by the signal, as without the shim', () => {
    const dataDir = tempDir('sbs-serve-signals-');
    dirs.push(dataDir);
    const r = mainWithShim(['--data-dir', dataDir, 'token', 'list'], 'SIGTERM');
    expect({ status: r.status, signal: r.signal }, r.stderr).toEqual({ status: null, signal: 'SIGTERM' });
  });
});
