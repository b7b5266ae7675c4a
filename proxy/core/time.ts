/** Time, injectable so tests can move the clock across grace periods and month boundaries. */
export type Clock = () => number;
export const systemClock: Clock = () => Date.now();

/**
 * The calendar month (UTC) containing `ms`, as `YYYY-MM`: the key of a
 * monthly budget's window and of the monthly spend row every token has,
 * whatever its own budget period. A token's own window (day, week, month or
 * total) is `windowOf` in core/period.ts.
 */
export function periodOf(ms: number): string {
  const d = new Date(ms);
  return `${d.getUTCFullYear()}-${String(d.getUTCMonth() + 1).padStart(2, '0')}`;
}

/** Start of the calendar month (UTC) after the one containing `ms` (ms since epoch); for other periods, `windowOf(period, ms).end`. */
export function periodResetAt(ms: number): number {
  const d = new Date(ms);
  return Date.UTC(d.getUTCFullYear(), d.getUTCMonth() + 1, 1);
}

const DURATION = /^(\d+)\s*(ms|s|m|h|d)$/;
const UNIT_MS = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 } as const;

/** Parses `7d`, `12h`, `30m`, `500ms` into milliseconds. */
export function parseDuration(s: string): number {
  const m = DURATION.exec(s.trim());
  if (!m) throw new Error(`${JSON.stringify(s)} is not a duration (use e.g. 7d, 12h, 30m)`);
  return Number(m[1]) * UNIT_MS[m[2] as keyof typeof UNIT_MS];
}

export const DAY_MS = 86_400_000;
