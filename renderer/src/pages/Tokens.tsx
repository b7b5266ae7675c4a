/** Tokens: the table with budget bars, the hierarchy as a tree, and the create/edit/rotate/revoke dialogs. */
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

/** Parents first, each followed by its subtree, so the table reads as the hierarchy. */
function treeOrder(tokens: TokenView[]): TokenView[] {
  const ids = new Set(tokens.map((t) => t.id));
  const kids = new Map<string | null, TokenView[]>();
  for (const t of tokens) {
    const p = t.parent_id !== null && ids.has(t.parent_id) ? t.parent_id : null;
    kids.set(p, [...(kids.get(p) ?? []), t]);
  }
  const out: TokenView[] = [];
  const walk = (p: string | null) => {
    for (const t of kids.get(p) ?? []) {
      out.push(t);
      walk(t.id);
    }
  };
  walk(null);
  return out;
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
  const list = useLoad(() => api('GET', '/tokens'), []);
  const [open, setOpen] = useState<Open>(null);
  // A secret just issued. Dropped (set to null) the moment its dialog closes.
  const [issued, setIssued] = useState<Issued | null>(null);
  const [showRevoked, setShowRevoked] = useState(false);
  const refresh = useDebounced(() => list.reload(), 300);
  // `#/tokens?create=1` (the tray's "New token…") opens the create dialog; the flag is then dropped from the
  // address so a reload does not reopen it, and the tray's next click (the same URL again) is a change.
  const query = useHashQuery();
  useEffect(() => {
    if (query.get('create') !== '1') return;
    setOpen({ kind: 'create' });
    window.history.replaceState(null, '', '#/tokens');
  }, [query]);
  useLive((kind) => {
    if (kind === 'request' || kind === 'rotation' || kind === 'budget' || kind === 'hold') refresh();
  });

  const tokens = list.data?.data ?? [];
  const shown = treeOrder(showRevoked ? tokens : tokens.filter((t) => t.status !== 'revoked' && t.status !== 'parent_revoked'));
  const hidden = tokens.length - shown.length;
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
        <label className="check">
          <input type="checkbox" checked={showRevoked} onChange={(e) => setShowRevoked(e.target.checked)} />
          Show revoked{hidden > 0 && !showRevoked ? ` (${hidden})` : ''}
        </label>
        <button type="button" className="button primary" onClick={() => setOpen({ kind: 'create' })}>
          New token
        </button>
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
      {list.data && shown.length === 0 ? (
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
          tokens={tokens}
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
