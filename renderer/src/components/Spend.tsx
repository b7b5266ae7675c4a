/**
 * Spend control in the dashboard (issue 16): the banner for tokens on hold
 * with approve/deny, the hold badge, the forecast cell, and the dialog that
 * sets a token's budget period, hold thresholds and prepaid top-ups.
 */
import { useState } from 'react';
import { api, type ApiError, type TokenView } from '../api';
import { day, usd, when } from '../format';
import { useLoad } from '../hooks';
import { useLive } from '../live';
import { Dialog } from './Dialog';
import { ErrorNote, FieldError } from './bits';

/** Every held token, with what tripped it and the human's two answers. Refreshes on the live feed's `hold` events. */
export function HeldBanner({ onChange }: { onChange: () => void }) {
  const held = useLoad(() => api('GET', '/holds'), []);
  const [error, setError] = useState<ApiError | null>(null);
  const [above, setAbove] = useState<Record<string, string>>({});
  useLive((kind) => {
    if (kind === 'hold') held.reload();
  });
  const decide = async (id: string, decision: 'approve' | 'deny') => {
    setError(null);
    try {
      const raise = above[id]?.trim();
      await api('POST', `/tokens/${id}/hold/${decision}`, decision === 'approve' && raise ? { hold_above_usd: Number(raise) } : {});
      held.reload();
      onChange();
    } catch (err) {
      setError(err as ApiError);
    }
  };
  const rows = held.data?.data ?? [];
  if (rows.length === 0) return null;
  return (
    <ul className="alerts" aria-label="Tokens on hold">
      {rows.map(({ token: t, kind }) => (
        <li key={t.id} className="alert warning" data-held-token={t.id}>
          <strong>{t.name}</strong> is {t.hold?.state === 'denied' ? 'held (denied)' : 'on hold'} since {when(t.hold?.since)}: {t.hold?.reason}. Its agents get 402 until you answer.
          <div className="row-actions">
            {kind === 'above' ? (
              <label className="inline">
                New threshold (USD, optional){' '}
                <input type="number" min="0" step="0.01" value={above[t.id] ?? ''} onChange={(e) => setAbove({ ...above, [t.id]: e.target.value })} aria-label={`New hold threshold for ${t.name}`} />
              </label>
            ) : null}
            <button type="button" className="button small primary" onClick={() => void decide(t.id, 'approve')} aria-label={`Approve ${t.name}`}>
              Approve
            </button>
            {t.hold?.state === 'denied' ? null : (
              <button type="button" className="button small danger" onClick={() => void decide(t.id, 'deny')} aria-label={`Deny ${t.name}`}>
                Deny
              </button>
            )}
          </div>
        </li>
      ))}
      <ErrorNote error={error} />
    </ul>
  );
}

export function HoldBadge({ t }: { t: TokenView }) {
  if (!t.hold) return null;
  return <span className="badge warn" data-hold={t.hold.state}>{t.hold.state === 'denied' ? 'denied' : 'on hold'}</span>;
}

const PERIOD_LABEL = { day: 'today', week: 'this week', month: 'this month', total: 'prepaid' } as const;

/** Spend rate, projected spend at the period's end, and when the budget runs out at that rate: short, with the full sentence as its title. */
export function ForecastCell({ t }: { t: TokenView }) {
  const f = t.forecast;
  const short = (iso: string | null) => (iso ? new Date(iso).toLocaleDateString('en-US', { month: 'short', day: 'numeric', timeZone: 'UTC' }) : '');
  const runs = t.monthly_budget_usd === null ? '' : f.runs_out_at ? `runs out ${when(f.runs_out_at)}` : 'lasts the period';
  const title =
    `${usd(f.spend_rate_usd_per_hour)} per hour on average ${PERIOD_LABEL[t.budget_period]}` +
    (f.projected_period_spend_usd === null ? '' : `; ${usd(f.projected_period_spend_usd)} by ${day(f.period_ends_at)} at that rate`) +
    (runs ? `; ${runs}` : '');
  return (
    <span className="small muted forecast" data-forecast={t.id} title={title}>
      {usd(f.spend_rate_usd_per_hour)}/h
      {f.projected_period_spend_usd === null ? ' · prepaid' : ` → ${usd(f.projected_period_spend_usd)} by ${short(f.period_ends_at)}`}
      {f.runs_out_at ? ` · out ${short(f.runs_out_at)}` : ''}
    </span>
  );
}

