/**
 * As much of `npm run dist` as runs without a network: electron-builder
 * (the real one, with the real config) packs the app for Linux into a
 * directory, using a stand-in for the Electron binary it cannot download.
 * Then the result is inspected: what app.asar holds and does not hold, that
 * the main process's whole import graph is inside it, that the native
 * modules were unpacked, and that the tray images sit beside it.
 * (Native modules are not rebuilt here: that needs Electron's headers.)
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { builtinModules, createRequire } from 'node:module';
import { join, posix } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tempDir } from '../helpers/stack.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const require = createRequire(import.meta.url);
const asar = require('@electron/asar') as { listPackage(a: string, o: { isPack: boolean }): string[]; extractFile(a: string, f: string): Buffer };

let work: string;
let resources: string;
let files: Set<string>;
let log = '';

beforeAll(() => {
  work = tempDir('sbs-tray-pack-');
  // The main process as `npm run dist` compiles it (proxy/ and the dashboard were built by the test runner).
  execFileSync(process.execPath, [join(ROOT, 'node_modules/typescript/bin/tsc'), '-b', 'main'], { cwd: ROOT, stdio: 'pipe' });
  // A stand-in for the unpacked Electron distribution electron-builder would download.
  const fake = join(work, 'electron-dist');
  mkdirSync(fake);
  writeFileSync(join(fake, 'electron'), '#!/bin/sh\necho "stand-in for the Electron binary"\n');
  chmodSync(join(fake, 'electron'), 0o755);
  writeFileSync(join(fake, 'LICENSE'), 'stand-in\n');
  const out = join(work, 'out');
  const r = spawnSync(
    process.execPath,
    [join(ROOT, 'node_modules/electron-builder/cli.js'), '--linux', 'dir', '--publish', 'never', `-c.electronDist=${fake}`, '-c.npmRebuild=false', `-c.directories.output=${out}`],
    // electron-builder goes quiet when it sees VITEST in its environment.
    { cwd: ROOT, encoding: 'utf8', env: { ...Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('VITEST'))), CI: '1' } },
  );
  log = `${r.stdout}${r.stderr}`; // electron-builder logs to stderr
  if (r.status !== 0) throw new Error(`electron-builder failed (${r.status}):\n${log}`);
  resources = join(out, 'linux-unpacked', 'resources');
  files = new Set(asar.listPackage(join(resources, 'app.asar'), { isPack: false }).map((f) => f.replaceAll('\\', '/')));
}, 300_000);

afterAll(() => {
  if (work) rmSync(work, { recursive: true, force: true });
});

describe('the packed app', () => {
  it('is built from the electron-builder.yml configuration', () => {
    expect(log).toMatch(/loaded configuration\s+file=.*electron-builder\.yml/);
    expect(existsSync(join(resources, '..', 'skillboss-sidecar'))).toBe(true);
  });

  it('holds the compiled main process, daemon, dashboard and production dependencies', () => {
    for (const f of [
      '/package.json',
      '/dist/main/index.js',
      '/dist/main/preload.cjs',
      '/dist/main/logic/menu.js',
      '/dist/proxy/server/daemon.js',
      '/dist/proxy/admin/index.js',
      '/renderer/dist/index.html',
      '/node_modules/better-sqlite3/package.json',
      '/node_modules/@napi-rs/keyring/package.json',
      '/node_modules/zod/package.json',
    ]) {
      expect(files.has(f), f).toBe(true);
    }
    const pkg = JSON.parse(asar.extractFile(join(resources, 'app.asar'), 'package.json').toString('utf8')) as { main: string; type: string };
    expect(pkg).toMatchObject({ main: 'dist/main/index.js', type: 'module' });
  });

  it('holds no sources, source maps, declarations, tests, build resources or dev dependencies', () => {
    const bad = [...files].filter(
      (f) =>
        /^\/dist\/.*\.(map|d\.ts|tsbuildinfo)$/.test(f) ||
        /^\/(main|proxy|test|build|scripts|bench|docs)\//.test(f) ||
        f.startsWith('/renderer/src/') ||
        /^\/node_modules\/(electron|electron-builder|vitest|typescript|vite|playwright-core|openai|@types)\//.test(f),
    );
    expect(bad).toEqual([]);
  });

  it('contains every module the main process imports, all the way down', () => {
    const seen = new Set<string>();
    const missing: string[] = [];
    const bare = new Set<string>();
    const builtins = new Set(builtinModules);
    const visit = (file: string) => {
      if (seen.has(file)) return;
      seen.add(file);
      const src = asar.extractFile(join(resources, 'app.asar'), file.slice(1)).toString('utf8');
      // TypeScript's own scanner: static imports, re-exports, import() and require(), never text inside strings.
      for (const { fileName: spec } of ts.preProcessFile(src, true, true).importedFiles) {
        if (spec.startsWith('.')) {
          const target = posix.normalize(posix.join(posix.dirname(file), spec));
          if (files.has(target)) visit(target);
          else missing.push(`${file} → ${spec}`);
        } else if (!spec.startsWith('node:') && !builtins.has(spec) && spec !== 'electron') {
          bare.add(spec.startsWith('@') ? spec.split('/').slice(0, 2).join('/') : spec.split('/')[0]!);
        }
      }
    };
    visit('/dist/main/index.js');
    visit('/dist/main/preload.cjs');
    expect(missing).toEqual([]);
    expect(seen.size).toBeGreaterThan(50);
    expect(seen.has('/dist/proxy/server/daemon.js')).toBe(true);
    const absent = [...bare].filter((p) => !files.has(`/node_modules/${p}/package.json`));
    expect(absent).toEqual([]);
  });

  it('unpacks the native modules from asar', () => {
    const unpacked = join(resources, 'app.asar.unpacked', 'node_modules');
    expect(existsSync(join(unpacked, 'better-sqlite3/build/Release/better_sqlite3.node'))).toBe(true);
    const keyring = readdirSync(join(unpacked, '@napi-rs')).filter((d) => d.startsWith('keyring-'));
    expect(keyring.flatMap((d) => readdirSync(join(unpacked, '@napi-rs', d))).some((f) => f.endsWith('.node'))).toBe(true);
  });

  it('puts the tray images beside app.asar, where the app looks for them', () => {
    const tray = readdirSync(join(resources, 'tray')).sort();
    for (const state of ['normal', 'paused', 'attention']) {
      for (const name of [`tray-${state}.png`, `tray-${state}@2x.png`, `tray-${state}Template.png`, `tray-${state}Template@2x.png`]) expect(tray, name).toContain(name);
    }
    expect(tray).toContain('app.png');
    expect(tray.filter((f) => !f.endsWith('.png'))).toEqual([]);
  });
});
