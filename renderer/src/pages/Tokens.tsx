/**
 * Tokens: the table with budget bars, the hierarchy as a tree, and the create/edit/rotate/revoke dialogs.
 * Searched, filtered, sorted and paged by the daemon (issue 26): with thousands of agents the page asks
 * for one page of rows, never the whole list.
 */
import { useEffect, useState } from 'react';
import { api, PRESETS, type Issued, type TokenView } from '../api';
import { BudgetBar, Card, Empty, ErrorNote, StatusBadge } from '../components/bits';
import { SecretDialog } from '../components/SecretDialog';
import { BudgetDialog, ForecastCell, HeldBanner, HoldBadge } from '../components/Spend';
import { ago, when } from '../format';
import { useDebounced, useHashQuery, useLoad } from '../hooks';
import { useLive } from '../live';
import { RevokeDialog, RotateDialog } from './TokenActions';
import { CreateDialog, EditDialog, expiryText } from './TokenDialogs';

type Open = { kind: 'create' } | { kind: 'edit' | 'rotate' | 'revoke' | 'budget'; token: TokenView } | null;

function scopeSummary(scopes: string[]): string {
  const key = scopes.slice().sort().join(' ');
  for (const [name, list] of Object.entries(PRESETS)) if (list.slice().sort().join(' ') === key) return name;
  return `${scopes.length} scope${scopes.length === 1 ? '' : 's'}`;
}

const PAGE = 50;

type StatusFilter = 'live' | 'active' | 'expired' | 'revoked' | 'all';
type Sort = 'tree' | 'spend' | 'last_used' | 'name';

/** `value`, once it has not changed for `ms` (typing in the search box asks once, not per key). */
function useSettled<T>(value: T, ms: number): T {
  const [settled, setSettled] = useState(value);
  useEffect(() => {
    const t = window.setTimeout(() => setSettled(value), ms);
    return () => window.clearTimeout(t);
  }, [value, ms]);
  return settled;
}

function Tree({ tokens, parent }: { tokens: TokenView[]; parent: string | null }) {
  const kids = tokens.filter((t) => t.parent_id === parent);
  if (kids.length === 0) return null;
  return (
    <ul className={parent ? 'tree' : 'tree root'}>
      {kids.map((t) => (
        <li key={t.id}>
          <div className={`tree-node ${t.status === 'active' ? '' : 'dim'}`}>
            <a className="tree-name" href={`#/token/${t.id}`}>
              {t.name}
            </a>
            <span className="mono muted small">{t.id}</span>
            <StatusBadge status={t.status} />
            <BudgetBar spent={t.spent_usd} budget={t.monthly_budget_usd} />
          </div>
          <Tree tokens={tokens} parent={t.id} />
        </li>
      ))}
    </ul>
  );
}

