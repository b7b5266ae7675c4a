/**
 * Settings: the upstream key (write-only: the field is emptied after saving
 * and only `sk-…` + the last four ever come back), the upstream and control
 * plane URLs and rotation schedule, limits, what SkillBoss and agents see of
 * each other, allowed hosts and origins, and prices.
 */
import { useEffect, useId, useState, type FormEvent, type ReactNode } from 'react';
import { api, ApiError, type Settings as SettingsData } from '../api';
import { parseCount, parseUsd, type Parsed } from '../../../wire/fields';
import { Card, ErrorNote } from '../components/bits';
import { Dialog } from '../components/Dialog';
import { Field, FormFooter, refusal } from '../components/Field';
import { useLoad } from '../hooks';
import { KEY_SENTENCE, keyCondition } from '../keystate';

/** The API's (or the page's own) messages for a field and its items (`webhook_allowed_hosts.1` is line 2). */
function errorsOf(error: ApiError | null, prefix: string): string | null {
  const msgs = Object.entries(error?.details ?? {}).filter(([k]) => k === prefix || k.startsWith(`${prefix}.`));
  return msgs.length ? msgs.map(([k, m]) => (k === prefix ? m : `line ${Number(k.split('.')[1] ?? 0) + 1}: ${m}`)).join('; ') : null;
}

function Errors({ error, prefix }: { error: ApiError | null; prefix: string }) {
  const msg = errorsOf(error, prefix);
  return msg ? (
    <span className="field-error" role="alert">
      {msg}
    </span>
  ) : null;
}

function Section({ title, children, onSubmit, saved, error }: { title: string; children: ReactNode; onSubmit: () => Promise<unknown>; saved: boolean; error: ApiError | null }) {
  const submit = (e: FormEvent) => {
    e.preventDefault();
    void onSubmit();
  };
  return (
    <Card title={title} className="wide">
      <form className="form" onSubmit={submit} noValidate>
        {children}
        <FormFooter
          error={error}
          submitLabel="Save"
          status={
            saved ? (
              <span className="saved" role="status">
                Saved
              </span>
            ) : null
          }
        />
      </form>
    </Card>
  );
}

/** State for one settings form: submit through `save`, remember errors and success. */
function useSave(after: (s: SettingsData) => void) {
  const [error, setError] = useState<ApiError | null>(null);
  const [saved, setSaved] = useState(false);
  const save = async (body: Record<string, unknown>, headers: Record<string, string> = {}): Promise<ApiError | null> => {
    setSaved(false);
    try {
      after(await api('PATCH', '/settings', body, headers));
      setError(null);
      setSaved(true);
      return null;
    } catch (e) {
      setError(e as ApiError);
      return e as ApiError;
    }
  };
  /** Refused on the page (a field that does not parse): shown like the API's refusal, nothing sent. */
  const fail = async (e: ApiError | null) => {
    setSaved(false);
    setError(e);
  };
  return { error, saved, save, fail };
}

const lines = (s: string) =>
  s
    .split('\n')
    .map((x) => x.trim())
    .filter(Boolean);

export function Settings() {
  const loaded = useLoad(() => api('GET', '/settings'), []);
  const [data, setData] = useState<SettingsData | null>(null);
  useEffect(() => setData(loaded.data), [loaded.data]);
  if (!data) return <div className="page">{loaded.error ? <ErrorNote error={loaded.error} /> : null}</div>;
  return (
    <div className="page">
      <h1>Settings</h1>
      <KeySection data={data} onChange={setData} />
      <UpstreamSection data={data} onChange={setData} />
      <PrivacySection data={data} onChange={setData} />
      <AccessSection data={data} onChange={setData} />
      <PricesSection data={data} onChange={setData} />
    </div>
  );
}

