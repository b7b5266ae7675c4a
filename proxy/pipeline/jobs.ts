/**
 * SkillBoss's long runs and retries (issue 24): what a `/v1/run` leaves
 * open after its own request has ended.
 *
 * Jobs. A run answered `202 {status: "accepted", job_id}` is a job: its
 * request's ledger row is charged 0 and its reservation is handed here, held
 * against every budget of its chain until a poll (`GET /v1/job/{id}`) sees it
 * `completed` or `failed`. That poll's ledger row charges it, once (the
 * `cost_usd` it reports; a completed job without one at its reservation; a
 * failed one without one nothing), and `service_jobs` links the job id to
 * both rows. Only the token that started a job may poll it; any other gets
 * 404, as if it did not exist. A job still open after the human's timeout
 * (setting `service_job_timeout_minutes`, default 60) is settled at its
 * reservation, flagged (`cost_source` `default`, `error_code`
 * `job_timed_out`). Reservations live in memory like every other; the
 * daemon re-reserves open jobs when it starts.
 *
 * Idempotency. SkillBoss charges an `Idempotency-Key` at most once per 24 h
 * (reference §6). A retry with the same key by the same token within that
 * time is forwarded (the upstream answers it as it does), but neither
 * reserved nor charged again: its row costs 0, the first request's row
 * carries the charge. A first request that fails (refused, 4xx/5xx, client
 * gone) gives its key up, so a retry of it is charged. The key forwarded is
 * the agent's, namespaced by its token (hashed), so one token's key can never
 * replay another token's answer upstream. A request with a key whose first
 * request is still in flight is refused with 409 `idempotency_key_in_use`
 * before anything is reserved or sent (what Stripe and the IETF
 * Idempotency-Key draft answer): it cannot be a free retry, since the first
 * may still fail and give its key up, and forwarding it would race the first
 * upstream, where SkillBoss has no answer to replay yet.
 *
 * Poll URLs. The agent is told to poll the sidecar's own `/v1/job/{id}`,
 * whatever `poll_url` the upstream's 202 carries (an absolute URL, on its
 * origin or another): a poll goes to the configured upstream's
 * `/job/{id}` only, never to an address an answer named.
 */
import { createHash } from 'node:crypto';
import type { Logger } from 'pino';
import { badRequest, conflict, notFound } from '../core/errors.js';
import type { LedgerRow } from '../core/ledger.js';
import type { DB } from '../db/database.js';
import { getSetting } from '../db/records.js';
import type { Token } from '../tokens/token.js';
import type { Budgets, Reservation } from './budget.js';

/**
 * What of a request this module reads. Declared here, not imported from
 * the stages, since the pipeline's context names this module.
 */
export interface JobRequest {
  req: { headers: Record<string, string | string[] | undefined> };
  requestId: string;
  now: number;
  principal: { token: Token; chain: readonly Token[] };
}
/** Of the estimate (estimate.ts). */
interface Estimated {
  model: string | undefined;
  worstCaseMicros: number;
  perRequest?: 'price' | 'default';
}
/** Of what the relay saw (meter.ts `Outcome`). */
interface Answered {
  status: number;
  answer?: Record<string, unknown> | null;
}

export const IDEMPOTENCY_MS = 24 * 60 * 60 * 1000;
export const DEFAULT_JOB_TIMEOUT_MINUTES = 60;
/** The setting (minutes) after which an open job is settled at its reservation, flagged. */
export const JOB_TIMEOUT_SETTING = 'service_job_timeout_minutes';

export interface JobRow {
  job_id: string;
  token_id: string;
  request_id: string;
  model: string | null;
  reserved_micros: number;
  price_source: 'price' | 'default';
  status: 'pending' | 'completed' | 'failed' | 'timed_out';
  created_at: number;
  settled_at: number | null;
  settled_request_id: string | null;
  cost_micros: number | null;
}

/** An Idempotency-Key seen on a run: the first request with it (`retryOf` null), or a retry of `retryOf`. */
export interface KeyClaim {
  hash: string;
  retryOf: string | null;
}

