/**
 * Access requests (issue 9): an agent without a token asked for one. The
 * human compares the code shown here with the one the agent shows, then
 * approves — possibly with a smaller budget, fewer scopes or a shorter life —
 * or denies. No secret ever reaches this page: the agent collects its token
 * on its next poll.
 */
import { useEffect, useState, type FormEvent } from 'react';
import { api, type AccessRequestView, type AccessStatus, type Scope } from '../api';
import { Card, Empty, ErrorNote, FieldError } from '../components/bits';
import { Dialog } from '../components/Dialog';
import { detail, Field, FormFooter, useCount, useMoney } from '../components/Field';
import { stamp, usd, zoneName } from '../format';
import { useDebounced, useLoad, useSubmit } from '../hooks';
import { useLive } from '../live';
import { DenyAllWaiting, FloodAlert } from './AccessFlood';
import { parseModelList } from '../../../wire/allowlist';

/** When the answer arrived (browser clock): countdowns run from the server's `expires_in_seconds`, not from clock skew. */
const load = (all = false) => api('GET', all ? '/access-requests?all=1' : '/access-requests').then((l) => ({ ...l, at: Date.now() }));

/** How many requests wait for an answer, for the navigation badge; kept current by live events. */
export function usePendingAccess(): number {
  const l = useLoad(() => load(), []);
  const refresh = useDebounced(() => l.reload(), 250);
  useLive((kind) => {
    if (kind === 'access_request') refresh();
  });
  return l.data?.pending ?? 0;
}

/** The current time, every `ms`. */
function useNow(ms: number): number {
  const [now, setNow] = useState(Date.now);
  useEffect(() => {
    const t = window.setInterval(() => setNow(Date.now()), ms);
    return () => window.clearInterval(t);
  }, [ms]);
  return now;
}

function duration(s: number): string {
  if (s < 60) return `${s} s`;
  if (s < 3600) return `${Math.floor(s / 60)} min ${String(s % 60).padStart(2, '0')} s`;
  return `${Math.floor(s / 3600)} h ${Math.floor((s % 3600) / 60)} min`;
}

const STATUS: Record<AccessStatus, { text: string; tone: 'good' | 'warn' | 'bad' }> = {
  pending: { text: 'waiting', tone: 'warn' },
  approved: { text: 'approved, not collected yet', tone: 'good' },
  delivered: { text: 'approved', tone: 'good' },
  denied: { text: 'denied', tone: 'bad' },
  expired: { text: 'expired', tone: 'bad' },
};

type Open = { kind: 'approve' | 'deny'; request: AccessRequestView } | null;

