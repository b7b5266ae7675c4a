/** Audit: every lifecycle event, newest first, filtered by family or token. */
import { useEffect, useState } from 'react';
import { api, type AuditRow, type Page } from '../api';
import { Empty, ErrorNote } from '../components/bits';
import { stamp, zoneName } from '../format';
import { useLoad } from '../hooks';

const FAMILIES = [
  ['', 'All events'],
  ['token.*', 'Tokens'],
  ['key.*', 'Upstream key'],
  ['settings.*', 'Settings'],
  ['admin.*', 'Sign-ins'],
  ['webhook*', 'Webhooks'],
] as const;

function detailText(d: Record<string, unknown>): string {
  return Object.entries(d)
    .map(([k, v]) => `${k}: ${typeof v === 'string' ? v : JSON.stringify(v)}`)
    .join(' · ');
}

export function Audit() {
  const [event, setEvent] = useState('');
  const [rows, setRows] = useState<AuditRow[]>([]);
  const [cursor, setCursor] = useState<number | null>(null);
  const q = (before?: number) => `/audit?limit=100${event ? `&event=${encodeURIComponent(event)}` : ''}${before ? `&before=${before}` : ''}`;
  const first = useLoad(() => api<Page<AuditRow>>('GET', q()), [event]);
  useEffect(() => {
    if (!first.data) return;
    setRows(first.data.data);
    setCursor(first.data.next_before);
  }, [first.data]);
  const older = async () => {
    if (cursor === null) return;
    const page = await api<Page<AuditRow>>('GET', q(cursor));
    setRows((prev) => [...prev, ...page.data]);
    setCursor(page.next_before);
  };

  return (
    <div className="page">
      <div className="toolbar">
        <h1>Audit log</h1>
        <span className="spacer" />
        <label className="inline">
          <span>Show</span>
          <select value={event} onChange={(e) => setEvent(e.target.value)}>
            {FAMILIES.map(([v, label]) => (
              <option key={v} value={v}>
                {label}
              </option>
            ))}
          </select>
        </label>
      </div>
      <ErrorNote error={first.error} />
      <div className="table-wrap">
        <table className="table audit">
          <thead>
            <tr>
              <th className="col-when">When ({zoneName()})</th>
              <th className="col-event">Event</th>
              <th className="col-actor hide-narrow">By</th>
              <th className="col-token">Token</th>
              <th className="col-detail hide-narrow">Detail</th>
            </tr>
          </thead>
          <tbody>
            {rows.map((r) => (
              <tr key={r.id}>
                <td className="col-when" title={stamp(r.ts)}>
                  <span className="hide-narrow">{stamp(r.ts).slice(0, 5)}</span>
                  {stamp(r.ts).slice(5, 16)}
                  <span className="hide-narrow">{stamp(r.ts).slice(16)}</span>
                </td>
                <td className="col-event mono small">{r.event}</td>
                <td className="col-actor hide-narrow mono small">{r.actor}</td>
                <td className="col-token mono small">{r.token_id ?? ''}</td>
                <td className="col-detail hide-narrow small ellipsis" title={detailText(r.detail)}>
                  {detailText(r.detail)}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
      {first.data && rows.length === 0 ? <Empty>Nothing recorded yet.</Empty> : null}
      {cursor !== null ? (
        <button type="button" className="button more" onClick={() => void older()}>
          Load older entries
        </button>
      ) : null}
    </div>
  );
}