/** The four budget periods, for a <select>; the create dialog shows the same. */
export function PeriodOptions() {
  return (
    <>
      <option value="day">per day (resets 00:00 UTC)</option>
      <option value="week">per week (resets Monday 00:00 UTC)</option>
      <option value="month">per month (resets on the 1st, UTC)</option>
      <option value="total">total: prepaid, never resets</option>
    </>
  );
}

/** The budget field's label for a period; "Monthly budget (USD)" is the default period's. */
export const BUDGET_LABEL = { day: 'Daily budget (USD)', week: 'Weekly budget (USD)', month: 'Monthly budget (USD)', total: 'Total budget (USD, prepaid)' } as const;

const num = (s: string): number | null => (s.trim() === '' ? null : Number(s));

/** Budget period, amount, hold thresholds and (for prepaid budgets) a top-up, for one token. */
export function BudgetDialog({ token: t, onClose, onSaved }: { token: TokenView; onClose: () => void; onSaved: () => void }) {
  const [period, setPeriod] = useState(t.budget_period);
  const [budget, setBudget] = useState(t.monthly_budget_usd === null ? '' : String(t.monthly_budget_usd));
  const [holdAbove, setHoldAbove] = useState(t.hold_above_usd === null ? '' : String(t.hold_above_usd));
  const [holdRate, setHoldRate] = useState(t.hold_rate_usd === null ? '' : String(t.hold_rate_usd));
  const [topup, setTopup] = useState('');
  const [error, setError] = useState<ApiError | null>(null);
  const save = async () => {
    setError(null);
    try {
      await api('PATCH', `/tokens/${t.id}`, { budget_period: period, monthly_budget_usd: num(budget), hold_above_usd: num(holdAbove), hold_rate_usd: num(holdRate) });
      if (num(topup) !== null) await api('POST', `/tokens/${t.id}/topup`, { amount_usd: num(topup) });
      onSaved();
    } catch (err) {
      setError(err as ApiError);
    }
  };
  return (
    <Dialog title={`Budget and holds: ${t.name}`} onClose={onClose}>
      <label className="field">
        Period
        <select value={period} onChange={(e) => setPeriod(e.target.value as TokenView['budget_period'])} aria-label="Budget period">
          <PeriodOptions />
        </select>
        <FieldError error={error} field="budget_period" />
      </label>
      <label className="field">
        Budget (USD, empty for none)
        <input type="number" min="0" step="0.01" value={budget} onChange={(e) => setBudget(e.target.value)} aria-label="Budget" />
        <FieldError error={error} field="monthly_budget_usd" />
      </label>
      {period === 'total' && t.budget_period === 'total' && t.monthly_budget_usd !== null ? (
        <label className="field">
          Top up (USD){t.topped_up_usd > 0 ? `; ${usd(t.topped_up_usd)} added so far` : ''}
          <input type="number" min="0" step="0.01" value={topup} onChange={(e) => setTopup(e.target.value)} aria-label="Top up" />
          <FieldError error={error} field="amount_usd" />
        </label>
      ) : null}
      <label className="field">
        Hold for my approval above (USD per period, empty for never)
        <input type="number" min="0" step="0.01" value={holdAbove} onChange={(e) => setHoldAbove(e.target.value)} aria-label="Hold above" />
        <FieldError error={error} field="hold_above_usd" />
      </label>
      <label className="field">
        Hold for my approval above (USD per hour, empty for never)
        <input type="number" min="0" step="0.01" value={holdRate} onChange={(e) => setHoldRate(e.target.value)} aria-label="Hold rate" />
        <FieldError error={error} field="hold_rate_usd" />
      </label>
      <ErrorNote error={error} />
      <div className="actions">
        <button type="button" className="button" onClick={onClose}>
          Cancel
        </button>
        <button type="button" className="button primary" onClick={() => void save()}>
          Save
        </button>
      </div>
    </Dialog>
  );
}
