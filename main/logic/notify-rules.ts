/**
 * When the tray raises a native notification. Pure: observations in (read
 * from the database by feed.ts), notices out, with a memory of what already
 * fired so each alert is shown once — budgets once per token per period,
 * expiry warnings once per threshold, upstream problems once until they clear,
 * an agent's access request once while it waits.
 * The memory is persisted by the caller, so a restart does not repeat them.
 */
import { formatUsd } from '../../proxy/core/money.js';
import { DAY_MS, periodOf, periodResetAt } from '../../proxy/core/time.js';
import type { UpstreamStatus } from '../../proxy/upstream/status.js';

export type NoticeKind = 'upstream_overrun' | 'upstream_notice' | 'spend_hold' | 'budget_80' | 'budget_100' | 'key_invalid' | 'credits_out' | 'rotation' | 'webhook_failed' | 'upstream_changed' | 'expiry' | 'access_request' | 'summary';

/** Where clicking the notification leads in the dashboard. */
export type NoticeTarget = 'overview' | 'tokens' | 'setup' | 'audit' | 'access';

export interface Notice {
  key: string;
  kind: NoticeKind;
  title: string;
  body: string;
  target: NoticeTarget;
}

export interface BudgetObservation {
  kind: 'budget_80' | 'budget_100';
  tokenId: string;
  tokenName: string | null;
  period: string;
  spentMicros: number;
  budgetMicros: number;
}

export interface AuditObservation {
  id: number;
  ts: number;
  actor: string;
  event: string;
  tokenId: string | null;
  tokenName: string | null;
  /** The row's detail (JSON), where a notice names what it is about (an overrun's request). */
  detail?: string;
}

export interface ExpiringToken {
  tokenId: string;
  tokenName: string;
  expiresAt: number;
}

/** An agent's access request still waiting for the human (proxy/access). */
export interface PendingAccess {
  id: string;
  name: string;
  /** The code the agent shows; the human compares it before approving. */
  userCode: string;
  scopes: readonly string[];
  monthlyBudgetMicros: number;
  expiresAt: number;
}

/** A token on hold for the human's approval (issue 16): its agents get 402 until approved. */
export interface HeldToken {
  tokenId: string;
  tokenName: string;
  since: number;
  reason: string;
}

export interface Observation {
  held?: readonly HeldToken[];
  upstream?: { key: UpstreamStatus['key']; credits: UpstreamStatus['credits']; notices?: UpstreamStatus['notices'] };
  budgets?: readonly BudgetObservation[];
  audit?: readonly AuditObservation[];
  expiring?: readonly ExpiringToken[];
  access?: readonly PendingAccess[];
}

/** Days before expiry at which a token's owner is warned, tightest first. */
export const EXPIRY_THRESHOLDS_DAYS = [1, 3, 7] as const;
/** Older lifecycle rows found after a long downtime are history, not news. */
export const STALE_AFTER_MS = DAY_MS;
/** More notices than this at once collapse into a summary (a bulk operation must not spray the desktop). */
export const MAX_AT_ONCE = 3;

/** Which audit events the tray announces. The human's own actions (CLI, dashboard) are not news to them. */
const HUMAN_ACTORS = new Set(['cli', 'admin']);
export function classifyAudit(a: Pick<AuditObservation, 'event' | 'actor'>): 'rotation' | 'webhook_failed' | 'upstream_changed' | 'upstream_overrun' | null {
  const e = a.event.toLowerCase();
  if (e === 'usage.upstream_overrun') return 'upstream_overrun';
  // Announced whoever did it: the real key goes there next, and a stolen dashboard session acts as "admin" too.
  if (e === 'upstream.url_changed' || e === 'upstream.control_plane_changed') return 'upstream_changed';
  if (e.includes('webhook') && e.includes('fail')) return 'webhook_failed';
  if (e.includes('rotat') && !e.includes('fail') && !e.includes('schedule') && !HUMAN_ACTORS.has(a.actor)) return 'rotation';
  return null;
}

/** key → time after which it may be forgotten (it can no longer fire anyway). */
export type FiredMemory = Record<string, number>;
/** Until re-armed by the problem clearing (JSON-safe, unlike Infinity). */
const UNTIL_CLEARED = Number.MAX_SAFE_INTEGER;

function overrunOf(detail: string | undefined): { request_id: string; reserved_micros: number; charged_micros: number } {
  try {
    const d = JSON.parse(detail ?? '{}') as Record<string, unknown>;
    return { request_id: String(d.request_id ?? '?'), reserved_micros: Number(d.reserved_micros) || 0, charged_micros: Number(d.charged_micros) || 0 };
  } catch {
    return { request_id: '?', reserved_micros: 0, charged_micros: 0 };
  }
}

