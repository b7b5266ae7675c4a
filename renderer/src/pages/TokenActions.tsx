/** The Tokens page's rotate and revoke dialogs, shared with the token page. Each calls the admin API and reports back. */
import { useState } from 'react';
import { api, ApiError, type Issued, type TokenView } from '../api';
import { Dialog } from '../components/Dialog';
import { Field, FormFooter } from '../components/Field';
import { useLoad } from '../hooks';

export function RotateDialog({ token, onClose, onRotated }: { token: TokenView; onClose: () => void; onRotated: (i: Issued) => void }) {
  const [grace, setGrace] = useState('7');
  const [error, setError] = useState<ApiError | null>(null);
  const rotate = async () => {
    try {
      onRotated(await api('POST', `/tokens/${token.id}/rotate`, { grace_days: Number(grace) }));
    } catch (err) {
      setError(err as ApiError);
    }
  };
  return (
    <Dialog title={`Rotate ${token.name}`} onClose={onClose}>
      <p>A new secret replaces the current one. The token keeps its id, budget, spend and children.</p>
      <Field label="The old secret keeps working for" error={error?.details.grace_days}>
        <select value={grace} onChange={(e) => setGrace(e.target.value)} data-autofocus>
          <option value="0">No time (stops at once)</option>
          <option value="1">1 day</option>
          <option value="7">7 days</option>
          <option value="30">30 days</option>
        </select>
      </Field>
      <FormFooter error={error} onCancel={onClose} submitLabel="Rotate" onSubmit={() => void rotate()} />
    </Dialog>
  );
}

export function RevokeDialog({ token, onClose, onRevoked }: { token: TokenView; onClose: () => void; onRevoked: (ids: string[]) => void }) {
  const detail = useLoad(() => api('GET', `/tokens/${token.id}`), [token.id]);
  const [error, setError] = useState<ApiError | null>(null);
  const live = (detail.data?.subtree ?? []).filter((t) => !t.revoked);
  const under = live.filter((t) => t.id !== token.id);
  const revoke = async () => {
    try {
      onRevoked((await api('POST', `/tokens/${token.id}/revoke`, {})).revoked);
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
      <FormFooter
        error={error ?? detail.error}
        onCancel={onClose}
        autoFocusCancel
        tone="danger"
        submitLabel={`Revoke ${live.length > 1 ? `${live.length} tokens` : token.name}`}
        onSubmit={() => void revoke()}
        disabled={!detail.data}
      />
    </Dialog>
  );
}

