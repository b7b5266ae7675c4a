/**
 * The one module that reads and writes the ledger tables: `usage` (a row per
 * authenticated agent request) and `spend` (settled spend per token and
 * period window). Every other module asks this one (a test greps for SQL
 * naming these tables anywhere else), so a query is written once and a
 * change of these tables' shape is made here alone (issue 22, item 3: the
 * same spend query was written four times, one of them with the wrong period).
 *
 * Statements are prepared once per connection: the fixed ones when the store
 * is built, the few whose shape varies (filters, groupings) on first use,
 * kept by their SQL text. `ledgerStore(db)` returns the same store for the
 * same connection.
 */
import type { Statement } from 'better-sqlite3';
import type { LedgerRow } from '../core/ledger.js';
import type { DB } from './database.js';

/** A spend row of one token in one period window. */
export interface SpendRow {
  token_id: string;
  period: string;
  spent_micros: number;
  requests: number;
}

/** The ledger columns the CLI's `usage` lists, and the SkillBoss job a row started or settled (null for any other). */
export type UsageListRow = Pick<
  LedgerRow,
  'ts' | 'token_id' | 'route' | 'model' | 'prompt_tokens' | 'completion_tokens' | 'cached_tokens' | 'cache_write_tokens' | 'reasoning_tokens' | 'cost_micros' | 'status' | 'latency_ms'
> & { job_id: string | null; vendor: string | null };

/**
 * Spend of one group of the services views (`spendByVendor`, `spendByType`): `key` is the vendor (the model's part
 * before its first `/`, else the synced entry's `vendor`/`owned_by`; null without a model) or the type.
 */
export interface ServiceSpendRow {
  key: string | null;
  requests: number;
  errors: number;
  prompt_tokens: number;
  completion_tokens: number;
  cost_micros: number;
}

/** Spend per (model, route) with what the last sync said of the model: the rows the services views add up. */
interface ModelRouteSpend {
  model: string | null;
  route: string;
  synced_type: string | null;
  synced_vendor: string | null;
  requests: number;
  errors: number;
  prompt_tokens: number;
  completion_tokens: number;
  cost_micros: number;
}

export interface UsageTotals {
  requests: number;
  prompt_tokens: number;
  completion_tokens: number;
  cached_tokens: number;
  reasoning_tokens: number;
  cost_micros: number;
}

/** The groupings of the admin API's `/usage`; `day` is the UTC date of `ts`. */
export const USAGE_GROUPS = {
  day: ['day'],
  token: ['token_id'],
  model: ['model'],
  day_token: ['day', 'token_id'],
  day_model: ['day', 'model'],
} as const;
export type UsageGroup = keyof typeof USAGE_GROUPS;

export interface RequestsFilter {
  token?: string | undefined;
  model?: string | undefined;
  status: 'all' | 'ok' | 'error';
  before?: number | undefined;
  limit: number;
}

/** A series bucket: `b` is the bucket index from `start` in steps of `step`. */
export interface SeriesBucket {
  b: number;
  requests: number;
  errors: number;
  cost_micros: number;
}

/** The usage columns a row writes, in the order insertUsage binds them. */
const USAGE_COLUMNS = [
  'ts', 'request_id', 'token_id', 'method', 'route', 'model', 'prompt_tokens', 'completion_tokens', 'cached_tokens',
  'cache_write_tokens', 'reasoning_tokens', 'cost_micros', 'status', 'latency_ms', 'streamed', 'usage_source',
  'cost_source', 'error_code', 'error_message', 'job_id',
] as const satisfies readonly (keyof LedgerRow)[];

const stores = new WeakMap<DB, LedgerStore>();

/** The ledger store of `db` (one per connection, so its statements are prepared once). */
export function ledgerStore(db: DB): LedgerStore {
  let s = stores.get(db);
  if (!s) {
    s = new LedgerStore(db);
    stores.set(db, s);
  }
  return s;
}

