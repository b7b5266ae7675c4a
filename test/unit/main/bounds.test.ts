/** Where the dashboard window reopens: where it was, unless that is off every screen now. */
import { describe, expect, it } from 'vitest';
import { DEFAULT_SIZE, MIN_SIZE, restoreBounds } from '../../../main/logic/bounds.js';

const LAPTOP = { x: 0, y: 0, width: 1440, height: 875 };
const MONITOR = { x: 1440, y: 0, width: 2560, height: 1415 };

describe('restoreBounds', () => {
  it('reopens where the human left it', () => {
    expect(restoreBounds({ x: 2000, y: 100, width: 500, height: 800 }, [LAPTOP, MONITOR])).toEqual({ x: 2000, y: 100, width: 500, height: 800 });
  });

  it('centres a small window on the primary screen the first time', () => {
    expect(restoreBounds(undefined, [LAPTOP])).toEqual({ x: (1440 - DEFAULT_SIZE.width) / 2, y: Math.round((875 - DEFAULT_SIZE.height) / 2), ...DEFAULT_SIZE });
  });

  it('comes back to the primary screen when its monitor was unplugged', () => {
    const b = restoreBounds({ x: 2000, y: 100, width: 500, height: 800 }, [LAPTOP]);
    expect(b.x).toBeGreaterThanOrEqual(0);
    expect(b.x + b.width).toBeLessThanOrEqual(1440);
  });

  it('treats a window whose title bar is off-screen as lost', () => {
    expect(restoreBounds({ x: 100, y: -500, width: 500, height: 800 }, [LAPTOP]).y).toBeGreaterThanOrEqual(0);
    expect(restoreBounds({ x: 1400, y: 10, width: 500, height: 800 }, [LAPTOP]).x).toBeLessThan(1400);
  });

  it('keeps the size within the screen and above the minimum', () => {
    expect(restoreBounds({ x: 10, y: 10, width: 5000, height: 5000 }, [LAPTOP])).toMatchObject({ width: 1440, height: 875 });
    expect(restoreBounds({ x: 10, y: 10, width: 100, height: 100 }, [LAPTOP])).toMatchObject(MIN_SIZE);
  });
});