function KeySection({ data, onChange }: { data: SettingsData; onChange: (s: SettingsData) => void }) {
  const [key, setKey] = useState('');
  const [error, setError] = useState<ApiError | null>(null);
  const [result, setResult] = useState<string | null>(null);
  const submit = async () => {
    setResult(null);
    try {
      const r = await api('PUT', '/key', { key });
      onChange({ ...data, key: r.key });
      setError(null);
      // The same words as everywhere else the key's state is shown (keystate.ts).
      setResult(KEY_SENTENCE[keyCondition(r)]);
    } catch (e) {
      setError(e as ApiError);
    } finally {
      // Write-only: the typed key never stays in the page.
      setKey('');
    }
  };
  return (
    <Section title="SkillBoss API key" onSubmit={submit} saved={false} error={error}>
      <p>
        Current key: <strong className="mono">{data.key.masked ?? 'none'}</strong> <span className="muted">(kept in the {data.key.store === 'os-keychain' ? 'OS keychain' : data.key.store}; it never leaves it except to call SkillBoss)</span>
      </p>
      <Field label={data.key.masked ? 'Replace with' : 'Set the key'} error={errorsOf(error, 'key')}>
        <input type="password" autoComplete="off" spellCheck={false} value={key} onChange={(e) => setKey(e.target.value)} placeholder="sk-…" />
      </Field>
      {result ? (
        <p className="notice" role="status">
          {result}
        </p>
      ) : null}
    </Section>
  );
}

function UpstreamSection({ data, onChange }: { data: SettingsData; onChange: (s: SettingsData) => void }) {
  const [url, setUrl] = useState(data.upstream_url);
  const [controlPlane, setControlPlane] = useState(data.control_plane_url ?? '');
  const [days, setDays] = useState(data.key_rotation_days === null ? '' : String(data.key_rotation_days));
  const [maxTokens, setMaxTokens] = useState(String(data.default_max_tokens));
  const { error, saved, save, fail } = useSave(onChange);
  // A change of where the key goes needs the admin secret besides the session (issue 25 item 10): asked for here.
  const [confirm, setConfirm] = useState<Record<string, unknown> | null>(null);
  const send = async (body: Record<string, unknown>) => {
    const refused = await save(body);
    if (refused?.code === 'admin_secret_required') setConfirm(body);
  };
  return (
    <>
      {confirm ? <ProofDialog onClose={() => setConfirm(null)} onProof={(secret) => save(confirm, { 'x-sidecar-admin-secret': secret })} /> : null}
      <Section
        title="Upstream and limits"
        saved={saved}
        error={error}
        onSubmit={() => {
          const rotation: Parsed<number | null> = days.trim() === '' ? { ok: true, value: null } : parseCount(days, 1, 3650);
          const maxTok = parseCount(maxTokens, 1, 1_000_000);
          const bad = refusal({ key_rotation_days: rotation, default_max_tokens: maxTok });
          if (bad || !rotation.ok || !maxTok.ok) return fail(bad);
          // Empty = derived from the upstream URL again (null); sent only when it changes, as it needs the secret.
          const cp = controlPlane.trim() === '' ? null : controlPlane.trim();
          return send({
            ...(url.trim() !== data.upstream_url ? { upstream_url: url } : {}),
            ...(cp !== data.control_plane_url ? { control_plane_url: cp } : {}),
            key_rotation_days: rotation.value,
            default_max_tokens: maxTok.value,
          });
        }}
      >
        <Field label="SkillBoss API URL" error={errorsOf(error, 'upstream_url')}>
          <input value={url} onChange={(e) => setUrl(e.target.value)} spellCheck={false} />
        </Field>
        <Field label="SkillBoss control plane URL (balance and billing; empty = derived from the API URL)" error={errorsOf(error, 'control_plane_url')}>
          <input type="url" value={controlPlane} onChange={(e) => setControlPlane(e.target.value)} spellCheck={false} placeholder="derived from the API URL" />
        </Field>
        <div className="row">
          <Field label="Rotate the SkillBoss key every (days; empty = never)" error={errorsOf(error, 'key_rotation_days')}>
            <input inputMode="numeric" value={days} onChange={(e) => setDays(e.target.value)} />
          </Field>
          <Field label="max_tokens reserved when a request sets none" error={errorsOf(error, 'default_max_tokens')}>
            <input inputMode="numeric" value={maxTokens} onChange={(e) => setMaxTokens(e.target.value)} />
          </Field>
        </div>
      </Section>
    </>
  );
}

