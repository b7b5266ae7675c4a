/**
 * The ledger: one row in the `usage` table for every authenticated agent
 * request, answered or refused. The row's shape is declared here, low in the
 * layers, because the pipeline writes it, the events module announces it and
 * the CLI reads it back; the pipeline's `ledgerRow()` (pipeline/meter.ts) is
 * the one place a row is built.
 */

/** Where the token counts came from: the upstream's own usage, our tokenizer, or nothing was used. */
export type UsageSource = 'upstream' | 'counted' | 'none';
/** Where the cost came from: the upstream, the price list, the default call price, an override, or nothing was charged. */
export type CostSource = 'upstream' | 'price' | 'default' | 'override' | 'none';

export interface LedgerRow {
  ts: number;
  request_id: string;
  token_id: string;
  method: string;
  route: string;
  model: string | null;
  prompt_tokens: number;
  completion_tokens: number;
  /** Of prompt_tokens: read from the upstream's prompt cache / written to it; of completion_tokens: spent reasoning. */
  cached_tokens: number;
  cache_write_tokens: number;
  reasoning_tokens: number;
  cost_micros: number;
  status: number;
  latency_ms: number;
  /** 1 or 0: SQLite has no boolean. */
  streamed: number;
  usage_source: UsageSource;
  cost_source: CostSource;
  error_code: string | null;
  /** The message the agent got with a refusal (the OpenAI error body's `message`), for the dashboard. */
  error_message: string | null;
  /** The SkillBoss job the row started, polled or settled (services, pipeline/jobs.ts); absent or null otherwise. */
  job_id?: string | null;
}

/** A committed ledger row as the live feed, the metrics and the tray see it: a boolean `streamed`, no sources. */
export type RequestEvent = Omit<LedgerRow, 'method' | 'streamed' | 'usage_source' | 'cost_source' | LaterField> & { streamed: boolean } & Partial<Pick<LedgerRow, LaterField>>;
/** Token classes (issue 16) and the refusal message: optional in events, where a producer may predate them. */
type LaterField = 'cached_tokens' | 'cache_write_tokens' | 'reasoning_tokens' | 'error_message';

export function requestEvent(row: LedgerRow): RequestEvent {
  return {
    ts: row.ts,
    request_id: row.request_id,
    token_id: row.token_id,
    route: row.route,
    model: row.model,
    prompt_tokens: row.prompt_tokens,
    completion_tokens: row.completion_tokens,
    cached_tokens: row.cached_tokens,
    cache_write_tokens: row.cache_write_tokens,
    reasoning_tokens: row.reasoning_tokens,
    cost_micros: row.cost_micros,
    status: row.status,
    latency_ms: row.latency_ms,
    streamed: row.streamed === 1,
    error_code: row.error_code,
    error_message: row.error_message,
  };
}
