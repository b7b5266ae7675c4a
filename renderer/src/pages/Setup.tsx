/**
 * First run (issue 8): a short guided setup at `#/setup`, where the tray
 * opens the window while no SkillBoss key is set. Three steps: paste the key
 * (into the OS keychain, checked against SkillBoss; only `sk-…` and the last
 * four come back), create a first token (its secret shown once in the
 * SecretDialog, then dropped), and point an agent at the sidecar.
 */
import { useState, type FormEvent, type ReactNode } from 'react';
import { api, type Issued, type Status, type TokenView } from '../api';
import { CopyButton, ErrorNote } from '../components/bits';
import { detail, Field, FormFooter, MoneyField, useMoney } from '../components/Field';
import { SecretDialog } from '../components/SecretDialog';
import { useLoad, useSubmit } from '../hooks';
import { KEY_SENTENCE, keyCondition } from '../keystate';

function Step({ n, title, done, children }: { n: number; title: string; done: boolean; children: ReactNode }) {
  return (
    <section className={`card step ${done ? 'done' : ''}`} aria-label={title}>
      <h2 className="step-title">
        <span className="step-n" aria-hidden="true">
          {done ? '✓' : n}
        </span>
        {title}
        {done ? <span className="sr-only"> (done)</span> : null}
      </h2>
      {children}
    </section>
  );
}

export function Setup() {
  const status = useLoad(() => api('GET', '/status'), []);
  const s = status.data;
  const [created, setCreated] = useState<TokenView | null>(null);
  // Saved counts as done even when SkillBoss could not check it yet; the step says which.
  const keyOk = s !== null && (keyCondition(s) === 'valid' || keyCondition(s) === 'unchecked');
  const base = `${window.location.origin}/v1`;

  return (
    <div className="page setup">
      <h1>Set up the sidecar</h1>
      <p className="muted">Agents on this machine will use SkillBoss through the sidecar, each with its own token, budget and expiry. The real key stays in the OS keychain.</p>
      <ErrorNote error={status.error} />
      {s ? (
        <>
          <Step n={1} title="Your SkillBoss API key" done={keyOk}>
            <KeyStep status={s} onSaved={() => status.reload()} />
          </Step>
          <Step n={2} title="A token for your first agent" done={created !== null}>
            <TokenStep created={created} onCreated={setCreated} />
          </Step>
          <Step n={3} title="Point your agent at the sidecar" done={false}>
            <p>Agents use the OpenAI API shape. Give yours the base URL and the token you copied in step 2:</p>
            <div className="secret-row">
              <code className="secret" data-testid="base-url">
                {base}
              </code>
              <CopyButton text={() => base} label="Copy base URL" />
            </div>
            <pre className="snippet-plain">
              <code>{`export OPENAI_BASE_URL=${base}\nexport OPENAI_API_KEY=<the token from step 2>`}</code>
            </pre>
            <p>
              Or let an agent set itself up: tell it to follow <a href="/skill.md">{`${window.location.origin}/skill.md`}</a>. It asks for access, and its request appears under{' '}
              <a href="#/access">Access</a> with a code to compare before you approve.
            </p>
            <div className="actions">
              <a className="button primary" href="#/overview">
                Go to the overview
              </a>
            </div>
          </Step>
        </>
      ) : null}
    </div>
  );
}

function KeyStep({ status, onSaved }: { status: Status; onSaved: () => void }) {
  const [key, setKey] = useState('');
  const { busy, error, run } = useSubmit();
  const submit = async (e: FormEvent) => {
    e.preventDefault();
    await run(async () => {
      try {
        await api('PUT', '/key', { key });
        onSaved();
      } finally {
        // Write-only: the typed key never stays in the page.
        setKey('');
      }
    });
  };
  const condition = keyCondition(status);
  if (status.key.state === 'unavailable') {
    return (
      <p className="notice error" role="alert">
        {status.key.reason ?? 'The OS keychain is unavailable.'}
      </p>
    );
  }
  return (
    <form className="form" onSubmit={(e) => void submit(e)} noValidate>
      {status.key.masked ? (
        // One state, from the status the daemon reports now: the key as stored and what SkillBoss said of it.
        <p className={condition === 'valid' ? 'notice' : 'notice error'} role={condition === 'valid' ? 'status' : 'alert'}>
          <strong className="mono">{status.key.masked}</strong>: <span>{KEY_SENTENCE[condition]}</span> Paste another only to replace it.
        </p>
      ) : (
        <p>Paste the API key from your SkillBoss account. It goes into the OS keychain; this page and the sidecar's files never show it again, only its last four characters.</p>
      )}
      <Field label="SkillBoss API key" error={detail(error, 'key')}>
        <input type="password" autoComplete="off" spellCheck={false} value={key} onChange={(e) => setKey(e.target.value)} placeholder="sk-…" data-autofocus />
      </Field>
      <FormFooter error={error} submitLabel="Save key" busy={busy} disabled={key.trim() === ''} />
    </form>
  );
}

function TokenStep({ created, onCreated }: { created: TokenView | null; onCreated: (t: TokenView) => void }) {
  const [name, setName] = useState('my-agent');
  const budget = useMoney(10, false);
  const [expires, setExpires] = useState('90d');
  const [submitted, setSubmitted] = useState(false);
  const { busy, error, run } = useSubmit();
  // The secret just issued; dropped the moment its dialog closes.
  const [issued, setIssued] = useState<Issued | null>(null);

  const submit = async (e: FormEvent) => {
    e.preventDefault();
    setSubmitted(true);
    if (!budget.parsed.ok) return;
    const body: Record<string, unknown> = { name, preset: 'write', expires, monthly_budget_usd: budget.parsed.value };
    await run(async () => setIssued(await api('POST', '/tokens', body)));
  };
  const closeSecret = () => {
    if (!issued) return;
    onCreated(issued.token);
    // As on the Tokens page: wiping the object the closing dialog's props share drops the secret from memory too.
    issued.secret = '';
    setIssued(null);
  };

  return (
    <>
      {created ? (
        <p role="status">
          Created <strong>{created.name}</strong> <span className="mono small muted">{created.id}</span>. Its secret was shown once; if it is lost, rotate the token on the <a href="#/tokens">Tokens</a> page.
        </p>
      ) : (
        <form className="form" onSubmit={(e) => void submit(e)} noValidate>
          <p>Each agent gets its own token, so you can see what it spends and cut it off alone. This one may call models and services.</p>
          <div className="row">
            <Field label="Name" error={detail(error, 'name')}>
              <input value={name} onChange={(e) => setName(e.target.value)} maxLength={100} />
            </Field>
            <MoneyField label="Monthly budget (USD)" money={budget} submitted={submitted} serverError={detail(error, 'monthly_budget_usd')} />
            <Field label="Expires" error={detail(error, 'expires')}>
              <select value={expires} onChange={(e) => setExpires(e.target.value)}>
                <option value="30d">In 30 days</option>
                <option value="90d">In 90 days</option>
                <option value="365d">In 365 days</option>
                <option value="never">Never</option>
              </select>
            </Field>
          </div>
          <FormFooter error={error} submitLabel="Create token" busy={busy} />
        </form>
      )}
      {issued ? <SecretDialog issued={issued} onClose={closeSecret} /> : null}
    </>
  );
}
