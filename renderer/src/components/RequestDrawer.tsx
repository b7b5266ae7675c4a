/**
 * One request, in full, from the Requests feed or a token's page: the model
 * the agent asked for, the status with its error code and the message the
 * agent got, streamed or not, tokens, cost (and where it came from: reported
 * by SkillBoss or priced), a SkillBoss job's id, status and cost, latency
 * and the request id to grep the logs for.
 */
import type { RequestRow } from '../api';
import { int, usd, when } from '../format';
import { HttpStatus } from './bits';
import { Dialog } from './Dialog';

/** What each ledger cost source means, in words. */
const COST_SOURCE: Record<string, string> = {
  upstream: 'reported by SkillBoss',
  price: 'tokens × the synced price',
  override: 'tokens × your price override',
  default: 'fallback price',
  none: 'nothing charged',
};

/** A job's status (service_jobs), in words. */
const JOB_STATUS: Record<string, string> = {
  pending: 'running',
  completed: 'completed',
  failed: 'failed',
  timed_out: 'timed out: charged its reservation, flagged',
};

export function RequestDrawer({ row, onClose }: { row: RequestRow; onClose: () => void }) {
  const failed = row.status >= 400;
  return (
    <Dialog title={`Request ${row.model ?? row.route}`} onClose={onClose} drawer>
      <dl className="facts drawer-facts">
        <dt>Status</dt>
        <dd>
          <HttpStatus status={row.status} /> {row.error_code ? <code>{row.error_code}</code> : failed ? null : 'answered'}
        </dd>
        {failed ? (
          <>
            <dt>Message</dt>
            <dd className="wrap" data-testid="error-message">
              {row.error_message ?? (row.error_code ? 'Not recorded (the request is older than the dashboard’s message column, or the error came from SkillBoss).' : '—')}
            </dd>
          </>
        ) : null}
        <dt>Model asked for</dt>
        <dd className="mono">{row.model ?? '— (none in the request)'}</dd>
        <dt>Route</dt>
        <dd className="mono small">{row.route}</dd>
        <dt>Token</dt>
        <dd>
          <a href={`#/token/${row.token_id}`}>{row.token_name ?? row.token_id}</a> <span className="mono muted small">{row.token_id}</span>
        </dd>
        <dt>When</dt>
        <dd>{when(row.ts)}</dd>
        <dt>Streamed</dt>
        <dd>{row.streamed ? 'yes' : 'no'}</dd>
        <dt>Tokens</dt>
        <dd>
          {int(row.prompt_tokens)} prompt{row.cached_tokens ? ` (${int(row.cached_tokens)} from cache)` : ''}
          {row.cache_write_tokens ? ` (${int(row.cache_write_tokens)} written to cache)` : ''} · {int(row.completion_tokens)} completion
          {row.reasoning_tokens ? ` (${int(row.reasoning_tokens)} reasoning)` : ''}
        </dd>
        <dt>Cost</dt>
        <dd data-usd={row.cost_usd}>
          {usd(row.cost_usd)}
          {row.cost_source ? (
            <span className="muted small" data-testid="cost-source">
              {' '}
              · {COST_SOURCE[row.cost_source] ?? row.cost_source}
            </span>
          ) : null}
        </dd>
        {row.cost_source === 'default' ? (
          <>
            <dt>Priced at</dt>
            <dd className="wrap" data-testid="fallback-price" role="note">
              the fallback price: SkillBoss did not price this model. Set a price in Settings (or <code>skillboss-sidecar price set</code>); a cost SkillBoss reports later wins.
            </dd>
          </>
        ) : null}
        {row.job ? (
          <>
            <dt>SkillBoss job</dt>
            <dd data-testid="job">
              <span className="mono small">{row.job.id}</span> · <span data-testid="job-status">{JOB_STATUS[row.job.status] ?? row.job.status}</span>
              <div className="muted small">
                {row.job.role === 'settled'
                  ? 'This poll saw it end and was charged for it, once.'
                  : row.job.role === 'polled'
                    ? 'This poll found it still running (or after its end) and was charged nothing; the poll that saw it end was charged.'
                    : row.job.status === 'pending'
                    ? `This run started it; ${usd(row.job.reserved_usd)} is held until a poll sees it end, and that poll is charged.`
                    : `This run started it (charged nothing itself; ${usd(row.job.reserved_usd)} was held until it ended, and the poll that saw it end was charged).`}
              </div>
            </dd>
            <dt>Job cost</dt>
            <dd data-testid="job-cost" data-usd={row.job.cost_usd ?? ''}>
              {row.job.cost_usd === null ? 'not yet known' : usd(row.job.cost_usd)}
            </dd>
          </>
        ) : null}
        <dt>Latency</dt>
        <dd>{Math.round(row.latency_ms).toLocaleString('en-US')} ms</dd>
        <dt>Request id</dt>
        <dd className="mono small wrap">{row.request_id}</dd>
      </dl>
    </Dialog>
  );
}

/** The status cell of a request row: the HTTP status and, for a refusal, its error code. */
export function StatusCell({ row }: { row: RequestRow }) {
  return (
    <span className="status-cell">
      <HttpStatus status={row.status} />
      {row.error_code ? <span className="mono small err-code">{row.error_code}</span> : null}
    </span>
  );
}