export class LedgerStore {
  private readonly q;
  private readonly shaped = new Map<string, Statement>();
  private relayedWrites = 0;
  /** Commits what the ledger writer holds for its window (pipeline/settle.ts) before a read: reads see every answered request. */
  private fresh: () => void = () => {};

  constructor(private readonly db: DB) {
    this.q = {
      recordRelayed: db.prepare('INSERT OR REPLACE INTO relayed_responses (response_id, token_id, ts, tokens) VALUES (?, ?, ?, ?)'),
      pruneRelayed: db.prepare('DELETE FROM relayed_responses WHERE ts < ?'),
      relayedTokens: db.prepare('SELECT tokens, token_id FROM relayed_responses WHERE response_id = ?'),
      insertUsage: db.prepare(`INSERT INTO usage (${USAGE_COLUMNS.join(', ')}) VALUES (${USAGE_COLUMNS.map(() => '?').join(', ')})`),
      addSpend: db.prepare(`INSERT INTO spend (token_id, period, spent_micros, requests) VALUES (?, ?, ?, 1)
        ON CONFLICT(token_id, period) DO UPDATE SET spent_micros = spent_micros + excluded.spent_micros, requests = requests + 1`),
      hasRow: db.prepare('SELECT 1 FROM usage WHERE token_id = ? AND ts = ? AND request_id = ? LIMIT 1').pluck(),
      spendRow: db.prepare('SELECT token_id, period, spent_micros, requests FROM spend WHERE token_id = ? AND period = ?'),
      spendIn: db.prepare('SELECT token_id, period, spent_micros, requests FROM spend WHERE period IN (SELECT value FROM json_each(?))'),
      rootsSpent: db.prepare('SELECT COALESCE(SUM(s.spent_micros), 0) FROM spend s JOIN tokens t ON t.id = s.token_id WHERE s.period = ? AND t.parent_id IS NULL').pluck(),
      ownCostSince: db.prepare('SELECT coalesce(sum(cost_micros), 0) FROM usage WHERE token_id = ? AND ts >= ?').pluck(),
      lastUsed: db.prepare('SELECT max(ts) FROM usage WHERE token_id = ?').pluck(),
      totalsSince: db.prepare('SELECT coalesce(sum(cost_micros), 0) AS micros, count(*) AS requests FROM usage WHERE ts >= ?'),
      subtreeCosts: db
        .prepare(
          `WITH RECURSIVE sub(id) AS (SELECT ? UNION ALL SELECT t.id FROM tokens t JOIN sub ON t.parent_id = sub.id)
           SELECT ts, cost_micros FROM usage WHERE token_id IN (SELECT id FROM sub) AND ts > ? AND cost_micros > 0 ORDER BY ts`,
        )
        .raw(),
      models: db.prepare('SELECT DISTINCT model FROM usage WHERE model IS NOT NULL UNION SELECT id FROM models ORDER BY 1').pluck(),
    };
  }

  /** A statement whose SQL varies with a bounded set of options, prepared on first use. */
  private shape(sql: string): Statement {
    let s = this.shaped.get(sql);
    if (!s) {
      s = this.db.prepare(sql);
      this.shaped.set(sql, s);
    }
    return s;
  }

  // ---- writes (the settlement stage, inside its transaction)

  /** The writer's hook: called before every read of usage or spend below (a commit of rows it holds, if any). */
  beforeRead(fn: () => void): void {
    this.fresh = fn;
  }

  /**
   * Commits the rows the writer holds for its window now: what a transaction that reads spend does before it opens
   * (inside a transaction the hook cannot commit; see settle.ts).
   */
  commitWaiting(): void {
    this.fresh();
  }

  /** Appends a ledger row (ledgerRow() sets every column; a missing job_id is null). */
  insertUsage(row: LedgerRow): void {
    // Bound by position, not by name: a few µs a row cheaper than 20 named parameters (it is on every request).
    const values = new Array<unknown>(USAGE_COLUMNS.length);
    for (let i = 0; i < USAGE_COLUMNS.length; i++) values[i] = row[USAGE_COLUMNS[i]!] ?? null; // only a service's rows name a job
    this.q.insertUsage.run(values);
  }

