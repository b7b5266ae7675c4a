/**
 * Access requests (issue 9): an agent without a token asks for one, the human
 * approves (possibly with less) or denies, the agent collects the outcome by
 * polling. One service over SQLite, used by the daemon (agent routes, admin
 * API) and by the CLI (`requests list|approve|deny`) alike.
 *
 * Where the token secret lives: nowhere. Approval stores only the granted
 * terms; the token is minted inside the agent's first poll after approval, in
 * one transaction with the request's move to `delivered`, and its secret goes
 * straight into that one HTTP answer. So no secret is ever at rest — not in
 * plain text, not encrypted — and a daemon restart between approval and poll
 * loses nothing (the next poll mints). The poll secret that authorises
 * collecting it is held by the agent only; we keep its SHA-256.
 *
 * Flooding the human is bounded from the database (flood.ts): at most
 * `maxPending` open requests, `maxPendingPerName` per agent name,
 * `maxPerMinute` new ones. The SQL is in queries.ts, the sweep's timer in sweep.ts.
 */
import type { DB } from '../db/database.js';
import { audit } from '../db/records.js';
import { conflict, gone, notFound } from '../core/errors.js';
import type { SidecarEvents } from '../core/events.js';
import { DAY_MS, type Clock } from '../core/time.js';
import { normalizeScopes } from '../tokens/scopes.js';
import type { Token, TokenStore } from '../tokens/store.js';
import { hashPollSecret, isPollSecret, isRequestId, newPollSecret, newRequestId, newUserCode, normalizeUserCode, pollSecretMatches } from './codes.js';
import { checkGrant, DEFAULT_ACCESS_OPTIONS, fromRow, type AccessOptions, type AccessRequest, type Approval, type NewAccessRequest, type PollResult, type Row } from './model.js';
import { PollPacer, refuseIfFull, TurnedAwayLog } from './flood.js';
import { prepareAccessQueries, type AccessQueries } from './queries.js';
import { Sweep } from './sweep.js';
import { AccessNotifier } from './notify.js';

const NOT_FOUND = 'No access request with that id and secret. Poll the poll_url exactly as POST /v1/agents/request-access returned it.';

export interface AccessServiceOptions {
  options?: Partial<AccessOptions>;
  /** Given in the daemon: changes (from any process) are published as 'access_request' events. */
  events?: SidecarEvents;
  /** Real elapsed time for poll pacing, which is about load, not deadlines (tests move `clock`, not this). */
  monotonic?: () => number;
}

export class AccessRequests {
  readonly options: AccessOptions;
  private readonly q: AccessQueries;
  private readonly notifier: AccessNotifier | null;
  private readonly pollPacer: PollPacer;
  private readonly sweeper: Sweep;
  /** Agents turned away by a full queue, for the human (flood.ts). */
  readonly turnedAway: TurnedAwayLog;

  constructor(
    private readonly db: DB,
    private readonly tokens: TokenStore,
    private readonly clock: Clock,
    opts: AccessServiceOptions = {},
  ) {
    this.q = prepareAccessQueries(db);
    this.options = { ...DEFAULT_ACCESS_OPTIONS, ...opts.options };
    this.notifier = opts.events ? new AccessNotifier(db, opts.events) : null;
    const monotonic = opts.monotonic ?? (() => performance.now());
    this.turnedAway = new TurnedAwayLog(db, monotonic);
    this.pollPacer = new PollPacer(monotonic, this.options.pollIntervalS);
    this.sweeper = new Sweep(this.options.sweepIntervalMs, () => this.sweep());
  }

  // ---- the agent's side -------------------------------------------------------------------

  /** A new pending request; the poll secret is returned here once and stored only as its hash. */
  create(input: NewAccessRequest): { request: AccessRequest; pollSecret: string } {
    const now = this.clock();
    this.expireDue(now);
    const o = this.options;
    const result = this.db
      .transaction(() => {
        refuseIfFull(this.q, now, input.name, o);
        const taken = new Set((this.q.openCodes.all() as Array<{ user_code: string }>).map((r) => r.user_code));
        let userCode = newUserCode();
        while (taken.has(userCode)) userCode = newUserCode();
        const id = newRequestId();
        const pollSecret = newPollSecret();
        const scopes = normalizeScopes(input.scopes);
        this.q.insert.run({
          id,
          poll_hash: hashPollSecret(pollSecret),
          user_code: userCode,
          name: input.name,
          reason: input.reason,
          scopes: scopes.join(' '),
          monthly_budget: input.budget,
          expiration_days: input.expirationDays,
          created_at: now,
          expires_at: now + o.ttlMs,
          models: input.models ? JSON.stringify(input.models) : null,
        });
        audit(this.db, now, {
          actor: 'agent',
          event: 'access.create',
          detail: { request_id: id, name: input.name, user_code: userCode, scopes, monthly_budget_micros: input.budget, expiration_days: input.expirationDays, reason: input.reason, models: input.models ?? null },
        });
        return { request: this.require(id, now), pollSecret };
      })
      .immediate();
    this.notifier?.soon();
    return result;
  }

