/**
 * The one atomic file replacement (proxy/core/fs.ts) on a real temp dir:
 * the new content in full, owner-only from the start, no temp file left
 * behind, and on a failed rename the old state kept and the temp removed.
 */
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { writeFileAtomic } from '../../../proxy/core/fs.js';

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'sbs-fs-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

describe('writeFileAtomic', () => {
  it('creates and replaces a file whole, owner-only, leaving no temp file', () => {
    const f = join(dir, 'settings.json');
    writeFileAtomic(f, 'first');
    writeFileSync(f, 'old', { mode: 0o644 });
    writeFileAtomic(f, 'second\n');
    expect(readFileSync(f, 'utf8')).toBe('second\n');
    if (process.platform !== 'win32') expect(statSync(f).mode & 0o777).toBe(0o600);
    expect(readdirSync(dir)).toEqual(['settings.json']);
  });

  it('keeps the mode it is given', () => {
    if (process.platform === 'win32') return;
    const f = join(dir, 'shared');
    writeFileAtomic(f, 'x', 0o640);
    expect(statSync(f).mode & 0o777).toBe(0o640 & ~process.umask());
  });

  it('throws when the rename fails, leaving what was there and no temp file', () => {
    const target = join(dir, 'taken');
    mkdirSync(target);
    writeFileSync(join(target, 'inside'), 'kept');
    expect(() => writeFileAtomic(target, 'new')).toThrow();
    expect(readFileSync(join(target, 'inside'), 'utf8')).toBe('kept');
    expect(readdirSync(dir)).toEqual(['taken']);
  });
});
