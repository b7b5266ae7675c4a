/** The app's small JSON files: schema-checked on read, atomic and owner-only on write. */
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { AppPrefs, JsonFile, TrayMemory } from '../../../main/logic/prefs.js';

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});
function tmp(): string {
  const d = mkdtempSync(join(tmpdir(), 'sbs-prefs-'));
  dirs.push(d);
  return d;
}

describe('JsonFile', () => {
  it('gives defaults for a missing, damaged or wrongly shaped file', () => {
    const dir = tmp();
    const f = new JsonFile(join(dir, 'prefs.json'), AppPrefs);
    expect(f.read()).toEqual({ autostart: false });
    writeFileSync(f.path, '{not json');
    expect(f.read()).toEqual({ autostart: false });
    writeFileSync(f.path, JSON.stringify([1, 2]));
    expect(f.read()).toEqual({ autostart: false });
    // One bad field falls back alone; the others are kept.
    writeFileSync(f.path, JSON.stringify({ port: 'seventy', autostart: true, window: { x: 1.5, y: 0, width: 400, height: 600 } }));
    expect(f.read()).toEqual({ autostart: true });
  });

  it('round-trips, owner-only, leaving no temp file behind', () => {
    const dir = tmp();
    const f = new JsonFile(join(dir, 'sub', 'prefs.json'), AppPrefs);
    f.update((p) => ({ ...p, port: 7374, window: { x: 1, y: 2, width: 480, height: 760 } }));
    expect(new JsonFile(f.path, AppPrefs).read()).toEqual({ autostart: false, port: 7374, window: { x: 1, y: 2, width: 480, height: 760 } });
    if (process.platform !== 'win32') expect(statSync(f.path).mode & 0o777).toBe(0o600);
    expect(readdirSync(join(dir, 'sub'))).toEqual(['prefs.json']);
    expect(JSON.parse(readFileSync(f.path, 'utf8')).port).toBe(7374);
  });

  it('keeps the notification memory and feed cursors', () => {
    const f = new JsonFile(join(tmp(), 'tray-state.json'), TrayMemory);
    f.write({ fired: { 'budget:tok_a:2026-05:80': 123 }, cursors: { eventId: 4, auditId: 9 } });
    expect(f.read()).toEqual({ fired: { 'budget:tok_a:2026-05:80': 123 }, cursors: { eventId: 4, auditId: 9 } });
  });
});