/** Asks for the admin secret for a change a session alone may not make; the secret is sent once and not kept. */
function ProofDialog({ onClose, onProof }: { onClose: () => void; onProof: (secret: string) => Promise<ApiError | null> }) {
  const [secret, setSecret] = useState('');
  const [error, setError] = useState<ApiError | null>(null);
  const [busy, setBusy] = useState(false);
  const submit = async () => {
    setBusy(true);
    const refused = await onProof(secret.trim());
    setBusy(false);
    setSecret('');
    if (refused) setError(refused);
    else onClose();
  };
  return (
    <Dialog title="Confirm with the admin secret" onClose={onClose}>
      <form
        className="form"
        noValidate
        onSubmit={(e) => {
          e.preventDefault();
          void submit();
        }}
      >
        <p>The SkillBoss API and control plane URLs decide where the sidecar sends your SkillBoss key, so changing them takes the admin secret as well as this sign-in. It is the <code>admin-secret</code> file in the sidecar&apos;s data dir.</p>
        <Field label="Admin secret" error={null}>
          <input type="password" autoComplete="off" spellCheck={false} value={secret} onChange={(e) => setSecret(e.target.value)} placeholder="sk-sba-…" data-autofocus />
        </Field>
        {error ? <ErrorNote error={error} /> : null}
        <FormFooter error={null} onCancel={onClose} submitLabel="Change the URL" busy={busy} disabled={secret.trim() === ''} />
      </form>
    </Dialog>
  );
}

/** A labelled switch with its one-sentence explanation (read out with it). */
function Switch({ label, hint, checked, onChange }: { label: string; hint: ReactNode; checked: boolean; onChange: (v: boolean) => void }) {
  const id = useId();
  return (
    <div className="field">
      <label className="check">
        <input type="checkbox" role="switch" checked={checked} onChange={(e) => onChange(e.target.checked)} aria-describedby={`${id}-hint`} />
        {label}
      </label>
      <span id={`${id}-hint`} className="muted small">
        {hint}
      </span>
    </div>
  );
}

function PrivacySection({ data, onChange }: { data: SettingsData; onChange: (s: SettingsData) => void }) {
  const [passFields, setPassFields] = useState(data.pass_upstream_fields);
  const [sendName, setSendName] = useState(data.send_agent_name);
  const { error, saved, save } = useSave(onChange);
  return (
    <Section title="What SkillBoss and agents see" saved={saved} error={error} onSubmit={() => save({ send_agent_name: sendName, pass_upstream_fields: passFields })}>
      <Switch
        label="Send each token's name to SkillBoss"
        checked={sendName}
        onChange={setSendName}
        hint={
          <>
            Every request carries the token&apos;s name upstream as <code>X-Agent-Name</code>, for SkillBoss&apos;s per-agent analytics; off, SkillBoss does not learn your agents&apos; names.
          </>
        }
      />
      <Switch
        label="Pass SkillBoss's own _ fields to agents"
        checked={passFields}
        onChange={setPassFields}
        hint={
          <>
            Off, the fields SkillBoss adds to answers (<code>_memory_hint</code>, which asks an agent to edit its memory files, <code>_tip</code>, <code>_streak</code>, …) are removed before an agent sees them; on, agents get them.
          </>
        }
      />
    </Section>
  );
}

function AccessSection({ data, onChange }: { data: SettingsData; onChange: (s: SettingsData) => void }) {
  const [hosts, setHosts] = useState(data.webhook_allowed_hosts.join('\n'));
  const [origins, setOrigins] = useState(data.allowed_origins.join('\n'));
  const { error, saved, save } = useSave(onChange);
  return (
    <Section title="Webhooks and browser agents" saved={saved} error={error} onSubmit={() => save({ webhook_allowed_hosts: lines(hosts), allowed_origins: lines(origins) })}>
      <Field label="Hosts rotation webhooks may go to, besides this machine (one per line)" error={errorsOf(error, 'webhook_allowed_hosts')}>
        <textarea rows={3} value={hosts} onChange={(e) => setHosts(e.target.value)} spellCheck={false} placeholder="hooks.example.com" />
      </Field>
      <Field label="Browser origins allowed to call the agent API (one per line; never the admin API)" error={errorsOf(error, 'allowed_origins')}>
        <textarea rows={3} value={origins} onChange={(e) => setOrigins(e.target.value)} spellCheck={false} placeholder="http://localhost:5173" />
      </Field>
    </Section>
  );
}