const name = (n: string | null, id: string | null) => (n ? `“${n}”` : (id ?? 'a token'));
const dateOf = (ms: number) => new Date(ms).toISOString().slice(0, 10);

export class NotifyRules {
  private readonly fired: Map<string, number>;

  constructor(memory: FiredMemory = {}) {
    this.fired = new Map(Object.entries(memory));
  }

  memory(): FiredMemory {
    return Object.fromEntries(this.fired);
  }

  /** The notices to show for this observation, in order; each at most once. */
  evaluate(o: Observation, now: number): Notice[] {
    for (const [k, until] of this.fired) if (until <= now) this.fired.delete(k);
    const out: Notice[] = [];
    const fire = (n: Notice, until: number) => {
      if (this.fired.has(n.key)) return;
      this.fired.set(n.key, until);
      out.push(n);
    };

    // Access requests first: they wait minutes, not days, so they are the last to be folded into a summary.
    // Holds first of all: an agent is stopped until the human answers.
    if (o.held) this.held(o.held, fire);
    if (o.access) this.access(o.access, now, fire);
    if (o.upstream) this.upstream(o.upstream, fire);
    if (o.budgets) this.budgets(o.budgets, now, fire);
    if (o.audit) this.audit(o.audit, now, fire);
    if (o.expiring) this.expiring(o.expiring, now, fire);

    if (out.length <= MAX_AT_ONCE) return out;
    const kept = out.slice(0, MAX_AT_ONCE - 1);
    const rest = out.length - kept.length;
    return [...kept, { key: `summary:${now}`, kind: 'summary', title: `${rest} more alerts`, body: 'Open the dashboard to see them all.', target: 'overview' }];
  }

  private upstream(u: NonNullable<Observation['upstream']>, fire: (n: Notice, until: number) => void): void {
    // Fires once per episode: when the key becomes valid again (or credits return) the alert re-arms.
    if (u.key === 'invalid') {
      fire({ key: 'upstream:key_invalid', kind: 'key_invalid', title: 'SkillBoss key rejected', body: 'SkillBoss says the API key is invalid, so agent calls fail. Set a new key in the dashboard.', target: 'setup' }, UNTIL_CLEARED);
    } else if (u.key === 'valid') this.fired.delete('upstream:key_invalid');
    if (u.credits === 'out') {
      fire({ key: 'upstream:credits_out', kind: 'credits_out', title: 'SkillBoss credits used up', body: 'The SkillBoss account has no credits left; agents get 402 until it is topped up.', target: 'overview' }, UNTIL_CLEARED);
    } else if (u.credits === 'ok') this.fired.delete('upstream:credits_out');
    // What the sidecar could not learn from SkillBoss, or SkillBoss's own balance warning: each once (a new message is news again).
    for (const n of u.notices ?? []) {
      const title = n.kind === 'models_shape' ? 'SkillBoss model list not understood' : n.kind === 'capability' ? 'Not supported by this SkillBoss' : n.kind === 'balance_warning' ? 'SkillBoss balance warning' : 'SkillBoss balance unknown';
      fire({ key: `upstream:${n.key}:${n.at}`, kind: 'upstream_notice', title, body: n.message, target: 'overview' }, n.at + 30 * DAY_MS);
    }
  }

  private budgets(rows: readonly BudgetObservation[], now: number, fire: (n: Notice, until: number) => void): void {
    const period = periodOf(now);
    const until = periodResetAt(now) + DAY_MS;
    const full = new Set(rows.filter((r) => r.kind === 'budget_100').map((r) => `${r.tokenId}:${r.period}`));
    for (const r of rows) {
      if (r.period !== period) continue; // last month's crossing: the budget has reset since
      const base = `budget:${r.tokenId}:${r.period}`;
      const spent = `${formatUsd(r.spentMicros)} of ${formatUsd(r.budgetMicros)}`;
      if (r.kind === 'budget_80') {
        // Reaching 100% in the same step makes the 80% warning redundant.
        if (full.has(`${r.tokenId}:${r.period}`) || this.fired.has(`${base}:100`)) continue;
        fire({ key: `${base}:80`, kind: 'budget_80', title: `Budget at 80%: ${name(r.tokenName, r.tokenId)}`, body: `It has spent ${spent} this month.`, target: 'tokens' }, until);
      } else {
        fire(
          { key: `${base}:100`, kind: 'budget_100', title: `Budget used up: ${name(r.tokenName, r.tokenId)}`, body: `It has spent ${spent}; its agents get 402 until ${dateOf(periodResetAt(now))} or until you raise the budget.`, target: 'tokens' },
          until,
        );
      }
    }
  }

