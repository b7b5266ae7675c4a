/**
 * A hand-made stacked bar chart in SVG: one bar per day, one colour per
 * series (the biggest few; the rest as "other"). Drawn at the element's real
 * width so text stays legible in a narrow window.
 */
import { useWidth } from '../hooks';
import { usd } from '../format';

export interface Series {
  name: string;
  values: number[];
}

export const HEIGHT = 180;
export const PAD = { top: 10, right: 8, bottom: 22, left: 66 };

export function niceMax(v: number): number {
  if (v <= 0) return 1;
  const exp = 10 ** Math.floor(Math.log10(v));
  const f = v / exp;
  return (f <= 1 ? 1 : f <= 2 ? 2 : f <= 5 ? 5 : 10) * exp;
}

interface BarProps {
  /** One bar per entry: YYYY-MM-DD days, or ISO bucket starts with `tick`. */
  days: string[];
  series: Series[];
  label: string;
  /** Axis and tooltip text for a value (default USD). */
  format?: (v: number) => string;
  /** Axis text under a bar (default MM-DD). */
  tick?: (d: string) => string;
  /** Counts: no "2.5 requests" gridline. */
  integer?: boolean;
}

export function BarChart({ days, series, label, format = usd, tick = (d) => d.slice(5, 10), integer = false }: BarProps) {
  const [ref, width] = useWidth<HTMLDivElement>();
  const totals = days.map((_, i) => series.reduce((a, s) => a + (s.values[i] ?? 0), 0));
  const max = niceMax(Math.max(0, ...totals));
  const w = Math.max(200, width);
  const plotW = w - PAD.left - PAD.right;
  const plotH = HEIGHT - PAD.top - PAD.bottom;
  const slot = days.length ? plotW / days.length : plotW;
  const bar = Math.max(1, Math.min(28, slot * 0.7));
  const y = (v: number) => PAD.top + plotH - (v / max) * plotH;
  const ticks = [0, max / 2, max].filter((t) => !integer || Number.isInteger(t));
  const labelEvery = Math.max(1, Math.ceil(days.length / Math.max(1, Math.floor(plotW / 56))));

  return (
    <div className="chart" ref={ref}>
      {width > 0 ? (
        <svg width={w} height={HEIGHT} role="img" aria-label={label} viewBox={`0 0 ${w} ${HEIGHT}`}>
          {ticks.map((t) => (
            <g key={t}>
              <line className="grid" x1={PAD.left} x2={w - PAD.right} y1={y(t)} y2={y(t)} />
              <text className="axis" x={PAD.left - 6} y={y(t) + 4} textAnchor="end">
                {format(t)}
              </text>
            </g>
          ))}
          {days.map((d, i) => {
            let base = 0;
            const x = PAD.left + i * slot + (slot - bar) / 2;
            return (
              <g key={d}>
                <title>{`${tick(d)}: ${format(totals[i] ?? 0)}`}</title>
                {series.map((s, si) => {
                  const v = s.values[i] ?? 0;
                  if (v <= 0) return null;
                  const top = y(base + v);
                  const h = y(base) - top;
                  base += v;
                  return <rect key={s.name} className={`c${si % 8}`} x={x} y={top} width={bar} height={Math.max(0.5, h)} rx={1.5} />;
                })}
                {i % labelEvery === 0 ? (
                  <text className="axis" x={x + bar / 2} y={HEIGHT - 6} textAnchor="middle">
                    {tick(d)}
                  </text>
                ) : null}
              </g>
            );
          })}
        </svg>
      ) : null}
      {series.length > 1 ? (
        <ul className="legend">
          {series.map((s, i) => (
            <li key={s.name}>
              <span className={`swatch c${i % 8}`} aria-hidden="true" />
              {s.name}
            </li>
          ))}
        </ul>
      ) : null}
    </div>
  );
}

/** Turns day × key usage rows into at most `top` series plus "other". */
export function toSeries<R extends { day?: string | undefined; cost_usd: number }>(days: string[], rows: R[], keyOf: (r: R) => string, top = 6): Series[] {
  const index = new Map(days.map((d, i) => [d, i]));
  const byKey = new Map<string, number[]>();
  const totals = new Map<string, number>();
  for (const r of rows) {
    const k = keyOf(r);
    const i = index.get(r.day ?? '');
    if (i === undefined) continue;
    const vals = byKey.get(k) ?? new Array<number>(days.length).fill(0);
    vals[i] = (vals[i] ?? 0) + r.cost_usd;
    byKey.set(k, vals);
    totals.set(k, (totals.get(k) ?? 0) + r.cost_usd);
  }
  const ranked = [...totals.entries()].sort((a, b) => b[1] - a[1]).map(([k]) => k);
  const out: Series[] = ranked.slice(0, top).map((k) => ({ name: k, values: byKey.get(k)! }));
  const rest = ranked.slice(top);
  if (rest.length) {
    out.push({ name: `other (${rest.length})`, values: days.map((_, i) => rest.reduce((a, k) => a + (byKey.get(k)![i] ?? 0), 0)) });
  }
  return out;
}
