/**
 * Settings: the upstream key (write-only: the field is emptied after saving
 * and only `sk-…` + the last four ever come back), the upstream URL and
 * rotation schedule, limits, allowed hosts and origins, and prices.
 */
import { useEffect, useState, type FormEvent, type ReactNode } from 'react';
import { api, ApiError, type Settings as SettingsData } from '../api';
import { Card, ErrorNote } from '../components/bits';
import { useLoad } from '../hooks';

function Errors({ error, prefix }: { error: ApiError | null; prefix: string }) {
  if (!error) return null;
  const msgs = Object.entries(error.details).filter(([k]) => k === prefix || k.startsWith(`${prefix}.`));
  if (!msgs.length) return null;
  return (
    <span className="field-error" role="alert">
      {msgs.map(([k, m]) => (k === prefix ? m : `line ${Number(k.split('.')[1] ?? 0) + 1}: ${m}`)).join('; ')}
    </span>
  );
}

function Section({ title, children, onSubmit, saved, error }: { title: string; children: ReactNode; onSubmit: () => Promise<void>; saved: boolean; error: ApiError | null }) {
  const submit = (e: FormEvent) => {
    e.preventDefault();
    void onSubmit();
  };
  return (
    <Card title={title} className="wide">
      <form className="form" onSubmit={submit} noValidate>
        {children}
        {error && Object.keys(error.details).length === 0 ? <ErrorNote error={error} /> : null}
        <div className="actions">
          {saved ? (
            <span className="saved" role="status">
              Saved
            </span>
          ) : null}
          <button type="submit" className="button primary">
            Save
          </button>
        </div>
      </form>
    </Card>
  );
}

/** State for one settings form: submit through `save`, remember errors and success. */
function useSave(after: (s: SettingsData) => void) {
  const [error, setError] = useState<ApiError | null>(null);
  const [saved, setSaved] = useState(false);
  const save = async (body: Record<string, unknown>) => {
    setSaved(false);
    try {
      after(await api<SettingsData>('PATCH', '/settings', body));
      setError(null);
      setSaved(true);
    } catch (e) {
      setError(e as ApiError);
    }
  };
  return { error, saved, save };
}

const lines = (s: string) =>
  s
    .split('\n')
    .map((x) => x.trim())
    .filter(Boolean);