  /**
   * The agent's poll. Pending: the request (pace with `options.pollIntervalS`).
   * Approved: the token, minted now and returned once. Denied: said once.
   * Anything later, or expired: 410. Unknown id or wrong secret: 404 alike.
   */
  poll(id: string, pollSecret: string): PollResult {
    const now = this.clock();
    const row = isRequestId(id) && isPollSecret(pollSecret) ? (this.q.get.get(id) as Row | undefined) : undefined;
    if (!row || !pollSecretMatches(pollSecret, row.poll_hash)) throw notFound('access_request_not_found', NOT_FOUND);
    let r = fromRow(row, now);
    if (r.status === 'expired') {
      if (row.status !== 'expired') this.expireDue(now);
      this.pollPacer.delete(id);
      throw gone('access_request_expired', 'This access request expired before it was answered or collected. Ask again with POST /v1/agents/request-access.');
    }
    switch (r.status) {
      case 'pending': {
        this.pollPacer.pace(id);
        return { status: 'pending', request: r };
      }
      case 'approved': {
        const minted = this.deliver(row, now);
        this.pollPacer.delete(id);
        return { status: 'approved', request: minted.request, token: minted.token, secret: minted.secret };
      }
      case 'denied': {
        this.pollPacer.delete(id);
        if (row.answered_at !== null) throw gone('access_request_closed', 'This access request was denied, and that answer was already given. Ask the human before asking again.');
        this.db.transaction(() => {
          this.q.denialSeen.run(now, id);
          audit(this.db, now, { actor: 'agent', event: 'access.collect', detail: { request_id: id, name: r.name, outcome: 'denied' } });
        })();
        r = this.require(id, now);
        return { status: 'denied', request: r };
      }
      case 'delivered':
      default:
        this.pollPacer.delete(id);
        throw gone('access_request_used', 'The token for this request was handed out on an earlier poll; it is shown only once. If it was lost, ask the human to revoke it and request access again.');
    }
  }

  /** Mints the granted token and marks the request delivered, in one transaction. */
  private deliver(row: Row, now: number): { request: AccessRequest; token: Token; secret: string } {
    return this.db
      .transaction(() => {
        const grant = fromRow(row, now).approved!;
        // The human who approved is the author of the token; the audit says so.
        const created = this.tokens.create(
          { name: row.name, scopes: grant.scopes, budget: grant.budget, expiresAt: now + grant.expirationDays * DAY_MS, parentId: null, models: grant.models },
          row.decided_by ?? 'admin',
        );
        if (this.q.deliver.run(now, created.token.id, row.id).changes !== 1) throw gone('access_request_used', 'This access request was collected by another poll at the same moment.');
        audit(this.db, now, { actor: 'agent', event: 'access.collect', tokenId: created.token.id, detail: { request_id: row.id, name: row.name, outcome: 'approved' } });
        return { request: this.require(row.id, now), token: created.token, secret: created.secret };
      })
      .immediate();
  }

  // ---- the human's side --------------------------------------------------------------------

  get(id: string): AccessRequest | undefined {
    const row = this.q.get.get(id) as Row | undefined;
    return row ? fromRow(row, this.clock()) : undefined;
  }

  /**
   * A request by its id (`areq_…`) or by the user code the agent showed
   * (`WDJB-MJHT`, any case, dash optional; only open requests have one in use).
   */
  find(ref: string): AccessRequest {
    const now = this.clock();
    const trimmed = ref.trim();
    let row: Row | undefined;
    if (trimmed.startsWith('areq_')) row = this.q.get.get(trimmed) as Row | undefined;
    else {
      const code = normalizeUserCode(trimmed);
      if (code) row = this.q.byCode.get(code) as Row | undefined;
    }
    if (!row) throw notFound('access_request_not_found', `No access request ${JSON.stringify(trimmed.slice(0, 40))}; give its id (areq_…) or the code the agent showed (e.g. WDJB-MJHT).`);
    return fromRow(row, now);
  }

