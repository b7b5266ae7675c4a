/**
 * One token's page (`#/token/<id>`; token names link here): its budgets —
 * its own spend and the spend of its whole subtree, which its budget holds —
 * the budgets above it, its children, charts and recent requests, rotation
 * and expiry, and the actions: edit, rotate, pause, revoke.
 */
import { useState } from 'react';
import { api, ApiError, type Issued, type RequestRow, type TokenView } from '../api';
import { BudgetBar, Card, Empty, ErrorNote, StatusBadge } from '../components/bits';
import { ServiceSpend } from '../components/ServiceSpend';
import { SeriesCharts } from '../components/Charts';
import { Unavailable } from '../components/DaemonDown';
import { RequestDrawer, StatusCell } from '../components/RequestDrawer';
import { SecretDialog } from '../components/SecretDialog';
import { ago, clock, int, usd, utc, when } from '../format';
import { useDebounced, useLoad, useRouteParam } from '../hooks';
import { useLive } from '../live';
import { RevokeDialog, RotateDialog } from './TokenActions';
import { EditDialog, expiryText } from './TokenDialogs';

type Open = 'edit' | 'rotate' | 'revoke' | null;

/** The budget card's title: the token's own period, never "this month" for a daily or prepaid budget (issue 22). */
const BUDGET_TITLE = { day: 'Budget today', week: 'Budget this week', month: 'Budget this month', total: 'Prepaid budget' } as const;
const PERIOD_WORD = { day: 'daily', week: 'weekly', month: 'monthly', total: 'prepaid' } as const;

/** When this token's budget starts again, in the words of its period. */
function resetText(t: TokenView): string {
  if (t.budget_period === 'total') return 'A prepaid budget never resets; a top-up adds to it.';
  const each = { day: 'each day at 00:00 UTC', week: 'each Monday at 00:00 UTC', month: 'on the 1st of each month, 00:00 UTC' }[t.budget_period];
  return `Its ${PERIOD_WORD[t.budget_period]} budget resets ${each}${t.resets_at ? `, next at ${utc(t.resets_at)}` : ''}.`;
}