export function Settings() {
  const loaded = useLoad(() => api<SettingsData>('GET', '/settings'), []);
  const [data, setData] = useState<SettingsData | null>(null);
  useEffect(() => setData(loaded.data), [loaded.data]);
  if (!data) return <div className="page">{loaded.error ? <ErrorNote error={loaded.error} /> : null}</div>;
  return (
    <div className="page">
      <h1>Settings</h1>
      <KeySection data={data} onChange={setData} />
      <UpstreamSection data={data} onChange={setData} />
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
      const r = await api<{ key: SettingsData['key']; upstream: { key: string } }>('PUT', '/key', { key });
      onChange({ ...data, key: r.key });
      setError(null);
      setResult(r.upstream.key === 'valid' ? 'Saved. SkillBoss accepted the key.' : r.upstream.key === 'invalid' ? 'Saved, but SkillBoss rejected this key (401).' : 'Saved. It could not be checked with SkillBoss yet.');
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
      <label className="field">
        <span>{data.key.masked ? 'Replace with' : 'Set the key'}</span>
        <input type="password" autoComplete="off" spellCheck={false} value={key} onChange={(e) => setKey(e.target.value)} placeholder="sk-…" />
        <Errors error={error} prefix="key" />
      </label>
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
  const [days, setDays] = useState(data.key_rotation_days === null ? '' : String(data.key_rotation_days));
  const [maxTokens, setMaxTokens] = useState(String(data.default_max_tokens));
  const { error, saved, save } = useSave(onChange);
  return (
    <Section
      title="Upstream and limits"
      saved={saved}
      error={error}
      onSubmit={() => save({ upstream_url: url, key_rotation_days: days.trim() === '' ? null : Number(days), default_max_tokens: Number(maxTokens) })}
    >
      <label className="field">
        <span>SkillBoss API URL</span>
        <input value={url} onChange={(e) => setUrl(e.target.value)} spellCheck={false} />
        <Errors error={error} prefix="upstream_url" />
      </label>
      <div className="row">
        <label className="field">
          <span>Rotate the SkillBoss key every (days; empty = never)</span>
          <input inputMode="numeric" value={days} onChange={(e) => setDays(e.target.value)} />
          <Errors error={error} prefix="key_rotation_days" />
        </label>
        <label className="field">
          <span>max_tokens reserved when a request sets none</span>
          <input inputMode="numeric" value={maxTokens} onChange={(e) => setMaxTokens(e.target.value)} />
          <Errors error={error} prefix="default_max_tokens" />
        </label>
      </div>
    </Section>
  );
}

function AccessSection({ data, onChange }: { data: SettingsData; onChange: (s: SettingsData) => void }) {
  const [hosts, setHosts] = useState(data.webhook_allowed_hosts.join('\n'));
  const [origins, setOrigins] = useState(data.allowed_origins.join('\n'));
  const { error, saved, save } = useSave(onChange);
  return (
    <Section title="Webhooks and browser agents" saved={saved} error={error} onSubmit={() => save({ webhook_allowed_hosts: lines(hosts), allowed_origins: lines(origins) })}>
      <label className="field">
        <span>Hosts rotation webhooks may go to, besides this machine (one per line)</span>
        <textarea rows={3} value={hosts} onChange={(e) => setHosts(e.target.value)} spellCheck={false} placeholder="hooks.example.com" />
        <Errors error={error} prefix="webhook_allowed_hosts" />
      </label>
      <label className="field">
        <span>Browser origins allowed to call the agent API (one per line; never the admin API)</span>
        <textarea rows={3} value={origins} onChange={(e) => setOrigins(e.target.value)} spellCheck={false} placeholder="http://localhost:5173" />
        <Errors error={error} prefix="allowed_origins" />
      </label>
    </Section>
  );
}

function PricesSection({ data, onChange }: { data: SettingsData; onChange: (s: SettingsData) => void }) {
  const initial = () => Object.fromEntries(data.prices.map((p) => [p.id, { prompt: p.override?.prompt?.toString() ?? '', completion: p.override?.completion?.toString() ?? '' }]));
  const [edits, setEdits] = useState<Record<string, { prompt: string; completion: string }>>(initial);
  const [defPrompt, setDefPrompt] = useState(String(data.default_price.prompt));
  const [defCompletion, setDefCompletion] = useState(String(data.default_price.completion));
  const { error, saved, save } = useSave(onChange);
  const submit = () => {
    const overrides: Record<string, { prompt: number | null; completion: number | null } | null> = {};
    for (const p of data.prices) {
      const e = edits[p.id] ?? { prompt: '', completion: '' };
      const prompt = e.prompt.trim() === '' ? null : Number(e.prompt);
      const completion = e.completion.trim() === '' ? null : Number(e.completion);
      const was = p.override;
      if ((was?.prompt ?? null) !== prompt || (was?.completion ?? null) !== completion) overrides[p.id] = prompt === null && completion === null ? null : { prompt, completion };
    }
    return save({ default_price: { prompt: Number(defPrompt), completion: Number(defCompletion) }, ...(Object.keys(overrides).length ? { price_overrides: overrides } : {}) });
  };
  const set = (id: string, k: 'prompt' | 'completion', v: string) => setEdits((prev) => ({ ...prev, [id]: { ...(prev[id] ?? { prompt: '', completion: '' }), [k]: v } }));
  return (
    <Section title="Prices (USD per million tokens)" saved={saved} error={error} onSubmit={submit}>
      <div className="row">
        <label className="field">
          <span>Unknown models: prompt</span>
          <input inputMode="decimal" value={defPrompt} onChange={(e) => setDefPrompt(e.target.value)} />
          <Errors error={error} prefix="default_price.prompt" />
        </label>
        <label className="field">
          <span>Unknown models: completion</span>
          <input inputMode="decimal" value={defCompletion} onChange={(e) => setDefCompletion(e.target.value)} />
          <Errors error={error} prefix="default_price.completion" />
        </label>
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