  /** Requests waiting for the human, oldest first. */
  listPending(): AccessRequest[] {
    const now = this.clock();
    return (this.q.open.all(now) as Row[]).map((r) => fromRow(r, now));
  }

  /** Every request, newest first. */
  list(limit = 200): AccessRequest[] {
    const now = this.clock();
    return (this.q.list.all(limit) as Row[]).map((r) => fromRow(r, now));
  }

  /** Approves a pending request, granting what it asked for or less (never more: 400 naming the field). */
  approve(ref: string, approval: Approval, actor: string): AccessRequest {
    const now = this.clock();
    this.expireDue(now);
    const result = this.db
      .transaction(() => {
        const r = this.requirePending(this.find(ref));
        const grant = checkGrant(r.requested, approval);
        const models = grant.models === null ? null : JSON.stringify(grant.models);
        this.q.approve.run(now, actor, grant.scopes.join(' '), grant.budget, grant.expirationDays, models, now + this.options.ttlMs, r.id);
        const reduced =
          grant.scopes.length < r.requested.scopes.length || grant.budget < r.requested.budget || grant.expirationDays < r.requested.expirationDays || models !== (r.requested.models && JSON.stringify(r.requested.models));
        audit(this.db, now, {
          actor,
          event: 'access.approve',
          detail: {
            request_id: r.id,
            name: r.name,
            user_code: r.userCode,
            scopes: grant.scopes,
            monthly_budget_micros: grant.budget,
            expiration_days: grant.expirationDays,
            models: grant.models,
            ...(reduced ? { requested: { scopes: r.requested.scopes, monthly_budget_micros: r.requested.budget, expiration_days: r.requested.expirationDays, models: r.requested.models } } : {}),
          },
        });
        return this.require(r.id, now);
      })
      .immediate();
    this.notifier?.soon();
    return result;
  }

  deny(ref: string, opts: { reason?: string | null }, actor: string): AccessRequest {
    const now = this.clock();
    this.expireDue(now);
    const reason = opts.reason?.trim() ? opts.reason.trim().slice(0, 500) : null;
    const result = this.db
      .transaction(() => {
        const r = this.requirePending(this.find(ref));
        this.q.deny.run(now, actor, reason, r.id);
        audit(this.db, now, { actor, event: 'access.deny', detail: { request_id: r.id, name: r.name, user_code: r.userCode, reason } });
        return this.require(r.id, now);
      })
      .immediate();
    this.notifier?.soon();
    return result;
  }

  /** Writes `expired` on every open request past its deadline (audited); returns how many. */
  expireDue(now = this.clock()): number {
    const due = this.q.overdue.all(now) as Row[];
    if (due.length === 0) return 0;
    const n = this.db
      .transaction(() => {
        let count = 0;
        for (const r of due) {
          if (this.q.expire.run(r.id).changes === 0) continue;
          count++;
          this.pollPacer.delete(r.id);
          audit(this.db, now, { actor: 'daemon', event: 'access.expire', detail: { request_id: r.id, name: r.name, user_code: r.user_code, was: r.status } });
        }
        return count;
      })
      .immediate();
    if (n > 0) this.notifier?.soon();
    return n;
  }

  // ---- the daemon's wiring -------------------------------------------------------------------

  /** Starts the periodic sweep (expiry, and events for what other processes changed); the daemon calls it once it listens. */
  start(): void {
    this.sweeper.start();
  }

  stop(): void {
    this.sweeper.stop();
  }

  /** One sweep: expire what is overdue, publish what other processes (the CLI) changed. */
  sweep(): void {
    try {
      this.expireDue();
      this.notifier?.poll();
    } catch {
      /* a busy or closing database: the next sweep tries again */
    }
  }

  private require(id: string, now: number): AccessRequest {
    const row = this.q.get.get(id) as Row | undefined;
    if (!row) throw notFound('access_request_not_found', `no access request ${id}`);
    return fromRow(row, now);
  }

  private requirePending(r: AccessRequest): AccessRequest {
    if (r.status === 'pending') return r;
    const what = r.status === 'delivered' ? 'approved and collected' : r.status;
    throw conflict('access_request_not_pending', `Access request ${r.id} (${r.userCode}) is already ${what}; only pending requests can be approved or denied.`);
  }
}
