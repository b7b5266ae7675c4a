/** The shell: header with navigation and live status, the current page, and the signed-out screen. */
import { useEffect, useState } from 'react';
import { api, onSignedOut } from './api';
import { DaemonDown, probe } from './components/DaemonDown';
import { HIDDEN_ROUTES, ROUTES, useRoute, type Route } from './hooks';
import { stopLive, useLiveConnected } from './live';
import { Access, usePendingAccess } from './pages/Access';
import { Audit } from './pages/Audit';
import { Overview } from './pages/Overview';
import { Requests } from './pages/Requests';
import { Settings } from './pages/Settings';
import { Setup } from './pages/Setup';
import { Token } from './pages/Token';
import { Tokens } from './pages/Tokens';
import { Usage } from './pages/Usage';

const PAGES: Record<Route, () => React.JSX.Element> = { overview: Overview, tokens: Tokens, access: Access, requests: Requests, usage: Usage, audit: Audit, settings: Settings, setup: Setup, token: Token };

function SignedOut() {
  return (
    <main className="signed-out">
      <h1>Sign in to the sidecar</h1>
      <p>
        Run <code>skillboss-sidecar open</code> in a terminal on this machine. It opens this dashboard with a one-time link that signs you in.
      </p>
      <p className="muted">Links work once, for two minutes. Scripts can use the admin secret in the data dir as a bearer token instead.</p>
    </main>
  );
}

function Shell() {
  const route = useRoute();
  const connected = useLiveConnected();
  const pending = usePendingAccess();
  const Page = PAGES[route];
  // The live stream dropping is the first sign the daemon may be gone: ask, so the page says so at once.
  useEffect(() => {
    if (!connected) void probe();
  }, [connected]);
  useEffect(() => {
    document.title = `${[...ROUTES, ...HIDDEN_ROUTES].find((r) => r.id === route)?.label ?? ''} · SkillBoss Sidecar`;
  }, [route]);
  useEffect(() => {
    // Landing on the bare dashboard (e.g. from a login link) with no SkillBoss key yet: the guided setup is what to do first.
    if (window.location.hash.replace(/^#\/?/, '') !== '') return;
    api('GET', '/status')
      .then((s) => {
        if (s.key.state === 'missing' && window.location.hash.replace(/^#\/?/, '') === '') window.location.replace('#/setup');
      })
      .catch(() => undefined);
  }, []);
  const logout = async () => {
    await api('POST', '/logout').catch(() => undefined);
    window.location.reload();
  };
  return (
    <>
      <header className="top">
        <a className="brand" href="#/overview">
          <img src="/favicon.svg" alt="" width={22} height={22} />
          <span>SkillBoss Sidecar</span>
        </a>
        <nav aria-label="Pages">
          {ROUTES.map((r) => (
            <a key={r.id} href={`#/${r.id}`} className={r.id === route || (route === 'token' && r.id === 'tokens') ? 'nav active' : 'nav'} aria-current={r.id === route ? 'page' : undefined}>
              {r.label}
              {r.id === 'access' && pending > 0 ? (
                <span className="nav-badge">
                  {pending}
                  <span className="sr-only"> waiting</span>
                </span>
              ) : null}
            </a>
          ))}
        </nav>
        <span className={`dot ${connected ? 'good' : 'warn'}`} title={connected ? 'Live updates connected' : 'Live updates reconnecting'} />
        <button type="button" className="button small ghost" onClick={() => void logout()}>
          Sign out
        </button>
      </header>
      <main>
        <DaemonDown />
        <Page key={route === 'token' ? window.location.hash.split('?')[0] : route} />
      </main>
    </>
  );
}

export function App() {
  const [state, setState] = useState<'checking' | 'in' | 'out'>('checking');
  useEffect(() => {
    const off = onSignedOut(() => {
      stopLive();
      setState('out');
    });
    api('GET', '/session')
      .then(() => setState('in'))
      .catch(() => setState('out'));
    return () => {
      off();
    };
  }, []);
  if (state === 'checking') return null;
  return state === 'in' ? <Shell /> : <SignedOut />;
}
