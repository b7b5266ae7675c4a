/** Audit: every lifecycle event, newest first, filtered by family or token. */
import { useState } from 'react';
import type { AuditRow } from '../api';
import { PagedTable } from '../components/PagedTable';
import { stamp, zoneName } from '../format';
import { usePaged, type PagedPath } from '../hooks';

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
  const q = (before?: number): PagedPath => `/audit?limit=100${event ? `&event=${encodeURIComponent(event)}` : ''}${before ? `&before=${before}` : ''}`;
  const paged = usePaged<AuditRow>(q, [event]);
  const columns = [
    { className: 'col-when', label: `When (${zoneName()})` },
    { className: 'col-event', label: 'Event' },
    { className: 'col-actor hide-narrow', label: 'By' },
    { className: 'col-token', label: 'Token' },
    { className: 'col-detail hide-narrow', label: 'Detail' },
  ];

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
      <PagedTable paged={paged} className="audit" columns={columns} empty="Nothing recorded yet." more="Load older entries">
        {paged.rows.map((r) => (
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
      </PagedTable>
    </div>
  );
}