interface Open {
  reservation: Reservation | null;
  chain: readonly Token[];
}

const JOB_ID = /^[A-Za-z0-9._~:@+-]{1,200}$/;

export class Jobs {
  /** Jobs not yet settled, with the reservation each holds. */
  private open = new Map<string, Open>();
  /** Idempotency keys (token id, key hash) whose first request is still in flight. */
  private inFlight = new Set<string>();
  private readonly q;

  constructor(
    private readonly db: DB,
    private readonly log: Logger,
  ) {
    this.q = {
      get: db.prepare('SELECT * FROM service_jobs WHERE job_id = ?'),
      insert: db.prepare(`INSERT OR IGNORE INTO service_jobs (job_id, token_id, request_id, model, reserved_micros, price_source, created_at)
        VALUES (@job_id, @token_id, @request_id, @model, @reserved_micros, @price_source, @created_at)`),
      settle: db.prepare(`UPDATE service_jobs SET status = @status, settled_at = @settled_at, settled_request_id = @settled_request_id, cost_micros = @cost_micros
        WHERE job_id = @job_id AND status = 'pending'`),
      pending: db.prepare("SELECT * FROM service_jobs WHERE status = 'pending' ORDER BY created_at"),
      claimKey: db.prepare('INSERT OR IGNORE INTO run_idempotency (token_id, key_hash, request_id, created_at) VALUES (?, ?, ?, ?)'),
      getKey: db.prepare('SELECT request_id, created_at FROM run_idempotency WHERE token_id = ? AND key_hash = ?'),
      renewKey: db.prepare('UPDATE run_idempotency SET request_id = ?, created_at = ? WHERE token_id = ? AND key_hash = ?'),
      dropKey: db.prepare('DELETE FROM run_idempotency WHERE token_id = ? AND key_hash = ? AND request_id = ?'),
      purgeKeys: db.prepare('DELETE FROM run_idempotency WHERE created_at < ?'),
    };
  }

  /** The job `id` if `tokenId` started it; 404 otherwise, the same answer as for a job that does not exist. */
  owned(id: string, tokenId: string): JobRow {
    const row = JOB_ID.test(id) ? (this.q.get.get(id) as JobRow | undefined) : undefined;
    if (!row || row.token_id !== tokenId) throw notFound('job_not_found', 'There is no job with this id. Poll only jobs this token started with POST /v1/run.');
    return row;
  }

  get(id: string): JobRow | undefined {
    return this.q.get.get(id) as JobRow | undefined;
  }

  /**
   * The run's Idempotency-Key, claimed for this token (or recognised as a
   * retry), and the header forwarded in its place: namespaced by the token.
   * Null when the request has none.
   */
  claimKey(ctx: JobRequest): KeyClaim | null {
    const raw = ctx.req.headers['idempotency-key'];
    if (raw === undefined) return null;
    if (typeof raw !== 'string' || !/^[\x21-\x7e]{1,255}$/.test(raw)) {
      throw badRequest('invalid_idempotency_key', 'Idempotency-Key must be 1 to 255 printable characters without spaces.');
    }
    const tokenId = ctx.principal.token.id;
    const hash = createHash('sha256').update(raw).digest('hex');
    const flight = `${tokenId}\n${hash}`;
    if (this.inFlight.has(flight)) {
      throw conflict(
        'idempotency_key_in_use',
        'Another request with this Idempotency-Key is still in progress; nothing was reserved or sent. Retry once it has answered: the retry gets its answer and is not charged again.',
      );
    }
    ctx.req.headers['idempotency-key'] = `sbs-${createHash('sha256').update(`${tokenId}\n${raw}`).digest('hex').slice(0, 48)}`;
    const claimed = (): KeyClaim => {
      this.inFlight.add(flight);
      return { hash, retryOf: null };
    };
    if (this.q.claimKey.run(tokenId, hash, ctx.requestId, ctx.now).changes === 1) return claimed();
    const first = this.q.getKey.get(tokenId, hash) as { request_id: string; created_at: number } | undefined;
    if (first && ctx.now - first.created_at < IDEMPOTENCY_MS) return { hash, retryOf: first.request_id };
    // Older than SkillBoss remembers: a new request, charged again.
    this.q.renewKey.run(ctx.requestId, ctx.now, tokenId, hash);
    return claimed();
  }

