/** Small shared pieces: budget bar, status badge, field errors, notices, copy button. */
import { useEffect, useRef, useState, type ReactNode } from 'react';
import { UNREACHABLE, type ApiError, type TokenStatus } from '../api';
import { usd } from '../format';

export function BudgetBar({ spent, budget }: { spent: number; budget: number | null }) {
  if (budget === null) {
    return (
      <div className="budget" title="No budget of its own (still held by any ancestor's)">
        <span className="budget-text">{usd(spent)} · no budget</span>
      </div>
    );
  }
  const ratio = budget === 0 ? 1 : Math.min(1, spent / budget);
  const level = ratio >= 1 ? 'full' : ratio >= 0.8 ? 'high' : 'ok';
  return (
    <div className="budget" role="meter" aria-valuemin={0} aria-valuemax={budget} aria-valuenow={spent} aria-label={`${usd(spent)} of ${usd(budget)} spent`}>
      <div className="budget-track">
        <div className={`budget-fill ${level}`} style={{ width: `${(ratio * 100).toFixed(2)}%` }} data-ratio={ratio.toFixed(6)} />
      </div>
      <span className="budget-text">
        {usd(spent)} / {usd(budget)}
      </span>
    </div>
  );
}

const STATUS_LABEL: Record<TokenStatus, string> = {
  active: 'active',
  revoked: 'revoked',
  expired: 'expired',
  parent_revoked: 'parent revoked',
  parent_expired: 'parent expired',
};

export function StatusBadge({ status }: { status: TokenStatus }) {
  return <span className={`badge ${status === 'active' ? 'good' : 'bad'}`}>{STATUS_LABEL[status]}</span>;
}

export function HttpStatus({ status }: { status: number }) {
  return <span className={`badge ${status < 400 ? 'good' : status === 402 || status === 429 ? 'warn' : 'bad'}`}>{status}</span>;
}

export function ErrorNote({ error }: { error: ApiError | null }) {
  // A daemon that does not answer is said once, for the whole page, by <DaemonDown>.
  if (!error || error.code === UNREACHABLE) return null;
  return (
    <p className="notice error" role="alert">
      {error.message}
    </p>
  );
}

export function FieldError({ error, field }: { error: ApiError | null; field: string }) {
  const msg = error?.details[field];
  return msg ? (
    <span className="field-error" role="alert">
      {msg}
    </span>
  ) : null;
}

export function Card({ title, children, className }: { title: string; children: ReactNode; className?: string }) {
  return (
    <section className={`card ${className ?? ''}`} aria-label={title}>
      <h2 className="card-title">{title}</h2>
      {children}
    </section>
  );
}

/** Copies `text` to the clipboard; falls back to selecting it when the Clipboard API is refused. */
export function CopyButton({ text, label = 'Copy', target }: { text: () => string; label?: string; target?: () => HTMLElement | null }) {
  const [done, setDone] = useState<'copied' | 'select' | null>(null);
  const timer = useRef<number | null>(null);
  // A pending timer would keep this component's closures (and so a secret) alive after its dialog closed.
  useEffect(() => () => {
    if (timer.current !== null) window.clearTimeout(timer.current);
  }, []);
  const copy = async () => {
    try {
      await navigator.clipboard.writeText(text());
      setDone('copied');
    } catch {
      const el = target?.();
      if (el) {
        const range = document.createRange();
        range.selectNodeContents(el);
        const sel = window.getSelection();
        sel?.removeAllRanges();
        sel?.addRange(range);
      }
      setDone('select');
    }
    if (timer.current !== null) window.clearTimeout(timer.current);
    timer.current = window.setTimeout(() => setDone(null), 2000);
  };
  return (
    <button type="button" className="button small" onClick={() => void copy()}>
      {done === 'copied' ? 'Copied' : done === 'select' ? 'Selected: press Ctrl+C' : label}
    </button>
  );
}

export function Empty({ children }: { children: ReactNode }) {
  return <p className="empty">{children}</p>;
}