  /** Adds one request costing `micros` to the spend of `tokenId` in window `period`. */
  addSpend(tokenId: string, period: string, micros: number): void {
    this.q.addSpend.run(tokenId, period, micros);
  }

  /** Whether a request's row is in the ledger (when the ledger log is replayed at start: settle.ts). */
  hasRow(row: Pick<LedgerRow, 'token_id' | 'ts' | 'request_id'>): boolean {
    return this.q.hasRow.get(row.token_id, row.ts, row.request_id) !== undefined;
  }

  // ---- spend

  /** Settled spend and requests of a token in the period window `key` (zeros when nothing was spent). */
  spendOf(tokenId: string, key: string): { spentMicros: number; requests: number } {
    this.fresh();
    return this.committedSpendOf(tokenId, key);
  }

  /** The same as committed, without committing what the writer holds first: the writer's own read (it adds those rows itself). */
  committedSpendOf(tokenId: string, key: string): { spentMicros: number; requests: number } {
    const r = this.q.spendRow.get(tokenId, key) as SpendRow | undefined;
    return { spentMicros: r?.spent_micros ?? 0, requests: r?.requests ?? 0 };
  }

  /** Every spend row of the windows `keys`, for a whole token list at once. */
  spendInWindows(keys: readonly string[]): SpendRow[] {
    this.fresh();
    return this.q.spendIn.all(JSON.stringify(keys)) as SpendRow[];
  }

  /** Spend of the root tokens in window `key`: spend is charged up the chain, so this is the machine's total. */
  rootsSpent(key: string): number {
    this.fresh();
    return this.q.rootsSpent.get(key) as number;
  }

  // ---- usage

  /** Cost of a token's own requests (not its children's) since `since`. */
  ownCostSince(tokenId: string, since: number): number {
    this.fresh();
    return this.q.ownCostSince.get(tokenId, since) as number;
  }

  /** Requests since `since` charged at the fallback price (cost_source 'default') on the token-priced routes, per model, most first. */
  fallbackChargedSince(since: number): Array<{ model: string; n: number }> {
    this.fresh();
    return this.shape(
      `SELECT coalesce(model, '(none)') AS model, count(*) AS n FROM usage WHERE ts >= ? AND cost_source = 'default' AND route IN ('/v1/chat/completions', '/v1/completions', '/v1/embeddings', '/v1/responses', '/v1/messages') GROUP BY 1 ORDER BY 2 DESC`,
    ).all(since) as Array<{ model: string; n: number }>;
  }

  lastUsed(tokenId: string): number | null {
    this.fresh();
    return this.q.lastUsed.get(tokenId) as number | null;
  }

  /** Cost and requests of every token since `since`. */
  totalsSince(since: number): { micros: number; requests: number } {
    this.fresh();
    return this.q.totalsSince.get(since) as { micros: number; requests: number };
  }

  /** `[ts, cost]` of the charged requests of a token and its whole subtree after `after`, oldest first. */
  subtreeCostsAfter(tokenId: string, after: number): Array<[number, number]> {
    this.fresh();
    return this.q.subtreeCosts.all(tokenId, after) as Array<[number, number]>;
  }

  /** Every model in the ledger or the price list. */
  models(): string[] {
    this.fresh();
    return this.q.models.all() as string[];
  }

