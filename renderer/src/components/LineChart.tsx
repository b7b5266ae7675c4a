/**
 * A hand-made line chart in SVG (like BarChart, drawn at the element's real
 * width): a few lines over the same buckets, gaps where a value is unknown
 * (no requests in a bucket means no error rate and no latency, not zero).
 */
import { useWidth } from '../hooks';
import { HEIGHT, niceMax, PAD } from './BarChart';

export interface Line {
  name: string;
  values: Array<number | null>;
}

export function LineChart({ buckets, lines, label, format, tick }: { buckets: string[]; lines: Line[]; label: string; format: (v: number) => string; tick: (d: string) => string }) {
  const [ref, width] = useWidth<HTMLDivElement>();
  const all = lines.flatMap((l) => l.values.filter((v): v is number => v !== null));
  const max = niceMax(Math.max(0, ...all));
  const w = Math.max(200, width);
  const plotW = w - PAD.left - PAD.right;
  const plotH = HEIGHT - PAD.top - PAD.bottom;
  const slot = buckets.length ? plotW / buckets.length : plotW;
  const x = (i: number) => PAD.left + i * slot + slot / 2;
  const y = (v: number) => PAD.top + plotH - (v / max) * plotH;
  const labelEvery = Math.max(1, Math.ceil(buckets.length / Math.max(1, Math.floor(plotW / 56))));
  const path = (vals: Array<number | null>) => {
    let d = '';
    let pen = false;
    vals.forEach((v, i) => {
      if (v === null) {
        pen = false;
        return;
      }
      d += `${pen ? 'L' : 'M'}${x(i).toFixed(1)},${y(v).toFixed(1)}`;
      pen = true;
    });
    return d;
  };
  return (
    <div className="chart" ref={ref}>
      {width > 0 ? (
        <svg width={w} height={HEIGHT} role="img" aria-label={label} viewBox={`0 0 ${w} ${HEIGHT}`}>
          {[0, max / 2, max].map((t) => (
            <g key={t}>
              <line className="grid" x1={PAD.left} x2={w - PAD.right} y1={y(t)} y2={y(t)} />
              <text className="axis" x={PAD.left - 6} y={y(t) + 4} textAnchor="end">
                {format(t)}
              </text>
            </g>
          ))}
          {buckets.map((b, i) =>
            i % labelEvery === 0 ? (
              <text key={b} className="axis" x={x(i)} y={HEIGHT - 6} textAnchor="middle">
                {tick(b)}
              </text>
            ) : null,
          )}
          {lines.map((l, li) => (
            <g key={l.name}>
              <path className={`line s${li % 8}`} d={path(l.values)} />
              {l.values.map((v, i) =>
                v === null ? null : (
                  <circle key={i} className={`pt c${li % 8}`} cx={x(i)} cy={y(v)} r={2.5}>
                    <title>{`${tick(buckets[i] ?? '')} ${l.name}: ${format(v)}`}</title>
                  </circle>
                ),
              )}
            </g>
          ))}
        </svg>
      ) : null}
      {lines.length > 1 ? (
        <ul className="legend">
          {lines.map((l, i) => (
            <li key={l.name}>
              <span className={`swatch c${i % 8}`} aria-hidden="true" />
              {l.name}
            </li>
          ))}
        </ul>
      ) : null}
    </div>
  );
}