export function Token() {
  const id = useRouteParam();
  const detail = useLoad(() => api('GET', `/tokens/${id}`), [id]);
  const all = useLoad(() => api('GET', '/tokens'), [id]);
  const recent = useLoad(() => api('GET', `/requests?token=${id}&limit=20`), [id]);
  const [open, setOpen] = useState<Open>(null);
  const [drawer, setDrawer] = useState<RequestRow | null>(null);
  const [issued, setIssued] = useState<Issued | null>(null);
  const [actionError, setActionError] = useState<ApiError | null>(null);
  const reload = () => {
    detail.reload();
    all.reload();
    recent.reload();
  };
  const refresh = useDebounced(reload, 400);
  useLive((kind) => {
    if (kind === 'request' || kind === 'budget' || kind === 'rotation') refresh();
  });

  const t = detail.data;
  if (!t) {
    return (
      <div className="page">
        <h1>Token</h1>
        <ErrorNote error={detail.error} />
        {detail.error?.status === 404 || detail.error?.status === 400 ? (
          <Empty>
            No token {id}. <a href="#/tokens">All tokens</a>
          </Empty>
        ) : detail.error ? (
          <Unavailable />
        ) : null}
      </div>
    );
  }
  const tokens = all.data?.data ?? [];
  const byId = new Map(tokens.map((x) => [x.id, x]));
  const ancestors: TokenView[] = [];
  for (let p = t.parent_id ? byId.get(t.parent_id) : undefined; p; p = p.parent_id ? byId.get(p.parent_id) : undefined) ancestors.push(p);
  const children = tokens.filter((x) => x.parent_id === t.id);
  const active = t.status === 'active';
  const pause = async (paused: boolean) => {
    try {
      await api('POST', `/tokens/${t.id}/pause`, { paused });
      setActionError(null);
    } catch (e) {
      setActionError(e as ApiError);
    }
    reload();
  };
  const closeSecret = () => {
    if (issued) issued.secret = '';
    setIssued(null);
  };

  return (
    <div className="page token-page">
      <nav className="crumbs small" aria-label="Breadcrumb">
        <a href="#/tokens">Tokens</a>
        {ancestors
          .slice()
          .reverse()
          .map((a) => (
            <span key={a.id}>
              {' / '}
              <a href={`#/token/${a.id}`}>{a.name}</a>
            </span>
          ))}
      </nav>
      <div className="toolbar">
        <h1 className="token-title">{t.name}</h1>
        <StatusBadge status={t.status} />
        {t.paused ? <span className="badge warn">{t.paused_self ? 'paused' : 'paused by a parent'}</span> : null}
        <span className="mono muted small">{t.id}</span>
        <span className="spacer" />
        {active ? (
          <div className="row-actions">
            <button type="button" className="button" onClick={() => setOpen('edit')}>
              Edit
            </button>
            <button type="button" className="button" onClick={() => setOpen('rotate')}>
              Rotate
            </button>
            {t.paused_self ? (
              <button type="button" className="button primary" onClick={() => void pause(false)}>
                Resume
              </button>
            ) : (
              <button type="button" className="button" onClick={() => void pause(true)}>
                Pause
              </button>
            )}
            <button type="button" className="button danger" onClick={() => setOpen('revoke')}>
              Revoke
            </button>
          </div>
        ) : null}
      </div>
      <ErrorNote error={actionError} />
      <div className="grid">
        <Card title={BUDGET_TITLE[t.budget_period]}>
          <BudgetBar spent={t.spent_usd} budget={t.monthly_budget_usd} />
          <dl className="facts">
            <dt>Including children</dt>
            <dd data-testid="spend-with-children" data-usd={t.spent_usd}>
              {usd(t.spent_usd)}
            </dd>
            <dt>Its own calls</dt>
            <dd data-testid="spend-own" data-usd={t.own_spent_usd}>
              {usd(t.own_spent_usd)}
            </dd>
            <dt>Requests</dt>
            <dd>{int(t.requests)} (with children)</dd>
          </dl>
          {ancestors.length ? (
            <>
              <p className="muted small">Also held by the budgets above it:</p>
              {ancestors.map((a) => (
                <div key={a.id} className="held-by">
                  <a href={`#/token/${a.id}`}>{a.name}</a>
                  <BudgetBar spent={a.spent_usd} budget={a.monthly_budget_usd} />
                </div>
              ))}
            </>
          ) : null}
          <p className="muted small" data-testid="budget-reset">
            Its budget holds its own calls and its children’s. {resetText(t)}
          </p>
        </Card>
        <Card title="Rotation and expiry">
          <dl className="facts">
            <dt>Expires</dt>
            <dd>{t.expires_at ? utc(t.expires_at) : expiryText(t)}</dd>
            <dt>Created</dt>
            <dd>{when(t.created_at)}</dd>
            <dt>Last rotated</dt>
            <dd>{t.rotated_at ? when(t.rotated_at) : 'never'}</dd>
            {t.old_secret_valid_until ? (
              <>
                <dt>Old secret</dt>
                <dd>works until {when(t.old_secret_valid_until)}</dd>
              </>
            ) : null}
            <dt>Auto-rotation</dt>
            <dd>{t.auto_rotate ? `every ${t.auto_rotate.interval_days} days; next ${when(t.auto_rotate.next_at)}` : 'off'}</dd>
            <dt>Last used</dt>
            <dd title={when(t.last_used_at)}>{ago(t.last_used_at)}</dd>
          </dl>
        </Card>
        <Card title="Access">
          <dl className="facts">
            <dt>Scopes</dt>
            <dd className="wrap">{t.scopes.join(', ')}</dd>
            <dt>Models</dt>
            <dd className="wrap">{t.models ? t.models.join(', ') : 'every model'}</dd>
            <dt>Requests per minute</dt>
            <dd>{t.rpm === null ? 'no limit' : int(t.rpm)}</dd>
            <dt>At once</dt>
            <dd>{t.max_concurrent === null ? 'no limit' : int(t.max_concurrent)}</dd>
          </dl>
        </Card>
      </div>
      <SeriesCharts token={t.id} />
      <Card title={`Children (${children.length})`} className="wide">
        {children.length === 0 ? (
          <Empty>No tokens under this one. Agents holding it can create children with narrower scopes and budgets.</Empty>
        ) : (
          <table className="table children">
            <thead>
              <tr>
                <th>Name</th>
                <th>Budget (its period)</th>
                <th className="hide-narrow">Status</th>
              </tr>
            </thead>
            <tbody>
              {children.map((c) => (
                <tr key={c.id} data-token-id={c.id}>
                  <td className="name-cell">
                    <a href={`#/token/${c.id}`}>{c.name}</a>
                  </td>
                  <td>
                    <BudgetBar spent={c.spent_usd} budget={c.monthly_budget_usd} />
                    <span className="muted small">{PERIOD_WORD[c.budget_period]}</span>
                  </td>
                  <td className="hide-narrow">
                    <StatusBadge status={c.status} />
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
      </Card>
      <div className="grid">
        {/* This month's own calls (the usage route's default range), split across SkillBoss's vendors and kinds of service. */}
        <ServiceSpend query={`token=${encodeURIComponent(t.id)}`} />
      </div>
      <Card title="Recent requests" className="wide">
        {recent.data && recent.data.data.length === 0 ? (
          <Empty>No requests yet. They appear here the moment an agent calls with this token.</Empty>
        ) : (
          <table className="table recent">
            <thead>
              <tr>
                <th>Time</th>
                <th>Model</th>
                <th>Status</th>
                <th className="num">Cost</th>
              </tr>
            </thead>
            <tbody>
              {(recent.data?.data ?? []).map((r) => (
                <tr key={r.request_id} data-request-id={r.request_id}>
                  <td>
                    <button type="button" className="linklike" onClick={() => setDrawer(r)} aria-label={`Details of the request at ${clock(r.ts)}`}>
                      {clock(r.ts)}
                    </button>
                  </td>
                  <td className="mono small">{r.model ?? r.route}</td>
                  <td>
                    <StatusCell row={r} />
                  </td>
                  <td className="num">{usd(r.cost_usd)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
      </Card>
      {open === 'edit' ? (
        <EditDialog
          token={t}
          onClose={() => setOpen(null)}
          onSaved={() => {
            setOpen(null);
            reload();
          }}
        />
      ) : null}
      {open === 'rotate' ? (
        <RotateDialog
          token={t}
          onClose={() => setOpen(null)}
          onRotated={(i) => {
            setOpen(null);
            setIssued(i);
            reload();
          }}
        />
      ) : null}
      {open === 'revoke' ? (
        <RevokeDialog
          token={t}
          onClose={() => setOpen(null)}
          onRevoked={() => {
            setOpen(null);
            reload();
          }}
        />
      ) : null}
      {issued ? <SecretDialog issued={issued} onClose={closeSecret} /> : null}
      {drawer ? <RequestDrawer row={drawer} onClose={() => setDrawer(null)} /> : null}
    </div>
  );
}
