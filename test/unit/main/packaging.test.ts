/**
 * The packaging configuration, checked the way electron-builder reads it
 * (its own loader, schema validation and file matcher), since the
 * installers cannot be built on these machines: targets, app id, what goes
 * into the app, native modules unpacked from asar, icons that are real PNGs
 * of the right sizes, and entitlements that parse.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';
import { beforeAll, describe, expect, it } from 'vitest';
import { readPng } from './png.js';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const require = createRequire(import.meta.url);
const { getConfig, validateConfiguration } = require('app-builder-lib/out/util/config/config.js') as {
  getConfig(dir: string, path: string | null, opts: null): Promise<Config>;
  validateConfiguration(c: Config, logger: unknown): Promise<void>;
};
const { FileMatcher } = require('app-builder-lib/out/fileMatcher.js') as {
  FileMatcher: new (from: string, to: string, expand: (p: string) => string, patterns: string[]) => { createFilter(): (file: string, stat: { isDirectory(): boolean }) => boolean };
};
const { DebugLogger } = require('builder-util/out/DebugLogger.js') as { DebugLogger: new (enabled: boolean) => unknown };
const plist = require('plist') as { parse(xml: string): Record<string, unknown> };

interface Config {
  appId?: string;
  productName?: string;
  directories?: { buildResources?: string; output?: string };
  files?: Array<{ filter?: string[] }>;
  extraResources?: Array<{ from: string; to: string; filter?: string[] }>;
  asar?: boolean;
  asarUnpack?: string[];
  npmRebuild?: boolean;
  mac?: { target?: string[]; hardenedRuntime?: boolean; entitlements?: string; entitlementsInherit?: string; icon?: string; extendInfo?: Record<string, unknown> };
  win?: { target?: string[]; icon?: string };
  linux?: { target?: string[]; icon?: string; maintainer?: string };
}

let config: Config;
beforeAll(async () => {
  config = await getConfig(ROOT, null, null);
});

/** Whether electron-builder would take `rel` given these patterns (a file, relative to the project). */
function matches(patterns: string[], rel: string): boolean {
  const filter = new FileMatcher(ROOT, '/app', (p) => p, patterns).createFilter();
  return filter(join(ROOT, rel), { isDirectory: () => false });
}

