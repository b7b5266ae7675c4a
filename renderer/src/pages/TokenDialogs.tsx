/** The Tokens page's create and edit dialogs (rotate, revoke, pause: TokenActions.tsx). Each calls the admin API and reports back. */
import { useState, type FormEvent } from 'react';
import { api, PRESETS, SCOPES, type Issued, type Scope, type TokenView } from '../api';
import { FieldError } from '../components/bits';
import { Dialog } from '../components/Dialog';
import { detail, Field, FormFooter, MoneyField, useCount, useMoney, useOptionalMoney } from '../components/Field';
import { BUDGET_LABEL, PeriodOptions } from '../components/Spend';
import { day } from '../format';
import { useSubmit } from '../hooks';
import { parseModelList } from '../../../wire/allowlist';

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

/** The model allowlist as typed: comma-separated patterns (wire/allowlist.ts), empty for every model. */
function useModels(initial: string[] | null) {
  const [text, setText] = useState(initial ? initial.join(', ') : '');
  const parsed = text.trim() === '' ? ({ ok: true, value: null } as const) : parseModelList(text);
  return { text, setText, parsed };
}

function ModelsField({ models, submitted, serverError, parentModels }: { models: ReturnType<typeof useModels>; submitted: boolean; serverError: string | null; parentModels?: string[] | null }) {
  const inherited = parentModels ? `empty: the parent's (${parentModels.join(', ')})` : 'empty: every model';
  return (
    <Field label="Models (patterns, comma-separated)" hint={`e.g. gemini/*, bedrock/claude-*, openai/gpt-5; a * at the end takes the rest of the id; ${inherited}`} error={(submitted && !models.parsed.ok ? models.parsed.error : null) ?? serverError}>
      <input value={models.text} onChange={(e) => models.setText(e.target.value)} placeholder={parentModels ? parentModels.join(', ') : 'every model'} aria-label="Models" />
    </Field>
  );
}

export function CreateDialog({ tokens, onClose, onCreated }: { tokens: TokenView[]; onClose: () => void; onCreated: (i: Issued) => void }) {
  const [name, setName] = useState('');
  const [preset, setPreset] = useState<PresetChoice>('write');
  const [scopes, setScopes] = useState<Scope[]>([...PRESETS.write]);
  // Not pre-ticked: a token without a budget is a choice made here, never what a blank field turns into.
  const budget = useMoney(null, false);
  const [period, setPeriod] = useState<TokenView['budget_period']>('month');
  const holdAbove = useOptionalMoney(null);
  const holdRate = useOptionalMoney(null);
  const rpm = useCount(null, 1, 1_000_000, true);
  const [expiry, setExpiry] = useState('never');
  const [date, setDate] = useState('');
  const [parent, setParent] = useState('');
  const models = useModels(null);
  const [submitted, setSubmitted] = useState(false);
  const { busy, error, run } = useSubmit();
  const parents = tokens.filter((t) => t.status === 'active');
  const parentScopes = parents.find((t) => t.id === parent)?.scopes;

  const submit = async (e: FormEvent) => {
    e.preventDefault();
    setSubmitted(true);
    if (!budget.parsed.ok || !rpm.parsed.ok || !holdAbove.parsed.ok || !holdRate.parsed.ok || !models.parsed.ok) return;
    const body: Record<string, unknown> = { name, monthly_budget_usd: budget.parsed.value, budget_period: period };
    if (models.parsed.value !== null) body.models = models.parsed.value;
    if (holdAbove.parsed.value !== null) body.hold_above_usd = holdAbove.parsed.value;
    if (holdRate.parsed.value !== null) body.hold_rate_usd = holdRate.parsed.value;
    if (preset === 'custom') body.scopes = scopes;
    else body.preset = preset;
    if (parent) body.parent_id = parent;
    if (expiry === 'date') body.expires = date;
    else if (expiry !== 'inherit') body.expires = expiry;
    if (rpm.parsed.value !== null) body.rpm = rpm.parsed.value;
    await run(async () => onCreated(await api('POST', '/tokens', body)));
  };

  return (
    <Dialog title="New token" onClose={onClose}>
      <form className="form" onSubmit={(e) => void submit(e)} noValidate>
        <Field label="Name" error={detail(error, 'name')}>
          <input value={name} onChange={(e) => setName(e.target.value)} placeholder="e.g. research-agent" maxLength={100} required data-autofocus />
        </Field>
        <Field label="Permissions" error={detail(error, 'preset')}>
          <select value={preset} onChange={(e) => setPreset(e.target.value as PresetChoice)}>
            <option value="read-only">Read-only (list models and services, read balance)</option>
            <option value="write">Write (read-only + call models and services)</option>
            <option value="admin">Admin (all seven scopes)</option>
            <option value="custom">Custom scopes…</option>
          </select>
        </Field>
        {preset === 'custom' ? <ScopePicker value={scopes} onChange={setScopes} {...(parentScopes ? { allowed: parentScopes } : {})} /> : null}
        <FieldError error={error} field="scopes" />
        <div className="row">
          <Field label="Budget period" error={detail(error, 'budget_period')}>
            <select value={period} onChange={(e) => setPeriod(e.target.value as TokenView['budget_period'])}>
              <PeriodOptions />
            </select>
          </Field>
          <MoneyField label={BUDGET_LABEL[period]} money={budget} submitted={submitted} serverError={detail(error, 'monthly_budget_usd')} />
        </div>
        <div className="row">
          <Field label="Hold for my approval above (USD per period)" hint="empty: never" error={holdAbove.shown(submitted) ?? detail(error, 'hold_above_usd')}>
            <input inputMode="decimal" value={holdAbove.text} onChange={(e) => holdAbove.setText(e.target.value)} placeholder="never" />
          </Field>
          <Field label="Hold for my approval above (USD per hour)" hint="empty: never" error={holdRate.shown(submitted) ?? detail(error, 'hold_rate_usd')}>
            <input inputMode="decimal" value={holdRate.text} onChange={(e) => holdRate.setText(e.target.value)} placeholder="never" />
          </Field>
        </div>
        <div className="row">
          <Field label="Requests per minute" hint="empty: no limit" error={rpm.shown(submitted) ?? detail(error, 'rpm')}>
            <input inputMode="numeric" value={rpm.text} onChange={(e) => rpm.setText(e.target.value)} placeholder="no limit" />
          </Field>
          <Field label="Expires" error={detail(error, 'expires')}>
            <select value={expiry} onChange={(e) => setExpiry(e.target.value)}>
              {parent ? <option value="inherit">With its parent</option> : null}
              <option value="never">Never</option>
              <option value="30d">In 30 days</option>
              <option value="90d">In 90 days</option>
              <option value="365d">In 365 days</option>
              <option value="date">On a date…</option>
            </select>
          </Field>
          {expiry === 'date' ? (
            <Field label="Date (UTC)" error={submitted && !date ? 'pick a date' : null}>
              <input type="date" value={date} onChange={(e) => setDate(e.target.value)} />
            </Field>
          ) : null}
        </div>
        <Field label="Parent" error={detail(error, 'parent_id')}>
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
        </Field>
        <ModelsField models={models} submitted={submitted} serverError={detail(error, 'models')} parentModels={parents.find((t) => t.id === parent)?.models ?? null} />
        <FormFooter error={error} onCancel={onClose} submitLabel="Create token" busy={busy} />
      </form>
    </Dialog>
  );
}

