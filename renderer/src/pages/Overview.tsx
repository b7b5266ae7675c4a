/** Overview: the upstream, this month's spend against budgets, spend per day, top tokens, alerts, the pause switch. */
import { useState } from 'react';
import { api, ApiError, UNREACHABLE } from '../api';
import { Unavailable } from '../components/DaemonDown';
import { KEY_SHORT, keyCondition, keyTone } from '../keystate';
import { BarChart, toSeries } from '../components/BarChart';
import { BudgetBar, Card, Empty, ErrorNote } from '../components/bits';
import { ago, daysBetween, int, monthRange, usd, utc } from '../format';
import { useDebounced, useLoad } from '../hooks';
import { useLive } from '../live';

export function Overview() {
  const range = monthRange();
  const status = useLoad(() => api('GET', '/status'), []);
  const daily = useLoad(() => api('GET', `/usage?by=day&from=${range.from}&to=${range.to}`), [range.from, range.to]);
  const byToken = useLoad(() => api('GET', `/usage?by=token&from=${range.from}&to=${range.to}`), [range.from, range.to]);
  const tokens = useLoad(() => api('GET', '/tokens'), []);
  const refresh = useDebounced(() => {
    status.reload();
    daily.reload();
    byToken.reload();
    tokens.reload();
  }, 500);
  useLive(() => refresh());

  const [pauseError, setPauseError] = useState<ApiError | null>(null);
  const togglePause = async (paused: boolean) => {
    try {
      await api('POST', '/pause', { paused });
      setPauseError(null);
    } catch (e) {
      setPauseError(e as ApiError);
    }
    status.reload();
  };

  const s = status.data;
  // Without the daemon nothing here is known: say so in each place a number would be, never show an empty state.
  const down = [status, daily, byToken].some((l) => l.error?.code === UNREACHABLE);
  const none = down ? <Unavailable /> : null;
  const days = daysBetween(range.from, range.to);
  const top = (byToken.data?.data ?? []).slice(0, 5);
  const names = new Map((tokens.data?.data ?? []).map((t) => [t.id, t]));

  return (
    <div className="page">
      <ErrorNote error={status.error} />
      {s?.key.state === 'missing' ? (
        <section className="card cta" aria-label="Finish setting up">
          <h2>Finish setting up</h2>
          <p>No SkillBoss API key is set yet, so agents get 503. The guided setup takes a minute: paste the key, create a first token, point an agent at it.</p>
          <a className="button primary" href="#/setup">
            Start the setup
          </a>
        </section>
      ) : null}
      {s && s.alerts.length > 0 ? (
        <ul className="alerts" aria-label="Alerts">
          {s.alerts.map((a, i) => (
            <li key={`${a.kind}-${a.token_id ?? i}`} className={`alert ${a.severity}`} data-kind={a.kind}>
              {a.message}
              {a.kind === 'access_pending' ? (
                <>
                  {' '}
                  <a href="#/access">Review them</a>
                </>
              ) : null}
            </li>
          ))}
        </ul>
      ) : null}
      <div className="grid">
        <Card title="Upstream">
          {s ? (
            <dl className="facts">
              <dt>Key</dt>
              <dd>
                <span className={`dot ${keyTone(keyCondition(s))}`} aria-hidden="true" />
                {s.key.masked ? `${s.key.masked} · ` : ''}
                {KEY_SHORT[keyCondition(s)]}
              </dd>
              <dt>Balance</dt>
              <dd className={s.upstream.credits === 'out' ? 'bad-text' : ''}>
                {s.upstream.balance_usd === null ? '—' : usd(s.upstream.balance_usd)}
                {s.upstream.credits === 'out' ? ' · out of credits' : ''}
              </dd>
              <dt>Models</dt>
              <dd>
                {int(s.upstream.model_count)} · synced {ago(s.upstream.models_synced_at)}
              </dd>
              <dt>API</dt>
              <dd className="mono small wrap">{s.upstream.url}</dd>
            </dl>
          ) : (
            none
          )}
        </Card>
        <Card title={`Spend in ${s?.period ?? 'this month'}`}>
          {s ? (
            <>
              <p className="big">{usd(s.spend.this_period_usd)}</p>
              <BudgetBar spent={s.spend.this_period_usd} budget={s.spend.budgets_usd > 0 ? s.spend.budgets_usd : null} />
              <p className="muted small">
                against the sum of top-level budgets{s.spend.unbudgeted_roots ? ` (${s.spend.unbudgeted_roots} top-level token${s.spend.unbudgeted_roots > 1 ? 's have' : ' has'} no budget)` : ''}; resets {utc(s.period_resets_at)}
              </p>
            </>
          ) : (
            none
          )}
        </Card>
        <Card title="Sidecar">
          {s ? (
            <dl className="facts">
              <dt>Agents</dt>
              <dd>
                {s.tokens.active} active of {s.tokens.total} tokens
              </dd>
              <dt>Calls</dt>
              <dd className="pause-row">
                <span className={s.paused ? 'bad-text' : ''}>{s.paused ? 'paused: agents get 503' : 'flowing'}</span>
                <button type="button" className={s.paused ? 'button small primary' : 'button small danger'} onClick={() => void togglePause(!s.paused)}>
                  {s.paused ? 'Resume agents' : 'Pause all agents'}
                </button>
              </dd>
              <dt>Base URL</dt>
              <dd className="mono small">{`${window.location.origin}/v1`}</dd>
              <dt>Version</dt>
              <dd>
                {s.version} · up {Math.round(s.uptime_s / 60)} min
              </dd>
            </dl>
          ) : (
            none
          )}
          <ErrorNote error={pauseError} />
        </Card>
      </div>
      <Card title="Spend per day" className="wide">
        {down && !daily.data ? none : <BarChart days={days} series={daily.data ? toSeries(days, daily.data.data, () => 'spend') : []} label="Spend per day this month" />}
      </Card>
      <Card title="Top tokens this month" className="wide">
        {!byToken.data ? (
          none
        ) : top.length === 0 ? (
          <Empty>
            No requests this month yet. <a href="#/tokens?create=1">Create a token</a> and point an agent at <code>{`${window.location.origin}/v1`}</code>.
          </Empty>
        ) : (
          <table className="table">
            <thead>
              <tr>
                <th>Token</th>
                <th className="num">Requests</th>
                <th className="num">Spend</th>
                <th className="hide-narrow">Budget</th>
              </tr>
            </thead>
            <tbody>
              {top.map((r) => {
                const t = names.get(r.token_id ?? '');
                return (
                  <tr key={r.token_id}>
                    <td className="name-cell">
                      <a href={`#/token/${r.token_id}`}>{r.token_name ?? r.token_id}</a>
                      <span className="muted mono small hide-narrow"> {r.token_id}</span>
                    </td>
                    <td className="num">{int(r.requests)}</td>
                    <td className="num">{usd(r.cost_usd)}</td>
                    <td className="hide-narrow">{t ? <BudgetBar spent={t.spent_usd} budget={t.monthly_budget_usd} /> : null}</td>
                  </tr>
                );
              })}
            </tbody>
          </table>
        )}
      </Card>
    </div>
  );
}
