/**
 * Form pieces every dialog shares: <Field> (label + input + error, wired for
 * screen readers), <FormFooter> (the general error and the buttons), and the
 * typed-number state behind money and count inputs. Parsing is
 * wire/fields.ts's, the same the admin API applies, so the page refuses
 * exactly what the daemon would — as the user types, not after a round trip.
 */
import { cloneElement, useId, useState, type ReactElement, type ReactNode } from 'react';
import { MORE_THAN_ZERO, parseAmount, parseCount, type Parsed } from '../../../wire/fields';
import { ApiError as ApiErrorClass, type ApiError } from '../api';
import { ErrorNote } from './bits';

/** The API's message for one field of a refused request. */
export const detail = (error: ApiError | null, field: string): string | null => error?.details[field] ?? null;

interface FieldProps {
  label: ReactNode;
  /** The control: gets the id, aria-invalid and aria-describedby. */
  children: ReactElement<Record<string, unknown>>;
  error?: string | null | undefined;
  hint?: ReactNode;
  /** Beside the control, outside its label (e.g. a "No budget" box). */
  extra?: ReactNode;
  className?: string;
}

export function Field({ label, children, error, hint, extra, className }: FieldProps) {
  const id = useId();
  const described = [hint ? `${id}-hint` : null, error ? `${id}-error` : null].filter(Boolean).join(' ');
  return (
    <div className={`field ${className ?? ''}`}>
      <label htmlFor={id}>{label}</label>
      {cloneElement(children, { id, 'aria-invalid': error ? true : undefined, 'aria-describedby': described || undefined })}
      {extra}
      {hint ? (
        <span id={`${id}-hint`} className="muted small">
          {hint}
        </span>
      ) : null}
      {error ? (
        <span id={`${id}-error`} className="field-error" role="alert">
          {error}
        </span>
      ) : null}
    </div>
  );
}

interface FooterProps {
  /** Shown when the API refused the request as a whole (field errors show at their fields). */
  error?: ApiError | null;
  onCancel?: () => void;
  cancelLabel?: string;
  submitLabel: ReactNode;
  /** Without it the button submits its form. */
  onSubmit?: () => void;
  busy?: boolean;
  disabled?: boolean;
  tone?: 'primary' | 'danger';
  autoFocusCancel?: boolean;
  /** Before the buttons, e.g. "Saved". */
  status?: ReactNode;
}

export function FormFooter({ error, onCancel, cancelLabel = 'Cancel', submitLabel, onSubmit, busy, disabled, tone = 'primary', autoFocusCancel, status }: FooterProps) {
  return (
    <>
      {error && Object.keys(error.details).length === 0 ? <ErrorNote error={error} /> : null}
      <div className="actions">
        {status}
        {onCancel ? (
          <button type="button" className="button" onClick={onCancel} {...(autoFocusCancel ? { 'data-autofocus': true } : {})}>
            {cancelLabel}
          </button>
        ) : null}
        <button type={onSubmit ? 'button' : 'submit'} className={`button ${tone}`} onClick={onSubmit} disabled={busy || disabled}>
          {submitLabel}
        </button>
      </div>
    </>
  );
}

export interface TypedNumber {
  text: string;
  setText: (s: string) => void;
  /** The explicit "none" choice (no budget, no limit); only where one is offered. */
  none: boolean;
  setNone: (v: boolean) => void;
  /** The value to send: a number, null for the explicit none, or an error to show. */
  parsed: Parsed<number | null>;
  /** The error to show now: as soon as something is typed, and for an empty field once a submit was tried. */
  shown: (submitted: boolean) => string | null;
}

function useTyped(initialText: string, initialNone: boolean, parse: (s: string) => Parsed<number>): TypedNumber {
  const [text, setText] = useState(initialText);
  const [none, setNone] = useState(initialNone);
  const parsed: Parsed<number | null> = none ? { ok: true, value: null } : parse(text);
  return {
    text,
    setText,
    none,
    setNone,
    parsed,
    shown: (submitted) => (parsed.ok || (text.trim() === '' && !submitted) ? null : parsed.error),
  };
}

/** A money amount as the user types it; `initial` null starts on the explicit "none" when `noneAllowed`. */
export function useMoney(initial: number | null, noneByDefault = initial === null): TypedNumber {
  return useTyped(initial === null ? '' : moneyText(initial), noneByDefault, (s) => parseAmount(s));
}

/** A whole number from `min` to `max`; empty means none (no limit) where the field says so. */
export function useCount(initial: number | null, min: number, max: number, emptyIsNone: boolean): TypedNumber {
  const t = useTyped(initial === null ? '' : String(initial), false, (s) => parseCount(s, min, max));
  if (emptyIsNone && !t.none && t.text.trim() === '') return { ...t, parsed: { ok: true, value: null } };
  return t;
}

/** An optional amount above 0 (a hold threshold, say): empty means none. */
export function useOptionalMoney(initial: number | null): TypedNumber {
  const t = useTyped(initial === null ? '' : moneyText(initial), false, (s) => {
    const p = parseAmount(s);
    return !p.ok && p.error === MORE_THAN_ZERO ? { ok: false, error: 'must be more than 0 (empty: never)' } : p;
  });
  if (t.text.trim() === '') return { ...t, parsed: { ok: true, value: null } };
  return t;
}

/** How an amount goes back into a field: cents always, more decimals only when it has them (0.005 stays 0.005). */
export function moneyText(n: number): string {
  const s = String(Math.round(n * 1e6) / 1e6);
  const dec = s.split('.')[1]?.length ?? 0;
  return n.toFixed(Math.max(2, dec));
}

/** A money field with its "No budget" choice beside it. */
export function MoneyField({ label, money, submitted, serverError, autoFocus }: { label: string; money: TypedNumber; submitted: boolean; serverError?: string | null; autoFocus?: boolean }) {
  return (
    <Field
      label={label}
      error={money.parsed.ok || money.text.trim() !== '' ? (money.shown(submitted) ?? serverError) : submitted ? 'enter an amount, or tick "No budget"' : serverError}
      extra={
        <label className="check small">
          <input type="checkbox" checked={money.none} onChange={(e) => money.setNone(e.target.checked)} />
          No budget
        </label>
      }
    >
      <input
        inputMode="decimal"
        value={money.none ? '' : money.text}
        disabled={money.none}
        onChange={(e) => money.setText(e.target.value)}
        placeholder={money.none ? 'no budget' : 'e.g. 25 or $25.00'}
        {...(autoFocus ? { 'data-autofocus': true } : {})}
      />
    </Field>
  );
}

/** Fields that do not parse, as the error the API would give, so a form shows them the same way without a round trip. */
export function refusal(fields: Record<string, Parsed<unknown>>): ApiError | null {
  const details: Record<string, string> = {};
  for (const [k, r] of Object.entries(fields)) if (!r.ok) details[k] = r.error;
  return Object.keys(details).length ? new ApiErrorClass(400, 'invalid_input', 'Check the fields marked.', details) : null;
}