describe('electron-builder configuration', () => {
  it('passes electron-builder’s own schema validation', async () => {
    await expect(validateConfiguration(config, new DebugLogger(false))).resolves.toBeUndefined();
  });

  it('names the app and builds dmg, nsis, AppImage and deb', () => {
    expect(config.appId).toBe('co.skillboss.sidecar');
    expect(config.productName).toBe('SkillBoss Sidecar');
    expect(config.mac?.target).toEqual(['dmg']);
    expect(config.win?.target).toEqual(['nsis']);
    expect(config.linux?.target).toEqual(['AppImage', 'deb']);
    expect(config.linux?.maintainer).toMatch(/<.+@.+>/);
  });

  it('signs macOS with the hardened runtime and the entitlements in build/', () => {
    expect(config.mac?.hardenedRuntime).toBe(true);
    expect(config.mac?.entitlements).toBe('build/entitlements.mac.plist');
    expect(config.mac?.entitlementsInherit).toBe('build/entitlements.mac.plist');
    expect(config.mac?.extendInfo?.LSUIElement).toBe(true);
  });

  it('packs the compiled main process, daemon and dashboard, and no sources, maps or tests', () => {
    const files = config.files?.flatMap((f) => f.filter ?? []) ?? [];
    for (const rel of ['dist/main/index.js', 'dist/main/preload.cjs', 'dist/main/logic/menu.js', 'dist/proxy/server/daemon.js', 'dist/proxy/cli/main.js', 'dist/wire/scopes.js', 'renderer/dist/index.html', 'renderer/dist/assets/index-3f2a.js']) {
      expect(matches(files, rel), rel).toBe(true);
    }
    for (const rel of ['dist/main/index.js.map', 'dist/proxy/server/daemon.d.ts', 'dist/main/.tsbuildinfo', 'main/index.ts', 'proxy/server/daemon.ts', 'renderer/src/App.tsx', 'test/unit/main/menu.test.ts', 'build/icon.png', '.git/config']) {
      expect(matches(files, rel), rel).toBe(false);
    }
  });

  it('starts the app at the compiled main entry, where tsc puts it', () => {
    const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { main: string; type: string; scripts: Record<string, string> };
    expect(pkg.main).toBe('dist/main/index.js');
    expect(pkg.type).toBe('module');
    const tsconfig = ts.getParsedCommandLineOfConfigFile(join(ROOT, 'main/tsconfig.json'), {}, { ...ts.sys, onUnRecoverableConfigFileDiagnostic: (d) => { throw new Error(String(d.messageText)); } })!;
    expect(tsconfig.options.outDir).toBe(join(ROOT, 'dist/main'));
    expect(tsconfig.fileNames).toContain(join(ROOT, 'main/index.ts'));
    expect(tsconfig.fileNames).toContain(join(ROOT, 'main/preload.cts'));
    expect(pkg.scripts.app).toMatch(/electron (--js-flags="[^"]*" )?\.$/);
    expect(pkg.scripts.dist).toMatch(/electron-builder/);
  });

  it('unpacks both native modules from asar and rebuilds them for Electron', () => {
    expect(config.asar).toBe(true);
    expect(config.npmRebuild).toBe(true);
    const unpack = config.asarUnpack ?? [];
    const sqlite = join(dirname(require.resolve('better-sqlite3/package.json')), 'build/Release/better_sqlite3.node');
    // @napi-rs/keyring loads a per-platform package (keyring-linux-x64-gnu, keyring-darwin-arm64, …).
    const napi = join(ROOT, 'node_modules/@napi-rs');
    const keyringBinding = readdirSync(napi)
      .filter((d) => d.startsWith('keyring-'))
      .flatMap((d) => readdirSync(join(napi, d)).filter((f) => f.endsWith('.node')).map((f) => join(napi, d, f)))[0];
    expect(existsSync(sqlite)).toBe(true);
    expect(keyringBinding, 'the keyring binding for this platform is installed').toBeDefined();
    for (const abs of [sqlite, keyringBinding!]) {
      const rel = abs.slice(ROOT.length);
      expect(matches(unpack, rel), rel).toBe(true);
    }
    expect(matches(unpack, 'node_modules/better-sqlite3/lib/database.js')).toBe(false);
  });

  it('ships the tray images beside app.asar', () => {
    expect(config.extraResources).toEqual([{ from: 'build/tray', to: 'tray', filter: ['*.png'] }]);
  });
});

describe('icons', () => {
  const png = (rel: string) => readPng(readFileSync(join(ROOT, 'build', rel)));

  it('are real PNGs of every size, transparent at the corners and solid in the middle', () => {
    for (const size of [16, 24, 32, 48, 64, 128, 256, 512, 1024]) {
      const img = png(`icons/${size}x${size}.png`);
      expect([img.width, img.height], `${size}`).toEqual([size, size]);
      expect(img.pixel(0, 0)[3], `${size} corner`).toBe(0);
      expect(img.pixel(size >> 1, size >> 1)[3], `${size} centre`).toBe(255);
    }
    expect([png('icon.png').width, png('icon.png').height]).toEqual([1024, 1024]);
    expect(config.linux?.icon).toBe('build/icons');
  });

  it('has a Windows .ico with PNG entries from 16 to 256', () => {
    expect(config.win?.icon).toBe('build/icon.ico');
    const ico = readFileSync(join(ROOT, 'build/icon.ico'));
    expect(ico.readUInt16LE(2)).toBe(1);
    const n = ico.readUInt16LE(4);
    const sizes: number[] = [];
    for (let i = 0; i < n; i++) {
      const e = 6 + 16 * i;
      const size = ico[e] === 0 ? 256 : ico[e]!;
      const img = readPng(ico.subarray(ico.readUInt32LE(e + 12), ico.readUInt32LE(e + 12) + ico.readUInt32LE(e + 8)));
      expect(img.width).toBe(size);
      sizes.push(size);
    }
    expect(sizes).toEqual([16, 24, 32, 48, 64, 128, 256]);
  });

  it('has a macOS .icns whose elements are PNGs of the sizes their types promise', () => {
    expect(config.mac?.icon).toBe('build/icon.icns');
    const icns = readFileSync(join(ROOT, 'build/icon.icns'));
    expect(icns.subarray(0, 4).toString('ascii')).toBe('icns');
    expect(icns.readUInt32BE(4)).toBe(icns.length);
    const want: Record<string, number> = { icp4: 16, icp5: 32, icp6: 64, ic07: 128, ic08: 256, ic09: 512, ic10: 1024, ic11: 32, ic12: 64, ic13: 256, ic14: 512 };
    const seen: string[] = [];
    for (let off = 8; off < icns.length; ) {
      const type = icns.subarray(off, off + 4).toString('ascii');
      const len = icns.readUInt32BE(off + 4);
      expect(readPng(icns.subarray(off + 8, off + len)).width, type).toBe(want[type]);
      seen.push(type);
      off += len;
    }
    expect(seen.sort()).toEqual(Object.keys(want).sort());
  });

  it('has tray images for the three states at 1x and 2x, black-and-alpha templates for macOS, each state distinct', () => {
    const seen = new Map<string, string>();
    for (const state of ['normal', 'paused', 'attention']) {
      for (const suffix of ['', 'Template']) {
        for (const [scale, size] of [['', 16], ['@2x', 32]] as const) {
          const file = `tray/tray-${state}${suffix}${scale}.png`;
          const img = png(file);
          expect([img.width, img.height], file).toEqual([size, size]);
          let opaque = 0;
          for (let i = 0; i < img.pixels.length; i += 4) {
            if (img.pixels[i + 3]! > 0) opaque++;
            if (suffix === 'Template' && img.pixels[i + 3]! > 0) expect(Math.max(img.pixels[i]!, img.pixels[i + 1]!, img.pixels[i + 2]!), `${file} must be black`).toBeLessThanOrEqual(2);
          }
          expect(opaque, `${file} has a visible glyph`).toBeGreaterThan(size * size * 0.2);
          if (scale === '@2x') seen.set(`${state}${suffix}`, Buffer.from(img.pixels).toString('base64'));
        }
      }
    }
    for (const suffix of ['', 'Template']) {
      const states = ['normal', 'paused', 'attention'].map((s) => seen.get(`${s}${suffix}`));
      expect(new Set(states).size, `three different ${suffix || 'colour'} glyphs`).toBe(3);
    }
    expect(png('tray/app.png').width).toBe(256);
  });
});

describe('entitlements', () => {
  it('parse as a plist granting only what Electron needs under the hardened runtime', () => {
    const ent = plist.parse(readFileSync(join(ROOT, 'build/entitlements.mac.plist'), 'utf8'));
    expect(ent).toEqual({ 'com.apple.security.cs.allow-jit': true });
  });
});
