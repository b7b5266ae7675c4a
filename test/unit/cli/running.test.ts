/** The registry of running daemons that CLI commands use to find a demo or a `serve --data-dir`. */
import { chmodSync, existsSync, mkdirSync, readdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { listRunning, registerRunning, runtimeDir } from '../../../proxy/cli/running.js';
import { acquireLock, type DataDirLock } from '../../../proxy/server/lock.js';
import { tempDir } from '../../helpers/stack.js';

let saved: string | undefined;
let lock: DataDirLock | undefined;
let dataDir: string;
beforeEach(() => {
  saved = process.env.SKILLBOSS_SIDECAR_RUNTIME_DIR;
  process.env.SKILLBOSS_SIDECAR_RUNTIME_DIR = join(tempDir('sbs-running-'), 'run');
  dataDir = tempDir('sbs-running-data-');
  lock = acquireLock(dataDir);
});
afterEach(() => {
  lock?.release();
  if (saved === undefined) delete process.env.SKILLBOSS_SIDECAR_RUNTIME_DIR;
  else process.env.SKILLBOSS_SIDECAR_RUNTIME_DIR = saved;
});

describe('running daemons', () => {
  it('lists a registered daemon while its data dir is locked, and forgets it after', () => {
    const unregister = registerRunning({ pid: 4242, kind: 'demo', dataDir, url: 'http://127.0.0.1:1/' });
    expect(listRunning()).toEqual([{ pid: 4242, kind: 'demo', dataDir, url: 'http://127.0.0.1:1/' }]);
    unregister();
    expect(listRunning()).toEqual([]);
  });

  it('drops an entry whose daemon is gone (its lock released), e.g. after a SIGKILL', () => {
    registerRunning({ pid: 4243, kind: 'serve', dataDir, url: 'http://127.0.0.1:1/' });
    lock!.release();
    lock = undefined;
    expect(listRunning()).toEqual([]);
    expect(existsSync(join(runtimeDir(), '4243.json'))).toBe(false);
  });

  it('ignores a registry directory other users can write to (no planted daemons)', () => {
    registerRunning({ pid: 4244, kind: 'serve', dataDir, url: 'http://127.0.0.1:1/' });
    chmodSync(runtimeDir(), 0o777);
    expect(listRunning()).toEqual([]);
    chmodSync(runtimeDir(), 0o700);
    expect(listRunning()).toHaveLength(1);
  });

  it('issue 25 item 10: a symlink at the runtime path (another user\'s, into ~/.ssh) is refused: nothing written or deleted through it', () => {
    const victim = tempDir('sbs-running-victim-');
    writeFileSync(join(victim, '1234.json'), 'not a daemon entry: the victim\'s own file', { mode: 0o600 });
    symlinkSync(victim, runtimeDir());
    const unregister = registerRunning({ pid: 4245, kind: 'serve', dataDir, url: 'http://127.0.0.1:1/' });
    expect(readdirSync(victim)).toEqual(['1234.json']);
    expect(listRunning()).toEqual([]);
    unregister();
    expect(readdirSync(victim)).toEqual(['1234.json']);
  });

  it('issue 25 item 10: a runtime path that is not a directory is refused', () => {
    writeFileSync(runtimeDir(), 'planted');
    registerRunning({ pid: 4246, kind: 'serve', dataDir, url: 'http://127.0.0.1:1/' });
    expect(listRunning()).toEqual([]);
  });

  it('has nothing to list before anything registered', () => {
    mkdirSync(dataDir, { recursive: true });
    expect(listRunning()).toEqual([]);
  });
});