  /** The newest `limit` requests since `since` (of one token), and the totals of all of them. */
  listSince(since: number, tokenId: string | undefined, limit: number): { rows: UsageListRow[]; totals: UsageTotals } {
    this.fresh();
    const where = tokenId ? 'WHERE ts >= ? AND token_id = ?' : 'WHERE ts >= ?';
    const args = tokenId ? [since, tokenId] : [since];
    const rows = (
      this.shape(
        `SELECT ts, token_id, route, model, prompt_tokens, completion_tokens, cached_tokens, cache_write_tokens, reasoning_tokens, cost_micros, status, latency_ms,
           coalesce(usage.job_id, (SELECT job_id FROM service_jobs WHERE request_id = usage.request_id), (SELECT job_id FROM service_jobs WHERE settled_request_id = usage.request_id)) AS job_id,
           (SELECT coalesce(${syncedText('$.vendor')}, ${syncedText('$.owned_by')}) FROM models m WHERE m.id = usage.model) AS synced_vendor
         FROM usage ${where} ORDER BY id DESC LIMIT ?`,
      ).all(...args, limit) as Array<Omit<UsageListRow, 'vendor'> & { synced_vendor: string | null }>
    ).map(({ synced_vendor, ...r }) => ({ ...r, vendor: vendorOf(r.model, synced_vendor) }));
    const totals = this.shape(
      `SELECT count(*) AS requests, coalesce(sum(prompt_tokens),0) AS prompt_tokens, coalesce(sum(completion_tokens),0) AS completion_tokens,
        coalesce(sum(cached_tokens),0) AS cached_tokens, coalesce(sum(reasoning_tokens),0) AS reasoning_tokens, coalesce(sum(cost_micros),0) AS cost_micros FROM usage ${where}`,
    ).get(...args) as UsageTotals;
    return { rows, totals };
  }

  /** Requests, errors, tokens and cost in `[from, to)` grouped by `by` (with the token's name when grouped by token). */
  grouped(by: UsageGroup, from: number, to: number, tokenId: string | undefined): Array<Record<string, unknown> & { cost_micros: number }> {
    this.fresh();
    const cols = USAGE_GROUPS[by];
    const select: string[] = cols.map((c) => (c === 'day' ? "strftime('%Y-%m-%d', u.ts / 1000, 'unixepoch') AS day" : `u.${c}`));
    if ((cols as readonly string[]).includes('token_id')) select.push('t.name AS token_name');
    const where = tokenId ? 'u.ts >= ? AND u.ts < ? AND u.token_id = ?' : 'u.ts >= ? AND u.ts < ?';
    const sql = `SELECT ${select.join(', ')}, count(*) AS requests, sum(u.status >= 400) AS errors,
        sum(u.prompt_tokens) AS prompt_tokens, sum(u.completion_tokens) AS completion_tokens,
        sum(u.cached_tokens) AS cached_tokens, sum(u.reasoning_tokens) AS reasoning_tokens, sum(u.cost_micros) AS cost_micros
      FROM usage u LEFT JOIN tokens t ON t.id = u.token_id
      WHERE ${where} GROUP BY ${cols.join(', ')} ORDER BY ${cols.map((c) => (c === 'day' ? 'day' : `cost_micros DESC, ${c}`)).join(', ')}`;
    return this.shape(sql).all(...(tokenId ? [from, to, tokenId] : [from, to])) as Array<Record<string, unknown> & { cost_micros: number }>;
  }

  /** The ledger newest first, filtered, one page of `limit + 1` rows (the extra one says there is a next page); every column and the token's name. */
  requestsPage(f: RequestsFilter): Array<Record<string, unknown> & { id: number; cost_micros: number; streamed: number; ts: number }> {
    this.fresh();
    const where: string[] = [];
    const args: unknown[] = [];
    if (f.token) {
      where.push('u.token_id = ?');
      args.push(f.token);
    }
    if (f.model) {
      where.push('u.model = ?');
      args.push(f.model);
    }
    if (f.status === 'ok') where.push('u.status < 400');
    if (f.status === 'error') where.push('u.status >= 400');
    if (f.before !== undefined) {
      where.push('u.id < ?');
      args.push(f.before);
    }
    // Every ledger column (token classes and whatever a later migration adds reach the request drawer as they are).
    // A run's job (service_jobs): every row that started, polled or settled it shows its id, status and cost
    // (rows from before usage.job_id find theirs by the request that started or settled it).
    const sql = `SELECT u.*, t.name AS token_name, j.job_id AS job_id, j.status AS job_status, j.cost_micros AS job_cost_micros, j.reserved_micros AS job_reserved_micros,
         (j.request_id = u.request_id) AS job_started, (j.settled_request_id = u.request_id) AS job_settled
       FROM usage u LEFT JOIN tokens t ON t.id = u.token_id
       LEFT JOIN service_jobs j ON j.job_id = u.job_id OR j.request_id = u.request_id OR j.settled_request_id = u.request_id
       ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY u.id DESC LIMIT ?`;
    return this.shape(sql).all(...args, f.limit + 1) as Array<Record<string, unknown> & { id: number; cost_micros: number; streamed: number; ts: number }>;
  }

