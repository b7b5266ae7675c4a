/**
 * A hand-made line chart in SVG (like BarChart, drawn at the element's real
 * width): a few lines over the same buckets, gaps where a value is unknown
 * (no requests in a bucket means no error rate and no latency, not zero).
 */
import { useWidth } from '../hooks';
import { ChartFrame, frameOf, HEIGHT, niceMax, PAD } from './ChartFrame';

export interface Line {
  name: string;
  values: Array<number | null>;
}

export function LineChart({ buckets, lines, label, format, tick }: { buckets: string[]; lines: Line[]; label: string; format: (v: number) => string; tick: (d: string) => string }) {
  const [ref, width] = useWidth<HTMLDivElement>();
  const all = lines.flatMap((l) => l.values.filter((v): v is number => v !== null));
  const max = niceMax(Math.max(0, ...all));
  const frame = frameOf(width, buckets.length, max);
  const { slot, y, labelEvery } = frame;
  const x = (i: number) => PAD.left + i * slot + slot / 2;
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
      <ChartFrame width={width} frame={frame} label={label} ticks={[0, max / 2, max]} format={format} names={lines.map((l) => l.name)}>
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
      </ChartFrame>
    </div>
  );
}