function PricesSection({ data, onChange }: { data: SettingsData; onChange: (s: SettingsData) => void }) {
  const initial = () => Object.fromEntries(data.prices.map((p) => [p.id, { prompt: p.override?.prompt?.toString() ?? '', completion: p.override?.completion?.toString() ?? '' }]));
  const [edits, setEdits] = useState<Record<string, { prompt: string; completion: string }>>(initial);
  const [defPrompt, setDefPrompt] = useState(String(data.default_price.prompt));
  const [defCompletion, setDefCompletion] = useState(String(data.default_price.completion));
  const { error, saved, save, fail } = useSave(onChange);
  const submit = () => {
    const overrides: Record<string, { prompt: number | null; completion: number | null } | null> = {};
    // Empty override = the SkillBoss price; anything else must be an amount, or nothing is saved.
    const checks: Record<string, Parsed<number | null>> = { 'default_price.prompt': parseUsd(defPrompt), 'default_price.completion': parseUsd(defCompletion) };
    const optional = (t: string): Parsed<number | null> => (t.trim() === '' ? { ok: true, value: null } : parseUsd(t));
    for (const p of data.prices) {
      const e = edits[p.id] ?? { prompt: '', completion: '' };
      const prompt = (checks[`price_overrides.${p.id}.prompt`] = optional(e.prompt));
      const completion = (checks[`price_overrides.${p.id}.completion`] = optional(e.completion));
      if (!prompt.ok || !completion.ok) continue;
      const was = p.override;
      if ((was?.prompt ?? null) !== prompt.value || (was?.completion ?? null) !== completion.value) overrides[p.id] = prompt.value === null && completion.value === null ? null : { prompt: prompt.value, completion: completion.value };
    }
    const bad = refusal(checks);
    if (bad) return fail(bad);
    const value = (k: string) => (checks[k] as { value: number }).value;
    return save({ default_price: { prompt: value('default_price.prompt'), completion: value('default_price.completion') }, ...(Object.keys(overrides).length ? { price_overrides: overrides } : {}) });
  };
  const set = (id: string, k: 'prompt' | 'completion', v: string) => setEdits((prev) => ({ ...prev, [id]: { ...(prev[id] ?? { prompt: '', completion: '' }), [k]: v } }));
  return (
    <Section title="Prices (USD per million tokens)" saved={saved} error={error} onSubmit={submit}>
      <div className="row">
        <Field label="Unknown models: prompt" error={errorsOf(error, 'default_price.prompt')}>
          <input inputMode="decimal" value={defPrompt} onChange={(e) => setDefPrompt(e.target.value)} />
        </Field>
        <Field label="Unknown models: completion" error={errorsOf(error, 'default_price.completion')}>
          <input inputMode="decimal" value={defCompletion} onChange={(e) => setDefCompletion(e.target.value)} />
        </Field>
      </div>
      <div className="table-wrap">
        <table className="table prices">
          <thead>
            <tr>
              <th>Model</th>
              <th className="num hide-narrow">SkillBoss price</th>
              <th>Override prompt</th>
              <th>Override completion</th>
            </tr>
          </thead>
          <tbody>
            {data.prices.map((p) => (
              <tr key={p.id}>
                <td className="mono small ellipsis" title={p.id}>
                  {p.id}
                </td>
                <td className="num hide-narrow small">{p.upstream ? `${p.upstream.prompt ?? '—'} / ${p.upstream.completion ?? '—'}` : 'unknown'}</td>
                <td>
                  <input aria-label={`Prompt price override for ${p.id}`} className="narrow" inputMode="decimal" value={edits[p.id]?.prompt ?? ''} placeholder="—" onChange={(e) => set(p.id, 'prompt', e.target.value)} />
                  <Errors error={error} prefix={`price_overrides.${p.id}.prompt`} />
                </td>
                <td>
                  <input aria-label={`Completion price override for ${p.id}`} className="narrow" inputMode="decimal" value={edits[p.id]?.completion ?? ''} placeholder="—" onChange={(e) => set(p.id, 'completion', e.target.value)} />
                  <Errors error={error} prefix={`price_overrides.${p.id}.completion`} />
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
    </Section>
  );
}
