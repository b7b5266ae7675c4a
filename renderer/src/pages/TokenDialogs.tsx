/** The dialogs of the Tokens page: create, edit, rotate, revoke. Each calls the admin API and reports back. */
import { useState, type FormEvent } from 'react';
import { api, ApiError, PRESETS, SCOPES, type Issued, type Scope, type TokenDetail, type TokenView } from '../api';
import { ErrorNote, FieldError } from '../components/bits';
import { Dialog } from '../components/Dialog';
import { day } from '../format';
import { useLoad } from '../hooks';

type PresetChoice = keyof typeof PRESETS | 'custom';

function ScopePicker({ value, onChange, allowed }: { value: Scope[]; onChange: (s: Scope[]) => void; allowed?: Scope[] }) {
  return (
    <fieldset className="scopes">
      <legend>Scopes</legend>
      {SCOPES.map((s) => {
        const disabled = allowed !== undefined && !allowed.includes(s);
        return (
          <label key={s} className={disabled ? 'check disabled' : 'check'}>
            <input
              type="checkbox"
              checked={value.includes(s)}
              disabled={disabled}
              onChange={(e) => onChange(e.target.checked ? [...value, s] : value.filter((x) => x !== s))}
            />
            {s}
          </label>
        );
      })}
    </fieldset>
  );
}

function num(s: string): number | null {
  return s.trim() === '' ? null : Number(s);
}

export function CreateDialog({ tokens, onClose, onCreated }: { tokens: TokenView[]; onClose: () => void; onCreated: (i: Issued) => void }) {
  const [name, setName] = useState('');
  const [preset, setPreset] = useState<PresetChoice>('write');
  const [scopes, setScopes] = useState<Scope[]>([...PRESETS.write]);
  const [budget, setBudget] = useState('');
  const [expiry, setExpiry] = useState('never');
  const [date, setDate] = useState('');
  const [parent, setParent] = useState('');
  const [rpm, setRpm] = useState('');
  const [error, setError] = useState<ApiError | null>(null);
  const [busy, setBusy] = useState(false);
  const parents = tokens.filter((t) => t.status === 'active');
  const parentScopes = parents.find((t) => t.id === parent)?.scopes;

  const submit = async (e: FormEvent) => {
    e.preventDefault();
    setBusy(true);
    const body: Record<string, unknown> = { name };
    if (preset === 'custom') body.scopes = scopes;
    else body.preset = preset;
    if (budget.trim() !== '') body.monthly_budget_usd = num(budget);
    if (parent) body.parent_id = parent;
    if (expiry === 'date') body.expires = date;
    else if (expiry !== 'inherit') body.expires = expiry;
    if (rpm.trim() !== '') body.rpm = num(rpm);
    try {
      const issued = await api<Issued>('POST', '/tokens', body);
      onCreated(issued);
    } catch (err) {
      setError(err as ApiError);
    } finally {
      setBusy(false);
    }
  };

  return (
    <Dialog title="New token" onClose={onClose}>
      <form className="form" onSubmit={(e) => void submit(e)} noValidate>
        <label className="field">
          <span>Name</span>
          <input value={name} onChange={(e) => setName(e.target.value)} placeholder="e.g. research-agent" maxLength={100} required data-autofocus />
          <FieldError error={error} field="name" />
        </label>
        <label className="field">
          <span>Permissions</span>
          <select value={preset} onChange={(e) => setPreset(e.target.value as PresetChoice)}>
            <option value="read-only">Read-only (list models and services, read balance)</option>
            <option value="write">Write (read-only + call models and services)</option>
            <option value="admin">Admin (all seven scopes)</option>
            <option value="custom">Custom scopes…</option>
          </select>
          <FieldError error={error} field="preset" />
        </label>
        {preset === 'custom' ? <ScopePicker value={scopes} onChange={setScopes} {...(parentScopes ? { allowed: parentScopes } : {})} /> : null}
        <FieldError error={error} field="scopes" />
        <div className="row">
          <label className="field">
            <span>Monthly budget (USD)</span>
            <input inputMode="decimal" value={budget} onChange={(e) => setBudget(e.target.value)} placeholder="none" />
            <FieldError error={error} field="monthly_budget_usd" />
          </label>
          <label className="field">
            <span>Requests per minute</span>
            <input inputMode="numeric" value={rpm} onChange={(e) => setRpm(e.target.value)} placeholder="unlimited" />
            <FieldError error={error} field="rpm" />
          </label>
        </div>
        <div className="row">
          <label className="field">
            <span>Expires</span>
            <select value={expiry} onChange={(e) => setExpiry(e.target.value)}>
              {parent ? <option value="inherit">With its parent</option> : null}
              <option value="never">Never</option>
              <option value="30d">In 30 days</option>
              <option value="90d">In 90 days</option>
              <option value="365d">In 365 days</option>
              <option value="date">On a date…</option>
            </select>
            <FieldError error={error} field="expires" />
          </label>
          {expiry === 'date' ? (
            <label className="field">
              <span>Date</span>
              <input type="date" value={date} onChange={(e) => setDate(e.target.value)} />
            </label>
          ) : null}
        </div>
        <label className="field">
          <span>Parent</span>
          <select
            value={parent}
            onChange={(e) => {
              setParent(e.target.value);
              if (e.target.value && expiry === 'never') setExpiry('inherit');
            }}
          >
            <option value="">None (a top-level token)</option>
            {parents.map((t) => (
              <option key={t.id} value={t.id}>
                {'  '.repeat(t.depth)}
                {t.name} ({t.id})
              </option>
            ))}
          </select>
          <FieldError error={error} field="parent_id" />
        </label>
        {error && Object.keys(error.details).length === 0 ? <ErrorNote error={error} /> : null}
        <div className="actions">
          <button type="button" className="button" onClick={onClose}>
            Cancel
          </button>
          <button type="submit" className="button primary" disabled={busy}>
            Create token
          </button>
        </div>
      </form>
    </Dialog>
  );
}

