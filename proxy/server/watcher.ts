/**
 * Notices changes other processes (the CLI, a second admin) made to the
 * database. SQLite's `data_version` changes when another connection commits;
 * the `gen:*` counters then say what changed. A poll costs one pragma.
 */
import type { DB } from '../db/database.js';
import { onLocalChange, type Generation } from '../db/records.js';


/**
 * Also hears this process's own changes (see `onLocalChange`), so caches are
 * dropped at once whoever made the change.
 */
export class Watcher {
  private timer: NodeJS.Timeout | null = null;
  private dataVersion = -1;
  private gens = new Map<string, string>();
  private unsubscribe: (() => void) | null = null;

  constructor(
    private readonly db: DB,
    private readonly intervalMs: number,
    private readonly on: Record<Generation, () => void>,
  ) {}

  start(): void {
    this.dataVersion = this.db.pragma('data_version', { simple: true }) as number;
    this.gens = this.readGens();
    this.timer = setInterval(() => this.poll(), this.intervalMs);
    this.timer.unref();
    // Changes made in this process (admin API, local routes) take effect at once, not at the next poll.
    this.unsubscribe = onLocalChange(this.db, (kind) => this.on[kind]());
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    this.unsubscribe?.();
    this.unsubscribe = null;
  }

  poll(): void {
    let v: number;
    try {
      v = this.db.pragma('data_version', { simple: true }) as number;
    } catch {
      return;
    }
    if (v === this.dataVersion) return;
    this.dataVersion = v;
    const next = this.readGens();
    for (const kind of ['tokens', 'key', 'prices', 'settings'] as const) {
      if (next.get(`gen:${kind}`) !== this.gens.get(`gen:${kind}`)) this.on[kind]();
    }
    this.gens = next;
  }

  private readGens(): Map<string, string> {
    const rows = this.db.prepare("SELECT key, value FROM settings WHERE key LIKE 'gen:%'").all() as Array<{ key: string; value: string }>;
    return new Map(rows.map((r) => [r.key, r.value]));
  }
}
