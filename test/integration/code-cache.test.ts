/**
 * The V8 code cache of the bundled daemon (proxy/core/code-cache.ts, issue 27 item 4), through the real build:
 * a child process imports dist/bundle/daemon.js (what `npm run bench` and scripts import), starts the daemon on
 * a fresh data dir, serves one agent request, closes. The first start writes the cache (0600, in a 0700
 * directory), the second uses it; a corrupt cache, or one others may write, is ignored (the daemon still
 * serves) and replaced by a good one; SKILLBOSS_SIDECAR_CODE_CACHE=0 writes none.
 */
import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, lstatSync, readdirSync, readFileSync, renameSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { tempDir } from '../helpers/stack.js';

const REPO = fileURLToPath(new URL('../..', import.meta.url));
const dirs: string[] = [];
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

/** One cold start in a child: start, one /v1 request (401 without a token: served all the same), close. */
const CHILD = `
const { codeCache, startDaemon } = await import(${JSON.stringify(pathToFileURL(join(REPO, 'dist', 'bundle', 'daemon.js')).href)});
const { mkdtempSync } = await import('node:fs');
const { join } = await import('node:path');
const { tmpdir } = await import('node:os');
const keyStore = { kind: 'memory', get: () => 'sk-test-unused', set() {}, remove() { return true; } };
const daemon = await startDaemon({ dataDir: mkdtempSync(join(tmpdir(), 'sbs-cc-data-')), upstreamUrl: 'http://127.0.0.1:9/v1', keyStore, port: 0 });
const res = await fetch(daemon.url + '/v1/models');
await res.arrayBuffer();
await daemon.close();
process.stdout.write(JSON.stringify({ state: codeCache.state, file: codeCache.file, status: res.status }));
`;

function start(cacheDir: string, env: Record<string, string> = {}, nodeArgs: string[] = [], child = CHILD): { state: string; file: string | null; status: number } {
  const r = spawnSync(process.execPath, [...nodeArgs, '--input-type=module', '-e', child], {
    env: { ...process.env, SKILLBOSS_SIDECAR_CACHE_DIR: cacheDir, SKILLBOSS_SIDECAR_CODE_CACHE: '', ...env },
    encoding: 'utf8',
    timeout: 30_000,
  });
  if (r.status !== 0) throw new Error(`child exited ${r.status}: ${r.stderr}`);
  return JSON.parse(r.stdout) as { state: string; file: string | null; status: number };
}

function newCacheDir(): string {
  const parent = tempDir('sbs-cc-');
  dirs.push(parent);
  return join(parent, 'cache');
}

describe('the code cache of dist/bundle/daemon.js', () => {
  it('is written by the first start, private, and used by the second', () => {
    const dir = newCacheDir();
    const first = start(dir);
    expect(first).toMatchObject({ state: 'miss', status: 401 });
    const file = first.file!;
    expect(file.startsWith(dir)).toBe(true);
    expect(readdirSync(dir)).toEqual([file.slice(dir.length + 1)]);
    if (process.platform !== 'win32') {
      expect(statSync(file).mode & 0o777).toBe(0o600);
      expect(statSync(dir).mode & 0o777).toBe(0o700);
    }
    expect(statSync(file).size).toBeGreaterThan(100_000);
    const second = start(dir);
    expect(second).toMatchObject({ state: 'hit', status: 401, file });
  });

  it('ignores a corrupt cache file and replaces it with a good one', () => {
    const dir = newCacheDir();
    const { file } = start(dir);
    const good = readFileSync(file!);
    // Same length, 64 bytes of V8's payload flipped: V8 itself does not notice (release builds skip its checksum)
    // and, handed this, aborts the process in its deserializer.
    const bad = Buffer.from(good);
    for (let i = bad.length >> 1; i < (bad.length >> 1) + 64; i++) bad[i]! ^= 0xff;
    writeFileSync(file!, bad, { mode: 0o600 });
    expect(start(dir)).toMatchObject({ state: 'rejected', status: 401 });
    expect(readFileSync(file!).equals(bad)).toBe(false);
    expect(start(dir)).toMatchObject({ state: 'hit', status: 401 });

    writeFileSync(file!, 'not a cache at all');
    expect(start(dir)).toMatchObject({ state: 'rejected', status: 401 });
    expect(start(dir)).toMatchObject({ state: 'hit', status: 401 });
  });

  it.skipIf(process.platform === 'win32')('ignores a cache file others could have written', () => {
    const dir = newCacheDir();
    const { file } = start(dir);
    chmodSync(file!, 0o666);
    expect(start(dir)).toMatchObject({ state: 'rejected', status: 401 });
    expect(statSync(file!).mode & 0o777).toBe(0o600);
    expect(start(dir)).toMatchObject({ state: 'hit', status: 401 });
  });

  it.skipIf(process.platform === 'win32')('does not follow a link to a cache, and replaces the link with a file', () => {
    const dir = newCacheDir();
    const { file } = start(dir);
    const elsewhere = join(dirname(dir), 'elsewhere.v8');
    renameSync(file!, elsewhere);
    symlinkSync(elsewhere, file!);
    expect(start(dir)).toMatchObject({ state: 'rejected', status: 401 });
    expect(lstatSync(file!).isSymbolicLink()).toBe(false);
    expect(start(dir)).toMatchObject({ state: 'hit', status: 401 });
  });

  it.skipIf(process.platform === 'win32')('makes its own loose directory private, and uses none whose parent anyone may write in', () => {
    const dir = newCacheDir();
    const { file } = start(dir);
    chmodSync(dir, 0o777);
    expect(start(dir)).toMatchObject({ state: 'hit', file });
    expect(statSync(dir).mode & 0o777).toBe(0o700);
    // Someone else could swap the directory for one of theirs: no cache at all, the daemon serves the same.
    chmodSync(dirname(dir), 0o777);
    expect(start(dir)).toMatchObject({ state: 'off', file: null, status: 401 });
    chmodSync(dirname(dir), 0o700);
  });

  it('writes no cache when the flags changed after the compile (the next start would refuse it)', () => {
    const dir = newCacheDir();
    // The flags change once the bundle is compiled, before the first request (what core/threads.ts does before a worker starts).
    const changing = CHILD.replace('const res = await fetch', "(await import('node:v8')).setFlagsFromString('--max-semi-space-size=0');\nconst res = await fetch");
    expect(changing).not.toBe(CHILD);
    expect(start(dir, {}, ['--max-semi-space-size=4'], changing)).toMatchObject({ state: 'miss', status: 401 });
    expect(existsSync(dir) ? readdirSync(dir).filter((n) => n.endsWith('.v8')) : []).toEqual([]);
    // Unchanged flags: written, and used.
    expect(start(dir, {}, ['--max-semi-space-size=4'])).toMatchObject({ state: 'miss' });
    expect(start(dir, {}, ['--max-semi-space-size=4'])).toMatchObject({ state: 'hit' });
  });

  it('is off with SKILLBOSS_SIDECAR_CODE_CACHE=0', () => {
    const dir = newCacheDir();
    expect(start(dir, { SKILLBOSS_SIDECAR_CODE_CACHE: '0' })).toMatchObject({ state: 'off', file: null, status: 401 });
    expect(() => readdirSync(dir)).toThrow();
  });
});