  /** Gives up a key claimed by a request that was refused or failed before it was charged. */
  dropClaim(ctx: JobRequest, claim: KeyClaim): void {
    this.q.dropKey.run(ctx.principal.token.id, claim.hash, ctx.requestId);
    this.landed(ctx, claim);
  }

  /** The first request of a key has its answer: a request with the key from now on is a retry of it (or, once dropped, a new one). */
  private landed(ctx: JobRequest, claim: KeyClaim): void {
    if (!claim.retryOf) this.inFlight.delete(`${ctx.principal.token.id}\n${claim.hash}`);
  }

  /**
   * What a finished run's row charges and which reservation its settlement
   * releases: a retry charges nothing; an accepted job charges nothing yet and
   * keeps its reservation (held here); a failure gives its key up.
   */
  afterRun(ctx: JobRequest, est: Estimated, outcome: Answered, row: LedgerRow, reservation: Reservation | null, claim: KeyClaim | null): { row: LedgerRow; reservation: Reservation | null } {
    if (claim?.retryOf) return { row: free(row), reservation };
    if (claim && (outcome.status >= 400 || outcome.status === 499)) this.dropClaim(ctx, claim);
    else if (claim) this.landed(ctx, claim);
    const jobId = outcome.status === 202 ? outcome.answer?.job_id : undefined;
    if (typeof jobId !== 'string' || !JOB_ID.test(jobId)) return { row, reservation };
    const inserted =
      this.q.insert.run({
        job_id: jobId,
        token_id: ctx.principal.token.id,
        request_id: ctx.requestId,
        model: est.model ?? null,
        reserved_micros: reservation?.micros ?? est.worstCaseMicros,
        price_source: est.perRequest ?? 'default',
        created_at: ctx.now,
      }).changes === 1;
    // A job id SkillBoss already gave (a retry it recognised): nothing new is held.
    if (!inserted) return { row: { ...free(row), job_id: jobId }, reservation };
    this.open.set(jobId, { reservation, chain: ctx.principal.chain });
    return { row: { ...free(row), job_id: jobId }, reservation: null };
  }

  /**
   * A poll's row: free while the job runs, or once it is settled; the one
   * poll that sees it end charges it and releases its reservation.
   */
  afterPoll(ctx: JobRequest, job: JobRow, outcome: Answered, row: LedgerRow): { row: LedgerRow; reservation: Reservation | null } {
    const status = outcome.answer?.status;
    const ended = outcome.status < 400 && (status === 'completed' || status === 'failed');
    const base = { ...row, model: job.model, job_id: job.job_id };
    if (!ended) return { row: free(base), reservation: null };
    const taken = this.take(job.job_id, status, ctx.requestId, ctx.now, (open) => {
      const reported = row.cost_source === 'upstream' ? row.cost_micros : null;
      return reported ?? (status === 'completed' ? open.reserved : 0);
    });
    if (!taken) return { row: free(base), reservation: null };
    const costSource: LedgerRow['cost_source'] = row.cost_source === 'upstream' ? 'upstream' : status === 'completed' ? (job.price_source === 'price' ? 'price' : 'default') : 'none';
    return { row: { ...base, cost_micros: taken.cost, cost_source: costSource }, reservation: taken.reservation };
  }

  /**
   * Settles open jobs past the human's timeout at their reservation, flagged
   * (their rows are written here), and forgets idempotency keys older than 24 h.
   */
  sweep(now: number, budgets: Budgets): void {
    this.q.purgeKeys.run(now - IDEMPOTENCY_MS);
    const timeoutMs = jobTimeoutMinutes(this.db) * 60_000;
    for (const job of this.q.pending.all() as JobRow[]) {
      if (now - job.created_at < timeoutMs) break;
      const open = this.open.get(job.job_id);
      const requestId = `job-timeout-${job.job_id}`.slice(0, 200);
      const taken = this.take(job.job_id, 'timed_out', requestId, now, (o) => o.reserved);
      if (!taken || !open) continue;
      const row = timeoutRow(job, requestId, now, taken.cost);
      budgets.record(taken.reservation, open.chain, row).catch((err: unknown) => {
        this.log.error({ err, jobId: job.job_id }, 'could not record a timed-out job in the ledger');
      });
      this.log.warn({ jobId: job.job_id, tokenId: job.token_id, costMicros: taken.cost }, 'a SkillBoss job never reported an end; it was charged its reservation');
    }
  }