  /**
   * Spend in `[from, to)` (of one token) by vendor: the part of the model before its first `/`
   * (`replicate/black-forest-labs/flux-schnell` → `replicate`), else the vendor the last sync listed for the
   * model (`vendor`, the seed's `owned_by`); null for rows without a model. Most spent first.
   */
  spendByVendor(from: number, to: number, tokenId: string | undefined): ServiceSpendRow[] {
    this.fresh();
    return addUp(this.spendByModelRoute(from, to, tokenId), (r) => vendorOf(r.model, r.synced_vendor));
  }

  /**
   * Spend in `[from, to)` (of one token) by type: the `type` (else `category`) the last sync stored for the model
   * (the real `GET /v1/models` lists one per model: chat, image, video, tts, music, search, scraper, email, …),
   * else `fallback(route)` (the caller's: the route's kind of metering). Most spent first.
   */
  spendByType(from: number, to: number, tokenId: string | undefined, fallback: (route: string) => string): ServiceSpendRow[] {
    this.fresh();
    return addUp(this.spendByModelRoute(from, to, tokenId), (r) => r.synced_type ?? fallback(r.route));
  }

  private spendByModelRoute(from: number, to: number, tokenId: string | undefined): ModelRouteSpend[] {
    const where = tokenId ? 'u.ts >= ? AND u.ts < ? AND u.token_id = ?' : 'u.ts >= ? AND u.ts < ?';
    return this.shape(
      `SELECT u.model, u.route, coalesce(${syncedText('$.type')}, ${syncedText('$.category')}) AS synced_type, coalesce(${syncedText('$.vendor')}, ${syncedText('$.owned_by')}) AS synced_vendor,
         count(*) AS requests, sum(u.status >= 400) AS errors, sum(u.prompt_tokens) AS prompt_tokens, sum(u.completion_tokens) AS completion_tokens, sum(u.cost_micros) AS cost_micros
       FROM usage u LEFT JOIN models m ON m.id = u.model WHERE ${where} GROUP BY u.model, u.route`,
    ).all(...(tokenId ? [from, to, tokenId] : [from, to])) as ModelRouteSpend[];
  }

  /** Per bucket of `step` ms from `start` to `end` (of one token): requests, errors (status ≥ 400) and cost. */
  seriesTotals(start: number, end: number, step: number, tokenId: string | undefined): SeriesBucket[] {
    this.fresh();
    const w = this.seriesWhere(start, end, step, tokenId);
    return this.shape(
      `SELECT CAST((ts - ?) / ? AS INTEGER) AS b, count(*) AS requests, sum(status >= 400) AS errors, sum(cost_micros) AS cost_micros FROM usage WHERE ${w.sql} GROUP BY b`,
    ).all(...w.args) as SeriesBucket[];
  }

  /** Per bucket, how many requests fall in each latency bin `floor(log2(latency) × binsPerDoubling)`. */
  seriesLatencyBins(start: number, end: number, step: number, tokenId: string | undefined, binsPerDoubling: number): Array<{ b: number; k: number; c: number }> {
    this.fresh();
    const w = this.seriesWhere(start, end, step, tokenId);
    return this.shape(
      `SELECT CAST((ts - ?) / ? AS INTEGER) AS b, CAST(floor(log2(max(latency_ms, 1)) * ${Math.trunc(binsPerDoubling)}) AS INTEGER) AS k, count(*) AS c
       FROM usage WHERE ${w.sql} GROUP BY b, k`,
    ).all(...w.args) as Array<{ b: number; k: number; c: number }>;
  }