export function Tokens() {
  const [search, setSearch] = useState('');
  const q = useSettled(search.trim(), 250);
  const [status, setStatus] = useState<StatusFilter>('live');
  const [period, setPeriod] = useState('');
  const [over80, setOver80] = useState(false);
  const [held, setHeld] = useState(false);
  const [parents, setParents] = useState(false);
  const [sort, setSort] = useState<Sort>('tree');
  const [offset, setOffset] = useState(0);
  const filters = [q, status, period, over80, held, parents, sort];
  // A new search or filter starts from the first page.
  useEffect(() => setOffset(0), filters); // eslint-disable-line react-hooks/exhaustive-deps
  const query = new URLSearchParams({
    ...(q ? { q } : {}),
    status,
    ...(period ? { period } : {}),
    ...(over80 ? { over80: '1' } : {}),
    ...(held ? { held: '1' } : {}),
    ...(parents ? { parents: '1' } : {}),
    sort,
    offset: String(offset),
    limit: String(PAGE),
  }).toString();
  const list = useLoad(() => api('GET', `/tokens?${query}`), [query]);
  const [open, setOpen] = useState<Open>(null);
  // Every token, for the create dialog's parent picker: loaded when it opens, not with each page.
  const everyToken = useLoad(() => (open?.kind === 'create' ? api('GET', '/tokens') : Promise.resolve({ data: [] as TokenView[] })), [open?.kind === 'create']);
  // A secret just issued. Dropped (set to null) the moment its dialog closes.
  const [issued, setIssued] = useState<Issued | null>(null);
  const refresh = useDebounced(() => list.reload(), 300);
  // `#/tokens?create=1` (the tray's "New token…") opens the create dialog; the flag is then dropped from the
  // address so a reload does not reopen it, and the tray's next click (the same URL again) is a change.
  const hashQuery = useHashQuery();
  useEffect(() => {
    if (hashQuery.get('create') !== '1') return;
    setOpen({ kind: 'create' });
    window.history.replaceState(null, '', '#/tokens');
  }, [hashQuery]);
  useLive((kind) => {
    if (kind === 'request' || kind === 'rotation' || kind === 'budget' || kind === 'hold') refresh();
  });

  const page = list.data;
  const shown = page?.data ?? [];
  const total = page?.total ?? 0;
  const filtered = q !== '' || status !== 'live' || period !== '' || over80 || held || parents;
  const closeSecret = () => {
    // React keeps the previous render's elements (and their props) on its alternate fiber until the
    // next render; wiping the one object they share drops the secret from memory as the dialog closes.
    if (issued) issued.secret = '';
    setIssued(null);
  };
  const done = () => {
    setOpen(null);
    list.reload();
  };

  return (
    <div className="page">
      <div className="toolbar">
        <h1>Tokens</h1>
        <span className="spacer" />
        <button type="button" className="button primary" onClick={() => setOpen({ kind: 'create' })}>
          New token
        </button>
      </div>
      <div className="toolbar filters" role="search" aria-label="Find tokens">
        <label className="inline">
          <span>Search</span>
          <input type="search" value={search} placeholder="name or tok_…" onChange={(e) => setSearch(e.target.value)} aria-label="Search tokens by name or id" />
        </label>
        <label className="inline">
          <span>Status</span>
          <select value={status} onChange={(e) => setStatus(e.target.value as StatusFilter)}>
            <option value="live">Not revoked</option>
            <option value="active">Active</option>
            <option value="expired">Expired</option>
            <option value="revoked">Revoked</option>
            <option value="all">All</option>
          </select>
        </label>
        <label className="inline">
          <span>Period</span>
          <select value={period} onChange={(e) => setPeriod(e.target.value)}>
            <option value="">Any</option>
            <option value="day">Daily</option>
            <option value="week">Weekly</option>
            <option value="month">Monthly</option>
            <option value="total">Prepaid</option>
          </select>
        </label>
        <label className="check">
          <input type="checkbox" checked={over80} onChange={(e) => setOver80(e.target.checked)} />
          Over 80% of budget
        </label>
        <label className="check">
          <input type="checkbox" checked={held} onChange={(e) => setHeld(e.target.checked)} />
          On hold
        </label>
        <label className="check">
          <input type="checkbox" checked={parents} onChange={(e) => setParents(e.target.checked)} />
          Has children
        </label>
        <label className="inline">
          <span>Sort</span>
          <select value={sort} onChange={(e) => setSort(e.target.value as Sort)}>
            <option value="tree">Hierarchy</option>
            <option value="spend">Spend, highest first</option>
            <option value="last_used">Last use, latest first</option>
            <option value="name">Name</option>
          </select>
        </label>
      </div>
      <ErrorNote error={list.error} />
      <HeldBanner onChange={() => list.reload()} />
      <div className="table-wrap">
        <table className="table tokens">
          <thead>
            <tr>
              <th className="col-name">Name</th>
              <th className="col-id hide-narrow">ID</th>
              <th className="col-scopes">Scopes</th>
              <th className="col-budget">Budget this period · forecast</th>
              <th className="col-expires hide-narrow">Expires</th>
              <th className="col-date hide-narrow">Last used</th>
              <th className="col-status hide-narrow">Status</th>
              <th className="col-actions">
                <span className="sr-only">Actions</span>
              </th>
            </tr>
          </thead>
          <tbody>
            {shown.map((t) => (
              <tr key={t.id} data-token-id={t.id}>
                <td className="col-name">
                  <span className="indent" data-depth={Math.min(t.depth, 5)}>
                    <HoldBadge t={t} />{' '}
                    <a href={`#/token/${t.id}`} title={t.name}>
                      {t.name}
                    </a>
                  </span>
                  {t.paused ? <span className="badge warn small">paused</span> : null}
                  <span className="show-narrow">
                    <StatusBadge status={t.status} />
                  </span>
                </td>
                <td className="col-id hide-narrow mono small">{t.id}</td>
                <td className="col-scopes" title={t.scopes.join(', ')}>
                  {scopeSummary(t.scopes)}
                </td>
                <td className="col-budget">
                  <button type="button" className="budget-open" onClick={() => setOpen({ kind: 'budget', token: t })} disabled={t.status !== 'active'} title="Budget and holds">
                    {/* The name is said before the visible figures, so the button's accessible name contains what it shows. */}
                    <span className="sr-only">Budget and holds of {t.name}: </span>
                    <BudgetBar spent={t.spent_usd} budget={t.monthly_budget_usd} />
                  </button>
                  <ForecastCell t={t} />
                </td>
                <td className="col-expires hide-narrow">{expiryText(t)}</td>
                <td className="col-date hide-narrow" title={when(t.last_used_at)}>
                  {ago(t.last_used_at)}
                </td>
                <td className="col-status hide-narrow">
                  <StatusBadge status={t.status} />
                </td>
                <td className="col-actions">
                  {t.status === 'active' ? (
                    <div className="row-actions">
                      <button type="button" className="button small" onClick={() => setOpen({ kind: 'edit', token: t })} aria-label={`Edit ${t.name}`}>
                        Edit
                      </button>
                      <button type="button" className="button small" onClick={() => setOpen({ kind: 'rotate', token: t })} aria-label={`Rotate ${t.name}`}>
                        Rotate
                      </button>
                      <button type="button" className="button small danger" onClick={() => setOpen({ kind: 'revoke', token: t })} aria-label={`Revoke ${t.name}`}>
                        Revoke
                      </button>
                    </div>
                  ) : null}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
      {page && total > 0 ? (
        <div className="toolbar pager" aria-label="Pages">
          <span className="muted" data-testid="token-count">
            {page.offset + 1}–{page.offset + shown.length} of {total.toLocaleString('en-US')}
            {filtered ? ` matching (${page.all.toLocaleString('en-US')} tokens in all)` : ''}
          </span>
          <span className="spacer" />
          <button type="button" className="button small" disabled={offset === 0} onClick={() => setOffset(Math.max(0, offset - PAGE))}>
            Previous
          </button>
          <button type="button" className="button small" disabled={offset + PAGE >= total} onClick={() => setOffset(offset + PAGE)}>
            Next
          </button>
        </div>
      ) : null}
      {page && shown.length === 0 && filtered ? <Empty>No tokens match.</Empty> : null}
      {page && shown.length === 0 && !filtered ? (
        <Empty>
          No tokens yet. Create one for each agent: it gets its own scopes, budget and expiry.{' '}
          <button type="button" className="button primary small" onClick={() => setOpen({ kind: 'create' })}>
            Create token
          </button>
        </Empty>
      ) : null}
      {shown.some((t) => t.parent_id !== null) ? (
        <Card title="Hierarchy" className="wide">
          <Tree tokens={shown} parent={null} />
        </Card>
      ) : null}

      {open?.kind === 'create' ? (
        <CreateDialog
          tokens={everyToken.data?.data ?? []}
          onClose={() => setOpen(null)}
          onCreated={(i) => {
            setOpen(null);
            setIssued(i);
            list.reload();
          }}
        />
      ) : null}
      {open?.kind === 'budget' ? <BudgetDialog token={open.token} onClose={() => setOpen(null)} onSaved={done} /> : null}
      {open?.kind === 'edit' ? <EditDialog token={open.token} onClose={() => setOpen(null)} onSaved={done} /> : null}
      {open?.kind === 'rotate' ? (
        <RotateDialog
          token={open.token}
          onClose={() => setOpen(null)}
          onRotated={(i) => {
            setOpen(null);
            setIssued(i);
            list.reload();
          }}
        />
      ) : null}
      {open?.kind === 'revoke' ? <RevokeDialog token={open.token} onClose={() => setOpen(null)} onRevoked={done} /> : null}
      {issued ? <SecretDialog issued={issued} onClose={closeSecret} /> : null}
    </div>
  );
}