export function Access() {
  const pending = useLoad(() => load(), []);
  const history = useLoad(() => load(true), []);
  const [open, setOpen] = useState<Open>(null);
  const [done, setDone] = useState<string | null>(null);
  const now = useNow(1000);
  const refresh = useDebounced(() => {
    pending.reload();
    history.reload();
  }, 200);
  useLive((kind) => {
    if (kind === 'access_request') refresh();
  });

  const decided = (message: string) => {
    setOpen(null);
    setDone(message);
    pending.reload();
    history.reload();
  };
  const elapsed = pending.data ? Math.max(0, Math.floor((now - pending.data.at) / 1000)) : 0;
  const past = (history.data?.data ?? []).filter((r) => r.status !== 'pending').slice(0, 50);

  return (
    <div className="page">
      <div className="toolbar">
        <h1>Access requests</h1>
        <DenyAllWaiting waiting={pending.data?.data.length ?? 0} onDone={decided} />
      </div>
      <FloodAlert />
      <p className="muted intro">
        Agents without a token can ask for one (<a href="/skill.md">skill.md</a> tells them how). Approve a request only when the agent shows you the same code. You can grant less than it asked for; the agent
        receives its token at its next poll.
      </p>
      {done ? (
        <p className="notice" role="status">
          {done}
        </p>
      ) : null}
      <ErrorNote error={pending.error} />
      {pending.data && pending.data.data.length === 0 ? (
        <Empty>
          No requests are waiting. An agent asks by following <a href="/skill.md">{`${window.location.origin}/skill.md`}</a>; or <a href="#/tokens?create=1">create a token</a> for it yourself.
        </Empty>
      ) : null}
      <div className="access-list">
        {(pending.data?.data ?? []).map((r) => (
          <RequestCard key={r.id} r={r} elapsed={elapsed} onApprove={() => setOpen({ kind: 'approve', request: r })} onDeny={() => setOpen({ kind: 'deny', request: r })} />
        ))}
      </div>
      <Card title="Answered and expired" className="wide">
        {past.length === 0 ? (
          <Empty>None yet.</Empty>
        ) : (
          <div className="table-wrap">
            <table className="table access-history">
              <thead>
                <tr>
                  <th className="col-when">Asked ({zoneName()})</th>
                  <th>Agent</th>
                  <th className="col-code">Code</th>
                  <th>Outcome</th>
                  <th className="hide-narrow">Granted</th>
                  <th className="hide-narrow col-token">Token</th>
                </tr>
              </thead>
              <tbody>
                {past.map((r) => (
                  <tr key={r.id} data-request-id={r.id}>
                    <td className="col-when">{stamp(r.created_at)}</td>
                    <td className="ellipsis" title={r.name}>
                      {r.name}
                    </td>
                    <td className="col-code mono">{r.user_code}</td>
                    <td>
                      <span className={`badge ${STATUS[r.status].tone}`}>{STATUS[r.status].text}</span>
                      {r.deny_reason ? <span className="muted small"> {r.deny_reason}</span> : null}
                    </td>
                    <td className="hide-narrow small">{r.approved ? `${usd(r.approved.monthly_budget)}/month · ${r.approved.scopes.join(', ')} · ${r.approved.expiration_days} d` : '—'}</td>
                    <td className="hide-narrow col-token mono small">{r.token_id ?? '—'}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        )}
      </Card>
      {open?.kind === 'approve' ? <ApproveDialog r={open.request} onClose={() => setOpen(null)} onDone={decided} /> : null}
      {open?.kind === 'deny' ? <DenyDialog r={open.request} onClose={() => setOpen(null)} onDone={decided} /> : null}
    </div>
  );
}

function RequestCard({ r, elapsed, onApprove, onDeny }: { r: AccessRequestView; elapsed: number; onApprove: () => void; onDeny: () => void }) {
  const left = Math.max(0, r.expires_in_seconds - elapsed);
  return (
    <section className="card access-card" aria-label={`Access request from ${r.name}`} data-request-id={r.id}>
      <div className="access-who">
        <h2 className="access-name">{r.name}</h2>
        <p className="muted small">
          asked {r.age_seconds + elapsed < 5 ? 'just now' : `${duration(r.age_seconds + elapsed)} ago`} ·{' '}
          <span className={left < 60 ? 'bad-text' : ''} data-testid="time-left">
            {left > 0 ? `${duration(left)} left to answer` : 'expired'}
          </span>
        </p>
      </div>
      <div className="user-code-box">
        <span className="muted small">Code: compare it with the one the agent shows</span>
        <code className="user-code" data-testid="user-code">
          {r.user_code}
        </code>
      </div>
      {r.reason ? <p className="access-reason">“{r.reason}”</p> : null}
      <dl className="facts">
        <dt>Scopes</dt>
        <dd>{r.scopes.join(', ')}</dd>
        <dt>Budget</dt>
        <dd>{usd(r.monthly_budget)} a month</dd>
        <dt>Valid for</dt>
        <dd>{r.expiration_days} days from when it collects the token</dd>
        <dt>Models</dt>
        <dd>{r.models ? r.models.join(', ') : 'every model'}</dd>
      </dl>
      <div className="actions">
        <button type="button" className="button danger" onClick={onDeny} aria-label={`Deny ${r.name}`}>
          Deny…
        </button>
        <button type="button" className="button primary" onClick={onApprove} disabled={left === 0} aria-label={`Approve ${r.name}`}>
          Approve…
        </button>
      </div>
    </section>
  );
}

function ApproveDialog({ r, onClose, onDone }: { r: AccessRequestView; onClose: () => void; onDone: (m: string) => void }) {
  const [scopes, setScopes] = useState<Scope[]>(r.scopes);
  const budget = useMoney(r.monthly_budget, false);
  const days = useCount(r.expiration_days, 1, 3650, false);
  // Empty grants what was asked (a list, or every model); a list narrows it.
  const [modelsText, setModelsText] = useState(r.models ? r.models.join(', ') : '');
  const models = modelsText.trim() === '' ? ({ ok: true, value: null } as const) : parseModelList(modelsText);
  const [submitted, setSubmitted] = useState(false);
  const { busy, error, run } = useSubmit();

  const submit = async (e: FormEvent) => {
    e.preventDefault();
    setSubmitted(true);
    if (!budget.parsed.ok || !days.parsed.ok || !models.ok) return;
    const grant = { scopes, monthly_budget: budget.parsed.value, expiration_days: days.parsed.value, ...(models.value ? { models: models.value } : {}) };
    await run(async () => {
      const a = await api('POST', `/access-requests/${r.id}/approve`, grant);
      const g = a.approved!;
      onDone(`Approved ${r.name} (${r.user_code}): ${usd(g.monthly_budget)} a month, ${g.scopes.join(', ')}, for ${g.expiration_days} days. The agent receives its token at its next poll.`);
    });
  };

  return (
    <Dialog title={`Approve ${r.name}?`} onClose={onClose}>
      <form className="form" onSubmit={(e) => void submit(e)} noValidate>
        <p>
          Check that the agent shows the code <code className="user-code inline-code">{r.user_code}</code>. You can grant less than it asked for.
        </p>
        <fieldset className="scopes">
          <legend>Scopes</legend>
          {r.scopes.map((s) => (
            <label key={s} className="check">
              <input type="checkbox" checked={scopes.includes(s)} onChange={(e) => setScopes(e.target.checked ? r.scopes.filter((x) => x === s || scopes.includes(x)) : scopes.filter((x) => x !== s))} />
              {s}
            </label>
          ))}
        </fieldset>
        <FieldError error={error} field="scopes" />
        <div className="row">
          <Field label="Monthly budget (USD)" hint={`asked for ${usd(r.monthly_budget)}`} error={budget.shown(submitted) ?? detail(error, 'monthly_budget')}>
            <input inputMode="decimal" value={budget.text} onChange={(e) => budget.setText(e.target.value)} data-autofocus />
          </Field>
          <Field label="Valid for (days)" hint={`asked for ${r.expiration_days}`} error={days.shown(submitted) ?? detail(error, 'expiration_days')}>
            <input inputMode="numeric" value={days.text} onChange={(e) => days.setText(e.target.value)} />
          </Field>
        </div>
        <Field label="Models (patterns, comma-separated)" hint={r.models ? `asked for ${r.models.join(', ')}; grant those or fewer` : 'asked for every model; empty grants that'} error={(submitted && !models.ok ? models.error : null) ?? detail(error, 'models')}>
          <input value={modelsText} onChange={(e) => setModelsText(e.target.value)} placeholder="every model" aria-label="Models" />
        </Field>
        <FormFooter error={error} onCancel={onClose} submitLabel="Approve" busy={busy} disabled={scopes.length === 0} />
      </form>
    </Dialog>
  );
}

function DenyDialog({ r, onClose, onDone }: { r: AccessRequestView; onClose: () => void; onDone: (m: string) => void }) {
  const [reason, setReason] = useState('');
  const { busy, error, run } = useSubmit();
  const submit = async (e: FormEvent) => {
    e.preventDefault();
    await run(async () => {
      await api('POST', `/access-requests/${r.id}/deny`, reason.trim() ? { reason: reason.trim() } : {});
      onDone(`Denied ${r.name} (${r.user_code}). The agent is told at its next poll.`);
    });
  };
  return (
    <Dialog title={`Deny ${r.name}?`} onClose={onClose}>
      <form className="form" onSubmit={(e) => void submit(e)} noValidate>
        <p>
          The agent gets no token and is told its request <code className="user-code inline-code">{r.user_code}</code> was denied.
        </p>
        <Field label="Reason (optional, shown to the agent)" error={detail(error, 'reason')}>
          <textarea rows={2} maxLength={500} value={reason} onChange={(e) => setReason(e.target.value)} data-autofocus />
        </Field>
        <FormFooter error={error} onCancel={onClose} submitLabel="Deny request" busy={busy} tone="danger" />
      </form>
    </Dialog>
  );
}