  private audit(rows: readonly AuditObservation[], now: number, fire: (n: Notice, until: number) => void): void {
    for (const a of rows) {
      if (now - a.ts > STALE_AFTER_MS) continue;
      const kind = classifyAudit(a);
      if (kind === 'rotation') {
        const what = a.event.startsWith('key.') || a.event.startsWith('upstream') ? 'The SkillBoss key' : `Token ${name(a.tokenName, a.tokenId)}`;
        fire({ key: `audit:${a.id}`, kind, title: 'Key rotated', body: `${what} was rotated; the old secret keeps working for its grace period.`, target: 'audit' }, a.ts + 2 * DAY_MS);
      } else if (kind === 'upstream_changed') {
        fire({ key: `audit:${a.id}`, kind, title: 'SkillBoss upstream changed', body: 'The real SkillBoss key now goes to a new upstream URL. If you did not change it in Settings, change it back and rotate the key.', target: 'audit' }, a.ts + 2 * DAY_MS);
      } else if (kind === 'upstream_overrun') {
        const d = overrunOf(a.detail);
        fire(
          {
            key: `audit:${a.id}`,
            kind,
            title: 'SkillBoss charged past a reservation',
            body: `Request ${d.request_id} of ${name(a.tokenName, a.tokenId)} cost ${formatUsd(d.charged_micros)}, more than the ${formatUsd(d.reserved_micros)} it was reserved for: the upstream did not keep to the bound it was sent. It was charged.`,
            target: 'audit',
          },
          a.ts + 2 * DAY_MS,
        );
      } else if (kind === 'webhook_failed') {
        // Retries fail one after another; one alert per token per day is enough.
        const day = Math.floor(a.ts / DAY_MS);
        fire(
          { key: `webhook:${a.tokenId ?? '-'}:${day}`, kind, title: 'Webhook delivery failed', body: `The rotation webhook for ${name(a.tokenName, a.tokenId)} could not be delivered; the agent may still hold the old key.`, target: 'audit' },
          (day + 2) * DAY_MS,
        );
      }
    }
  }

  private held(tokens: readonly HeldToken[], fire: (n: Notice, until: number) => void): void {
    for (const t of tokens) {
      fire(
        {
          key: `hold:${t.tokenId}:${t.since}`,
          kind: 'spend_hold',
          title: `Spend on hold: “${t.tokenName}” needs your approval`,
          body: `Its agents get 402 until you approve or deny it: ${t.reason}.`,
          target: 'tokens',
        },
        // Keyed by when it tripped: each hold is announced once, a later one again.
        t.since + 30 * DAY_MS,
      );
    }
  }

  private access(requests: readonly PendingAccess[], now: number, fire: (n: Notice, until: number) => void): void {
    for (const r of requests) {
      if (r.expiresAt <= now) continue; // too late to answer: not worth interrupting anyone
      fire(
        {
          key: `access:${r.id}`,
          kind: 'access_request',
          title: `Access request from “${r.name}”: ${r.userCode}`,
          body: `Asks for ${formatUsd(r.monthlyBudgetMicros)} a month with ${r.scopes.join(', ')}. Approve only if the agent shows the code ${r.userCode}.`,
          target: 'access',
        },
        // Remembered until the request can no longer be answered, so it is shown once however often it is seen.
        r.expiresAt + DAY_MS,
      );
    }
  }

  private expiring(tokens: readonly ExpiringToken[], now: number, fire: (n: Notice, until: number) => void): void {
    for (const t of tokens) {
      const left = t.expiresAt - now;
      if (left <= 0) continue;
      const threshold = EXPIRY_THRESHOLDS_DAYS.find((d) => left <= d * DAY_MS);
      if (threshold === undefined) continue;
      // Keyed by the expiry itself: a token given a new expiry gets fresh warnings.
      const key = `expiry:${t.tokenId}:${t.expiresAt}:${threshold}`;
      const days = Math.ceil(left / DAY_MS);
      const when = days <= 1 ? 'within a day' : `in ${days} days`;
      fire({ key, kind: 'expiry', title: `Token expires ${when}: “${t.tokenName}”`, body: `It expires on ${dateOf(t.expiresAt)}; agents using it will get 401 after that.`, target: 'tokens' }, t.expiresAt + DAY_MS);
      // The looser thresholds are past: never warn "7 days" after "3 days" (e.g. after the app was off).
      for (const d of EXPIRY_THRESHOLDS_DAYS) if (d > threshold) this.fired.set(`expiry:${t.tokenId}:${t.expiresAt}:${d}`, t.expiresAt + DAY_MS);
    }
  }
}
