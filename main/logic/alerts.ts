/**
 * The notification loop's logic, without Electron: read the feed, apply the
 * rules, remember what fired and where the feed stopped (in the data dir, so
 * a restart neither repeats old alerts nor skips ones raised while the app
 * was closed).
 */
import type { DB } from '../../proxy/db/database.js';
import { Feed } from './feed.js';
import { NotifyRules, type Notice } from './notify-rules.js';
import type { JsonFile, TrayMemory } from './prefs.js';

export class Alerts {
  private readonly feed: Feed;
  private readonly rules: NotifyRules;
  private saved: string;

  constructor(
    db: DB,
    private readonly memory: JsonFile<typeof TrayMemory>,
  ) {
    const m = memory.read();
    this.feed = new Feed(db, m.cursors);
    this.rules = new NotifyRules(m.fired);
    this.saved = JSON.stringify(m);
  }

  poll(now: number): Notice[] {
    const notices = this.rules.evaluate(this.feed.read(now), now);
    const next: TrayMemory = { fired: this.rules.memory(), cursors: this.feed.cursors() };
    const text = JSON.stringify(next);
    if (text !== this.saved) {
      this.memory.write(next);
      this.saved = text;
    }
    return notices;
  }
}
