/**
 * Requests: the ledger, newest first, with rows arriving live from the event
 * stream. Rows have a fixed height and the table a fixed layout, so arrivals
 * never reflow the columns; the browser's scroll anchoring keeps the reader's
 * place when rows are added above.
 */
import { useEffect, useState } from 'react';
import { api, type RequestRow } from '../api';
import { PagedTable } from '../components/PagedTable';
import { RequestDrawer, StatusCell } from '../components/RequestDrawer';
import { clock, int, usd, when, zoneName } from '../format';
import { useLoad, usePaged, type PagedPath } from '../hooks';
import { useLive, useLiveConnected } from '../live';

const MAX_ROWS = 500;
type StatusFilter = 'all' | 'ok' | 'error';

export function Requests() {
  const [token, setToken] = useState('');
  const [model, setModel] = useState('');
  const [status, setStatus] = useState<StatusFilter>('all');
  const [fresh, setFresh] = useState<Set<string>>(new Set());
  const [drawer, setDrawer] = useState<RequestRow | null>(null);
  const connected = useLiveConnected();
  const tokens = useLoad(() => api('GET', '/tokens'), []);
  const models = useLoad(() => api('GET', '/models'), []);

  const query = (before?: number): PagedPath => {
    const q = new URLSearchParams({ limit: '50', status });
    if (token) q.set('token', token);
    if (model) q.set('model', model);
    if (before !== undefined) q.set('before', String(before));
    return `/requests?${q.toString()}`;
  };
  const paged = usePaged<RequestRow>(query, [token, model, status], (r) => r.request_id);
  const { setRows } = paged;
  useEffect(() => setFresh(new Set()), [paged.first.data]);
  const columns = [
    { className: 'col-time', label: `Time (${zoneName()})` },
    { className: 'col-token', label: 'Token' },
    { className: 'col-model', label: 'Model' },
    { className: 'num col-n hide-narrow', label: 'In' },
    { className: 'num col-n hide-narrow', label: 'Out' },
    { className: 'num col-cost', label: 'Cost' },
    { className: 'col-code', label: 'Status' },
    { className: 'num col-n hide-narrow', label: 'Latency' },
  ];

  useLive((kind, data) => {
    if (kind !== 'request') return;
    const r = data as RequestRow;
    if (token && r.token_id !== token) return;
    if (model && r.model !== model) return;
    if (status === 'ok' && r.status >= 400) return;
    if (status === 'error' && r.status < 400) return;
    setRows((prev) => (prev.some((p) => p.request_id === r.request_id) ? prev : [r, ...prev].slice(0, MAX_ROWS)));
    setFresh((prev) => new Set(prev).add(r.request_id));
  });

  return (
    <div className="page">
      <div className="toolbar">
        <h1>Requests</h1>
        <span className={`live ${connected ? 'on' : 'off'}`} aria-live="polite">
          {connected ? 'live' : 'reconnecting…'}
        </span>
        <span className="spacer" />
        <label className="inline">
          <span>Token</span>
          <select value={token} onChange={(e) => setToken(e.target.value)}>
            <option value="">All tokens</option>
            {(tokens.data?.data ?? []).map((t) => (
              <option key={t.id} value={t.id}>
                {t.name}
              </option>
            ))}
          </select>
        </label>
        <label className="inline">
          <span>Model</span>
          <select value={model} onChange={(e) => setModel(e.target.value)}>
            <option value="">All models</option>
            {(models.data?.data ?? []).map((m) => (
              <option key={m} value={m}>
                {m}
              </option>
            ))}
          </select>
        </label>
        <label className="inline">
          <span>Status</span>
          <select value={status} onChange={(e) => setStatus(e.target.value as StatusFilter)}>
            <option value="all">All</option>
            <option value="ok">Succeeded</option>
            <option value="error">Failed</option>
          </select>
        </label>
      </div>
      <PagedTable
        paged={paged}
        className="requests"
        label="Requests"
        columns={columns}
        empty={
          <>
            No requests match. They appear here the moment an agent calls — <a href="#/tokens?create=1">create a token</a> for one if it has none.
          </>
        }
        more="Load older requests"
      >
        {paged.rows.map((r) => (
          <tr key={r.request_id} className={fresh.has(r.request_id) ? 'fresh' : ''} data-request-id={r.request_id}>
            <td className="col-time" title={when(r.ts)}>
              <button type="button" className="linklike" onClick={() => setDrawer(r)} aria-label={`Details of the request at ${clock(r.ts)}`}>
                {clock(r.ts)}
              </button>
            </td>
            <td className="col-token ellipsis" title={r.token_name ?? r.token_id}>
              <a href={`#/token/${r.token_id}`}>{r.token_name ?? r.token_id}</a>
            </td>
            <td className="col-model ellipsis" title={r.route}>
              {r.model ?? r.route.replace('/v1/', '')}
            </td>
            <td className="num col-n hide-narrow" data-cached={r.cached_tokens ?? 0} title={r.cached_tokens ? `${int(r.cached_tokens)} cached, charged at the cached rate` : ''}>
              {int(r.prompt_tokens)}
              {r.cached_tokens ? '*' : ''}
            </td>
            <td className="num col-n hide-narrow" data-reasoning={r.reasoning_tokens ?? 0} title={r.reasoning_tokens ? `${int(r.reasoning_tokens)} reasoning` : ''}>
              {int(r.completion_tokens)}
            </td>
            <td className="num col-cost" data-usd={r.cost_usd}>
              {usd(r.cost_usd)}
            </td>
            <td className="col-code" title={r.error_message ?? r.error_code ?? ''}>
              <StatusCell row={r} />
            </td>
            <td className="num col-n hide-narrow">{Math.round(r.latency_ms)} ms</td>
          </tr>
        ))}
      </PagedTable>
      {drawer ? <RequestDrawer row={drawer} onClose={() => setDrawer(null)} /> : null}
    </div>
  );
}
