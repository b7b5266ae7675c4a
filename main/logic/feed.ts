/**
 * Reads what notify-rules needs from the shared database: budget crossings
 * (the `events` table the budget stage writes once per token, kind and
 * period), lifecycle rows from the audit log, the upstream status, tokens
 * near expiry and agents' access requests still waiting for an answer. Reading the database rather than in-process events means the
 * tray notifies the same way whether it runs the daemon or attached to a
 * headless one, and can catch up after a restart from saved cursors.
 */
import type { DB } from '../../proxy/db/database.js';
import { DAY_MS } from '../../proxy/core/time.js';
import { EXPIRY_THRESHOLDS_DAYS, type AuditObservation, type BudgetObservation, type ExpiringToken, type HeldToken, type Observation, type PendingAccess } from './notify-rules.js';
import { readStoredState } from './state.js';
import { getSetting } from '../../proxy/db/records.js';
import type { UpstreamStatus } from '../../proxy/upstream/status.js';

export interface FeedCursors {
  eventId: number;
  auditId: number;
}

const BATCH = 500;
const HORIZON_MS = Math.max(...EXPIRY_THRESHOLDS_DAYS) * DAY_MS;

export class Feed {
  private readonly q;
  private cur: FeedCursors;

  /** Without saved cursors the feed starts at the end: history from before the first run is not news. */
  constructor(
    private readonly db: DB,
    saved?: FeedCursors,
  ) {
    this.q = {
      maxEvent: db.prepare('SELECT COALESCE(MAX(id), 0) FROM events').pluck(),
      maxAudit: db.prepare('SELECT COALESCE(MAX(id), 0) FROM audit').pluck(),
      events: db.prepare(
        "SELECT e.id, e.kind, e.token_id, e.period, e.detail, t.name FROM events e LEFT JOIN tokens t ON t.id = e.token_id WHERE e.id > ? AND e.kind IN ('budget_80', 'budget_100') ORDER BY e.id LIMIT ?",
      ),
      lastEvent: db.prepare('SELECT COALESCE(MAX(id), 0) FROM (SELECT id FROM events WHERE id > ? ORDER BY id LIMIT ?)').pluck(),
      audit: db.prepare('SELECT a.id, a.ts, a.actor, a.event, a.token_id, a.detail, t.name FROM audit a LEFT JOIN tokens t ON t.id = a.token_id WHERE a.id > ? ORDER BY a.id LIMIT ?'),
      expiring: db.prepare('SELECT id, name, expires_at FROM tokens WHERE revoked_at IS NULL AND expires_at > ? AND expires_at <= ? ORDER BY expires_at'),
      // The daemon caps open requests (5 by default); the limit only guards against a damaged table.
      held: db.prepare("SELECT id, name, held_at, held_reason FROM tokens WHERE hold_state = 'held' AND revoked_at IS NULL ORDER BY held_at LIMIT 50"),
      access: db.prepare("SELECT id, name, user_code, scopes, monthly_budget, expires_at FROM access_requests WHERE status = 'pending' AND expires_at > ? ORDER BY created_at, id LIMIT 50"),
    };
    this.cur = saved ?? { eventId: this.q.maxEvent.get() as number, auditId: this.q.maxAudit.get() as number };
  }

  cursors(): FeedCursors {
    return { ...this.cur };
  }

  /** Everything new since the last read, plus the current upstream status and expiring tokens. */
  read(now: number): Observation {
    const events = this.q.events.all(this.cur.eventId, BATCH) as Array<{ id: number; kind: 'budget_80' | 'budget_100'; token_id: string; period: string; detail: string; name: string | null }>;
    // Other event kinds are skipped by the filter above; move past them too.
    const lastEvent = this.q.lastEvent.get(this.cur.eventId, BATCH) as number;
    const budgets: BudgetObservation[] = events.map((e) => {
      const d = JSON.parse(e.detail) as { spent_micros?: number; budget_micros?: number };
      return { kind: e.kind, tokenId: e.token_id, tokenName: e.name, period: e.period, spentMicros: d.spent_micros ?? 0, budgetMicros: d.budget_micros ?? 0 };
    });
    const auditRows = this.q.audit.all(this.cur.auditId, BATCH) as Array<{ id: number; ts: number; actor: string; event: string; token_id: string | null; detail: string | null; name: string | null }>;
    const audit: AuditObservation[] = auditRows.map((a) => ({ id: a.id, ts: a.ts, actor: a.actor, event: a.event, tokenId: a.token_id, tokenName: a.name, detail: a.detail ?? undefined }));
    const expiring: ExpiringToken[] = (this.q.expiring.all(now, now + HORIZON_MS) as Array<{ id: string; name: string; expires_at: number }>).map((t) => ({
      tokenId: t.id,
      tokenName: t.name,
      expiresAt: t.expires_at,
    }));
    const access: PendingAccess[] = (this.q.access.all(now) as Array<{ id: string; name: string; user_code: string; scopes: string; monthly_budget: number; expires_at: number }>).map((r) => ({
      id: r.id,
      name: r.name,
      userCode: r.user_code,
      scopes: r.scopes ? r.scopes.split(' ') : [],
      monthlyBudgetMicros: r.monthly_budget,
      expiresAt: r.expires_at,
    }));
    const held: HeldToken[] = (this.q.held.all() as Array<{ id: string; name: string; held_at: number; held_reason: string | null }>).map((t) => ({
      tokenId: t.id,
      tokenName: t.name,
      since: t.held_at,
      reason: t.held_reason ?? 'its spend passed a threshold',
    }));
    this.cur = { eventId: Math.max(this.cur.eventId, lastEvent), auditId: auditRows.at(-1)?.id ?? this.cur.auditId };
    const s = readStoredState(this.db, now);
    const notices = (getSetting<Partial<UpstreamStatus>>(this.db, 'upstream_status') ?? {}).notices ?? [];
    return { upstream: { key: s.upstreamKey, credits: s.credits, notices }, budgets, audit, expiring, access, held };
  }
}