  /** Re-reserves the jobs still open when the daemon starts (reservations live in memory only). */
  restore(budgets: Budgets, chainOf: (tokenId: string) => readonly Token[], now: number): void {
    for (const job of this.q.pending.all() as JobRow[]) {
      const chain = chainOf(job.token_id);
      if (chain.length === 0) continue;
      let reservation: Reservation | null = null;
      try {
        reservation = budgets.reserve(chain, job.reserved_micros, now, null);
      } catch (err) {
        this.log.warn({ err, jobId: job.job_id }, 'an open SkillBoss job could not be re-reserved; it is charged when it ends');
      }
      this.open.set(job.job_id, { reservation, chain });
    }
  }

  /** Marks a pending job ended, once: the first caller gets its cost and reservation, any later one null. */
  private take(
    jobId: string,
    status: 'completed' | 'failed' | 'timed_out',
    requestId: string,
    now: number,
    costOf: (o: { reserved: number }) => number,
  ): { cost: number; reservation: Reservation | null } | null {
    const job = this.get(jobId);
    if (!job || job.status !== 'pending') return null;
    const cost = costOf({ reserved: job.reserved_micros });
    if (this.q.settle.run({ job_id: jobId, status, settled_at: now, settled_request_id: requestId, cost_micros: cost }).changes !== 1) return null;
    const open = this.open.get(jobId);
    this.open.delete(jobId);
    return { cost, reservation: open?.reservation ?? null };
  }
}

/**
 * A 202 job answer's `poll_url`, made the sidecar's own `/v1/job/{id}` (the agent polls through the
 * sidecar, and the sidecar polls only its upstream); true when it changed the answer.
 */
export function sidecarPollUrl(answer: Record<string, unknown>): boolean {
  const id = answer.job_id;
  if (typeof id !== 'string' || !JOB_ID.test(id) || !('poll_url' in answer)) return false;
  const own = `/v1/job/${encodeURIComponent(id)}`;
  if (answer.poll_url === own) return false;
  answer.poll_url = own;
  return true;
}

/** The human's job timeout in minutes (`PATCH /admin/api/settings {service_job_timeout_minutes}`), or the default. */
export function jobTimeoutMinutes(db: DB): number {
  const minutes = getSetting<number>(db, JOB_TIMEOUT_SETTING);
  return typeof minutes === 'number' && minutes > 0 ? minutes : DEFAULT_JOB_TIMEOUT_MINUTES;
}

/** A row that charges nothing (a retry, a job's start, a poll). */
function free(row: LedgerRow): LedgerRow {
  return { ...row, cost_micros: 0, cost_source: 'none' };
}

/** The ledger row of a job settled by its timeout: no agent request behind it, so it is built here. */
function timeoutRow(job: JobRow, requestId: string, now: number, cost: number): LedgerRow {
  return {
    ts: now,
    request_id: requestId,
    token_id: job.token_id,
    method: 'GET',
    route: '/v1/job/*',
    model: job.model,
    prompt_tokens: 0,
    completion_tokens: 0,
    cached_tokens: 0,
    cache_write_tokens: 0,
    reasoning_tokens: 0,
    cost_micros: cost,
    status: 504,
    latency_ms: now - job.created_at,
    streamed: 0,
    usage_source: 'none',
    cost_source: 'default',
    error_code: 'job_timed_out',
    error_message: `SkillBoss job ${job.job_id} reported no end within the sidecar's job timeout; it was charged its reservation.`,
    job_id: job.job_id,
  };
}
