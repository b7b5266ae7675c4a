/** The tray app's daemon gets the same V8 heap sizing as `skillboss-sidecar serve` (issue 27, item 6). */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { DAEMON_ENV, DAEMON_V8_FLAGS, HEAP_RELAUNCH_MARKER, hasDaemonFlags, heapRelaunchFlags, markRelaunched, relaunchArgs } from '../../../main/logic/heap.js';

const root = new URL('../../../', import.meta.url);

describe('the tray app heap sizing', () => {
  it('is the CLI start line, and what `npm run app` passes', () => {
    const shebang = readFileSync(new URL('bin/skillboss-sidecar.js', root), 'utf8').split('\n', 1)[0]!;
    expect(shebang.split(' ').filter((w) => w.startsWith('--'))).toEqual([...DAEMON_V8_FLAGS]);
    const env = shebang.split(' ').filter((w) => /^[A-Z_][A-Z0-9_]*=/.test(w));
    expect(Object.fromEntries(env.map((w) => w.split('=')))).toEqual(DAEMON_ENV);
    const pkg = JSON.parse(readFileSync(new URL('package.json', root), 'utf8')) as { scripts: Record<string, string> };
    expect(pkg.scripts.app).toContain(`--js-flags="${DAEMON_V8_FLAGS.join(' ')}"`);
  });

  it('relaunches a packaged app started without the flags, keeping flags of its own', () => {
    expect(heapRelaunchFlags({ jsFlags: null, env: {}, packaged: true })).toBe(DAEMON_V8_FLAGS.join(' '));
    expect(heapRelaunchFlags({ jsFlags: '--expose-gc --max-semi-space-size=16', env: {}, packaged: true })).toBe(
      ['--expose-gc', ...DAEMON_V8_FLAGS].join(' '),
    );
  });

  it('goes on without relaunching when the flags are there, after one relaunch, and in development', () => {
    const given = `--trace-gc ${[...DAEMON_V8_FLAGS].reverse().join(' ')}`;
    expect(hasDaemonFlags(given)).toBe(true);
    expect(heapRelaunchFlags({ jsFlags: given, env: {}, packaged: true })).toBeNull();
    expect(heapRelaunchFlags({ jsFlags: null, env: { [HEAP_RELAUNCH_MARKER]: '1' }, packaged: true })).toBeNull();
    expect(heapRelaunchFlags({ jsFlags: null, env: {}, packaged: false })).toBeNull();
    expect(hasDaemonFlags(DAEMON_V8_FLAGS[0]!)).toBe(false);
  });

  it('gives the relaunched process the start line environment and the marker', () => {
    const env: NodeJS.ProcessEnv = { HOME: '/home/u' };
    markRelaunched(env);
    expect(env).toEqual({ HOME: '/home/u', ...DAEMON_ENV, [HEAP_RELAUNCH_MARKER]: '1' });
  });

  it('replaces any earlier --js-flags argument and keeps the others', () => {
    expect(relaunchArgs(['--hidden', '--js-flags=--trace-gc'], '--a --b')).toEqual(['--hidden', '--js-flags=--a --b']);
  });
});
