/**
 * What the hand-made SVG charts (BarChart, LineChart) share: the plot's
 * geometry at the element's real width, the value axis with its gridlines,
 * and the legend. One place, so the two charts line up on a page.
 */
import type { ReactNode } from 'react';

export const HEIGHT = 180;
export const PAD = { top: 10, right: 8, bottom: 22, left: 66 };

export function niceMax(v: number): number {
  if (v <= 0) return 1;
  const exp = 10 ** Math.floor(Math.log10(v));
  const f = v / exp;
  return (f <= 1 ? 1 : f <= 2 ? 2 : f <= 5 ? 5 : 10) * exp;
}

export interface Frame {
  /** The SVG's width (at least 200 px). */
  w: number;
  plotW: number;
  /** Width given to each of the `n` bars or buckets. */
  slot: number;
  y: (v: number) => number;
  /** Label every n-th slot, so axis text never overlaps. */
  labelEvery: number;
}

/** The plot's geometry for `n` slots and values up to `max`, at the element's measured `width`. */
export function frameOf(width: number, n: number, max: number): Frame {
  const w = Math.max(200, width);
  const plotW = w - PAD.left - PAD.right;
  const plotH = HEIGHT - PAD.top - PAD.bottom;
  const slot = n ? plotW / n : plotW;
  const y = (v: number) => PAD.top + plotH - (v / max) * plotH;
  const labelEvery = Math.max(1, Math.ceil(n / Math.max(1, Math.floor(plotW / 56))));
  return { w, plotW, slot, y, labelEvery };
}

/** The SVG (once the width is known), its value axis and gridlines at `ticks`, and the legend when there is more than one series. */
export function ChartFrame({ width, frame, label, ticks, format, names, children }: { width: number; frame: Frame; label: string; ticks: number[]; format: (v: number) => string; names: string[]; children: ReactNode }) {
  const { w, y } = frame;
  return (
    <>
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
          {children}
        </svg>
      ) : null}
      {names.length > 1 ? (
        <ul className="legend">
          {names.map((name, i) => (
            <li key={name}>
              <span className={`swatch c${i % 8}`} aria-hidden="true" />
              {name}
            </li>
          ))}
        </ul>
      ) : null}
    </>
  );
}