export function EditDialog({ token, onClose, onSaved }: { token: TokenView; onClose: () => void; onSaved: () => void }) {
  const [name, setName] = useState(token.name);
  const [budget, setBudget] = useState(token.monthly_budget_usd === null ? '' : String(token.monthly_budget_usd));
  const [rpm, setRpm] = useState(token.rpm === null ? '' : String(token.rpm));
  const [expires, setExpires] = useState(token.expires_at ? token.expires_at.slice(0, 10) : '');
  const [scopes, setScopes] = useState<Scope[]>(token.scopes);
  const [error, setError] = useState<ApiError | null>(null);

  const submit = async (e: FormEvent) => {
    e.preventDefault();
    const body: Record<string, unknown> = {};
    if (name !== token.name) body.name = name;
    const b = num(budget);
    if (b !== token.monthly_budget_usd) body.monthly_budget_usd = b;
    const r = num(rpm);
    if (r !== token.rpm) body.rpm = r;
    const exp = expires ? new Date(`${expires}T23:59:59Z`).toISOString() : null;
    if ((token.expires_at?.slice(0, 10) ?? '') !== expires) body.expires_at = exp;
    if (scopes.slice().sort().join() !== token.scopes.slice().sort().join()) body.scopes = scopes;
    if (Object.keys(body).length === 0) return onClose();
    try {
      await api('PATCH', `/tokens/${token.id}`, body);
      onSaved();
    } catch (err) {
      setError(err as ApiError);
    }
  };

  return (
    <Dialog title={`Edit ${token.name}`} onClose={onClose}>
      <form className="form" onSubmit={(e) => void submit(e)} noValidate>
        <label className="field">
          <span>Name</span>
          <input value={name} onChange={(e) => setName(e.target.value)} maxLength={100} />
          <FieldError error={error} field="name" />
        </label>
        <div className="row">
          <label className="field">
            <span>Monthly budget (USD)</span>
            <input inputMode="decimal" value={budget} onChange={(e) => setBudget(e.target.value)} placeholder="none" data-autofocus />
            <FieldError error={error} field="monthly_budget_usd" />
          </label>
          <label className="field">
            <span>Requests per minute</span>
            <input inputMode="numeric" value={rpm} onChange={(e) => setRpm(e.target.value)} placeholder="unlimited" />
            <FieldError error={error} field="rpm" />
          </label>
        </div>
        <label className="field">
          <span>Expires (end of day, UTC; empty = never)</span>
          <input type="date" value={expires} onChange={(e) => setExpires(e.target.value)} />
          <FieldError error={error} field="expires_at" />
        </label>
        <ScopePicker value={scopes} onChange={setScopes} />
        <p className="muted small">Removing a scope removes it from every token under this one too.</p>
        <FieldError error={error} field="scopes" />
        {error && Object.keys(error.details).length === 0 ? <ErrorNote error={error} /> : null}
        <div className="actions">
          <button type="button" className="button" onClick={onClose}>
            Cancel
          </button>
          <button type="submit" className="button primary">
            Save
          </button>
        </div>
      </form>
    </Dialog>
  );
}

