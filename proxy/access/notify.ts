/**
 * 'access_request' events for the tray and the dashboard, read from the audit
 * log rather than raised by each caller: the audit table is append-only with
 * increasing ids, so tailing it gives one ordered source of truth that also
 * carries what another process (the CLI's `requests approve`) did. Changes in
 * this process are published right after the current transaction; changes by
 * other processes at the daemon's next sweep, when SQLite's data_version says
 * another connection committed (one pragma per sweep otherwise).
 */
import type { DB } from '../db/database.js';
import type { AccessRequestEvent, SidecarEvents } from '../core/events.js';

const KINDS: Record<string, AccessRequestEvent['kind']> = {
  'access.create': 'created',
  'access.approve': 'approved',
  'access.deny': 'denied',
  'access.expire': 'expired',
};

export class AccessNotifier {
  private lastId: number;
  private dataVersion: number;
  private scheduled = false;
  private readonly q;

  constructor(
    db: DB,
    private readonly events: SidecarEvents,
  ) {
    this.q = {
      maxId: db.prepare('SELECT COALESCE(MAX(id), 0) AS id FROM audit'),
      since: db.prepare(
        "SELECT id, event, detail FROM audit WHERE id > ? AND id <= ? AND event IN ('access.create', 'access.approve', 'access.deny', 'access.expire') ORDER BY id",
      ),
      dataVersion: () => db.pragma('data_version', { simple: true }) as number,
    };
    this.lastId = (this.q.maxId.get() as { id: number }).id;
    this.dataVersion = this.q.dataVersion();
  }

  /** Publishes after the current synchronous work (and so after the enclosing transaction commits). */
  soon(): void {
    if (this.scheduled) return;
    this.scheduled = true;
    queueMicrotask(() => {
      this.scheduled = false;
      try {
        this.publish();
      } catch {
        /* a closed database or a throwing listener must not take the daemon down; the sweep retries */
      }
    });
  }

  /** Publishes when another connection has committed since the last look. */
  poll(): void {
    const v = this.q.dataVersion();
    if (v === this.dataVersion) return;
    this.dataVersion = v;
    this.publish();
  }

  private publish(): void {
    const max = (this.q.maxId.get() as { id: number }).id;
    if (max <= this.lastId) return;
    const rows = this.q.since.all(this.lastId, max) as Array<{ id: number; event: string; detail: string }>;
    this.lastId = max;
    for (const row of rows) {
      const d = JSON.parse(row.detail) as { request_id?: string; name?: string; user_code?: string };
      const kind = KINDS[row.event];
      if (!kind || !d.request_id) continue;
      this.events.emit('access_request', { kind, request_id: d.request_id, name: d.name ?? '', user_code: d.user_code ?? '' });
    }
  }
}
