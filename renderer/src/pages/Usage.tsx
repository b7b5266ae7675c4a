/** Usage: spend per day by token or by model over a chosen range, with totals and a CSV export. */
import { useState } from 'react';
import { api, type UsageResponse, type UsageRow } from '../api';
import { BarChart, toSeries } from '../components/BarChart';
import { Card, Empty, ErrorNote, FieldError } from '../components/bits';
import { daysBetween, int, monthRange, usd } from '../format';
import { useLoad } from '../hooks';

type By = 'token' | 'model';

export function Usage() {
  const initial = monthRange();
  const [from, setFrom] = useState(initial.from);
  const [to, setTo] = useState(initial.to);
  const [by, setBy] = useState<By>('token');
  const q = `from=${from}&to=${to}`;
  const daily = useLoad(() => api<UsageResponse>('GET', `/usage?by=day_${by}&${q}`), [by, q]);
  const totals = useLoad(() => api<UsageResponse>('GET', `/usage?by=${by}&${q}`), [by, q]);
  const keyOf = (r: UsageRow) => (by === 'token' ? (r.token_name ?? r.token_id ?? '?') : (r.model ?? '(no model)'));
  // Rows are keyed by what the answer was grouped by, never by what the toolbar says now: while the by-model answer is
  // on its way the by-token rows are still shown, and a key that means something else would leave ghosts behind.
  const shownBy = totals.data?.by === 'model' ? 'model' : 'token';
  const rowKey = (r: UsageRow) => (shownBy === 'token' ? `token:${r.token_id ?? ''}` : `model:${r.model ?? ''}`);
  const rowName = (r: UsageRow) => (shownBy === 'token' ? (r.token_name ?? r.token_id ?? '?') : (r.model ?? '(no model)'));
  const days = daysBetween(from, to);
  const error = daily.error ?? totals.error;

  return (
    <div className="page">
      <div className="toolbar">
        <h1>Usage</h1>
        <span className="spacer" />
        <label className="inline">
          <span>From</span>
          <input type="date" value={from} max={to} onChange={(e) => e.target.value && setFrom(e.target.value)} />
        </label>
        <label className="inline">
          <span>To</span>
          <input type="date" value={to} min={from} onChange={(e) => e.target.value && setTo(e.target.value)} />
        </label>
        <div className="segmented" role="group" aria-label="Group by">
          {(['token', 'model'] as const).map((b) => (
            <button key={b} type="button" aria-pressed={by === b} className={by === b ? 'seg active' : 'seg'} onClick={() => setBy(b)}>
              By {b}
            </button>
          ))}
        </div>
        <a className="button" href={`/admin/api/usage?by=day_${by}&${q}&format=csv`} download>
          Export CSV
        </a>
      </div>
      {error && Object.keys(error.details).length ? (
        <p className="notice error" role="alert">
          <FieldError error={error} field="from" /> <FieldError error={error} field="to" />
        </p>
      ) : (
        <ErrorNote error={error} />
      )}
      <Card title={`Spend per day by ${by}`} className="wide">
        <BarChart days={days} series={daily.data ? toSeries(days, daily.data.data, keyOf) : []} label={`Spend per day by ${by}`} />
      </Card>
      <Card title={`Totals, ${from} to ${to}`} className="wide">
        {totals.data && totals.data.data.length === 0 ? (
          <Empty>No requests in this range.</Empty>
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
    </div>
  );
}
