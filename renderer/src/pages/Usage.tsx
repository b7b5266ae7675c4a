/** Usage: the charts over a range preset (spend by token or model, requests, errors, latency), the totals for the same days, spend by vendor and by type, and a CSV export. */
import { api, type UsageRow } from '../api';
import { Card, Empty, ErrorNote } from '../components/bits';
import { SeriesCharts, useChartView } from '../components/Charts';
import { ServiceSpend } from '../components/ServiceSpend';
import { int, usd } from '../format';
import { useLoad } from '../hooks';

const RANGE_DAYS = { '24h': 2, '7d': 7, '30d': 30, '90d': 90 } as const;

/** The UTC days a range preset covers, ending today (24h spans yesterday and today). */
function daysOf(range: keyof typeof RANGE_DAYS, now = Date.now()): { from: string; to: string } {
  const to = new Date(now).toISOString().slice(0, 10);
  const from = new Date(now - (RANGE_DAYS[range] - 1) * 86_400_000).toISOString().slice(0, 10);
  return { from, to };
}

export function Usage() {
  const view = useChartView();
  const by = view.by;
  const { from, to } = daysOf(view.range);
  const q = `from=${from}&to=${to}`;
  const totals = useLoad(() => api('GET', `/usage?by=${by}&${q}`), [by, q]);
  // Rows are keyed by what the answer was grouped by, never by what the toolbar says now: while the by-model answer is
  // on its way the by-token rows are still shown, and a key that means something else would leave ghosts behind.
  const shownBy = totals.data?.by === 'model' ? 'model' : 'token';
  const rowKey = (r: UsageRow) => (shownBy === 'token' ? `token:${r.token_id ?? ''}` : `model:${r.model ?? ''}`);
  const rowName = (r: UsageRow) => (shownBy === 'token' ? (r.token_name ?? r.token_id ?? '?') : (r.model ?? '(no model)'));
  const error = totals.error;

  return (
    <div className="page">
      <div className="toolbar">
        <h1>Usage</h1>
        <span className="spacer" />
        <a className="button" href={`/admin/api/usage?by=day_${by}&${q}&format=csv`} download>
          Export CSV
        </a>
      </div>
      <ErrorNote error={error} />
      <SeriesCharts />
      <Card title={`Totals, ${from} to ${to} (UTC days)`} className="wide">
        {totals.data && totals.data.data.length === 0 ? (
          <Empty>
            No requests in this range. <a href="#/tokens?create=1">Create a token</a> for an agent, or pick a longer range.
          </Empty>
        ) : (
          <div className="table-wrap">
            <table className="table usage">
              <thead>
                <tr>
                  <th className="col-key">{shownBy === 'token' ? 'Token' : 'Model'}</th>
                  <th className="num">Requests</th>
                  <th className="num hide-narrow">Failed</th>
                  <th className="num hide-narrow">Tokens in</th>
                  <th className="num hide-narrow">Tokens out</th>
                  <th className="num">Cost</th>
                </tr>
              </thead>
              <tbody>
                {(totals.data?.data ?? []).map((r) => (
                  <tr key={rowKey(r)}>
                    <td className="col-key ellipsis">
                      {shownBy === 'token' && r.token_id ? <a href={`#/token/${r.token_id}`}>{rowName(r)}</a> : rowName(r)}
                    </td>
                    <td className="num">{int(r.requests)}</td>
                    <td className="num hide-narrow">{int(r.errors)}</td>
                    <td className="num hide-narrow">{int(r.prompt_tokens)}</td>
                    <td className="num hide-narrow">{int(r.completion_tokens)}</td>
                    <td className="num" data-usd={r.cost_usd}>
                      {usd(r.cost_usd)}
                    </td>
                  </tr>
                ))}
              </tbody>
              {totals.data ? (
                <tfoot>
                  <tr>
                    <th>Total</th>
                    <td className="num">{int(totals.data.data.reduce((a, r) => a + r.requests, 0))}</td>
                    <td className="num hide-narrow">{int(totals.data.data.reduce((a, r) => a + r.errors, 0))}</td>
                    <td className="num hide-narrow">{int(totals.data.data.reduce((a, r) => a + r.prompt_tokens, 0))}</td>
                    <td className="num hide-narrow">{int(totals.data.data.reduce((a, r) => a + r.completion_tokens, 0))}</td>
                    <td className="num" data-usd={totals.data.total_cost_usd}>
                      {usd(totals.data.total_cost_usd)}
                    </td>
                  </tr>
                </tfoot>
              ) : null}
            </table>
          </div>
        )}
      </Card>
      <div className="grid">
        <ServiceSpend query={q} />
      </div>
    </div>
  );
}
