/**
 * Where the dashboard window opens: where the human left it, unless that
 * place is no longer on any screen (a monitor was unplugged), in which case
 * a small window centred on the primary screen.
 */
import type { Bounds } from './prefs.js';

export type Rect = Bounds;

export const DEFAULT_SIZE = { width: 480, height: 760 } as const;
export const MIN_SIZE = { width: 380, height: 480 } as const;
/** At least this much of the title bar must be visible for the saved place to count. */
const GRAB = { width: 120, height: 40 } as const;

function overlap(a: Rect, b: Rect): { width: number; height: number } {
  return {
    width: Math.max(0, Math.min(a.x + a.width, b.x + b.width) - Math.max(a.x, b.x)),
    height: Math.max(0, Math.min(a.y + a.height, b.y + b.height) - Math.max(a.y, b.y)),
  };
}

/** `workAreas[0]` is the primary display's work area. */
export function restoreBounds(saved: Rect | undefined, workAreas: readonly Rect[]): Rect {
  const primary = workAreas[0] ?? { x: 0, y: 0, width: 1280, height: 800 };
  if (saved) {
    const titleBar = { x: saved.x, y: saved.y, width: saved.width, height: GRAB.height };
    const home = workAreas.find((w) => {
      const o = overlap(titleBar, w);
      return o.width >= Math.min(GRAB.width, saved.width) && o.height >= GRAB.height;
    });
    if (home) {
      return {
        x: saved.x,
        y: saved.y,
        width: Math.max(MIN_SIZE.width, Math.min(saved.width, home.width)),
        height: Math.max(MIN_SIZE.height, Math.min(saved.height, home.height)),
      };
    }
  }
  const width = Math.min(DEFAULT_SIZE.width, primary.width);
  const height = Math.min(DEFAULT_SIZE.height, primary.height);
  return { x: primary.x + Math.round((primary.width - width) / 2), y: primary.y + Math.round((primary.height - height) / 2), width, height };
}