export function RotateDialog({ token, onClose, onRotated }: { token: TokenView; onClose: () => void; onRotated: (i: Issued) => void }) {
  const [grace, setGrace] = useState('7');
  const [error, setError] = useState<ApiError | null>(null);
  const rotate = async () => {
    try {
      onRotated(await api<Issued>('POST', `/tokens/${token.id}/rotate`, { grace_days: Number(grace) }));
    } catch (err) {
      setError(err as ApiError);
    }
  };
  return (
    <Dialog title={`Rotate ${token.name}`} onClose={onClose}>
      <p>A new secret replaces the current one. The token keeps its id, budget, spend and children.</p>
      <label className="field">
        <span>The old secret keeps working for</span>
        <select value={grace} onChange={(e) => setGrace(e.target.value)} data-autofocus>
          <option value="0">No time (stops at once)</option>
          <option value="1">1 day</option>
          <option value="7">7 days</option>
          <option value="30">30 days</option>
        </select>
      </label>
      <ErrorNote error={error} />
      <div className="actions">
        <button type="button" className="button" onClick={onClose}>
          Cancel
        </button>
        <button type="button" className="button primary" onClick={() => void rotate()}>
          Rotate
        </button>
      </div>
    </Dialog>
  );
}

export function RevokeDialog({ token, onClose, onRevoked }: { token: TokenView; onClose: () => void; onRevoked: (ids: string[]) => void }) {
  const detail = useLoad(() => api<TokenDetail>('GET', `/tokens/${token.id}`), [token.id]);
  const [error, setError] = useState<ApiError | null>(null);
  const live = (detail.data?.subtree ?? []).filter((t) => !t.revoked);
  const under = live.filter((t) => t.id !== token.id);
  const revoke = async () => {
    try {
      onRevoked((await api<{ revoked: string[] }>('POST', `/tokens/${token.id}/revoke`, {})).revoked);
    } catch (err) {
      setError(err as ApiError);
    }
  };
  return (
    <Dialog title={`Revoke ${token.name}?`} onClose={onClose}>
      <p>
        Agents using <strong>{token.name}</strong> get 401 from their next call. This cannot be undone.
      </p>
      {under.length > 0 ? (
        <>
          <p>
            It also revokes the {under.length} token{under.length > 1 ? 's' : ''} under it:
          </p>
          <ul className="subtree-list">
            {under.map((t) => (
              <li key={t.id}>
                {t.name} <span className="mono muted small">{t.id}</span>
              </li>
            ))}
          </ul>
        </>
      ) : detail.data ? (
        <p className="muted">No tokens are under it.</p>
      ) : null}
      <ErrorNote error={error ?? detail.error} />
      <div className="actions">
        <button type="button" className="button" onClick={onClose} data-autofocus>
          Cancel
        </button>
        <button type="button" className="button danger" onClick={() => void revoke()} disabled={!detail.data}>
          Revoke {live.length > 1 ? `${live.length} tokens` : token.name}
        </button>
      </div>
    </Dialog>
  );
}

export function expiryText(t: TokenView): string {
  return t.expires_at ? day(t.expires_at) : 'never';
}
