/**
 * Process boundaries, mechanically: proxy/ never imports electron (the
 * daemon and CLI run under plain Node), main/logic/ never imports electron
 * (so every decision runs in vitest), and the main process typechecks
 * against Electron 45's own types.
 */
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const IMPORTS_ELECTRON = /(?:from\s+|import\s*\(\s*|require\s*\(\s*)['"]electron(?:\/[^'"]*)?['"]/;

function sources(dir: string): string[] {
  return readdirSync(join(ROOT, dir), { recursive: true, encoding: 'utf8' })
    .filter((f) => /\.(c|m)?tsx?$/.test(f))
    .map((f) => join(dir, f));
}

describe('process boundaries', () => {
  it('the pattern catches every way of importing electron', () => {
    for (const line of ["import { app } from 'electron';", 'import type { Tray } from "electron";', "const e = require('electron')", "await import('electron/main')"]) {
      expect(IMPORTS_ELECTRON.test(line), line).toBe(true);
    }
    expect(IMPORTS_ELECTRON.test("import x from 'electron-builder'")).toBe(false);
  });

  it('proxy/ never imports electron', () => {
    const offenders = sources('proxy').filter((f) => IMPORTS_ELECTRON.test(readFileSync(join(ROOT, f), 'utf8')));
    expect(offenders).toEqual([]);
  });

  it('main/logic/ never imports electron, so its decisions run under plain Node', () => {
    const files = sources('main/logic');
    expect(files.length).toBeGreaterThan(10);
    expect(files.filter((f) => IMPORTS_ELECTRON.test(readFileSync(join(ROOT, f), 'utf8')))).toEqual([]);
  });

  it('the main process typechecks against Electron 45’s types', () => {
    const electron = createRequire(import.meta.url)('electron/package.json') as { version: string };
    expect(electron.version.split('.')[0]).toBe('45');
    // Throws (and fails the test with tsc's diagnostics) on any type error.
    execFileSync(process.execPath, [join(ROOT, 'node_modules/typescript/bin/tsc'), '-p', join(ROOT, 'main'), '--noEmit'], { cwd: ROOT, stdio: 'pipe' });
  }, 120_000);
});