export function EditDialog({ token, onClose, onSaved }: { token: TokenView; onClose: () => void; onSaved: () => void }) {
  const [name, setName] = useState(token.name);
  const budget = useMoney(token.monthly_budget_usd);
  const rpm = useCount(token.rpm, 1, 1_000_000, true);
  const [expires, setExpires] = useState(token.expires_at ? token.expires_at.slice(0, 10) : '');
  const [scopes, setScopes] = useState<Scope[]>(token.scopes);
  const models = useModels(token.models);
  const { busy, error, run } = useSubmit();
  const [submitted, setSubmitted] = useState(false);

  const submit = async (e: FormEvent) => {
    e.preventDefault();
    setSubmitted(true);
    // A field that does not parse stops the save: nothing is sent, so nothing (a budget least of all) is lost.
    if (!budget.parsed.ok || !rpm.parsed.ok || !models.parsed.ok) return;
    const body: Record<string, unknown> = {};
    if (name !== token.name) body.name = name;
    const b = budget.parsed.value;
    if ((b === null ? null : Math.round(b * 1e6)) !== (token.monthly_budget_usd === null ? null : Math.round(token.monthly_budget_usd * 1e6))) body.monthly_budget_usd = b;
    if (rpm.parsed.value !== token.rpm) body.rpm = rpm.parsed.value;
    const exp = expires ? new Date(`${expires}T23:59:59Z`).toISOString() : null;
    if ((token.expires_at?.slice(0, 10) ?? '') !== expires) body.expires_at = exp;
    if (scopes.slice().sort().join() !== token.scopes.slice().sort().join()) body.scopes = scopes;
    if ((models.parsed.value?.join() ?? null) !== (token.models?.join() ?? null)) body.models = models.parsed.value;
    if (Object.keys(body).length === 0) return onClose();
    await run(async () => {
      await api('PATCH', `/tokens/${token.id}`, body);
      onSaved();
    });
  };

  return (
    <Dialog title={`Edit ${token.name}`} onClose={onClose}>
      <form className="form" onSubmit={(e) => void submit(e)} noValidate>
        <Field label="Name" error={detail(error, 'name')}>
          <input value={name} onChange={(e) => setName(e.target.value)} maxLength={100} />
        </Field>
        <div className="row">
          <MoneyField label="Monthly budget (USD)" money={budget} submitted={submitted} serverError={detail(error, 'monthly_budget_usd')} autoFocus />
          <Field label="Requests per minute" hint="empty: no limit" error={rpm.shown(submitted) ?? detail(error, 'rpm')}>
            <input inputMode="numeric" value={rpm.text} onChange={(e) => rpm.setText(e.target.value)} placeholder="no limit" />
          </Field>
        </div>
        <Field label="Expires (end of day, UTC; empty = never)" error={detail(error, 'expires_at')}>
          <input type="date" value={expires} onChange={(e) => setExpires(e.target.value)} />
        </Field>
        <ScopePicker value={scopes} onChange={setScopes} />
        <p className="muted small">Removing a scope removes it from every token under this one too.</p>
        <FieldError error={error} field="scopes" />
        <ModelsField models={models} submitted={submitted} serverError={detail(error, 'models')} />
        <p className="muted small">A narrower list holds every token under this one to it too.</p>
        <FormFooter error={error} onCancel={onClose} submitLabel="Save" busy={busy} />
      </form>
    </Dialog>
  );
}

export function expiryText(t: TokenView): string {
  return t.expires_at ? day(t.expires_at) : 'never';
}
