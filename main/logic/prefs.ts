/**
 * Small JSON files the app keeps: its preferences (port, start at login,
 * window bounds) in Electron's userData dir, and what it already notified
 * about (with the feed cursors) beside the database, since that memory
 * belongs to the data. Read through a schema (a damaged file means
 * defaults, not a crash); written atomically and owner-only.
 */
import { mkdirSync, readFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { z } from 'zod';
import { writeFileAtomic } from '../../proxy/core/fs.js';

export const Bounds = z.object({ x: z.number().int(), y: z.number().int(), width: z.number().int().positive(), height: z.number().int().positive() });
export type Bounds = z.infer<typeof Bounds>;

// Each field falls back on its own (`.catch`), so one bad value never wipes the others.
export const AppPrefs = z.object({
  /** The port the human chose when the default was taken. */
  port: z.number().int().min(1).max(65535).optional().catch(undefined),
  autostart: z.boolean().default(false).catch(false),
  window: Bounds.optional().catch(undefined),
});
export type AppPrefs = z.infer<typeof AppPrefs>;

export const TrayMemory = z.object({
  fired: z.record(z.string(), z.number()).default({}),
  cursors: z.object({ eventId: z.number().int().min(0), auditId: z.number().int().min(0) }).optional(),
});
export type TrayMemory = z.infer<typeof TrayMemory>;

export const APP_PREFS_FILE = 'prefs.json';
export const TRAY_MEMORY_FILE = 'tray-state.json';

export class JsonFile<S extends z.ZodType> {
  constructor(
    readonly path: string,
    private readonly schema: S,
  ) {}

  read(): z.output<S> {
    let raw: unknown = {};
    try {
      raw = JSON.parse(readFileSync(this.path, 'utf8'));
    } catch {
      /* missing or damaged: start from defaults */
    }
    const r = this.schema.safeParse(raw);
    return r.success ? r.data : this.schema.parse({});
  }

  write(value: z.output<S>): void {
    mkdirSync(dirname(this.path), { recursive: true, mode: 0o700 });
    writeFileAtomic(this.path, `${JSON.stringify(value, null, 2)}\n`);
  }

  update(fn: (v: z.output<S>) => z.output<S>): z.output<S> {
    const next = fn(this.read());
    this.write(next);
    return next;
  }
}
