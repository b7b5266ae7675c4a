/**
 * A hand-made stacked bar chart in SVG: one bar per day, one colour per
 * series (the biggest few; the rest as "other"). Drawn at the element's real
 * width so text stays legible in a narrow window.
 */
import { useWidth } from '../hooks';
import { usd } from '../format';
import { ChartFrame, frameOf, HEIGHT, niceMax, PAD } from './ChartFrame';

export interface Series {
  name: string;
  values: number[];
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
  const frame = frameOf(width, days.length, max);
  const { slot, y, labelEvery } = frame;
  const bar = Math.max(1, Math.min(28, slot * 0.7));
  const ticks = [0, max / 2, max].filter((t) => !integer || Number.isInteger(t));

  return (
    <div className="chart" ref={ref}>
      <ChartFrame width={width} frame={frame} label={label} ticks={ticks} format={format} names={series.map((s) => s.name)}>
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
      </ChartFrame>
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
