/**
 * A flood of access requests (made-up agents keeping the queue full, so real
 * ones are turned away): the status's `access_flood` alert on the Access page,
 * and "Deny all waiting" — one confirmed answer instead of a hundred.
 */
import { useState } from 'react';
import { api } from '../api';
import { Dialog } from '../components/Dialog';
import { FormFooter } from '../components/Field';
import { useDebounced, useLoad, useSubmit } from '../hooks';
import { useLive } from '../live';

/** The flood alert, if the daemon raises one; refreshed as requests come and go. */
export function FloodAlert() {
  const status = useLoad(() => api('GET', '/status'), []);
  const refresh = useDebounced(() => status.reload(), 500);
  useLive((kind) => {
    if (kind === 'access_request') refresh();
  });
  const flood = status.data?.alerts.filter((a) => a.kind === 'access_flood') ?? [];
  if (flood.length === 0) return null;
  return (
    <ul className="alerts" aria-label="Access alerts">
      {flood.map((a) => (
        <li key={a.kind} className={`alert ${a.severity}`} data-kind={a.kind}>
          {a.message}
        </li>
      ))}
    </ul>
  );
}

/** The button and its confirmation; `waiting` is how many requests it would deny. */
export function DenyAllWaiting({ waiting, onDone }: { waiting: number; onDone: (message: string) => void }) {
  const [open, setOpen] = useState(false);
  const { busy, error, run } = useSubmit();
  if (waiting === 0) return null;
  const clear = () =>
    run(async () => {
      const r = await api('POST', '/access-requests/clear', {});
      setOpen(false);
      onDone(`Denied ${r.cleared} waiting request${r.cleared === 1 ? '' : 's'}. Their agents are told at their next poll; new agents can ask again.`);
    });
  return (
    <>
      <button type="button" className="button danger" onClick={() => setOpen(true)}>
        Deny all waiting…
      </button>
      {open ? (
        <Dialog title="Deny all waiting requests?" onClose={() => setOpen(false)}>
          <p>
            {waiting === 1 ? 'The one request' : `All ${waiting} requests`} waiting for an answer will be denied, each recorded in the audit log. Use this when you do not recognise them (a flood keeping the
            queue full); an agent you do know can simply ask again.
          </p>
          <FormFooter error={error} onCancel={() => setOpen(false)} autoFocusCancel submitLabel={`Deny ${waiting === 1 ? 'it' : `all ${waiting}`}`} onSubmit={() => void clear()} busy={busy} tone="danger" />
        </Dialog>
      ) : null}
    </>
  );
}
