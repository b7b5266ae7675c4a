/**
 * A newest-first table loaded a page at a time (usePaged): the load's error,
 * the header from a column list, the rows, what to say when there are none,
 * and the button for older rows. Audit and Requests share it.
 */
import type { ReactNode } from 'react';
import type { Paged } from '../hooks';
import { Empty, ErrorNote } from './bits';

export interface Column {
  className: string;
  label: ReactNode;
}

export function PagedTable<R>({ paged, className, label, columns, empty, more, children }: { paged: Paged<R>; className: string; label?: string; columns: Column[]; empty: ReactNode; more: string; children: ReactNode }) {
  return (
    <>
      <ErrorNote error={paged.first.error} />
      <div className="table-wrap">
        <table className={`table ${className}`} aria-label={label}>
          <thead>
            <tr>
              {columns.map((c, i) => (
                <th key={i} className={c.className}>
                  {c.label}
                </th>
              ))}
            </tr>
          </thead>
          <tbody>{children}</tbody>
        </table>
      </div>
      {paged.first.data && paged.rows.length === 0 ? <Empty>{empty}</Empty> : null}
      {paged.more ? (
        <button type="button" className="button more" onClick={() => void paged.older()}>
          {more}
        </button>
      ) : null}
    </>
  );
}