  /** Per bucket, cost split by token (with its name) or by model ('' for none). */
  seriesSplit(start: number, end: number, step: number, tokenId: string | undefined, by: 'token' | 'model'): Array<{ b: number; k: string; name: string | null; m: number }> {
    this.fresh();
    const w = this.seriesWhere(start, end, step, tokenId);
    const keyCol = by === 'token' ? 'usage.token_id' : "coalesce(usage.model, '')";
    return this.shape(
      `SELECT CAST((usage.ts - ?) / ? AS INTEGER) AS b, ${keyCol} AS k, ${by === 'token' ? 't.name' : 'NULL'} AS name, sum(usage.cost_micros) AS m
       FROM usage LEFT JOIN tokens t ON t.id = usage.token_id WHERE ${w.sql} GROUP BY b, k`,
    ).all(...w.args) as Array<{ b: number; k: string; name: string | null; m: number }>;
  }

  private seriesWhere(start: number, end: number, step: number, tokenId: string | undefined): { sql: string; args: unknown[] } {
    return tokenId
      ? { sql: 'usage.ts >= ? AND usage.ts < ? AND usage.token_id = ?', args: [start, step, start, end, tokenId] }
      : { sql: 'usage.ts >= ? AND usage.ts < ?', args: [start, step, start, end] };
  }

  /**
   * A Responses answer this sidecar relayed (issue 25): its id and its input + output tokens, which a later
   * request naming it as previous_response_id carries as input. Kept 30 days, as the upstream keeps them.
   */
  recordRelayedResponse(responseId: string, tokenId: string, ts: number, tokens: number): void {
    this.q.recordRelayed.run(responseId, tokenId, ts, tokens);
    if (++this.relayedWrites % 256 === 1) this.q.pruneRelayed.run(ts - 30 * 86_400_000);
  }

  /** The tokens a relayed response carries into the next one and the token it was made for, or null when this sidecar did not relay it. */
  relayedResponse(responseId: string): { tokens: number; tokenId: string } | null {
    const r = this.q.relayedTokens.get(responseId) as { tokens: number; token_id: string } | undefined;
    return r ? { tokens: r.tokens, tokenId: r.token_id } : null;
  }

}

/** A text field of the synced model entry `m.raw` (the last `GET /v1/models` listing of it), NULL when absent, empty or not text. */
function syncedText(path: '$.type' | '$.category' | '$.vendor' | '$.owned_by'): string {
  return `CASE WHEN json_valid(m.raw) AND json_type(m.raw, '${path}') = 'text' AND json_extract(m.raw, '${path}') != '' THEN json_extract(m.raw, '${path}') END`;
}

/** A model's vendor: its part before the first `/`, else the vendor its synced entry names, else the model itself; null without a model. */
export function vendorOf(model: string | null, syncedVendor: string | null): string | null {
  if (model === null) return null;
  const slash = model.indexOf('/');
  return slash > 0 ? model.slice(0, slash) : (syncedVendor ?? model);
}

/** Rows added up by `keyOf`, most spent first (then most requests, then by key). */
function addUp(rows: readonly ModelRouteSpend[], keyOf: (r: ModelRouteSpend) => string | null): ServiceSpendRow[] {
  const out = new Map<string | null, ServiceSpendRow>();
  for (const r of rows) {
    const key = keyOf(r);
    const g = out.get(key) ?? { key, requests: 0, errors: 0, prompt_tokens: 0, completion_tokens: 0, cost_micros: 0 };
    g.requests += r.requests;
    g.errors += r.errors;
    g.prompt_tokens += r.prompt_tokens;
    g.completion_tokens += r.completion_tokens;
    g.cost_micros += r.cost_micros;
    out.set(key, g);
  }
  return [...out.values()].sort((a, b) => b.cost_micros - a.cost_micros || b.requests - a.requests || String(a.key ?? '').localeCompare(String(b.key ?? '')));
}
