/**
 * The charts people ask questions with: a range preset (24h in hours, 7d, 30d
 * or 90d in UTC days), spend split by token or by model, requests, error rate
 * and p50/p95 latency, side by side. The view (range, split) lives in the
 * URL's hash query, so a reload or a shared link shows the same charts.
 */
import type { ReactNode } from 'react';
import { api, type SeriesRange } from '../api';
import { usd } from '../format';
import { setHashQuery, useDebounced, useHashQuery, useLoad } from '../hooks';
import { useLive } from '../live';
import { BarChart } from './BarChart';
import { Card } from './bits';
import { Unavailable } from './DaemonDown';
import { LineChart } from './LineChart';

export const RANGES: SeriesRange[] = ['24h', '7d', '30d', '90d'];
type By = 'token' | 'model';

/** The charts' view from the hash query (`?range=7d&by=model`), with defaults. */
export function useChartView(defaultBy: By = 'token'): { range: SeriesRange; by: By; set: (k: 'range' | 'by', v: string) => void } {
  const q = useHashQuery();
  const range = (RANGES as string[]).includes(q.get('range') ?? '') ? (q.get('range') as SeriesRange) : '30d';
  const by: By = q.get('by') === 'model' || q.get('by') === 'token' ? (q.get('by') as By) : defaultBy;
  const set = (k: 'range' | 'by', v: string) => setHashQuery({ ...Object.fromEntries(q.entries()), [k]: v });
  return { range, by, set };
}

export function Segmented<T extends string>({ label, options, value, onChange, text = (o) => o }: { label: string; options: readonly T[]; value: T; onChange: (v: T) => void; text?: (o: T) => string }) {
  return (
    <div className="segmented" role="group" aria-label={label}>
      {options.map((o) => (
        <button key={o} type="button" aria-pressed={value === o} className={value === o ? 'seg active' : 'seg'} onClick={() => onChange(o)}>
          {text(o)}
        </button>
      ))}
    </div>
  );
}

const tickOf = (step: 'hour' | 'day') => (iso: string) => (step === 'hour' ? `${iso.slice(11, 13)}:00` : iso.slice(5, 10));
const pct = (v: number) => `${Math.round(v * 1000) / 10}%`;
const ms = (v: number) => (v >= 1000 ? `${Math.round(v / 100) / 10} s` : `${Math.round(v)} ms`);
const count = (v: number) => (Number.isInteger(v) ? v.toLocaleString('en-US') : v.toFixed(1));

/** The four charts for everything, or for one token (`token`), with the range and split controls. */
export function SeriesCharts({ token, showSplit = true }: { token?: string; showSplit?: boolean }) {
  const view = useChartView(token ? 'model' : 'token');
  const q = new URLSearchParams({ range: view.range, by: view.by, ...(token ? { token } : {}) }).toString();
  const data = useLoad(() => api('GET', `/series?${q}`), [q]);
  // Live, but at most once a second: a busy agent must not turn every call into a chart query.
  const refresh = useDebounced(() => data.reload(), 1000);
  useLive((kind) => {
    if (kind === 'request') refresh();
  });
  const d = data.data;
  const tick = tickOf(d?.step ?? 'day');
  const unit = d?.step === 'hour' ? 'hour' : 'day (UTC)';
  const body = (chart: ReactNode) => (d ? chart : data.error ? <Unavailable /> : null);
  return (
    <section className="charts" aria-label="Charts" data-range={d?.range ?? ''}>
      <div className="toolbar">
        <Segmented label="Range" options={RANGES} value={view.range} onChange={(v) => view.set('range', v)} />
        {showSplit ? <Segmented label="Split spend by" options={['token', 'model'] as const} value={view.by} onChange={(v) => view.set('by', v)} text={(o) => `By ${o}`} /> : null}
        {d ? (
          <span className="muted small">
            {count(d.total_requests)} requests · {usd(d.total_cost_usd)} · times in UTC
          </span>
        ) : null}
      </div>
      <div className="chart-grid">
        <Card title={`Spend per ${unit}${showSplit ? ` by ${view.by}` : ''}`}>
          {body(<BarChart days={d?.buckets ?? []} series={(d?.split ?? []).map((s) => ({ name: s.name, values: s.cost_usd }))} label={`Spend per ${unit}`} tick={tick} />)}
        </Card>
        <Card title={`Requests per ${unit}`}>
          {body(<BarChart days={d?.buckets ?? []} series={[{ name: 'requests', values: d?.requests ?? [] }]} label={`Requests per ${unit}`} format={count} tick={tick} integer />)}
        </Card>
        <Card title="Error rate">
          {body(<LineChart buckets={d?.buckets ?? []} lines={[{ name: 'error rate', values: d?.error_rate ?? [] }]} label="Error rate" format={pct} tick={tick} />)}
        </Card>
        <Card title="Latency p50 / p95">
          {body(
            <LineChart
              buckets={d?.buckets ?? []}
              lines={[
                { name: 'p50', values: d?.p50_ms ?? [] },
                { name: 'p95', values: d?.p95_ms ?? [] },
              ]}
              label="Latency p50 and p95"
              format={ms}
              tick={tick}
            />,
          )}
        </Card>
      </div>
    </section>
  );
}
