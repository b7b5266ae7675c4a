/**
 * Spend by vendor and by type (issue 24): where the money went across
 * SkillBoss's services, for the usage page's range or one token's month.
 * The vendor is the model's part before its first `/` (`replicate/…`), the
 * type what the synced model list says of the model (chat, image, video,
 * tts, …), else the route's kind of metering (proxy/db/ledger-store.ts).
 */
import { api, type UsageRow } from '../api';
import { int, usd } from '../format';
import { useLoad } from '../hooks';
import { Card, Empty, ErrorNote } from './bits';

function SplitTable({ title, by, rows }: { title: string; by: 'vendor' | 'type'; rows: UsageRow[] | null }) {
  return (
    <Card title={title}>
      {rows && rows.length === 0 ? (
        <Empty>Nothing spent in this range.</Empty>
      ) : (
        <table className="table split" data-by={by}>
          <thead>
            <tr>
              <th>{by === 'vendor' ? 'Vendor' : 'Type'}</th>
              <th className="num">Requests</th>
              <th className="num">Cost</th>
            </tr>
          </thead>
          <tbody>
            {(rows ?? []).map((r) => {
              const name = (by === 'vendor' ? r.vendor : r.type) ?? '(no model)';
              return (
                <tr key={name} data-key={name}>
                  <td className="mono small ellipsis">{name}</td>
                  <td className="num">{int(r.requests)}</td>
                  <td className="num" data-usd={r.cost_usd}>
                    {usd(r.cost_usd)}
                  </td>
                </tr>
              );
            })}
          </tbody>
        </table>
      )}
    </Card>
  );
}

/** Two cards, by vendor and by type; `query` is the `/usage` range (and token) they cover, e.g. `from=…&to=…&token=…`. */
export function ServiceSpend({ query }: { query: string }) {
  const vendors = useLoad(() => api('GET', `/usage?by=vendor&${query}`), [query]);
  const types = useLoad(() => api('GET', `/usage?by=type&${query}`), [query]);
  return (
    <>
      <ErrorNote error={vendors.error ?? types.error} />
      <SplitTable title="Spend by vendor" by="vendor" rows={vendors.data?.data ?? null} />
      <SplitTable title="Spend by type" by="type" rows={types.data?.data ?? null} />
    </>
  );
}
